#!/bin/sh
# Runs inside the lab (L1, real KVM with nested SVM; see tests/lab/nested):
# the whole matryoshka of nested virtualization with mvm.
#   L1  the lab's Linux: runs mvm with --nested on and an API socket
#   L2  mvm's guest, the default guest: loads kvm_amd, runs mvm itself
#   L3  L2's guest, a tiny kernel that spins
# While L3 runs, L1 asks mvm's API whether its guest hosts guests, and
# what the policy allows, and a snapshot is refused; after L3 exits it asks
# again and takes a snapshot of L2 (kvm_amd loaded, no VM), which a new mvm
# loads once the first has ended: the restored L2 runs an L3 of its own.
# Meanwhile a second L2 boots with --nested off and must not be able to
# load kvm_amd.
# Prints FACT lines, "ok - ..."/"not ok - ..." per check and a closing
# "N passed, N failed"; exits 0 only when nothing failed.
# check, finish, now, since, deadline, past, reap
. /lab/checks.sh
t0=$(now)
w=$(mktemp -d)
# Steps wait this long at most: well inside lab-run's --timeout (600 s),
# so that a step that hangs is reported, with what mvm was doing.
step=300
sock=$w/api.sock

api() { uds-http "$sock" "$@" 2>&1; }
# snap_body TYPE BASE: PUT /snapshot/create's body, BASE.state and BASE.mem.
snap_body() {
	printf '{"snapshot_type": "%s", "snapshot_path": "%s.state", %s}' \
		"$1" "$2" "\"mem_file_path\": \"$2.mem\""
}
# body RESPONSE: the response without its "HTTP <status>" line.
body() { printf '%s\n' "$1" | tail -n +2; }
# field JSON KEY: the first "KEY":value of a flat JSON text, unquoted.
field() {
	printf '%s\n' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[a-z0-9]*\)" |
		head -n 1 | cut -d: -f2- | tr -d '"'
}
# op POLICY_JSON OP: that operation's object.
op() { printf '%s\n' "$1" | tr '{' '\n' | grep "\"op\":\"$2\""; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
mvm_pid=
# The outer mvm's messages (the restored L2's mvm has its own).
mvm_err=$w/mvm.err
# hang_report: what the outer mvm is doing, and what it said.
hang_report() {
	[ -n "$mvm_pid" ] || return 0
	threads "$mvm_pid"
	tail_of "$mvm_err"
}
# wait_for FILE TEXT SECONDS [COUNT]: until FILE holds TEXT (COUNT times,
# default once), or the outer mvm, once started, has ended and it never
# will.
holds() { [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ]; }
wait_for() {
	d=$(deadline "$3")
	while ! holds "$1" "$2" "$4"; do
		if past "$d"; then
			echo "  (waited ${3}s for '$2' in vain)"
			hang_report
			return 1
		fi
		if [ -n "$mvm_pid" ] && ! alive "$mvm_pid"; then
			holds "$1" "$2" "$4" && return 0
			echo "  (mvm ended while waiting for '$2')"
			tail_of "$mvm_err"
			return 1
		fi
		sleep 0.2
	done
}
# nested_until KEY VALUE SECONDS: poll GET /vm/nested until KEY is VALUE.
nested_until() {
	d=$(deadline "$3")
	while :; do
		nested=$(api GET /vm/nested)
		[ "$(field "$nested" "$1")" != "$2" ] || return 0
		past "$d" && return 1
		sleep 0.2
	done
}
# api_until PATH KEY VALUE SECONDS: poll GET PATH until KEY is VALUE.
api_until() {
	d=$(deadline "$4")
	while :; do
		got=$(api GET "$1")
		[ "$(field "$got" "$2")" != "$3" ] || return 0
		past "$d" && return 1
		sleep 0.2
	done
}
one_line() { printf '%s' "$1" | tr '\n' ' '; }
# A refusal while L2 hosts L3, word for word: refused OP.
refused() {
	echo "$1 refused by rule nested_guest_hypervisor_active: the guest is hosting virtual machines of its own; allowed again once it stops"
}
# memory_while_hosting: the balloon and virtio-mem are the policy's
# memory_resize, refused (409, the rule's reason) while L2 hosts L3 with
# nothing asked of L2's drivers; dynamic memory is frozen, says so and
# why, and its settings cannot change (dynamic_memory, 409).
memory_while_hosting() {
	resp=$(api PATCH /balloon '{"amount_mib": 64}')
	echo "FACT balloon_while_hosting=$(one_line "$resp")"
	check "PATCH /balloon while L2 hosts L3: 409" has "$resp" '^HTTP 409'
	check "PATCH /balloon's 409 gives the rule's reason" \
		has "$resp" "$(refused memory_resize)"
	check "... and the balloon's target stays 0" \
		has "$(api GET /balloon)" '"amount_mib":0,'
	resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 128}')
	echo "FACT hotplug_while_hosting=$(one_line "$resp")"
	check "PATCH /hotplug/memory while L2 hosts L3: 409" \
		has "$resp" '^HTTP 409'
	check "PATCH /hotplug/memory's 409 gives the rule's reason" \
		has "$resp" "$(refused memory_resize)"
	check "... and nothing is requested of L2" \
		has "$(api GET /hotplug/memory)" '"requested_size_mib":0}'
	resp=$(api GET /dynamic-memory)
	echo "FACT dynamic_memory_while_hosting=$(body "$resp")"
	check "GET /dynamic-memory: frozen while L2 hosts L3" \
		has "$resp" '"frozen":true'
	check "GET /dynamic-memory: the reason is the rule's" \
		has "$resp" "$(refused dynamic_memory)"
	resp=$(api PATCH /dynamic-memory '{"enabled": false}')
	echo "FACT dynamic_memory_patch_while_hosting=$(one_line "$resp")"
	check "PATCH /dynamic-memory while L2 hosts L3: 409" \
		has "$resp" '^HTTP 409'
	check "PATCH /dynamic-memory's 409 gives the rule's reason" \
		has "$resp" "$(refused dynamic_memory)"
	check "... and dynamic memory stays on" \
		has "$(api GET /dynamic-memory)" '"enabled":true'
}
# memory_after_hosting: once L3 is gone dynamic memory thaws and all of
# it works again: dynamic memory off (the balloon and virtio-mem are its
# controller's while it is on: 400), the balloon and virtio-mem, which
# L2's drivers follow, back to nothing (the snapshot below is of L2 as it
# booted), and dynamic memory on again.
memory_after_hosting() {
	resp=$(api GET /dynamic-memory)
	echo "FACT dynamic_memory_after=$(body "$resp")"
	check "GET /dynamic-memory: not frozen once L3 is gone" \
		has "$resp" '"frozen":false'
	resp=$(api PATCH /dynamic-memory '{"enabled": false}')
	check "PATCH /dynamic-memory off once L3 is gone: 204" \
		has "$resp" '^HTTP 204'
	resp=$(api PATCH /balloon '{"amount_mib": 64}')
	check "PATCH /balloon once L3 is gone: 204" has "$resp" '^HTTP 204'
	check "... L2's virtio_balloon inflates 64 MiB" \
		api_until /balloon/statistics actual_mib 64 120
	resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 128}')
	check "PATCH /hotplug/memory once L3 is gone: 204" \
		has "$resp" '^HTTP 204'
	check "... L2's virtio_mem plugs 128 MiB" \
		api_until /hotplug/memory plugged_size_mib 128 120
	resp=$(api PATCH /balloon '{"amount_mib": 0}')
	check "PATCH /balloon back to 0: 204" has "$resp" '^HTTP 204'
	check "... L2's virtio_balloon deflates" \
		api_until /balloon/statistics actual_mib 0 120
	resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 0}')
	check "PATCH /hotplug/memory back to 0: 204" has "$resp" '^HTTP 204'
	check "... L2's virtio_mem unplugs it" \
		api_until /hotplug/memory plugged_size_mib 0 120
	resp=$(api PATCH /dynamic-memory '{"enabled": true}')
	check "PATCH /dynamic-memory on again: 204" has "$resp" '^HTTP 204'
}

