#!/bin/sh
# Runs inside the lab (L1, real KVM with nested SVM; see
# tests/lab/nested-nat): L3 reaches L1's network through L2's mvm NAT.
#   L1  the lab: 192.168.77.1 (on lo) answers UDP port 7000 (udp-echo);
#       runs mvm --nested on, L2 on --net user (mac_spoofing off)
#   L2  the default guest: DHCP from L1's mvm; runs mvm, L3 on --net user
#       (mac_spoofing off)
#   L3  the virtio test kernel (test=net_nat): DHCP OFFER and ARP from
#       L2's mvm, then a UDP ping to 192.168.77.1:7000 and its answer
# Prints FACT lines, "ok - ..."/"not ok - ..." per check and a closing
# "N passed, N failed"; exits 0 only when nothing failed.
. /lab/checks.sh
t0=$(now)
w=$(mktemp -d)
log=$w/l2.log
step=400
dmesg -n 1

ip link set lo up
ip addr add 192.168.77.1/32 dev lo
udp-echo 192.168.77.1 7000 >"$w/echo.log" 2>&1 &
echo_pid=$!

# L2's initramfs: the default guest's, plus mvm with its libraries, the
# tiny kernel and L2's script.
r=$w/l2root
mkdir -p "$r/l2/bin" "$r/lib"
cp /lab/bin/mvm "$r/l2/bin/"
cp -a /lib/x86_64-linux-gnu "$r/lib/"
cp -a /lib64 "$r/"
cp /lab/mb_virtio /lab/l2/nat.sh "$r/l2/"
(cd "$r" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 2>/dev/null) \
	>"$w/overlay.cpio"
size=$(stat -c %s /lab/guest/initrd.cpio.gz)
{
	cat /lab/guest/initrd.cpio.gz
	head -c $(((512 - size % 512) % 512)) /dev/zero
	cat "$w/overlay.cpio"
} >"$w/l2.img"

t_l2=$(now)
timeout "$step" mvm run --kernel /lab/guest/vmlinuz --initrd "$w/l2.img" \
	--memory 512 --cpus 1 --nested on --net user,id=nat0 \
	--cmdline "console=ttyS0 quiet panic=-1 mvm.net=dhcp mvm.script=/l2/nat.sh" \
	</dev/null >"$log" 2>"$w/mvm.err"
rc=$?
kill "$echo_pid" 2>/dev/null
tr -d '\r' <"$log" | grep -e '^L2' -e '^L3' -e 'MVM-GUEST' | sed 's/^/  /'
echo "FACT l2_total_s=$(since "$t_l2")"
l2() {
	tr -d '\r' <"$log" | grep '^L2: ' | tr ' ' '\n' |
		sed -n "s/^$1=//p" | tail -n 1
}
l3() { tr -d '\r' <"$log" | grep -q "^L3| $1"; }

check "L2 got 10.0.2.15/24 from L1's mvm NAT" \
	test "$(l2 eth-addr)" = 10.0.2.15/24
check "L2 has /dev/kvm (--nested on)" test "$(l2 kvm)" = yes
check "L3: DHCP OFFER from L2's mvm NAT" l3 "PASS nat dhcp offer"
check "L3: ARP reply for its gateway" l3 "PASS nat arp gateway"
check "L3 reached 192.168.77.1:7000 on L1 through both NATs, and back" \
	l3 "PASS nat udp echo"
check "L1's service heard the ping (from L1's own address: NAT)" \
	grep -q "ping from 192.168.77.1:\|ping from 127.0.0.1:" "$w/echo.log"
check "no NIC dropped a frame for its source MAC (mac_spoofing off)" \
	eval '! grep -q "dropped a frame from source MAC" "$w/mvm.err" && ! tr -d "\r" <"$log" | grep -q "dropped a frame from source MAC"'
check "L3 ended ALL OK; L2 and L1's mvm exited 0" \
	eval 'l3 "ALL OK" && test "$(l2 l3-status)" = 1 -a "$rc" = 0'
sed 's/^/  echo| /' "$w/echo.log"
sed 's/^/  mvm.err| /' "$w/mvm.err"
echo "FACT script_s=$(since "$t0")"
finish
