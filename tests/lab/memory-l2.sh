#!/bin/sh
# Runs inside L2 (the default guest under mvm, from a virtio disk:
# mvm.script=/dev/vda) for tests/lab/memory.lab.sh. It does what L1 asks,
# one line at a time on the console, and answers with "L2: key=value"
# lines; "L2-WAIT cmd" says it is ready for the next line. Commands:
#   drivers           which virtio devices Linux's virtio_balloon and
#                     virtio_mem drivers bound, and their device IDs
#   mem TAG           "mem-TAG total=KiB free=KiB avail=KiB" from
#                     /proc/meminfo
#   blocks TAG        "blocks-TAG online=N offline=N": Linux's memory
#                     blocks (hot-plugged ones included)
#   fill TAG MIB      write MIB MiB to a tmpfs and delete it again, so that
#                     the pages are the host's (mvm's RSS grows) and free
#                     in the guest; "fill-TAG=<MiB written>"
#   exit              end the script (the guest powers off)
say() { echo "L2: $*"; }

# mem TAG: the sizes Linux gives its memory, in KiB.
mem() {
	say "mem-$1 $(awk '/^MemTotal:/ { t = $2 } /^MemFree:/ { f = $2 }
		/^MemAvailable:/ { a = $2 }
		END { print "total=" t " free=" f " avail=" a }' /proc/meminfo)"
}

# drivers: for each driver, the devices it bound as "virtioN:0xID".
drivers() {
	for drv in virtio_balloon virtio_mem; do
		list=
		for dev in "/sys/bus/virtio/drivers/$drv"/virtio*; do
			[ -e "$dev" ] || continue
			list="$list ${dev##*/}:$(cat "$dev/device")"
		done
		say "driver-$drv=${list# }"
	done
	say "auto-online=$(cat /sys/devices/system/memory/auto_online_blocks)"
	say "block-bytes=0x$(cat /sys/devices/system/memory/block_size_bytes)"
}

blocks() {
	on=0 off=0
	for s in /sys/devices/system/memory/memory*/state; do
		case $(cat "$s") in
		online) on=$((on + 1)) ;;
		*) off=$((off + 1)) ;;
		esac
	done
	say "blocks-$1 online=$on offline=$off"
}

# fill TAG MIB: the tmpfs is sized for it (/tmp's default is half of RAM).
fill() {
	mkdir -p /fill
	mount -t tmpfs -o "size=$(($2 + 16))m" fill /fill
	dd if=/dev/zero of=/fill/data bs=1M count="$2" 2>/dev/null
	say "fill-$1=$(($(stat -c %s /fill/data) / 1048576))"
	rm /fill/data
	umount /fill
}

while :; do
	echo "L2-WAIT cmd"
	read -r cmd a b || exit 1
	case $cmd in
	drivers) drivers ;;
	mem) mem "$a" ;;
	blocks) blocks "$a" ;;
	fill) fill "$a" "$b" ;;
	exit) exit 0 ;;
	*) say "unknown-command=$cmd" ;;
	esac
done
