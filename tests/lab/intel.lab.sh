#!/bin/sh
# Runs inside the Intel lab (Bochs's emulated VMX and EPT, Linux's
# kvm_intel nested=1; see tests/lab/intel): nesting on VMX with mvm.
#   1. mvm host-check says yes on every line.
#   2. --nested off: bz_vmx sees no VMX, CR4.VMXE does not stick and VMXON
#      raises #UD; mb_action's CPUID shows no VMX either way round.
#   3. --nested on: bz_vmx finds IA32_FEATURE_CONTROL locked with VMXON
#      allowed, turns VMX on and runs its own guest (L3, a real-mode loop
#      with EPT) exit after exit. Meanwhile GET /vm/nested, GET /vm/policy,
#      whole-VM state round trips, and the refusal of a snapshot and of a
#      live migration (to a second mvm over a UNIX socket) are checked;
#      with allow_nested_state, a snapshot is taken and the VM migrates,
#      L3 running on in the second mvm. After 'q' it does VMXOFF, and the
#      refusals must lift. Last, the snapshot is loaded in a third mvm
#      (allow_nested_state): L3 runs on from the snapshot's round.
# Prints FACT lines, "ok - ..."/"not ok - ..." per check and a closing
# "N passed, N failed"; exits 0 only when nothing failed.
. /lab/checks.sh
t0=$(now)
w=$(mktemp -d)
# In the lab's own time, which Bochs runs 10-20 times slower than the
# host's clock: 60 s here may be 20 minutes of the host's.
step=${MVM_INTEL_STEP:-60}
sock=$w/api.sock

api() { uds-http "$sock" "$@" 2>&1; }
body() { printf '%s\n' "$1" | tail -n +2; }
field() {
	printf '%s\n' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[a-z0-9]*\)" |
		head -n 1 | cut -d: -f2- | tr -d '"'
}
op() { printf '%s\n' "$1" | tr '{' '\n' | grep "\"op\":\"$2\""; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
holds() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ]; }
mvm_pid=
wait_for() {
	d=$(deadline "$3")
	while ! holds "$1" "$2" "$4"; do
		if past "$d"; then
			echo "  (waited ${3}s for '$2' in vain)"
			[ -z "$mvm_pid" ] || threads "$mvm_pid"
			tail_of "$mvmerr" 10
			tail_of "$l1log" 5
			return 1
		fi
		if [ -n "$mvm_pid" ] && ! alive "$mvm_pid"; then
			holds "$1" "$2" "$4" && return 0
			echo "  (mvm ended while waiting for '$2')"
			return 1
		fi
		sleep 0.5
	done
}
nested_until() {
	d=$(deadline "$3")
	while :; do
		nested=$(api GET /vm/nested)
		[ "$(field "$nested" "$1")" != "$2" ] || return 0
		past "$d" && return 1
		sleep 0.2
	done
}
# rounds: the last round bz_vmx reported. Only whole lines count: the
# log's last line may be half written ("vmx: round 7"), or hold no digits
# yet, which would read as a smaller round or as none.
rounds() {
	grep -o 'vmx: round [0-9]* exits' "${1:-$l1log}" | tail -n 1 |
		cut -d' ' -f3
}
# round_reached FILE N: FILE has reported round N or a later one.
round_reached() { [ "$(rounds "$1")" -ge "$2" ] 2>/dev/null; }
# wait_round FILE N S: wait S seconds of the lab's time for round_reached.
wait_round() {
	d=$(deadline "$3")
	until round_reached "$1" "$2"; do
		if past "$d" || ! alive "$mvm_pid"; then
			echo "  (waited for round $2 in vain; last: $(rounds "$1"))"
			threads "$mvm_pid"
			tail_of "$mvmerr" 10
			tail_of "$1" 5
			return 1
		fi
		sleep 0.5
	done
}
# first_round FILE: the first round FILE reports (0: none).
first_round() {
	r=$(grep -o 'vmx: round [0-9]* exits' "$1" | head -n 1 | cut -d' ' -f3)
	echo "${r:-0}"
}
# sh -c "$nice19" mvm CMD...: CMD at nice 19 (see part 3), its pid the
# shell's. busybox has renice, not nice: the shell lowers itself, then is
# CMD, whose threads inherit it.
nice19='renice -n 19 -p $$ >/dev/null && exec "$@"'
# start_incoming X: `mvm --incoming` on $w/mig-X.sock, its API on
# $w/api-X.sock, its console input a fifo on fd 4, output in $w/l1X.log.
start_incoming() {
	mkfifo "$w/l1${1}in"
	exec 4<>"$w/l1${1}in"
	sh -c "$nice19" mvm mvm --incoming "unix:$w/mig-$1.sock" --api-sock "$w/api-$1.sock" \
		<"$w/l1${1}in" >"$w/l1$1.log" 2>"$w/mvm-$1.err" &
	in_pid=$!
	d=$(deadline 30)
	until [ -S "$w/mig-$1.sock" ] || past "$d"; do sleep 0.1; done
}
refused() {
	echo "$1 refused by rule nested_guest_hypervisor_active: the guest is hosting virtual machines of its own; allowed again once it stops"
}