echo "FACT kernel=$(uname -r)"
echo "FACT kvm_amd_nested=$(cat /sys/module/kvm_amd/parameters/nested)"

# ---- 1. the host, and what a tiny guest's CPUID shows ------------------
hc=$(mvm host-check --json)
check "mvm host-check: this lab can nest" \
	has "$hc" '"nested_supported": *true'
for n in on off; do
	mvm run --kernel /lab/mb_action --cmdline action=cpuid --memory 32 \
		--nested $n </dev/null >"$w/cpuid-$n.log" 2>&1
	echo "FACT cpuid_nested_$n=$(grep -o 'cpuid-virt: .*' "$w/cpuid-$n.log")"
done
check "--nested on: the guest's CPUID shows SVM" \
	grep -q 'vmx=0 svm=1 svm_rev=0x[1-9]' "$w/cpuid-on.log"
check "--nested off: the guest's CPUID shows neither VMX nor SVM" \
	grep -q 'vmx=0 svm=0 svm_rev=0x0 ' "$w/cpuid-off.log"

# ---- 2. mvm nested enable on a host that can nest ----------------------
cfg=$w/vm.json
cat >"$cfg" <<'JSON'
{
  "boot-source": {"kernel_image_path": "/lab/guest/vmlinuz"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 512},
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"}]
}
JSON
cp "$cfg" "$w/vm.json.orig"
mvm nested enable --config "$cfg" </dev/null >"$w/enable1.out" 2>&1
check "mvm nested enable without --yes and no terminal: declined (1)" \
	test $? = 1
