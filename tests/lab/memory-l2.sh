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
#   hold TAG MIB      write MIB MiB to a tmpfs, 16 MiB at a time, and keep
#                     it (a workload that needs the memory: the host must
#                     grow the guest). Before each piece it waits until
#                     MemAvailable leaves 48 MiB after it, so that it never
#                     drives Linux to the OOM killer, for 150 s at most;
#                     "hold-TAG=<MiB held> waits=<pieces that waited>
#                     waited_s=<seconds spent waiting>"
#   release TAG       delete what hold kept; "release-TAG=done"
#   oom TAG           "oom-TAG=<OOM killer lines in the kernel's log>"
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

# avail: MemAvailable in MiB.
avail() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }

# hold TAG MIB: see above. A piece waits while MemAvailable is short of it
# plus 48 MiB, and gives up (keeping what it has) after 150 s of that.
hold() {
	mkdir -p /hold
	mount -t tmpfs -o "size=$(($2 + 16))m" hold /hold
	held=0 waits=0 waited=0
	while [ "$held" -lt "$2" ]; do
		piece=$(($2 - held < 16 ? $2 - held : 16))
		stalled=0
		while [ "$(avail)" -lt $((piece + 48)) ] && [ "$stalled" -lt 150 ]; do
			[ "$stalled" = 0 ] && waits=$((waits + 1))
			sleep 1
			stalled=$((stalled + 1))
		done
		waited=$((waited + stalled))
		[ "$stalled" -lt 150 ] || break
		dd if=/dev/zero of="/hold/$held" bs=1M count="$piece" \
			2>/dev/null || break
		held=$((held + piece))
	done
	say "hold-$1=$held tmpfs_mib=$(du -sm /hold | cut -f1) waits=$waits" \
		"waited_s=$waited"
}

release() {
	rm -f /hold/*
	umount /hold
	say "release-$1=done"
}

while :; do
	echo "L2-WAIT cmd"
	read -r cmd a b || exit 1
	case $cmd in
	drivers) drivers ;;
	mem) mem "$a" ;;
	blocks) blocks "$a" ;;
	fill) fill "$a" "$b" ;;
	hold) hold "$a" "$b" ;;
	release) release "$a" ;;
	oom) say "oom-$a=$(dmesg | grep -c -i -e 'out of memory' -e 'oom-kill')" ;;
	exit) exit 0 ;;
	*) say "unknown-command=$cmd" ;;
	esac
done
