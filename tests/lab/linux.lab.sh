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

# A snapshot of a running guest, loaded in new mvm processes: mvm with an
# API socket boots the guest (2 vCPUs, dirty page tracking on), whose
# shell runs a workload that appends a line to a file every second and
# prints its PID, the count and the file's MD5. A Full snapshot, more
# work, a Diff; that mvm is killed. A second mvm loads the Full, a third
# the Diff merged onto the Full's memory file (`mvm snapshot merge`): both
# must go on counting where their snapshot stood, in the same process,
# answer a command typed on their console with the lab's time
# (clock_realtime) and no lockup warning, and power off. Reported: each
# mvm's console as "snap-a|", "snap-b|", "snap-c|" and its stderr as
# "snap-X!", `mvm snapshot inspect` of the Full as "snap-inspect|", and
# what the lab saw as "snapshot: KEY=VALUE".
name=snapshot
echo "CASE-BEGIN $name"
start=$(now)
fact() { echo "snapshot: $*"; }
# snap_mvm X FD: a new mvm with an API socket, its console input a fifo
# held open on FD (opened first: mvm would block opening it otherwise).
snap_mvm() {
	mkfifo "$w/snap-$1.in"
	eval "exec $2<>\"\$w/snap-\$1.in\""
	: >"$w/snap-$1.out"
	mvm --api-sock "$w/snap-$1.sock" <"$w/snap-$1.in" \
		>"$w/snap-$1.out" 2>"$w/snap-$1.err" &
	eval "snap_pid_$1=$!"
	_d=$(deadline 30)
	until [ -S "$w/snap-$1.sock" ] || past "$_d"; do sleep 0.1; done
}
# snap_api X METHOD PATH [BODY]: the response's status.
snap_api() {
	_x=$1
	shift
	_r=$(uds-http "$w/snap-$_x.sock" "$@" 2>&1)
	printf '%s\n' "$_r" | sed "s/^/snap-$_x> /" >>"$w/snap-api.log"
	printf '%s\n' "$_r" | head -n 1 | cut -d' ' -f2
}
# seen X TEXT: how many lines of X's console hold TEXT.
seen() { tr -d '\r' <"$w/snap-$1.out" | grep -c -- "$2"; }
# snap_wait X TEXT COUNT: until X's console has COUNT lines with TEXT
# (300 s of the lab's clock at most).
snap_wait() {
	_d=$(deadline 300)
	until [ "$(seen "$1" "$2")" -ge "$3" ]; do
		if past "$_d"; then
			fact "timeout-$1=waited for $3 x '$2'"
			return 1
		fi
		sleep 0.2
	done
}
# Complete workload lines only: a line cut short by the pause is not one.
# (The shell's prompt may come first on the line.)
work_re='WORK pid=[0-9]* n=[0-9]* sum=[0-9a-f]\{32\}$'
work_lines() { tr -d '\r' <"$w/snap-$1.out" | grep -o "$work_re"; }
works() { seen "$1" "$work_re"; }
last_n() { work_lines "$1" | tail -n 1 | sed 's/.* n=\([0-9]*\) .*/\1/'; }
# snap_sums X: "GOOD/ALL": lines whose MD5 is that of the file the
# workload wrote (1..n, a line each), as the lab computes it.
snap_sums() {
	_good=0 _all=0
	for _l in $(work_lines "$1" |
		sed 's/.* n=\([0-9]*\) sum=\(.*\)/\1:\2/'); do
		_all=$((_all + 1))
		_want=$(seq 1 "${_l%%:*}" | md5sum | cut -c1-32)
		[ "$_want" != "${_l#*:}" ] || _good=$((_good + 1))
	done
	echo "$_good/$_all"
}
snap_body() {
	printf '{"snapshot_type": "%s", "snapshot_path": "%s", %s}' "$1" \
		"$w/snap-$2.state" "\"mem_file_path\": \"$w/snap-$2.mem\""
}
load_body() {
	printf '{"snapshot_path": "%s", "mem_backend": %s, %s}' \
		"$w/snap-$1.state" "{\"backend_type\": \"File\",
		\"backend_path\": \"$w/snap-$2.mem\"}" \
		'"resume_vm": true, "clock_realtime": true'
}
# snap_ask X: a command typed on X's console; the lab's clock around it.
snap_ask() {
	_before=$(date +%s)
	echo 'echo ANSWER-$((6 * 7)) CLOCK=$(date +%s)' >&"$2"
	snap_wait "$1" 'ANSWER-42 CLOCK=' 1
	fact "clock-$1=lab-before=$_before guest=$(tr -d '\r' \
		<"$w/snap-$1.out" | sed -n 's/^ANSWER-42 CLOCK=//p' |
		head -n 1) lab-after=$(date +%s)"
}
# snap_poweroff X FD: the guest powers off; mvm's exit status.
snap_poweroff() {
	echo 'poweroff -f' >&"$2"
	eval "reap \"\$snap_pid_$1\" 120"
}