check "declined: the file is untouched" cmp -s "$cfg" "$w/vm.json.orig"
mvm nested enable --config "$cfg" --yes </dev/null >"$w/enable2.out" 2>&1
rc=$?
sed 's/^/  enable| /' "$w/enable2.out"
check "mvm nested enable --yes: done (0)" test "$rc" = 0
check "enable set nested_virt" grep -q '"nested_virt": true' "$cfg"
check "enable turned mac_spoofing on for eth0" \
	grep -q '"mac_spoofing": true' "$cfg"
check "enable warned about 512 MiB" grep -q '512 MiB is below' \
	"$w/enable2.out"

# ---- 3. L2 with --nested on, L3 inside it ------------------------------
# L2's initramfs: the default guest's, plus mvm with its libraries (the lab
# has them at their host paths), the tiny kernel and L2's scripts.
r=$w/l2root
mkdir -p "$r/l2/bin" "$r/lib"
cp /lab/bin/mvm "$r/l2/bin/"
cp -a /lib/x86_64-linux-gnu "$r/lib/"
cp -a /lib64 "$r/"
cp /lab/mb_action /lab/l2/on.sh /lab/l2/off.sh "$r/l2/"
(cd "$r" && find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 2>/dev/null) \
	>"$w/overlay.cpio"
size=$(stat -c %s /lab/guest/initrd.cpio.gz)
{
	cat /lab/guest/initrd.cpio.gz
	head -c $(((512 - size % 512) % 512)) /dev/zero
	cat "$w/overlay.cpio"
} >"$w/l2.img"
echo "FACT l2_initrd_bytes=$(stat -c %s "$w/l2.img")"

# Section 4's L2, booted with --nested off, runs alongside the other: two
# VMs at once is part of what the lab checks.
t_off=$(now)
mvm run --kernel /lab/guest/vmlinuz --initrd "$w/l2.img" --memory 512 \
	--cmdline "console=ttyS0 quiet panic=-1 mvm.script=/l2/off.sh" \
	--nested off </dev/null >"$w/off.log" 2>&1 &
off_pid=$!

mkfifo "$w/l2in"
exec 3<>"$w/l2in"
t_l2=$(now)
# L2's whole state (vCPUs, devices, KVM's irqchip) goes round trip in
# place RT times while L2 hosts L3: what a snapshot will take and load.
rt=10
# A balloon, hotpluggable memory and dynamic memory, whose changes are
# refused while L2 hosts L3 (memory_while_hosting). Dynamic memory is on
# but held at L2's 1 GiB (min = max): it freezes and thaws, and moves
# nothing meanwhile.
MVM_TEST_VM_ROUNDTRIP=$rt mvm run --kernel /lab/guest/vmlinuz \
	--initrd "$w/l2.img" --memory 1024 --cpus 1 --nested on \
	--cmdline "console=ttyS0 quiet panic=-1 mvm.script=/l2/on.sh" \
	--balloon amount_mib=0,stats=1 --memory-hotplug total=256 \
	--dynamic-memory min=1024,max=1024 \
	--api-sock "$sock" <"$w/l2in" >"$w/l2.log" 2>"$w/mvm.err" &
