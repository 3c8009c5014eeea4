#!/bin/sh
# Runs inside L2 (the default guest under mvm --nested on --net user, in
# the lab) for tests/lab/nested-nat.lab.sh: runs L3, a tiny kernel, on its
# own mvm's user-mode NAT, and reports as "L2: key=value" lines.
say() { echo "L2: $*"; }
say "eth-addr=$(ip -4 -o addr show eth0 | awk '{print $4}')"
say "kvm=$([ -e /dev/kvm ] && echo yes || echo no)"
/l2/bin/mvm run --kernel /l2/mb_virtio --memory 64 --net user \
	--cmdline "test=net_nat port=7000 dst=192.168.77.1" \
	</dev/null >/tmp/l3.log 2>&1
say "l3-status=$?"
sed 's/^/L3| /' /tmp/l3.log