echo "FACT cpu_vmx=$(grep -c -w vmx /proc/cpuinfo)"
echo "FACT cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "FACT kvm_intel_nested=$(cat /sys/module/kvm_intel/parameters/nested 2>&1)"
echo "FACT kvm_intel_ept=$(cat /sys/module/kvm_intel/parameters/ept 2>&1)"
echo "FACT lab_boot_s=$(cut -d' ' -f1 /proc/uptime)"

# ---- 1. host-check -----------------------------------------------------
mvm host-check >"$w/hc.out" 2>&1
sed 's/^/  host-check| /' "$w/hc.out"
check "mvm host-check: vendor intel" grep -q '^vendor: *intel' "$w/hc.out"
check "mvm host-check: hardware KVM" grep -q '^kvm kind: *hardware' "$w/hc.out"
check "mvm host-check: every check says yes" \
	sh -c "! grep -E '^  [a-z_]+ +(no|unknown) ' '$w/hc.out' &&
		grep -cE '^  [a-z_]+ +yes ' '$w/hc.out' | grep -qv '^0\$'"
check "mvm host-check: nested virtualization: yes" \
	grep -q '^nested virtualization: yes' "$w/hc.out"

# ---- 2. --nested off, and CPUID both ways ------------------------------
for n in on off; do
	mvm run --kernel /lab/mb_action --cmdline action=cpuid --memory 32 \
		--nested $n </dev/null >"$w/cpuid-$n.log" 2>&1
	grep 'cpuid-virt' "$w/cpuid-$n.log" | sed "s/^/  nested $n| /"
done
check "--nested on: the guest's CPUID shows VMX" \
	grep -q 'cpuid-virt: vendor=GenuineIntel vmx=1 svm=0' "$w/cpuid-on.log"
check "--nested off: the guest's CPUID shows no VMX" \
	grep -q 'cpuid-virt: vendor=GenuineIntel vmx=0 svm=0' "$w/cpuid-off.log"
mvm run --kernel /lab/bz_vmx --memory 32 --nested off </dev/null \
	>"$w/off.log" 2>&1
rc=$?
sed 's/^/  off| /' "$w/off.log"
check "--nested off: bz_vmx sees no VMX" grep -q 'vmx: cpuid vmx=0' "$w/off.log"
check "--nested off: CR4.VMXE does not stick" grep -q 'PASS cr4-vmxe' "$w/off.log"
check "--nested off: VMXON raises #UD" grep -q 'vmx: vmxon fault=6' "$w/off.log"
check "--nested off: bz_vmx ends ALL OK (mvm exit 1)" test "$rc" = 1

echo "FACT parts_1_2_s=$(since "$t0")"
if [ "$(cat /lab/parts 2>/dev/null)" = basic ]; then
	echo "FACT parts=basic: part 3 (bz_vmx as a hypervisor) not run"
	echo "FACT intel_script_s=$(since "$t0")"
	finish
	exit
fi

# ---- 3. --nested on: bz_vmx hosts L3 -----------------------------------
mkfifo "$w/l1in"
exec 3<>"$w/l1in"
rt=3
t_l1=$(now)
# The lab has one CPU, which the nested guest's loop of exits would keep
# busy: at nice 19 mvm leaves this script and its API calls their turn.
l1log=$w/l1.log mvmerr=$w/mvm.err
MVM_TEST_VM_ROUNDTRIP=$rt sh -c "$nice19" mvm mvm run --kernel /lab/bz_vmx --memory 64 \
	--nested on --cmdline "report=20" --api-sock "$sock" \
	<"$w/l1in" >"$l1log" 2>"$mvmerr" &
mvm_pid=$!

check "--nested on: bz_vmx sees VMX" wait_for "$w/l1.log" 'vmx: cpuid vmx=1' "$step"
check "IA32_FEATURE_CONTROL locked with VMXON allowed (0x5)" \
	wait_for "$w/l1.log" 'vmx: feature_control=0x5[[:space:]]*$' 30
check "VMXON succeeds" wait_for "$w/l1.log" 'vmx: vmxon ok' 30
check "L3 runs: VMLAUNCH, then CPUID, I/O and HLT exits and VMRESUME" \
	wait_for "$w/l1.log" 'vmx: round ' "$step"