mvm_pid=$!
tell_l2() { echo "$1" >&3; }
# L2's console, live, for whoever reads the lab's log.
tail -f "$w/l2.log" 2>/dev/null |
	while IFS= read -r line; do echo "  L2| $line"; done &
tail_pid=$!

if wait_for "$w/l2.log" "L2-WAIT idle" "$step"; then
	echo "FACT l2_ready_s=$(since "$t_l2")"
	grep '^L2: ' "$w/l2.log" | sed 's/^/  /'
	nested=$(api GET /vm/nested)
	echo "FACT nested_idle=$(body "$nested")"
	check "GET /vm/nested: exposed" test "$(field "$nested" exposed)" = true
	check "GET /vm/nested: host_supported" \
		test "$(field "$nested" host_supported)" = true
	check "GET /vm/nested: mechanism svm" \
		test "$(field "$nested" mechanism)" = svm
	# Linux 6.1 turns EFER.SVME on when its first VM is created, not at
	# module load: a loaded kvm_amd alone is no hypervisor at work.
	check "kvm_amd loaded, no VM yet: l1_hypervisor_active false" \
		test "$(field "$nested" l1_hypervisor_active)" = false
	policy=$(api GET /vm/policy)
	check "idle: snapshot_create allowed" \
		has "$(op "$policy" snapshot_create)" '"allowed":true'
	# Hyper-V's later rule: nesting on does not refuse dynamic memory;
	# only hosting guests does.
	check "idle: dynamic_memory allowed (nesting on, not hosting)" \
		has "$(op "$policy" dynamic_memory)" \
		'"allowed":true,"warning":false,"rule":null'
	tell_l2 go
else
	echo "not ok - L2 never got to its first step"
	fail=$((fail + 1))
	cat "$w/l2.log" "$w/mvm.err"
fi

