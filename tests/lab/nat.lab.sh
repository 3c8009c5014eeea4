#!/bin/sh
# Runs inside the lab (L1, real KVM; see tests/lab/nat): the default
# guest (L2) on mvm's user-mode NAT.
#   dhcp     L2's /init got 10.0.2.15/24, the default route via 10.0.2.2
#            and DNS 10.0.2.3 from mvm's DHCP (no tap, no bridge)
#   mtu      L2's eth0 took the NIC's mtu=9000, so both transfers below
#            run in jumbo segments
#   out      L2 fetches 1 MiB over HTTP from a server on the lab's
#            loopback (10.0.2.2:8000 through the NAT), intact
#   hostfwd  the lab fetches L2's page through 127.0.0.1:8080, forwarded
#            to L2's port 80, intact
#   mmds     a second L2 on a user NIC (mtu 65520) that serves
#            MMDS V2: busybox wget reads it (tests/lab/mmds-l2.sh)
# Prints FACT lines, "ok - ..."/"not ok - ..." per check and a closing
# "N passed, N failed"; exits 0 only when nothing failed.
# check, finish, now, since, deadline, past, reap
. /lab/checks.sh
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
t0=$(now)
w=$(mktemp -d)
log=$w/l2.log
: >"$log"
step=300
dmesg -n 1

mvm_pid=
# wait_for TEXT SECONDS: until L2's console holds TEXT, or mvm has ended.
wait_for() {
	d=$(deadline "$2")
	while ! grep -q -- "$1" "$log"; do
		if past "$d"; then
			echo "  (waited ${2}s for '$1' in vain)"
			tail_of "$w/mvm.err"
			return 1
		fi
		if [ -n "$mvm_pid" ] && ! alive "$mvm_pid"; then
			grep -q -- "$1" "$log" && return 0
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

echo "FACT kernel=$(uname -r)"

# ---- the lab's side: an HTTP server on loopback only -------------------
ip link set lo up
mkdir -p "$w/www"
head -c 1048576 /dev/urandom >"$w/www/file"
file_sum=$(sum "$w/www/file")
httpd -p 127.0.0.1:8000 -h "$w/www"
cp /lab/nat-l2.sh "$w/script.img"
size=$(stat -c %s "$w/script.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/script.img"

# ---- L2 ----------------------------------------------------------------
mkfifo "$w/l2in"
exec 3<>"$w/l2in"
t_l2=$(now)
mvm run --kernel /lab/guest/vmlinuz --initrd /lab/guest/initrd.cpio.gz \
	--cmdline "console=ttyS0 quiet panic=-1 mvm.net=dhcp mvm.script=/dev/vda" \
	--cpus 1 --memory 256 \
	--disk "path=$w/script.img,readonly=on" \
	--net "user,id=nat0,mtu=9000,hostfwd=tcp:127.0.0.1:8080-:80" \
	<"$w/l2in" >"$log" 2>"$w/mvm.err" &
mvm_pid=$!
tail -f "$log" 2>/dev/null |
	while IFS= read -r line; do echo "  L2| $line"; done &
tail_pid=$!

got=
if wait_for "L2-WAIT hostfwd" "$step"; then
	echo "FACT l2_ready_s=$(since "$t_l2")"
	# (No -T: busybox 1.35's wget crashes with it; timeout instead.)
	timeout 60 wget -q -O "$w/page" http://127.0.0.1:8080/page 2>"$w/wget.err"
	got=$(sum "$w/page")
	echo go >&3
fi
reap "$mvm_pid" 60
rc=$?
kill "$tail_pid" 2>/dev/null
exec 3>&-

check "dhcp: eth0 got 10.0.2.15/24 from mvm's NAT" \
	test "$(l2 eth-addr)" = 10.0.2.15/24
check "dhcp: the default route is via 10.0.2.2" test "$(l2 route)" = 10.0.2.2
check "dhcp: the name server is 10.0.2.3" test "$(l2 dns)" = 10.0.2.3
check "mtu: eth0 took the NIC's MTU, 9000 (VIRTIO_NET_F_MTU)" \
	test "$(l2 mtu)" = 9000
check "out: L2 fetched the lab's loopback server through the NAT" \
	test "$(l2 nat-get)" = ok
check "out: 1 MiB, checksum matches" \
	test "$(l2 bytes)" = 1048576 -a "$(l2 sum)" = "$file_sum"
check "hostfwd: the lab fetched L2's page through 127.0.0.1:8080" \
	test -n "$got" -a "$got" = "$(l2 page-sum)"
check "L2 ended cleanly; mvm exited 0" \
	test "$rc" = 0 -a "$(grep -c 'MVM-GUEST-EXIT=0' "$log")" = 1
sed 's/^/  mvm.err| /' "$w/mvm.err"
[ ! -s "$w/wget.err" ] || sed 's/^/  wget.err| /' "$w/wget.err"

# ---- MMDS on a user NIC ---------------------------------------------------
cp /lab/mmds-l2.sh "$w/mmds.img"
size=$(stat -c %s "$w/mmds.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/mmds.img"
echo '{"latest": {"meta-data": {"ami-id": "ami-12345678", "hostname": "l2"}}}' \
	>"$w/md.json"
cat >"$w/mmds.json" <<CFG
{"boot-source": {"kernel_image_path": "/lab/guest/vmlinuz",
  "initrd_path": "/lab/guest/initrd.cpio.gz",
  "boot_args": "console=ttyS0 quiet panic=-1 mvm.script=/dev/vda mmds=V2"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
 "drives": [{"drive_id": "script", "path_on_host": "$w/mmds.img",
   "is_root_device": false, "is_read_only": true}],
 "network-interfaces": [{"iface_id": "net0", "backend": "user",
   "mtu": 65520}],
 "mmds-config": {"version": "V2", "network_interfaces": ["net0"]}}
CFG
log=$w/mmds.log
mvm --no-api --config-file "$w/mmds.json" --metadata "$w/md.json" \
	</dev/null >"$log" 2>"$w/mmds.err" &
mvm_pid=$!
wait_for "MVM-GUEST-EXIT" "$step"
reap "$mvm_pid" 60
tr -d '\r' <"$log" | grep '^L2: ' | sed "s/^/  L2-mmds| /"
sed "s/^/  mmds.err| /" "$w/mmds.err"
check "mmds: a GET without a token is 401 on a user NIC" \
	test "$(l2 no-token)" = 401
check "mmds: wget reads a string with a token on a user NIC" \
	test "$(l2 ami-id)" = ami-12345678
check "mmds: the held connection gets its own answer" \
	test "$(l2 held)" = ami-12345678
echo "FACT script_s=$(since "$t0")"
finish
