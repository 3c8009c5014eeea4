#!/bin/bash
# `make run`: boot the default guest (Debian's cloud kernel on a busybox
# initramfs, see guest/README.md) under mvm, to a shell on this terminal.
# Ctrl-A x quits.
#
# Where this host's KVM cannot run stock kernels (`mvm host-check` says
# why; a software KVM, for one), the same mvm boots the same guest inside
# the lab (tests/lab), a QEMU/TCG machine with a real KVM: the terminal
# then reaches mvm's console through the lab's.
#
# Usage: scripts/run-default-guest.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)
mvm=$build/mvm
guest=$build/guest
[ -x "$mvm" ] || {
	echo "run-default-guest: no $mvm: build mvm first (make)" >&2
	exit 1
}

# The guest is cached; its builder's line matters only when it fails.
if ! out=$("$src/scripts/build-default-guest.sh" "$guest" 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi

# The same machine either way: 2 vCPUs, 512 MiB, a shell on the console,
# a NIC on mvm's user-mode NAT (no root, no tap; /init asks for DHCP), and
# a scratch disk (/dev/vda, sparse, empty: mke2fs it to use it).
scratch_mib=1024
cmdline="console=ttyS0 quiet mvm.cmd=shell mvm.net=dhcp"
mvm_args=(--initrd initrd.cpio.gz --cmdline "$cmdline" --cpus 2 --memory 512
	--net user)

# host-check --json: "stock_kernels" and, when false, the reason.
verdict=$("$mvm" host-check --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("yes" if j.get("stock_kernels") else "no")
print(j.get("stock_kernels_reason") or "no reason given")')
stock=${verdict%%$'\n'*}
reason=${verdict#*$'\n'}

if [ "$stock" = yes ]; then
	cd "$guest"
	# Kept across runs (what the guest wrote stays); sparse, so free.
	[ -e scratch.img ] || truncate -s "${scratch_mib}M" scratch.img
	exec "$mvm" run --kernel vmlinuz "${mvm_args[@]}" \
		--disk path=scratch.img,id=scratch
fi

echo "make run: this host's KVM cannot run stock Linux kernels ($reason);" \
	"booting the same guest with mvm inside the lab instead (QEMU TCG with" \
	"a real KVM, so slower; Ctrl-A x quits)" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Runs in the lab (busybox sh), where the guest is in /lab/guest.
cat >"$tmp/run.sh" <<EOF
# The lab's kernel messages would land in the middle of the guest's shell.
dmesg -n 1
cd /lab/guest
# The lab's files live in its RAM: the scratch disk is made there, sparse.
truncate -s ${scratch_mib}M /tmp/scratch.img
exec mvm run --kernel vmlinuz ${mvm_args[*]@Q} --disk path=/tmp/scratch.img,id=scratch
EOF
set +e
"$src/tests/lab/lab-run" -B "$build" --mvm "$mvm" --interactive -- "$tmp/run.sh"
rc=$?
set -e
exit "$rc"