if wait_for "$w/l2.log" "L2-WAIT l3-running" "$step"; then
	echo "FACT l3_running_s=$(since "$t_l2")"
	grep -e '^L2: l3' -e '^L2:   ' -e '^L3|' "$w/l2.log" | sed 's/^/  /'
	check "L3 (a tiny kernel under L2's mvm) runs" \
		grep -q '^L2: l3=spinning' "$w/l2.log"
	check "GET /vm/nested: l1_hypervisor_active while L3 runs" \
		nested_until l1_hypervisor_active true 60
	echo "FACT nested_active=$(body "$nested")"
	since_active=$(field "$nested" since)
	check "GET /vm/nested: l2_running seen while L3 spins" \
		nested_until l2_running true 60
	policy=$(api GET /vm/policy)
	echo "FACT policy_active=$(body "$policy")"
	for o in snapshot_create memory_resize checkpoint_apply \
		live_migration snapshot_load dynamic_memory; do
		obj=$(op "$policy" "$o")
		check "GET /vm/policy: $o refused while L2 hosts L3" \
			has "$obj" '"allowed":false'
		check "GET /vm/policy: $o names rule and reason" has "$obj" \
			'"rule":"nested_guest_hypervisor_active","reason":"'"$o"' refused by rule nested_guest_hypervisor_active: the guest is hosting virtual machines of its own; allowed again once it stops"'
	done

	resp=$(api PATCH /machine-config '{"nested_virt": false}')
	echo "FACT patch_nested=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PATCH machine-config nested_virt after boot: 400" \
		has "$resp" '^HTTP 400'
	check "... with the policy's reason" has "$resp" \
		'nested virtualization can only be changed while the VM is off'
	check "mvm logged: L1 hypervisor active (svm)" \
		grep -q 'mvm: nested: L1 hypervisor active (svm)' "$w/mvm.err"
	# The round trips (test hook) run while L3 does. L2's tick is its
	# LAPIC timer, or the PIT when L2 judged its LAPIC timer unusable under
	# the emulator; restoring the vCPUs alone lost a PIT interrupt that
	# arrived between saving and restoring the LAPIC, and with it every
	# later tick. The whole-VM path reloads the PIT too.
	check "$rt whole-VM state round trips while L2 hosts L3" \
		wait_for "$w/mvm.err" "vm state round trip" 120 "$rt"
	grep 'vm state round trip' "$w/mvm.err" | tail -n 1 | sed 's/^/  /'
	check "every round trip found the devices identical after load" \
		test "$(grep -c 'devices identical after load' "$w/mvm.err")" \
		-ge "$rt"
	# Firecracker's order: pause, then snapshot. The policy refuses it
	# while L2 hosts L3, and L2 runs on afterwards.
	resp=$(api PATCH /vm '{"state": "Paused"}')
	check "PATCH /vm Paused while L2 hosts L3: 204" has "$resp" '^HTTP 204'
	resp=$(api PUT /snapshot/create "$(snap_body Full "$w/refused")")
	echo "FACT snapshot_while_hosting=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/create while L2 hosts L3: 409" \
		has "$resp" '^HTTP 409'
	check "... naming the rule nested_guest_hypervisor_active" has "$resp" \
		'snapshot_create refused by rule nested_guest_hypervisor_active'
	check "... and writing no file" test ! -e "$w/refused.state" -a \
		! -e "$w/refused.mem"
	# mvm's override: saved all the same, KVM's nested state and all.
	resp=$(api PUT /snapshot/create "{\"snapshot_type\": \"Full\",
		\"snapshot_path\": \"$w/hosting.state\",
		\"mem_file_path\": \"$w/hosting.mem\",
		\"allow_nested_state\": true}")
	echo "FACT snapshot_override=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/create, allow_nested_state, L2 hosting L3: 204" \
		has "$resp" '^HTTP 204'
	mvm snapshot inspect "$w/hosting.state" >"$w/hosting.out" 2>&1
	check "... its vCPU carries nested state" \
		grep -q '^vcpus: 1, nested state present' "$w/hosting.out"
	rm -f "$w/hosting.state" "$w/hosting.mem"
	resp=$(api PATCH /vm '{"state": "Resumed"}')
	check "PATCH /vm Resumed after the refusal: 204" has "$resp" '^HTTP 204'
	memory_while_hosting
	tell_l2 stop
	check "L2's timers run after the round trips (its sleep returns)" \
		wait_for "$w/l2.log" "L2: sleep-1-returned" 60
	grep '^L2: ticks' "$w/l2.log" | sed 's/^L2: /FACT l2_/'
else
	echo "not ok - L2 never started L3"
	fail=$((fail + 1))
	tail -n 40 "$w/l2.log"
	# Is L2 running a guest, and what are mvm's threads doing?
	echo "  nested: $(body "$(api GET /vm/nested)")"
	for t in /proc/"$mvm_pid"/task/*; do
		echo "  mvm thread ${t##*/} $(cut -d' ' -f2,3 "$t/stat")" \
			"wchan=$(cat "$t/wchan" 2>/dev/null)"
	done
fi

