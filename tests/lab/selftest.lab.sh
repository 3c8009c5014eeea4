#!/bin/sh
# Runs inside the lab (see tests/lab/selftest): checks that the lab offers
# real KVM able to run nested guests, and that the default guest boots under
# QEMU with -accel kvm there. Prints FACT lines, one "ok"/"not ok" line per
# check and a closing "N passed, N failed".
# check, finish, now, since, deadline, past, reap
. /lab/checks.sh

w=$(mktemp -d)
echo "FACT lab_uptime_at_script=$(now)"
echo "FACT kernel=$(uname -r)"
check "/dev/kvm exists" test -c /dev/kvm
svm=$(grep -c svm /proc/cpuinfo)
echo "FACT cpus_with_svm=$svm"
check "the lab's CPUs have svm" test "$svm" -gt 0
nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null || echo none)
echo "FACT kvm_amd_nested=$nested"
check "kvm_amd loaded with nested=1" test "$nested" = 1
kvm-facts >"$w/facts"
sed 's/^/FACT /' "$w/facts"
check "KVM_CAP_NESTED_STATE is non-zero" \
	grep -q '^KVM_CAP_NESTED_STATE=[1-9]' "$w/facts"
check "KVM_GET_SUPPORTED_CPUID offers SVM" \
	grep -qx SUPPORTED_CPUID_SVM=1 "$w/facts"

# boot NAME MACHINE KERNEL GUEST_ARGS [QEMU_ARGS...]: boot the default guest
# under QEMU/KVM, console in NAME.log of the work folder with the time to MVM-GUEST-READY.
boot() {
	name=$1 machine=$2 kernel=$3 args=$4
	shift 4
	start=$(now)
	timeout 120 qemu-system-x86_64 -accel kvm -cpu host -M "$machine" \
		-smp 2 -m 512M -nodefaults -display none -serial stdio -no-reboot \
		-kernel "$kernel" -initrd /lab/guest/initrd.cpio.gz \
		-append "console=ttyS0 quiet panic=-1 $args" "$@" </dev/null 2>&1 |
		tr -d '\r' | while IFS= read -r line; do
		echo "  $name| $line"
		[ "$line" != MVM-GUEST-READY ] || echo "FACT ${name}_ready_s=$(since "$start")"
	done | tee "$w/$name.log"
	echo "FACT ${name}_total_s=$(since "$start")"
}

boot microvm microvm /lab/guest/vmlinuz mvm.cmd=nproc
check "microvm guest reached MVM-GUEST-READY" grep -q 'MVM-GUEST-READY$' "$w/microvm.log"
check "microvm guest saw 2 CPUs" grep -q 'NPROC=2$' "$w/microvm.log"

# QEMU boots an ELF kernel through its PVH entry note.
boot pvh microvm /lab/guest/vmlinux mvm.cmd=poweroff
check "PVH boot of the ELF vmlinux reached MVM-GUEST-READY" \
	grep -q 'MVM-GUEST-READY$' "$w/pvh.log"

# The guest runs a script it finds on a virtio disk, zero padding and all.
printf 'echo "DISK-SCRIPT ran"\ntest -c /dev/kvm && echo "DISK-KVM yes"\nexit 5\n' \
	>"$w/disk.img"
truncate -s 4096 "$w/disk.img"
boot q35 q35 /lab/guest/vmlinuz mvm.script=/dev/vda \
	-drive "file=$w/disk.img,if=none,id=d0,format=raw" \
	-device virtio-blk-pci,drive=d0
check "q35 guest reached MVM-GUEST-READY" grep -q 'MVM-GUEST-READY$' "$w/q35.log"
check "q35 guest ran the disk's script" grep -q 'DISK-SCRIPT ran$' "$w/q35.log"
check "q35 guest reported its status" grep -q 'MVM-GUEST-EXIT=5$' "$w/q35.log"
check "q35 guest has /dev/kvm itself (nested)" grep -q 'DISK-KVM yes$' "$w/q35.log"

finish