snap_mvm a 3
fact "config=$(snap_api a PUT /machine-config '{"vcpu_count": 2,
	"mem_size_mib": 256, "track_dirty_pages": true}') $(snap_api a \
	PUT /boot-source "{\"kernel_image_path\": \"$G/vmlinuz\",
	\"initrd_path\": \"$G/initrd.cpio.gz\",
	\"boot_args\": \"$BASE\"}") $(snap_api a PUT /actions \
	'{"action_type": "InstanceStart"}')"
# The shell is up once busybox has said hello.
snap_wait a "Enter 'help'" 1
echo 'echo "n=0; while :; do n=\$((n + 1)); echo \$n >>/tmp/w;' \
	'echo \"WORK pid=\$\$ n=\$n sum=\$(md5sum </tmp/w | cut -c1-32)\";' \
	'sleep 1; done" >/tmp/work.sh; sh /tmp/work.sh &' >&3
snap_wait a "$work_re" 3
fact "pause-full=$(snap_api a PATCH /vm '{"state": "Paused"}')"
t=$(now)
fact "create-full=$(snap_api a PUT /snapshot/create "$(snap_body Full 1)")"
fact "create-full-seconds=$(since "$t")"
fact "full-last=$(last_n a)"
fact "resume=$(snap_api a PATCH /vm '{"state": "Resumed"}')"
snap_wait a "$work_re" $(($(works a) + 2))
fact "pause-diff=$(snap_api a PATCH /vm '{"state": "Paused"}')"
t=$(now)
fact "create-diff=$(snap_api a PUT /snapshot/create "$(snap_body Diff 2)")"
fact "create-diff-seconds=$(since "$t")"
fact "diff-last=$(last_n a)"
fact "mem-kib=full:$(du -k "$w/snap-1.mem" | cut -f1)" \
	"diff:$(du -k "$w/snap-2.mem" | cut -f1)"
kill "$snap_pid_a"
reap "$snap_pid_a" 60
fact "exit-a=$?"
mvm snapshot inspect "$w/snap-1.state" 2>&1 | sed 's/^/snap-inspect| /'

# Loaded 25 s after it was taken, the guest's clock (clock_realtime)
# jumps past its soft lockup watchdog's 20 s: mvm must tell it that the
# VM stood still.
_d=$(deadline 25)
until past "$_d"; do sleep 1; done
snap_mvm b 4
t=$(now)
fact "load-full=$(snap_api b PUT /snapshot/load "$(load_body 1 1)")"
fact "load-full-seconds=$(since "$t")"
snap_wait b "$work_re" 2
snap_ask b 4
snap_wait b "$work_re" $(($(works b) + 1))
snap_poweroff b 4
fact "exit-b=$?"

t=$(now)
mvm snapshot merge "$w/snap-1.mem" "$w/snap-2.mem" >"$w/snap-merge.out" 2>&1
fact "merge=$? seconds=$(since "$t") $(tr '\n' ' ' <"$w/snap-merge.out")"
snap_mvm c 5
fact "load-diff=$(snap_api c PUT /snapshot/load "$(load_body 2 1)")"
snap_wait c "$work_re" 2
snap_ask c 5
snap_wait c "$work_re" $(($(works c) + 1))
snap_poweroff c 5
st=$?
exec 3>&- 4>&- 5>&-
for x in a b c; do
	fact "sums-$x=$(snap_sums $x)"
	tr -d '\r' <"$w/snap-$x.out" | awk -v p="snap-$x| " '{ print p $0 }'
	tr -d '\r' <"$w/snap-$x.err" | awk -v p="snap-$x! " '{ print p $0 }'