if wait_for "$w/l2.log" "L2-WAIT l3-stopped" "$step"; then
	grep -e '^L2: l3-exit' -e '^L3|' "$w/l2.log" | sed 's/^/  /'
	check "L3 kept running (still spinning, then killed)" \
		grep -q '^L2: l3-exit=143' "$w/l2.log"
	grep '^L2: \(kvm_amd-refs\|holder\)' "$w/l2.log" | sed 's/^/  /'
	check "L3's VM was gone when its mvm had exited (kvm_amd unreferenced)" \
		grep -q '^L2: kvm_amd-refs-after-exit=0' "$w/l2.log"
	t_stop=$(now)
	check "GET /vm/nested: l1_hypervisor_active clears once L3 exits" \
		nested_until l1_hypervisor_active false 60
	echo "FACT l1_cleared_after_s=$(since "$t_stop")"
	echo "FACT nested_after=$(body "$nested")"
	check "GET /vm/nested: since moved" \
		test "$(field "$nested" since)" != "$since_active"
	policy=$(api GET /vm/policy)
	echo "FACT policy_after=$(body "$policy")"
	for o in snapshot_create memory_resize checkpoint_apply \
		live_migration dynamic_memory; do
		check "GET /vm/policy: $o allowed again" \
			has "$(op "$policy" "$o")" '"allowed":true'
	done
	check "mvm logged: L1 hypervisor inactive" \
		grep -q 'mvm: nested: L1 hypervisor inactive' "$w/mvm.err"
	memory_after_hosting
	# kvm_amd loaded and no VM: L2 may be snapshotted. Its vCPUs carry
	# KVM's nested state (SVM's header, no L3 in guest mode).
	api PATCH /vm '{"state": "Paused"}' >/dev/null
	t_snap=$(now)
	resp=$(api PUT /snapshot/create "$(snap_body Full "$w/l2snap")")
	echo "FACT snapshot_create_s=$(since "$t_snap")"
	echo "FACT snapshot_after=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/create once L3 is gone: 204" has "$resp" \
		'^HTTP 204'
	echo "FACT snapshot_mem_kib=$(du -k "$w/l2snap.mem" | cut -f1)"
	mvm snapshot inspect "$w/l2snap.state" >"$w/inspect.out" 2>&1
	sed 's/^/  inspect| /' "$w/inspect.out"
	check "mvm snapshot inspect: nested virtualization on" \
		grep -q 'nested virtualization on' "$w/inspect.out"
	check "mvm snapshot inspect: its vCPU carries nested state" \
		grep -q '^vcpus: 1, nested state present' "$w/inspect.out"
	resp=$(api PATCH /vm '{"state": "Resumed"}')
	check "PATCH /vm Resumed after the snapshot: 204" has "$resp" \
		'^HTTP 204'
	tell_l2 go
fi
if wait_for "$w/l2.log" "L2-WAIT rmmod" "$step"; then
	grep '^L2: rmmod' "$w/l2.log" | sed 's/^/  /'
	nested=$(api GET /vm/nested)
	check "after rmmod kvm_amd: l1_hypervisor_active false" \
		test "$(field "$nested" l1_hypervisor_active)" = false
	tell_l2 go
fi
reap "$mvm_pid" 60
rc=$?
kill "$tail_pid" 2>/dev/null
check "L2 powered off; mvm exited 0" test "$rc" = 0
check "L2's script ended cleanly" grep -q 'MVM-GUEST-EXIT=0' "$w/l2.log"
exec 3>&-
echo "FACT l2_total_s=$(since "$t_l2")"
sed 's/^/  mvm.err| /' "$w/mvm.err"

