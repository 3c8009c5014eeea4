#!/bin/sh
# Runs inside L2 (the default guest under mvm, in the lab) for
# tests/lab/nat.lab.sh: Linux on mvm's user-mode NAT. /init has already
# configured eth0 by DHCP (mvm.net=dhcp). It only reports, as "L2:
# key=value" lines; the lab judges. Where it needs the lab it says
# "L2-WAIT <what>" and reads the answer from the console.
say() { echo "L2: $*"; }
ask() {
	echo "L2-WAIT $1"
	read -r answer || answer=eof
	say "lab said $answer"
}
sum() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

say "eth-addr=$(ip -4 -o addr show eth0 | awk '{print $4}')"
say "route=$(ip route | awk '/^default/ {print $3}')"
say "dns=$(awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf)"
say "mtu=$(cat /sys/class/net/eth0/mtu)"

# Out through the NAT: 10.0.2.2 is the lab's own loopback.
# (No -T: busybox 1.35's wget crashes with it; timeout instead.)
if timeout 60 wget -q -O /tmp/file http://10.0.2.2:8000/file 2>/tmp/wget.err; then
	say "nat-get=ok bytes=$(wc -c </tmp/file) sum=$(sum /tmp/file)"
else
	say "nat-get=failed: $(tr '\n' ' ' </tmp/wget.err)"
fi

# In through a hostfwd: the lab fetches this from its 127.0.0.1:8080.
mkdir -p /www
head -c 65536 /dev/urandom >/www/page
say "page-sum=$(sum /www/page)"
httpd -p 80 -h /www
ask hostfwd
