#!/bin/sh
# Runs inside the lab (for tests/integration/test_lab_linux.c): boots the
# default guest under mvm in every way the tests check, and reports what
# happened without judging it. For each case NAME it prints
#   CASE-BEGIN NAME
#   NAME| <a line of the guest console (mvm's stdout)>
#   NAME! <a line of mvm's stderr alone>
#   CASE-END NAME status=<mvm's exit status> seconds=<wall time> epoch=<lab clock>
# and "LAB-LINUX-DONE" at the end. Booting the lab costs more than a case:
# every case runs in this one script.
G=/lab/guest
BASE="console=ttyS0 quiet"
w=$(mktemp -d)

# The lab's own kernel messages would interleave with the guests'.
dmesg -n 1

. /lab/checks.sh

# report NAME STATUS START: print a finished case.
# awk, not sed: a console cut off mid-line by SIGTERM has no final newline,
# and sed would glue the first stderr line onto it.
report() {
	tr -d '\r' <"$w/$1.out" | awk -v p="$1| " '{ print p $0 }'
	tr -d '\r' <"$w/$1.err" | awk -v p="$1! " '{ print p $0 }'
	echo "CASE-END $1 status=$2 seconds=$(awk -v a="$3" -v b="$(now)" \
		'BEGIN { printf "%.1f", b - a }') epoch=$(date +%s)"
}

# boot NAME CPUS KERNEL CMDLINE [MVM_ARGS...]: run mvm to its end (at most
# 300 s), console to NAME.out, messages to NAME.err.
boot() {
	name=$1 cpus=$2 kernel=$3 cmdline=$4
	shift 4
	echo "CASE-BEGIN $name"
	start=$(now)
	timeout 300 mvm run --kernel "$kernel" --initrd "$G/initrd.cpio.gz" \
		--cmdline "$cmdline" --cpus "$cpus" --memory 512 "$@" \
		</dev/null >"$w/$name.out" 2>"$w/$name.err"
	report "$name" $? "$start"
}

# Each guest prints its vCPU count and the command line it was given.
boot smp1 1 "$G/vmlinuz" "$BASE mvm.cmd=nproc mvm.case=smp1"
boot smp2 2 "$G/vmlinuz" "$BASE mvm.cmd=nproc mvm.case=smp2"
boot smp4 4 "$G/vmlinuz" "$BASE mvm.cmd=nproc mvm.case=smp4"
# The ELF vmlinux, entered through its PVH note.
boot pvh 2 "$G/vmlinux" "$BASE mvm.cmd=nproc mvm.case=pvh"
# The bzImage again, with nokaslr: mvm unpacks its vmlinux itself. Booted
# from a config file, whose logger says which way the kernel went; the
# log's lines are reported as "unpacked# ...".
name=unpacked
echo "CASE-BEGIN $name"
start=$(now)
cat >"$w/$name.json" <<EOF
{"boot-source": {"kernel_image_path": "$G/vmlinuz",
  "initrd_path": "$G/initrd.cpio.gz",
  "boot_args": "$BASE mvm.cmd=nproc mvm.case=$name nokaslr"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 512},
 "logger": {"log_path": "$w/$name.log", "level": "Info"}}
EOF
: >"$w/$name.log"
timeout 300 mvm --config-file "$w/$name.json" </dev/null >"$w/$name.out" \
	2>"$w/$name.err"
st=$?
sed "s/^/$name# /" "$w/$name.log"
report "$name" "$st" "$start"
# A panicking kernel, told to reboot at once, must still end mvm in failure.
boot panic 1 "$G/vmlinuz" "$BASE panic=-1 mvm.cmd=panic"

# A guest that reboots, under --on-reboot restart, boots again, and again:
# once its second boot reaches /init, stop mvm with SIGTERM.
name=restart
echo "CASE-BEGIN $name"
start=$(now)
# Made here: the background job's own redirection may come after the
# first look below.
: >"$w/$name.out"
mvm run --kernel "$G/vmlinuz" --initrd "$G/initrd.cpio.gz" \
	--cmdline "$BASE mvm.cmd=reboot" --cpus 1 --memory 512 \
	--on-reboot restart </dev/null >"$w/$name.out" 2>"$w/$name.err" &
pid=$!
# Two boots may take 300 s of the lab's own clock, however slow it runs.
until [ "$(grep -c MVM-GUEST-READY "$w/$name.out")" -ge 2 ] ||
	! alive "$pid" ||
	awk -v a="$start" -v b="$(now)" 'BEGIN { exit !(b - a > 300) }'; do
	sleep 1
done
kill -TERM "$pid" 2>/dev/null
# mvm must end on SIGTERM; if it does not, say where it is stuck rather
# than wait for the lab's own time limit.
j=0
while [ "$j" -lt 60 ] && alive "$pid"; do
	sleep 1
	j=$((j + 1))
done
if alive "$pid"; then
	{
		echo "lab: mvm still running 60 s after SIGTERM; its threads:"
		threads "$pid"
	} >>"$w/$name.err"
	kill -KILL "$pid"
fi
wait "$pid"
report "$name" $? "$start"

echo LAB-LINUX-DONE