if holds "$w/l1.log" 'vmx: round '; then
	echo "FACT nice_mvm=$(cut -d' ' -f19 "/proc/$mvm_pid/stat" 2>/dev/null)"
	echo "FACT l3_first_round_s=$(since "$t_l1")"
	check "GET /vm/nested: mechanism vmx" \
		nested_until mechanism vmx 30
	check "GET /vm/nested: l1_hypervisor_active while L3 runs" \
		nested_until l1_hypervisor_active true 60
	echo "FACT nested_active=$(body "$nested")"
	since_active=$(field "$nested" since)
	check "GET /vm/nested: l2_running seen while L3 runs" \
		nested_until l2_running true 60
	policy=$(api GET /vm/policy)
	echo "FACT policy_active=$(body "$policy")"
	for o in snapshot_create memory_resize checkpoint_apply \
		live_migration snapshot_load; do
		obj=$(op "$policy" "$o")
		check "GET /vm/policy: $o refused while the guest hosts L3" \
			has "$obj" '"allowed":false'
		check "GET /vm/policy: $o names rule and reason" has "$obj" \
			'"rule":"nested_guest_hypervisor_active","reason":"'"$(refused "$o")"'"'
	done
	check "mvm logged: L1 hypervisor active (vmx)" \
		grep -q 'mvm: nested: L1 hypervisor active (vmx)' "$w/mvm.err"
	check "$rt whole-VM state round trips while the guest hosts L3" \
		wait_for "$w/mvm.err" "vm state round trip" 20 "$rt"
	grep 'state round trip' "$w/mvm.err" | sed 's/^/  /'
	check "no round trip failed" \
		sh -c "! grep -q 'round trip failed' '$w/mvm.err'"
	r0=$(rounds)
	resp=$(api PATCH /vm '{"state": "Paused"}')
	check "PATCH /vm Paused while the guest hosts L3: 204" has "$resp" '^HTTP 204'
	resp=$(api PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "'"$w"'/s.state", "mem_file_path": "'"$w"'/s.mem"}')
	echo "FACT snapshot_while_hosting=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/create while the guest hosts L3: 409" \
		has "$resp" '^HTTP 409'
	check "... naming the rule nested_guest_hypervisor_active" has "$resp" \
		'snapshot_create refused by rule nested_guest_hypervisor_active'
	check "... and writing no file" test ! -e "$w/s.state" -a ! -e "$w/s.mem"
	# mvm's override: the running L3 saved, VMX nested state and all
	# (loaded in a third mvm at the end).
	r_snap=$(rounds)
	check "a round reported before the snapshot" test -n "$r_snap"
	resp=$(api PUT /snapshot/create '{"snapshot_type": "Full", "snapshot_path": "'"$w"'/h.state", "mem_file_path": "'"$w"'/h.mem", "allow_nested_state": true}')
	echo "FACT snapshot_override=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/create, allow_nested_state, while the guest hosts L3: 204" \
		has "$resp" '^HTTP 204'
	mvm snapshot inspect "$w/h.state" >"$w/h.out" 2>&1
	sed 's/^/  inspect| /' "$w/h.out"
	check "... its vCPU carries VMX nested state" \
		grep -q '^vcpus: 1, nested state present' "$w/h.out"
	resp=$(api PATCH /vm '{"state": "Resumed"}')
	check "PATCH /vm Resumed: 204" has "$resp" '^HTTP 204'
	check "L3 keeps running after the round trips and the pause" \
		wait_for "$l1log" "vmx: round $((r0 + 40)) " "$step"
	# Live migration to a second mvm in this lab, over a UNIX socket:
	# refused while the guest hosts L3, then moved with the override.
	start_incoming b
	resp=$(api PUT /migration '{"uri": "unix:'"$w"'/mig-b.sock"}')
	echo "FACT migrate_refused=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /migration while the guest hosts L3: 409" has "$resp" '^HTTP 409'
	check "... naming the rule nested_guest_hypervisor_active" has "$resp" \
		'live_migration refused by rule nested_guest_hypervisor_active'
	check "... and the guest runs on here" has "$(api GET /)" '"state":"Running"'
	t_mig=$(now)
	resp=$(api PUT /migration '{"uri": "unix:'"$w"'/mig-b.sock", "allow_nested_state": true}')
	echo "FACT migrate_override=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /migration, allow_nested_state, while the guest hosts L3: 204" \
		has "$resp" '^HTTP 204'
	reap "$mvm_pid" "$step"
	rc=$?
	echo "FACT migrate_s=$(since "$t_mig")"
	check "the source mvm ended with 0 once the guest ran in b" test "$rc" = 0
	sed 's/^/  mvm-source.err| /' "$mvmerr"
	# The source's last report: it ran on until the migration's last pass.
	r_mig=$(rounds)
	echo "FACT source_last_round=$r_mig"
	check "a round reported before the migration" test -n "$r_mig"
	sock=$w/api-b.sock l1log=$w/l1b.log mvmerr=$w/mvm-b.err mvm_pid=$in_pid
	exec 3>&- 3<&4 4>&-
	mig=$(api GET /migration)
	echo "FACT migration_b=$(body "$mig")"
	check "b: GET /migration says completed, incoming" has "$mig" \
		'"state":"completed","direction":"incoming"'
	check "b: l1_hypervisor_active: L3 came along" \
		nested_until l1_hypervisor_active true 60
	check "b: L3 runs on, its round counter past the source's" \
		wait_round "$l1log" $((r_mig + 40)) "$step"
	check "b: no new boot (bz_vmx did not start over)" \
		sh -c "! grep -q 'vmx: cpuid' '$l1log' && test $(first_round "$l1log") -gt $r_mig"
	tell() { echo "$1" >&3; }
	t_off=$(now)
	tell q
	check "on request, VMXOFF" wait_for "$l1log" 'vmx: vmxoff after' "$step"
	check "no check in bz_vmx failed" sh -c "! grep -q '^FAIL' '$w/l1.log' '$l1log'"
	check "GET /vm/nested: l1_hypervisor_active clears after VMXOFF" \
		nested_until l1_hypervisor_active false 30
	echo "FACT l1_cleared_after_s=$(since "$t_off")"
	echo "FACT nested_after=$(body "$nested")"
	check "GET /vm/nested: since moved" \
		test "$(field "$nested" since)" != "$since_active"
	policy=$(api GET /vm/policy)
	echo "FACT policy_after=$(body "$policy")"
	for o in snapshot_create memory_resize checkpoint_apply \
		live_migration; do
		check "GET /vm/policy: $o allowed again" \
			has "$(op "$policy" "$o")" '"allowed":true'
	done
	check "mvm logged: L1 hypervisor inactive" \
		grep -q 'mvm: nested: L1 hypervisor inactive' "$mvmerr"
	tell x