# ---- 3b. L2's snapshot in a new mvm: it hosts an L3 again --------------
# The snapshot was taken with kvm_amd loaded and no VM in L2; L2 waits at
# "L2-WAIT l3-stopped" in it, and is told to start another L3. While that
# L3 runs, a live migration of L2 is refused (Hyper-V's rule); with
# allow_nested_state it goes, KVM's nested state and all, to an mvm
# started with --incoming, where L3 must still be running. Once L3 has
# exited there, L2 migrates once more, without the override, and powers
# off from its third mvm.
# start_incoming X: `mvm --incoming` on $w/mig-X.sock, its API on
# $w/api-X.sock, its console input a fifo on fd 4, output in $w/l2X.log.
start_incoming() {
	mkfifo "$w/l2${1}in"
	exec 4<>"$w/l2${1}in"
	mvm --incoming "unix:$w/mig-$1.sock" --api-sock "$w/api-$1.sock" \
		<"$w/l2${1}in" >"$w/l2$1.log" 2>"$w/mvm-$1.err" &
	in_pid=$!
	d=$(deadline 30)
	until [ -S "$w/mig-$1.sock" ] || past "$d"; do sleep 0.1; done
}
# migrate_to X BODY_EXTRA: L2 goes to mvm X; the source must end with 0.
# Then X is the mvm the checks talk to, and L2's console is fd 3 again.
# A migration that fails leaves L2 where it was (and says why).
migrate_to() {
	t_mig=$(now)
	resp=$(api PUT /migration "{\"uri\": \"unix:$w/mig-$1.sock\"$2}")
	echo "FACT migrate_$1=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /migration to $1${2:+ ($2)}: 204" has "$resp" '^HTTP 204'
	d=$(deadline "$step")
	while alive "$mvm_pid" && ! past "$d"; do
		mig=$(api GET /migration)
		has "$mig" '"state":"\(failed\|cancelled\)"' && break
		sleep 0.5
	done
	echo "FACT migrate_${1}_s=$(since "$t_mig")"
	if alive "$mvm_pid"; then
		echo "FACT migration_source_$1=$(body "$mig")"
		echo "not ok - L2 did not migrate to $1"
		fail=$((fail + 1))
		tail_of "$w/mvm-$1.err"
		return 1
	fi
	reap "$mvm_pid" 10
	rc=$?
	check "the source mvm ended with 0 once L2 ran in $1" test "$rc" = 0
	sed 's/^/  mvm-source.err| /' "$mvm_err"
	kill "$tail_pid" 2>/dev/null
	sock=$w/api-$1.sock mvm_err=$w/mvm-$1.err mvm_pid=$in_pid
	exec 3>&- 3<&4 4>&-
	tail -f "$w/l2$1.log" 2>/dev/null |
		while IFS= read -r line; do echo "  L2$1| $line"; done &
	tail_pid=$!
	mig=$(api GET /migration)
	echo "FACT migration_$1=$(body "$mig")"
	check "$1: GET /migration says completed, incoming" has "$mig" \
		'"state":"completed","direction":"incoming"'
}
if [ -e "$w/l2snap.state" ]; then
	sock=$w/api-restored.sock
	mvm_err=$w/mvm-restored.err
	mkfifo "$w/l2bin"
	exec 3<>"$w/l2bin"
	mvm --api-sock "$sock" <"$w/l2bin" >"$w/l2b.log" 2>"$mvm_err" &
	mvm_pid=$!
	tail -f "$w/l2b.log" 2>/dev/null |
		while IFS= read -r line; do echo "  L2b| $line"; done &
	tail_pid=$!
	d=$(deadline 30)
	until [ -S "$sock" ] || past "$d"; do sleep 0.1; done
	t_load=$(now)
	resp=$(api PUT /snapshot/load "{\"snapshot_path\": \"$w/l2snap.state\",
		\"mem_backend\": {\"backend_type\": \"File\",
		\"backend_path\": \"$w/l2snap.mem\"}, \"resume_vm\": true}")
	echo "FACT snapshot_load_s=$(since "$t_load")"
	echo "FACT snapshot_load=$(printf '%s' "$resp" | tr '\n' ' ')"
	check "PUT /snapshot/load of L2 in a new mvm: 204" has "$resp" \
		'^HTTP 204'
	nested=$(api GET /vm/nested)
	echo "FACT nested_restored=$(body "$nested")"
	check "restored L2: GET /vm/nested: exposed" \
		test "$(field "$nested" exposed)" = true
	check "restored L2: l1_hypervisor_active false (no VM in it yet)" \
		test "$(field "$nested" l1_hypervisor_active)" = false
	# The policy's second look: a migration begins while L2 hosts
	# nothing, slowed (20 Mbit/s, one pass: max_downtime_ms is large) so
	# that L2 starts L3 during its pre-copy. The pause must find L3 and
	# refuse; L2 runs on here, and the destination discards what came.
	start_incoming c0
	resp=$(api PUT /migration "{\"uri\": \"unix:$w/mig-c0.sock\",
		\"max_bandwidth_mbps\": 20, \"max_downtime_ms\": 600000}")
	check "PUT /migration (20 Mbit/s) before L2 hosts L3: 204" \
		has "$resp" '^HTTP 204'
	tell_l2 l3
	log=$w/l2b.log
	if wait_for "$log" "L2-WAIT l3-running" "$step"; then
		grep -e '^L2: l3' -e '^L3|' "$log" | sed 's/^/  /'
		check "restored L2 starts an L3, which runs" \
			grep -q '^L2: l3=spinning' "$log"
		check "restored L2: l1_hypervisor_active while its L3 runs" \
			nested_until l1_hypervisor_active true 60
		d=$(deadline "$step")
		until has "$(api GET /migration)" '"state":"failed"' ||
			past "$d"; do
			sleep 0.5
		done
		mig=$(api GET /migration)
		echo "FACT migration_at_pause=$(body "$mig")"
		check "the pause refuses the migration: L2 began hosting L3" \
			has "$mig" 'live_migration refused by rule nested_guest_hypervisor_active'
		check "... and L2 runs on here (Running), L3 inside it" \
			has "$(api GET /)" '"state":"Running"'
		reap "$in_pid" 60
		check "... and the destination discarded it (mvm --incoming: 1)" \
			test $? = 1
		exec 4>&-
		policy=$(api GET /vm/policy)
		check "restored L2: snapshot_create refused while it hosts L3" \
			has "$(op "$policy" snapshot_create)" '"allowed":false'
		start_incoming c
		resp=$(api PUT /migration "{\"uri\": \"unix:$w/mig-c.sock\"}")
		echo "FACT migrate_refused=$(printf '%s' "$resp" | tr '\n' ' ')"
		check "PUT /migration while L2 hosts L3: 409" \
			has "$resp" '^HTTP 409'
		check "... naming the rule nested_guest_hypervisor_active" \
			has "$resp" 'live_migration refused by rule nested_guest_hypervisor_active'
		mig=$(api GET /migration)
		check "... and starting none (GET /migration: the last one's)" \
			has "$mig" '"state":"failed"'
		if migrate_to c ', "allow_nested_state": true'; then
			log=$w/l2c.log
			check "c: l1_hypervisor_active: L3 came along inside L2" \
				nested_until l1_hypervisor_active true 60
		fi
		tell_l2 stop
	else
		echo "not ok - the restored L2 never started L3"
		fail=$((fail + 1))
		tail_of "$log"
	fi
	# L2 reports within 60 s of "stop" (stop_l3 says where L3's mvm
	# hangs after that): 90 s, not a whole step, so that a hang here is
	# reported with what mvm was doing before the lab's budget ends.
	if wait_for "$log" "L2-WAIT l3-stopped" 90; then
		grep -e '^L2: l3-exit' -e '^L3|' "$log" | sed 's/^/  /'
		check "L3 kept running across the migration (then killed)" \
			grep -q '^L2: l3-exit=143' "$log"
		check "l1_hypervisor_active clears once L3 exits" \
			nested_until l1_hypervisor_active false 60
		policy=$(api GET /vm/policy)
		check "GET /vm/policy: live_migration allowed again" \
			has "$(op "$policy" live_migration)" '"allowed":true'
		if [ "$log" = "$w/l2c.log" ]; then
			start_incoming d
			migrate_to d '' && log=$w/l2d.log
		fi
		tell_l2 go
	fi
	wait_for "$log" "L2-WAIT rmmod" "$step" && tell_l2 go
	reap "$mvm_pid" 60
	rc=$?
	kill "$tail_pid" 2>/dev/null
	check "L2 powered off in its last mvm, which exited 0" test "$rc" = 0
	check "L2's script ended cleanly there" \
		grep -q 'MVM-GUEST-EXIT=0' "$log"
	exec 3>&-
	echo "FACT l2_restored_total_s=$(since "$t_load")"
	sed 's/^/  mvm-last.err| /' "$mvm_err"
else
	echo "not ok - no snapshot of L2 to load"
	fail=$((fail + 1))
fi

# ---- 4. L2 with --nested off: no hypervisor possible -------------------
# (started in section 3)
wait "$off_pid"
rc=$?
grep -e '^L2' -e 'mvm-guest: kvm' "$w/off.log" | sed 's/^/  /'
echo "FACT l2_off_total_s=$(since "$t_off")"
[ "$rc" = 0 ] || { echo "  (--nested off: mvm exited $rc)"; tail_of "$w/off.log"; }
check "--nested off: L2 boots and powers off" test "$rc" = 0
check "--nested off: L2's CPUs have no svm" grep -q '^L2: svm-cpus=0' \
	"$w/off.log"
check "--nested off: kvm_amd refuses to load in L2" \
	grep -q '^L2: kvm_amd=refused' "$w/off.log"
check "--nested off: no /dev/kvm in L2" grep -q '^L2: dev-kvm=no' \
	"$w/off.log"

echo "FACT script_s=$(since "$t0")"
finish
