#!/bin/sh
# Runs inside the lab (L1, real KVM; see tests/lab/devices): mvm's virtio
# devices under the real Linux drivers of the default guest (L2).
#   disks    L2 makes filesystems on two blank disks, writes a file on
#            each and syncs; after a reboot (--on-reboot restart) the files
#            read back the same, and the lab finds them in the images too
#   ro       a disk attached readonly=on mounts read-only, refuses writes,
#            and its image is untouched
#   net      L2's NIC is up with an address, pings the lab's end of its
#            tap, and moves 100 MiB each way intact
#   spoofing a macvlan in L2 (another MAC, as a nested guest's NIC would
#            have) reaches the lab only through a NIC with mac_spoofing on
#   rng      /dev/hwrng in L2 gives data from virtio-rng
#   vsock    L2 (Linux's virtio vsock driver) connects to the host's port
#            5000, which mvm takes to the lab's echo on <uds>_5000; the
#            lab's CONNECT 52 on <uds> reaches L2's echo on port 52
#   mmds     busybox wget in L2 reads MMDS (V1, then V2 with a token)
#            through a NIC on tap0, and nothing for MMDS reaches the tap
# One mvm, two L2 boots; then one mvm per MMDS version. Prints FACT lines,
# "ok - ..."/"not ok - ..." per
# check and a closing "N passed, N failed"; exits 0 only when nothing
# failed.
# check, finish, now, since, deadline, past, reap
. /lab/checks.sh
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
t0=$(now)
w=$(mktemp -d)
log=$w/l2.log
: >"$log"
# Steps wait this long at most; lab-run's --timeout is the real budget, but
# a step that fails early still lets the rest report.
step=600
# The lab's own kernel messages would interleave with the report.
dmesg -n 1

mvm_pid=
# hang_report: what the outer mvm is doing, and what it said.
hang_report() {
	[ -n "$mvm_pid" ] || return 0
	threads "$mvm_pid"
	tail_of "$w/mvm.err"
}
# wait_for TEXT SECONDS [COUNT]: until L2's console holds TEXT (COUNT
# times, default once), or mvm has ended and it never will.
wait_for() {
	d=$(deadline "$2")
	while [ "$(grep -c -- "$1" "$log")" -lt "${3:-1}" ]; do
		if past "$d"; then
			echo "  (waited ${2}s for '$1' in vain)"
			hang_report
			return 1
		fi
		if [ -n "$mvm_pid" ] && ! alive "$mvm_pid"; then
			[ "$(grep -c -- "$1" "$log")" -ge "${3:-1}" ] && return 0
			echo "  (mvm ended while waiting for '$1')"
			tail_of "$w/mvm.err"
			return 1
		fi
		sleep 0.2
	done
}
# l2 KEY: the value of the last "KEY=value" word on L2's "L2: " lines.
l2() {
	tr -d '\r' <"$log" | grep '^L2: ' | tr ' ' '\n' |
		sed -n "s/^$1=//p" | tail -n 1
}
# l2_line KEY: the rest of the last line "L2: KEY=...", whole.
l2_line() {
	tr -d '\r' <"$log" | sed -n "s/^L2: $1=//p" | tail -n 1
}
# starts TEXT PREFIX: does TEXT begin with PREFIX?
starts() {
	case $1 in "$2"*) return 0 ;; esac
	return 1
}

echo "FACT kernel=$(uname -r)"

# ---- the lab's side ----------------------------------------------------
# Disks: two blank ones, a filesystem with a known file (read-only in
# L2), and L2's script, zero-padded to whole sectors (guest/init drops
# the padding).
truncate -s 64M "$w/a.img" "$w/b.img"
truncate -s 16M "$w/ro.img"
mke2fs -q -F "$w/ro.img" >/dev/null
mkdir -p "$w/mnt"
head -c 1048576 /dev/urandom >"$w/ro-file"
ro_made=no
if mount -o loop "$w/ro.img" "$w/mnt"; then
	cp "$w/ro-file" "$w/mnt/file" && ro_made=yes
	umount "$w/mnt"
