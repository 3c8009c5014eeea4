#!/bin/sh
# Runs inside L2 (the default guest under mvm, in the lab) for the MMDS
# part of tests/lab/devices.lab.sh: busybox wget against MMDS through a
# NIC on a tap, MMDS's version on the kernel command line (mmds=V1|V2).
# It only reports, as "L2: key=value" lines; the lab judges. V2's token
# comes from nc: busybox wget cannot send a PUT.
say() { echo "L2: $*"; }
v=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^mmds=//p')
m=http://169.254.169.254
ip link set eth0 up
ip addr add 10.0.0.2/24 dev eth0
# MMDS's address is on no network of the guest's: a route to the NIC.
ip route add 169.254.169.254 dev eth0
say "version=$v"
hdr="X-Nothing: x"
if [ "$v" = V2 ]; then
	if wget -q -O /tmp/out "$m/latest/meta-data/ami-id" 2>/tmp/err; then
		say "no-token=200"
	else
		say "no-token=$(grep -o ' 40[0-9]' /tmp/err | head -n 1 | tr -d ' ')"
	fi
	# stdin stays open a while: nc may stop at its end, before the
	# answer; MMDS keeps the connection, so timeout ends nc.
	{
		printf 'PUT /latest/api/token HTTP/1.0\r\n'
		printf 'X-metadata-token-ttl-seconds: 60\r\n\r\n'
		sleep 2
	} | timeout 5 nc 169.254.169.254 80 >/tmp/tok 2>&1
	tok=$(tail -n 1 /tmp/tok)
	say "token-length=${#tok}"
	hdr="X-metadata-token: $tok"
fi
say "ami-id=$(wget -q -O - --header "$hdr" "$m/latest/meta-data/ami-id" 2>&1)"
say "list=$(wget -q -O - --header "$hdr" "$m/latest/meta-data/" 2>&1 | tr '\n' ',')"
say "json=$(wget -q -O - --header "$hdr" --header 'Accept: application/json' \
	"$m/latest/meta-data/ami-id" 2>&1)"
# Two connections at once: nc holds one with half a request while wget
# makes another; each gets its own answer (one parser each).
{
	printf 'GET /latest/meta-data/ami-id HTTP/1.0\r\n%s\r\n' "$hdr"
	sleep 2
	printf '\r\n'
	sleep 1
} | timeout 6 nc 169.254.169.254 80 >/tmp/held 2>&1 &
held=$!
sleep 1
say "beside=$(wget -q -O - --header "$hdr" "$m/latest/meta-data/ami-id" 2>&1)"
wait $held
say "held=$(tail -n 1 /tmp/held)"
say "missing=$(wget -q -O - --header "$hdr" "$m/nope" 2>&1 | grep -o ' 404' | tr -d ' ')"
say "mmds-done"