done
sed 's/^/  /' "$w/snap-api.log"
echo "CASE-END $name status=$st seconds=$(since "$start") epoch=$(date +%s)"

# A live migration of a running guest between two mvm processes (PUT
# /migration to an `mvm --incoming`): the source (2 vCPUs, a disk on
# shared storage) runs the snapshot case's workload, which also writes
# its count to the disk (dd straight to /dev/vda, fsync'd). It migrates
# while it works; the source must end with 0, the destination go on
# counting in the same process, on the same disk (the source's last
# writes there, and then its own), answer on its console with the lab's
# time, and power off. Reported as the snapshot case is: consoles as
# "snap-m|" (source) and "snap-n|" (destination), stderr as "snap-X!",
# facts as "migration: KEY=VALUE".
name=migration
echo "CASE-BEGIN $name"
start=$(now)
fact() { echo "migration: $*"; }
truncate -s 16M "$w/mig-disk.img"
snap_mvm m 6
fact "config=$(snap_api m PUT /machine-config '{"vcpu_count": 2,
	"mem_size_mib": 256}') $(snap_api m PUT /boot-source \
	"{\"kernel_image_path\": \"$G/vmlinuz\",
	\"initrd_path\": \"$G/initrd.cpio.gz\",
	\"boot_args\": \"$BASE\"}") $(snap_api m PUT /drives/disk \
	"{\"drive_id\": \"disk\", \"path_on_host\": \"$w/mig-disk.img\",
	\"is_root_device\": false, \"is_read_only\": false}") $(snap_api m \
	PUT /actions '{"action_type": "InstanceStart"}')"
snap_wait m "Enter 'help'" 1
echo 'echo "n=0; while :; do n=\$((n + 1)); echo \$n >>/tmp/w;' \
	'echo DISK-\$n | dd of=/dev/vda bs=512 count=1 conv=sync,fsync' \
	'2>/dev/null;' \
	'echo \"WORK pid=\$\$ n=\$n sum=\$(md5sum </tmp/w | cut -c1-32)\";' \
	'sleep 1; done" >/tmp/work.sh; sh /tmp/work.sh &' >&6
snap_wait m "$work_re" 3
# The destination, from the command line; its console on fd 7.
mkfifo "$w/snap-n.in"
exec 7<>"$w/snap-n.in"
: >"$w/snap-n.out"
mvm --incoming "unix:$w/mig.sock" --api-sock "$w/snap-n.sock" \
	<"$w/snap-n.in" >"$w/snap-n.out" 2>"$w/snap-n.err" &
snap_pid_n=$!
_d=$(deadline 30)
until [ -S "$w/mig.sock" ] || past "$_d"; do sleep 0.1; done
t=$(now)
fact "migrate=$(snap_api m PUT /migration \
	"{\"uri\": \"unix:$w/mig.sock\"}")"
reap "$snap_pid_m" 300
fact "exit-m=$?"
fact "migrate-seconds=$(since "$t")"
fact "source-last=$(last_n m)"
# The body is the text from the first '{' to the last '}' (it holds
# objects of its own, such as downtime_parts_us).
fact "get-n=$(uds-http "$w/snap-n.sock" GET /migration 2>&1 |
	tr -d '\n' | sed 's/^[^{]*\({.*}\)[^}]*$/\1/')"
snap_wait n "$work_re" 2
snap_ask n 7
snap_wait n "$work_re" $(($(works n) + 1))
fact "disk=$(head -c 512 "$w/mig-disk.img" | tr -d '\0' | head -n 1)"
fact "dest-last=$(last_n n)"
snap_poweroff n 7
st=$?
exec 6>&- 7>&-
for x in m n; do
	fact "sums-$x=$(snap_sums $x)"
	tr -d '\r' <"$w/snap-$x.out" | awk -v p="snap-$x| " '{ print p $0 }'
	tr -d '\r' <"$w/snap-$x.err" | awk -v p="snap-$x! " '{ print p $0 }'
done
echo "CASE-END $name status=$st seconds=$(since "$start") epoch=$(date +%s)"

echo LAB-LINUX-DONE