fi
check "the lab made the read-only disk's filesystem (loop mount)" \
	test "$ro_made" = yes
ro_sum_before=$(sum "$w/ro.img")
cp /lab/devices-l2.sh "$w/script.img"
size=$(stat -c %s "$w/script.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/script.img"
# vsock's program for L2 (busybox has none), on a disk of its own.
cp /lab/vsock-l2 "$w/vsock.img"
size=$(stat -c %s "$w/vsock.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/vsock.img"
# The lab's echo for L2's connections to the host's port 5000.
/lab/vsock-l2 uds-echo "$w/v.sock_5000" 2>"$w/uds-echo.err" &
uds_echo=$!

# Networking: one tap per NIC, each with an address for the NIC and one
# for the macvlan behind it. Persistent taps, so they have their addresses
# before mvm opens them.
for i in 0 1; do
	tunctl -t "tap$i" >/dev/null
	ip addr add "10.0.$i.1/24" dev "tap$i"
	ip addr add "10.0.1$i.1/24" dev "tap$i"
	ip link set "tap$i" up
done
ip -o -4 addr show | grep tap | sed 's/^/  lab| /'
# 100 MiB of random data for L2 to fetch (port 5001), and its first 16 MiB
# for L2 to send back (5002; why not all of it: README.md, "Frames from
# L2"). busybox nc ends a connection when its input ends: the receiving
# side reads a FIFO nobody writes.
t=$(now)
head -c 104857600 /dev/urandom >"$w/data"
data_sum=$(sum "$w/data")
tx_bytes=16777216
head -c "$tx_bytes" "$w/data" >"$w/data.tx"
tx_sum=$(sum "$w/data.tx")
rm -f "$w/data.tx"
echo "FACT data_prepared_s=$(since "$t")"
mkfifo "$w/hold"
exec 7<>"$w/hold"
nc -l -p 5001 <"$w/data" >/dev/null 2>"$w/nc-tx.err" &
nc_tx=$!
nc -l -p 5002 <"$w/hold" >"$w/back" 2>"$w/nc-rx.err" &
nc_rx=$!

# ---- L2 ----------------------------------------------------------------
mkfifo "$w/l2in"
exec 3<>"$w/l2in"
tell_l2() { echo "$1" >&3; }
t_l2=$(now)
mvm run --kernel /lab/guest/vmlinuz --initrd /lab/guest/initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet panic=-1 mvm.script=/dev/vdd" \
	--cpus 1 --memory 768 --on-reboot restart \
	--disk "path=$w/a.img" --disk "path=$w/b.img" \
	--disk "path=$w/ro.img,readonly=on" \
	--disk "path=$w/script.img,readonly=on" \
	--disk "path=$w/vsock.img,readonly=on" \
	--vsock "cid=3,uds=$w/v.sock" \
	--net tap=tap0,id=net0,mac=52:54:00:00:00:01,mac_spoofing=off \
	--net tap=tap1,id=net1,mac=52:54:00:00:00:02,mac_spoofing=on \
	--rng <"$w/l2in" >"$log" 2>"$w/mvm.err" &
mvm_pid=$!
# L2's console, live, for whoever reads the lab's log.
tail -f "$log" 2>/dev/null |
	while IFS= read -r line; do echo "  L2| $line"; done &
tail_pid=$!

# ---- boot 1: write, and everything else --------------------------------
booted1=no
if wait_for "L2-WAIT phase" "$step"; then
	booted1=yes
	echo "FACT boot1_ready_s=$(since "$t_l2")"
	tell_l2 write
fi
check "L2 booted with the disks, NICs, rng and vsock attached" \
	test "$booted1" = yes
check "L2 sees vda, vdb, vdc, vdd and vde" \
	test "$(l2_line disks)" = "vda vdb vdc vdd vde"
check "vda and vdb are 64 MiB and writable" \
	test "$(l2 vda-sectors) $(l2 vda-ro) $(l2 vdb-sectors) $(l2 vdb-ro)" = \
	"131072 0 131072 0"
check "vdc (readonly=on) is a read-only disk" test "$(l2 vdc-ro)" = 1

# The lab's ARP table, while L2's NICs are up (a NIC's reset on reboot
# takes the taps' carrier down, and their neighbours with it): whom it
# heard from, on which tap.
arp=
if wait_for "L2-WAIT arp" "$step"; then
	arp=$(tail -n +2 /proc/net/arp)
	tell_l2 go
fi
# vsock: L2 listens on its port 52, the lab connects through mvm's socket.
h2g=
if wait_for "L2-WAIT vsock" "$step"; then
	h2g=$(timeout 60 /lab/vsock-l2 uds-connect "$w/v.sock" 52 \
		hello-from-the-lab 2>&1)
	tell_l2 go
fi
wait_for "L2: rebooting" "$step"
echo "FACT boot1_done_s=$(since "$t_l2")"
vda_sum=$(l2 vda-sum)
vdb_sum=$(l2 vdb-sum)
check "vda: mkfs.ext2 and mount" test "$(l2 vda-mkfs-mount)" = ok
check "vdb: mkfs.ext2 and mount" test "$(l2 vdb-mkfs-mount)" = ok
check "vda and vdb: files written (checksums printed)" \
	test "${#vda_sum}" = 64 -a "${#vdb_sum}" = 64 -a "$vda_sum" != "$vdb_sum"
check "sync returned" grep -q '^L2: synced' "$log"

check "vdc mounts read-only" \
	starts "$(l2 vdc-mount-options)," ro,
check "vdc's file reads back as the lab wrote it" \
	test "$(l2 vdc-file-sum)" = "$(sum "$w/ro-file")"
check "vdc: writing a file fails" \
	starts "$(l2_line vdc-file-write)" refused
check "vdc: writing the block device fails" \
	starts "$(l2_line vdc-raw-write)" refused

echo "FACT $(tr -d '\r' <"$log" | sed -n 's/^L2: nic-off=/nic-off=/p')"
check "eth0 is up" test "$(l2 nic-off) $(l2 eth-operstate)" = "eth0 up"
check "eth0 has its address" test "$(l2 eth-addr)" = 10.0.0.2/24
check "L2 pings the lab's end of the tap" \
	starts "$(l2_line ping-peer)" ok
reap "$nc_tx" 60
rx_s=$(l2 rx-seconds)
echo "FACT rx_100MiB_s=$rx_s"
check "100 MiB from the lab to L2: all bytes" test "$(l2 rx-bytes)" = 104857600
check "100 MiB from the lab to L2: checksum matches" \
	test "$(l2 rx-sum)" = "$data_sum"
# The sender is done before L2 says so; the receiver ends with it.
reap "$nc_rx" 60
exec 7>&-
echo "FACT tx_16MiB_s=$(l2 tx-seconds)"
# Where a stalled transfer stopped: the bytes that arrived, the receiver's
# complaint, and both ends' packet counters on the tap.
echo "FACT tx_bytes_received=$(stat -c %s "$w/back")"
# Segments the lab's TCP threw away (InCsumErrors, InErrs): the transfer
# is slow even when it passes (TCP retransmits in L2), so always.
grep -e '^Ip:' -e '^Tcp:' /proc/net/snmp | sed "s/^/  lab-snmp| /"
if [ "$(stat -c %s "$w/back")" != "$tx_bytes" ]; then
	sed 's/^/  nc-rx| /' "$w/nc-rx.err"
	grep -e Inter -e face -e tap0 /proc/net/dev | sed "s/^/  lab-net| /"
	# The sockets' queues: a receiver that stopped reading?
	netstat -tn 2>/dev/null | sed "s/^/  lab-netstat| /"
	tail -n 5 "$w/mvm.err" | sed 's/^/  mvm.err| /'
fi
check "16 MiB from L2 to the lab: all bytes" \
	test "$(stat -c %s "$w/back")" = "$tx_bytes"
check "16 MiB from L2 to the lab: checksum matches" \
	test "$(sum "$w/back")" = "$tx_sum"
rm -f "$w/back" "$w/data"

echo "FACT macvlans=$(l2_line macvlan-mac)"
check "macvlan with its own MAC behind mac_spoofing=off: no ping" \
	starts "$(l2_line macvlan-spoofing-off-ping)" failed
check "macvlan with its own MAC behind mac_spoofing=on: ping" \
	test "$(l2_line macvlan-spoofing-on-ping)" = ok
check "mac_spoofing=off: the NIC's own MAC still gets through" \
	test "$(l2 eth-after-macvlan-ping)" = ok
echo "$arp" | sed 's/^/  lab-arp| /'
# arp_has MAC TAP: did the lab learn MAC on TAP?
arp_has() { echo "$arp" | grep -i " $1 " | grep -q " $2\$"; }
# Proof the table was read at all: L2's own NIC is in it.
check "mac_spoofing=off: the lab never heard from the macvlan's MAC" \
	eval 'arp_has 52:54:00:00:00:01 tap0 && ! arp_has 52:54:00:00:00:a0 tap0'
check "mac_spoofing=on: the lab heard from the macvlan's MAC on its tap" \
	arp_has 52:54:00:00:00:b0 tap1
check "mac_spoofing=off: mvm says it dropped the macvlan's frames" \
	grep -q 'net0: dropped a frame from source MAC 52:54:00:00:00:a0' \
	"$w/mvm.err"
check "mac_spoofing=on: mvm dropped nothing" \
	test "$(grep -c 'net1: dropped' "$w/mvm.err")" = 0

check "hwrng: virtio_rng is the current source" \
	starts "$(l2 hwrng-current)" virtio_rng
check "hwrng: two reads of 64 bytes" \
	test "$(l2_line hwrng-bytes)" = "64 64"
check "hwrng: data, not zeros, and not the same twice" \
	test "$(l2 hwrng-zero-bytes)" -lt 8 -a "$(l2 hwrng-reads)" = differ

check "vsock: L2's CID is the one given (cid=3)" test "$(l2 vsock-cid)" = 3
check "vsock: L2 connects to the host's port 5000 and gets its bytes back" \
	test "$(l2_line vsock-g2h)" = hello-from-l2
check "vsock: the lab's CONNECT 52 reaches L2's port 52, bytes echoed" \
	test "$h2g" = hello-from-the-lab
echo "FACT vsock_h2g=$h2g"
kill "$uds_echo" 2>/dev/null
sed 's/^/  uds-echo| /' "$w/uds-echo.err"

# ---- boot 2: the files after a reboot ----------------------------------
booted2=no
if wait_for "L2-WAIT phase" "$step" 2; then
	booted2=yes
	echo "FACT boot2_ready_s=$(since "$t_l2")"
	tell_l2 verify
fi
check "mvm restarted L2 after its reboot (--on-reboot restart)" \
	test "$booted2" = yes -a \
	"$(grep -c 'mvm: guest rebooted; restarting' "$w/mvm.err")" = 1
reap "$mvm_pid" "$step"
rc=$?
kill "$tail_pid" 2>/dev/null
exec 3>&-
echo "FACT l2_total_s=$(since "$t_l2")"
check "vda mounts again after the reboot" test "$(l2 vda-remount)" = ok
check "vdb mounts again after the reboot" test "$(l2 vdb-remount)" = ok
check "vda's file after the reboot: checksum matches" \
	test -n "$vda_sum" -a "$(l2 vda-sum-after-reboot)" = "$vda_sum"
check "vdb's file after the reboot: checksum matches" \
	test -n "$vdb_sum" -a "$(l2 vdb-sum-after-reboot)" = "$vdb_sum"
check "L2's second boot ended cleanly; mvm exited 0" \
	test "$rc" = 0 -a "$(grep -c 'MVM-GUEST-EXIT=0' "$log")" = 1
sed 's/^/  mvm.err| /' "$w/mvm.err"

# ---- the images, from the lab's side -----------------------------------
for d in a b; do
	got=
	if mount -o loop,ro "$w/$d.img" "$w/mnt"; then
		got=$(sum "$w/mnt/file")
		umount "$w/mnt"
	fi
	want=$vda_sum
	[ "$d" = a ] || want=$vdb_sum
	check "vd$d's image, mounted in the lab: the file's checksum matches" \
		test -n "$want" -a "$got" = "$want"
done
check "vdc's image is unchanged" test "$(sum "$w/ro.img")" = "$ro_sum_before"

# ---- MMDS: V1 and V2 with busybox wget ----------------------------------
# The API form (a config file): mmds-config names the NIC on tap0, whose
# traffic to 169.254.169.254 mvm answers itself (test_virtio_net checks
# that none of it reaches the tap; the lab has no capture tool).
cp /lab/mmds-l2.sh "$w/mmds.img"
size=$(stat -c %s "$w/mmds.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/mmds.img"
cat >"$w/md.json" <<'MD'
{"latest": {"meta-data": {"ami-id": "ami-12345678", "hostname": "l2"}}}
MD
for v in V1 V2; do
	mlog=$w/mmds-$v.log
	cat >"$w/mmds-$v.json" <<CFG
{"boot-source": {"kernel_image_path": "/lab/guest/vmlinuz",
  "initrd_path": "/lab/guest/initrd.cpio.gz",
  "boot_args": "console=ttyS0 quiet panic=-1 mvm.script=/dev/vda mmds=$v"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 512},
 "drives": [{"drive_id": "script", "path_on_host": "$w/mmds.img",
   "is_root_device": false, "is_read_only": true}],
 "network-interfaces": [{"iface_id": "net0", "host_dev_name": "tap0",
   "guest_mac": "52:54:00:00:00:01"}],
 "mmds-config": {"version": "$v", "network_interfaces": ["net0"]}}
CFG
	t=$(now)
	mvm --no-api --config-file "$w/mmds-$v.json" --metadata "$w/md.json" \
		</dev/null >"$mlog" 2>"$w/mmds-$v.err" &
	mvm_pid=$!
	log=$mlog
	wait_for "MVM-GUEST-EXIT" "$step"
	reap "$mvm_pid" 60
	mvm_pid=
	echo "FACT mmds_${v}_s=$(since "$t")"
	tr -d '\r' <"$mlog" | grep '^L2: ' | sed "s/^/  L2-$v| /"
	sed "s/^/  mmds-$v.err| /" "$w/mmds-$v.err"
	check "MMDS $v: wget reads a string (IMDS text)" \
		test "$(l2 ami-id)" = ami-12345678
	# The keys one a line, no newline after the last: commas between.
	check "MMDS $v: wget reads an object's keys" \
		test "$(l2 list)" = "ami-id,hostname"
	check "MMDS $v: JSON with Accept: application/json" \
		test "$(l2 json)" = '"ami-12345678"'
	check "MMDS $v: a missing path is 404" test "$(l2 missing)" = 404
	check "MMDS $v: wget beside a connection nc holds open" \
		test "$(l2 beside)" = ami-12345678
	check "MMDS $v: the held connection gets its own answer" \
		test "$(l2 held)" = ami-12345678
done
log=$w/mmds-V2.log
check "MMDS V2: a GET without a token is 401" test "$(l2 no-token)" = 401
check "MMDS V2: PUT /latest/api/token gives a 44-character token" \
	test "$(l2 token-length)" = 44

echo "FACT script_s=$(since "$t0")"
finish