fi
reap "$mvm_pid" 60
rc=$?
check "bz_vmx ended ALL OK (mvm exit 1)" test "$rc" = 1
exec 3>&-
# Progress lines thinned to every tenth.
for f in "$w/l1.log" "$w/l1b.log"; do
	[ -e "$f" ] || continue
	awk '!/^vmx: round / || ++n % 10 == 1' "$f" | sed "s/^/  $(basename "$f" .log)| /"
done
sed 's/^/  mvm.err| /' "$mvmerr"

# ---- 3b. the allow_nested_state snapshot, in a third mvm ---------------
# Taken while L3 ran; loaded now that the first VM has ended, L3 must run
# on from the snapshot's round, not from a new boot.
if [ -e "$w/h.state" ]; then
	sock=$w/api-r.sock l1log=$w/l1r.log mvmerr=$w/mvm-r.err
	mkfifo "$w/l1rin"
	exec 3<>"$w/l1rin"
	sh -c "$nice19" mvm mvm --api-sock "$sock" <"$w/l1rin" >"$l1log" 2>"$mvmerr" &
	mvm_pid=$!
	d=$(deadline 30)
	until [ -S "$sock" ] || past "$d"; do sleep 0.1; done
	t_load=$(now)
	resp=$(api PUT /snapshot/load '{"snapshot_path": "'"$w"'/h.state", "mem_backend": {"backend_type": "File", "backend_path": "'"$w"'/h.mem"}, "resume_vm": true, "allow_nested_state": true}')
	echo "FACT snapshot_load=$(printf '%s' "$resp" | tr '\n' ' ')"
	echo "FACT snapshot_load_s=$(since "$t_load")"
	check "PUT /snapshot/load, allow_nested_state, in a new mvm: 204" \
		has "$resp" '^HTTP 204'
	check "restored: l1_hypervisor_active: L3 came along" \
		nested_until l1_hypervisor_active true 60
	check "restored: L3 runs on from the snapshot's round" \
		wait_round "$l1log" $((r_snap + 40)) "$step"
	check "restored: no new boot (bz_vmx did not start over)" \
		sh -c "! grep -q 'vmx: cpuid' '$l1log' && test $(first_round "$l1log") -gt $r_snap"
	echo q >&3
	check "restored: on request, VMXOFF" \
		wait_for "$l1log" 'vmx: vmxoff after' "$step"
	echo x >&3
	reap "$mvm_pid" 60
	rc=$?
	check "restored: bz_vmx ended ALL OK (mvm exit 1)" test "$rc" = 1
	exec 3>&-
	awk '!/^vmx: round / || ++n % 10 == 1' "$l1log" | sed 's/^/  l1r| /'
	sed 's/^/  mvm-r.err| /' "$mvmerr"
else
	echo "not ok - no allow_nested_state snapshot to load"
	fail=$((fail + 1))
fi
echo "FACT intel_script_s=$(since "$t0")"
finish
