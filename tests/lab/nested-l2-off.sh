#!/bin/sh
# Runs inside L2 (mvm's guest, booted with --nested off) for
# tests/lab/nested.lab.sh: without SVM in its CPUID the guest must not be
# able to become a hypervisor. /init skipped kvm_amd (no svm flag); try it
# anyway, as a user would.
say() { echo "L2: $*"; }
say "svm-cpus=$(grep -cw svm /proc/cpuinfo)"
insmod /lib/modules/kvm_amd.ko nested=1 >/tmp/insmod.log 2>&1
rc=$?
sed 's/^/L2| /' /tmp/insmod.log
say "insmod-kvm_amd=$rc"
if grep -q '^kvm_amd ' /proc/modules; then say "kvm_amd=loaded"; else say "kvm_amd=refused"; fi
if [ -c /dev/kvm ]; then say "dev-kvm=yes"; else say "dev-kvm=no"; fi
dmesg | grep -i -e kvm -e svm | tail -n 3 | sed 's/^/L2| dmesg: /'
