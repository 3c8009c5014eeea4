#!/bin/sh
# Runs inside L2 (the default guest under mvm, in the lab) for
# tests/lab/devices.lab.sh: real Linux drivers on mvm's virtio devices.
# It only reports, as "L2: key=value" lines; the lab judges. Where it needs
# the lab it says "L2-WAIT <what>" and reads the answer from the console.
#
# The lab starts one mvm with --on-reboot restart and four disks:
#   vda, vdb  blank images: boot "write" makes filesystems and files on
#             them, syncs and reboots without unmounting; boot "verify"
#             reads the files back
#   vdc       a filesystem attached readonly=on
#   vdd       this script (mvm.script=/dev/vdd)
# and two NICs on taps: MAC 52:54:00:00:00:01 with mac_spoofing off, MAC
# 52:54:00:00:00:02 with mac_spoofing on; a virtio-rng device; vde, the
# lab's vsock program (tests/lab/vsock-l2.c); and a vsock device, CID 3.
say() { echo "L2: $*"; }
ask() {
	echo "L2-WAIT $1"
	read -r answer || answer=eof
	say "lab said $answer"
}
now() {
	read -r u _ </proc/uptime
	echo "$u"
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
# ifname MAC: the interface with that address.
ifname() {
	for d in /sys/class/net/*; do
		[ "$(cat "$d/address")" != "$1" ] || basename "$d"
	done
}

mkdir -p /mnt/a /mnt/b /mnt/ro
say "disks=$(cd /sys/block && echo vd*)"
for d in vda vdb vdc vdd vde; do
	say "$d-sectors=$(cat /sys/block/$d/size 2>/dev/null) $d-ro=$(cat /sys/block/$d/ro 2>/dev/null)"
done

ask phase
case $answer in
write)
	# ---- disks: new filesystems, a file on each, sync, reboot ----------
	for d in a b; do
		if mke2fs -q "/dev/vd$d" >/tmp/mkfs.$d 2>&1 &&
			mount -t ext2 "/dev/vd$d" "/mnt/$d"; then
			say "vd$d-mkfs-mount=ok"
		else
			say "vd$d-mkfs-mount=failed: $(tr '\n' ' ' </tmp/mkfs.$d)"
		fi
		# 8 MiB of random data: enough to span many requests.
		dd if=/dev/urandom of="/mnt/$d/file" bs=1M count=8 2>/dev/null
		say "vd$d-sum=$(sum "/mnt/$d/file")"
	done
	sync
	say "synced"

	# ---- the read-only disk --------------------------------------------
	# No -o ro: read-only must follow from the device (VIRTIO_BLK_F_RO).
	mount -t ext2 /dev/vdc /mnt/ro 2>/tmp/ro.err
	say "vdc-mount-options=$(awk '$1 == "/dev/vdc" { print $4 }' /proc/mounts)"
	say "vdc-file-sum=$(sum /mnt/ro/file)"
	if echo x >/mnt/ro/new 2>/tmp/ro.err; then
		say "vdc-file-write=succeeded"
	else
		say "vdc-file-write=refused: $(cat /tmp/ro.err)"
	fi
	# The block device itself, below the filesystem.
	if dd if=/dev/zero of=/dev/vdc bs=512 count=1 conv=notrunc,fsync \
		2>/tmp/ro.err; then
		say "vdc-raw-write=succeeded"
	else
		say "vdc-raw-write=refused: $(tr '\n' ' ' </tmp/ro.err)"
	fi

	# ---- networking ----------------------------------------------------
	e0=$(ifname 52:54:00:00:00:01)
	e1=$(ifname 52:54:00:00:00:02)
	say "nic-off=$e0 nic-on=$e1"
	ip link set "$e0" up
	ip addr add 10.0.0.2/24 dev "$e0"
	ip link set "$e1" up
	ip addr add 10.0.1.2/24 dev "$e1"
	# Carrier (VIRTIO_NET_F_STATUS) may take a moment to show.
	i=0
	while [ "$(cat "/sys/class/net/$e0/operstate")" != up ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	say "eth-operstate=$(cat "/sys/class/net/$e0/operstate")"
	say "eth-addr=$(ip -o -4 addr show dev "$e0" | awk '{ print $4 }')"
	if ping -c 3 -W 10 10.0.0.1 >/tmp/ping 2>&1; then
		say "ping-peer=ok $(tail -n 1 /tmp/ping)"
	else
		say "ping-peer=failed $(tr '\n' ' ' </tmp/ping)"
	fi

	# 100 MiB from the lab, then its first 16 MiB back to it (why not all
	# of it: tests/lab/README.md, "Frames from L2"). The pipes' other ends
	# stay open (a FIFO nobody writes): busybox nc ends a connection when
	# its input ends.
	mkfifo /tmp/hold
	exec 7<>/tmp/hold
	t=$(now)
	timeout 300 nc 10.0.0.1 5001 </tmp/hold >/tmp/net.bin
	say "rx-seconds=$(since "$t") rx-bytes=$(wc -c </tmp/net.bin)"
	say "rx-sum=$(sum /tmp/net.bin)"
	t=$(now)
	head -c 16777216 /tmp/net.bin | timeout 300 nc 10.0.0.1 5002
	say "tx-status=$? tx-seconds=$(since "$t")"
	# For a stalled transfer: did the lab's ACKs reach eth0 (rx counters)?
	say "tx-netdev=$(grep eth0: /proc/net/dev | tr -s ' ')"
	say "tx-tcp=$(grep '^Tcp:' /proc/net/snmp | tail -n 1)"
	exec 7>&-
	rm -f /tmp/net.bin

	# A macvlan stands in for a nested guest: frames with a MAC the NIC
	# was not given. Each gets a subnet of its own on the lab's side, so
	# its traffic leaves through the macvlan and nowhere else.
	ip link add link "$e0" name mv0 type macvlan
	ip link set mv0 address 52:54:00:00:00:a0
	ip link set mv0 up
	ip addr add 10.0.10.2/24 dev mv0
	ip link add link "$e1" name mv1 type macvlan
	ip link set mv1 address 52:54:00:00:00:b0
	ip link set mv1 up
	ip addr add 10.0.11.2/24 dev mv1
	say "macvlan-mac=$(cat /sys/class/net/mv0/address) $(cat /sys/class/net/mv1/address)"
	if ping -c 3 -W 3 10.0.10.1 >/tmp/ping 2>&1; then
		say "macvlan-spoofing-off-ping=ok"
	else
		say "macvlan-spoofing-off-ping=failed $(tail -n 2 /tmp/ping | tr '\n' ' ')"
	fi
	if ping -c 3 -W 10 10.0.11.1 >/tmp/ping 2>&1; then
		say "macvlan-spoofing-on-ping=ok"
	else
		say "macvlan-spoofing-on-ping=failed $(tail -n 2 /tmp/ping | tr '\n' ' ')"
	fi
	# The NIC's own address still gets through where spoofing is off.
	if ping -c 1 -W 10 10.0.0.1 >/dev/null 2>&1; then
		say "eth-after-macvlan-ping=ok"
	else
		say "eth-after-macvlan-ping=failed"
	fi

	# The lab looks at whom it heard from while this boot's NICs are up.
	ask arp

	# ---- entropy -------------------------------------------------------
	say "hwrng-current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
	dd if=/dev/hwrng of=/tmp/rng1 bs=64 count=1 2>/dev/null
	dd if=/dev/hwrng of=/tmp/rng2 bs=64 count=1 2>/dev/null
	say "hwrng-bytes=$(wc -c </tmp/rng1) $(wc -c </tmp/rng2)"
	say "hwrng-zero-bytes=$(od -An -v -tx1 /tmp/rng1 | tr ' ' '\n' | grep -c '^00$')"
	if cmp -s /tmp/rng1 /tmp/rng2; then
		say "hwrng-reads=identical"
	else
		say "hwrng-reads=differ"
	fi

	# ---- vsock -----------------------------------------------------------
	# The program from its disk (the zeros after the ELF do no harm).
	dd if=/dev/vde of=/tmp/vsock-l2 2>/dev/null
	chmod +x /tmp/vsock-l2
	say "vsock-cid=$(/tmp/vsock-l2 cid 2>&1)"
	say "vsock-g2h=$(timeout 60 /tmp/vsock-l2 connect 2 5000 hello-from-l2 2>&1)"
	# One connection from the lab, echoed: it connects once we ask.
	timeout 120 /tmp/vsock-l2 listen 52 2>/tmp/vsock.err &
	sleep 0.5
	ask vsock
	wait
	say "vsock-listen=done $(cat /tmp/vsock.err)"

	# Reboot without unmounting, and without reboot's own sync: what the
	# next boot finds is what the sync above wrote.
	say "rebooting"
	reboot -n -f
	;;
verify)
	for d in a b; do
		if mount -t ext2 "/dev/vd$d" "/mnt/$d" 2>/tmp/mount.$d; then
			say "vd$d-remount=ok"
		else
			say "vd$d-remount=failed: $(cat /tmp/mount.$d)"
		fi
		say "vd$d-sum-after-reboot=$(sum "/mnt/$d/file")"
		umount "/mnt/$d"
	done
	;;
*)
	say "no phase"
	exit 1
	;;
esac
