#!/bin/sh
# Build a libFuzzer target with clang and run it for a bounded time.
#   run.sh SOURCE_DIR BUILD_DIR TARGET SECONDS
# The corpus lives in BUILD_DIR/fuzz/TARGET so it grows across runs.
set -eu
src=$1 build=$2 target=$3 secs=$4
libs= maxlen=
out=$build/fuzz/$target
mkdir -p "$out/corpus"
case $target in
fuzz_virtqueue)
	srcs="src/devices/virtio/virtqueue.c src/devices/virtio/iov.c
	      src/core/mem.c src/core/mem_dirty.c src/core/err.c" ;;
fuzz_image)
	srcs="src/boot/boot.c src/boot/bzimage.c src/boot/elf.c
	      src/boot/multiboot.c src/boot/place.c src/boot/pvh.c
	      src/boot/unpack.c src/boot/lz4.c
	      src/boot/e820.c src/boot/cpu_tables.c src/core/mem.c
	      src/core/mem_dirty.c src/core/err.c" ;;
fuzz_blk|fuzz_net|fuzz_rng|fuzz_balloon|fuzz_mem|fuzz_pmem|fuzz_vsock|fuzz_transport)
	# The devices, their transport and what they stand on, with the
	# sanitizers; anything else they call comes from the libraries of
	# their layer and the core's (src/meson.build).
	srcs="tests/fuzz/fuzz_vm.c tests/fuzz/fuzz_used.c
	      $(cd "$src" && echo src/devices/virtio/*.c src/devices/pci/*.c)
	      src/core/mem.c src/core/mem_dirty.c src/core/mem_discard.c
	      src/core/bus.c
	      src/core/loop.c src/core/err.c src/net/mac.c"
	# Every completion is checked as the device writes it (fuzz_used.c).
	libs="-Wl,--wrap=virtq_init,--wrap=virtq_pop,--wrap=virtq_unpop
	      -Wl,--wrap=virtq_push
	      $build/src/libmvm_devices.a $build/src/libmvm_core.a
	      -luring -ljson-c -lfdt -lpthread $(pkg-config --libs slirp)"
	maxlen=-max_len=8192 ;;
fuzz_mmds)
	# MMDS's HTTP server and its store, pure: bytes of one connection.
	srcs="src/net/mmds_http.c src/net/mmds_store.c src/net/mmds_token.c
	      src/core/err.c"
	libs=-ljson-c
	mkdir -p "$out/corpus"
	printf '\000\377GET /latest/meta-data/ HTTP/1.1\r\nAccept: application/json\r\n\r\n' \
		>"$out/corpus/seed-get"
	printf '\001\007PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\nGET /s HTTP/1.0\r\nX-metadata-token: x\r\n\r\n' \
		>"$out/corpus/seed-token" ;;
fuzz_snapshot)
	# The state file's decoder and what it calls, all with the
	# sanitizers; its seed, a valid state file, is the encoder's own.
	srcs="$(cd "$src" && echo src/snapshot/*.c) src/vcpu/state_blob.c
	      src/vcpu/cpu_static.c src/net/hostfwd.c src/net/mmds_store.c
	      src/nested/state.c src/devices/device.c src/vm/hotplug.c
	      src/vm/dynmem_rules.c
	      src/core/mem.c src/core/mem_file.c src/core/mem_dirty.c
	      src/core/file.c src/core/err.c"
	libs="-lfdt -ljson-c"
	seedsrcs=
	for f in $srcs; do seedsrcs="$seedsrcs $src/$f"; done
	# shellcheck disable=SC2086
	clang -std=gnu11 -D_GNU_SOURCE -DMVM_VERSION='"fuzz"' -O1 \
		-I"$src/include" -I"$src/tests/unit" \
		"$src/tests/fuzz/seed-snapshot.c" $seedsrcs $libs \
		-o "$out/seed-snapshot"
	"$out/seed-snapshot" "$out/corpus/seed-snapshot" ;;
fuzz_migration)
	# The stream's receiver and HELLO, and on STATE the state file's
	# decoder, all with the sanitizers; its seeds, a whole stream and
	# the destination's answers, are the stream's own code's.
	srcs="$(cd "$src" && echo src/migration/*.c src/snapshot/*.c)
	      src/vcpu/state_blob.c src/vcpu/cpu_static.c src/net/hostfwd.c
	      src/net/mmds_store.c src/nested/state.c src/devices/device.c
	      src/vm/hotplug.c src/vm/dynmem_rules.c
	      src/core/mem.c src/core/mem_file.c src/core/mem_present.c
	      src/core/mem_dirty.c src/core/file.c src/core/err.c"
	libs="-lfdt -ljson-c"
	seedsrcs=
	for f in $srcs; do seedsrcs="$seedsrcs $src/$f"; done
	# shellcheck disable=SC2086
	clang -std=gnu11 -D_GNU_SOURCE -DMVM_VERSION='"fuzz"' -O1 \
		-I"$src/include" -I"$src/tests/unit" \
		"$src/tests/fuzz/seed-migration.c" $seedsrcs $libs \
		-o "$out/seed-migration"
	"$out/seed-migration" "$out/corpus/seed-migration" ;;
*)
	echo "unknown fuzz target $target" >&2
	exit 2 ;;
esac
files=
for f in $srcs; do files="$files $src/$f"; done
# shellcheck disable=SC2086
clang -std=gnu11 -D_GNU_SOURCE -DMVM_VERSION='"fuzz"' -g -O1 \
	-I"$src/include" -I"$src/src/devices/virtio" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	"$src/tests/fuzz/$target.c" $files ${libs:-} -o "$out/$target"
# The loaders' fuzzer starts from the tiny kernels: one of each format.
if [ "$target" = fuzz_image ]; then
	for k in mb_check bz_check pvh_check pvh32_check; do
		[ ! -f "$build/tests/guests/$k" ] ||
			cp "$build/tests/guests/$k" "$out/corpus/seed-$k"
	done
	# and a bzImage with an LZ4 payload, for mvm's own unpacking
	python3 "$src/tests/fuzz/seed-lz4-bzimage.py" "$out/corpus/seed-lz4-bzimage"
fi
# The device fuzzers start from one working request per device, and
# receive buffers short of a frame.
case $target in
fuzz_blk|fuzz_net|fuzz_rng|fuzz_balloon|fuzz_mem|fuzz_pmem|fuzz_vsock|fuzz_transport)
	python3 "$src/tests/fuzz/seed-virtio.py" "$target" "$out/corpus" ;;
esac
# Inputs that once failed run first, every time (tests/fuzz/regress).
for f in "$src/tests/fuzz/regress/$target"-*; do
	[ ! -f "$f" ] || cp "$f" "$out/corpus/regress-${f##*/}"
done
cd "$out"
# libFuzzer's own exit codes for a crash (77) and a timeout (70): meson
# reads 77 as a skipped test, so both are 1, a failure.
exec "./$target" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
	-error_exitcode=1 -timeout_exitcode=1 \
	${maxlen:-} -print_final_stats=1 corpus
