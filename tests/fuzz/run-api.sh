#!/bin/sh
# Build the API request-path fuzzer with clang and run it for a bounded time.
#   run-api.sh SOURCE_DIR BUILD_DIR SECONDS
# The code under test (src/api, the VMM controller, the policy) is compiled
# here with coverage and sanitizers; everything it calls but that is not
# under test comes from the project's own layer libraries (BUILD_DIR/src/
# libmvm_*.a, src/meson.build), top down as each calls only down. The corpus
# lives in BUILD_DIR/fuzz/fuzz_api, seeded with one request per endpoint.
set -eu
src=$1 build=$2 secs=$3
out=$build/fuzz/fuzz_api
mkdir -p "$out/corpus"

layers=
for l in vmm migration snapshot vm vcpu devices boot nested core policy; do
	layers="$layers $build/src/libmvm_$l.a"
done
files=
for f in "$src"/src/api/*.c "$src"/src/vmm/vmm.c "$src"/src/policy/policy.c \
	 "$src"/src/nested/policy_json.c; do
	files="$files $f"
done
# shellcheck disable=SC2086
clang -std=gnu11 -D_GNU_SOURCE -DMVM_VERSION='"fuzz"' -g -O1 \
	-I"$src/include" -I"$src/src/api" \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	"$src/tests/fuzz/fuzz_api.c" $files $layers \
	-ljson-c -luring -lfdt -lseccomp -lpthread $(pkg-config --libs slirp) \
	-o "$out/fuzz_api"

seed() {
	printf '%s' "$2" > "$out/corpus/seed-$1"
}
req() { # METHOD PATH BODY
	printf '%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
		"$1" "$2" "${#3}" "$3"
}
seed snapshot "$(req PUT /snapshot/create '{"snapshot_type":"Diff","snapshot_path":"/s","mem_file_path":"/m"}')$(req PUT /snapshot/load '{"snapshot_path":"/s","mem_backend":{"backend_type":"Uffd","backend_path":"/u"},"resume_vm":true,"track_dirty_pages":true,"clock_realtime":true,"network_overrides":[{"iface_id":"eth0","host_dev_name":"tap1"}]}')"
seed checkpoint "$(req PUT /checkpoints/config '{"dir":"/c"}')$(req PUT /checkpoints/a '')$(req GET /checkpoints '')$(req PUT /checkpoints/a/apply '')$(req DELETE /checkpoints/a '')"
seed get "$(req GET / '')$(req GET /vm/config '')$(req GET /vm/policy '')"
seed boot "$(req PUT /boot-source '{"kernel_image_path":"/k","boot_args":"console=ttyS0","initrd_path":"/i"}')"
seed machine "$(req PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256,"smt":false,"huge_pages":"None","nested_virt":true}')$(req PATCH /machine-config '{"mem_size_mib":64}')"
seed drive "$(req PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"/d","is_root_device":true,"is_read_only":false,"partuuid":"abc","cache_type":"Writeback","io_engine":"Async","rate_limiter":{"bandwidth":{"size":1000,"refill_time":100,"one_time_burst":10},"ops":{"size":5,"refill_time":10}}}')"
seed net "$(req PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"06:00:AC:10:00:02","mac_spoofing":true,"rx_rate_limiter":{"ops":{"size":1,"refill_time":1}}}')"
seed start "$(req PUT /boot-source '{"kernel_image_path":"/k"}')$(req PUT /actions '{"action_type":"InstanceStart"}')$(req PATCH /vm '{"state":"Paused"}')$(req PATCH /vm '{"state":"Resumed"}')$(req PUT /actions '{"action_type":"SendCtrlAltDel"}')$(req PATCH /drives/rootfs '{"drive_id":"rootfs","path_on_host":"/x"}')$(req PATCH /machine-config '{"nested_virt":false}')"
seed outputs "$(req PUT /logger '{"log_path":"/l","level":"Debug","show_level":true,"show_log_origin":true,"module":"api"}')$(req PUT /metrics '{"metrics_path":"/m"}')$(req PUT /serial '{"serial_out_path":"/s"}')$(req PUT /entropy '{}')"
seed mmds "$(req PUT /mmds '{"latest":{"meta-data":{"a":"b"}}}')$(req PATCH /mmds '{"latest":{"x":null,"y":[1]}}')$(req GET /mmds '')$(req PUT /network-interfaces/eth0 '{"iface_id":"eth0","host_dev_name":"tap0"}')$(req PUT /mmds/config '{"version":"V2","network_interfaces":["eth0"],"ipv4_address":"169.254.170.2","imds_compat":true}')$(req GET /vm/config '')"
seed balloon "$(req PUT /balloon '{"amount_mib":16,"deflate_on_oom":true,"stats_polling_interval_s":1,"free_page_hinting":true,"free_page_reporting":true}')$(req GET /balloon '')$(req PUT /boot-source '{"kernel_image_path":"/k"}')$(req PUT /actions '{"action_type":"InstanceStart"}')$(req PATCH /balloon '{"amount_mib":8}')$(req GET /balloon/statistics '')$(req PATCH /balloon/statistics '{"stats_polling_interval_s":2}')$(req PATCH /balloon/hinting/start '{"acknowledge_on_stop":false}')$(req GET /balloon/hinting/status '')$(req PATCH /balloon/hinting/stop '')"
seed hotplug "$(req PUT /hotplug/memory '{"total_size_mib":1024,"slot_size_mib":256,"block_size_mib":4}')$(req GET /hotplug/memory '')$(req PUT /boot-source '{"kernel_image_path":"/k"}')$(req PUT /actions '{"action_type":"InstanceStart"}')$(req PATCH /hotplug/memory '{"requested_size_mib":512}')$(req GET /hotplug/memory '')"
seed dynmem "$(req PUT /machine-config '{"vcpu_count":1,"mem_size_mib":256}')$(req PUT /dynamic-memory '{"enabled":true,"min_mib":128,"max_mib":512,"buffer_percent":30}')$(req GET /dynamic-memory '')$(req PUT /boot-source '{"kernel_image_path":"/k"}')$(req PUT /actions '{"action_type":"InstanceStart"}')$(req PATCH /dynamic-memory '{"buffer_percent":40}')$(req GET /dynamic-memory '')$(req PATCH /dynamic-memory '{"enabled":false}')"
seed chunked "$(printf 'PUT /vm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"sta\r\n0\r\n\r\n')"

cd "$out"
# A crash (libFuzzer's 77, a skip to meson) and a timeout (70) fail the test.
exec ./fuzz_api -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-max_len=70000 -dict="$src/tests/fuzz/api.dict" -print_final_stats=1 \
	corpus
