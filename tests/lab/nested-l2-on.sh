#!/bin/sh
# Runs inside L2 (mvm's guest, booted with --nested on) for
# tests/lab/nested.lab.sh: it becomes a hypervisor by running a copy of mvm
# with a tiny kernel (L3), and tells L1 where it is with "L2-WAIT <phase>"
# lines on the console, each time waiting for a line from L1 before going
# on. /init loaded kvm_amd (nested=1) before running this.
say() { echo "L2: $*"; }
wait_l1() {
	echo "L2-WAIT $1"
	read -r line || line=eof
	say "L1 said $line"
}

# threads PID: each thread of PID: state, where it sleeps, its system
# call and its kernel stack, for a report of what a hung process does.
threads() {
	for t in /proc/"$1"/task/*; do
		say "l3-thread ${t##*/} $(cut -d' ' -f2,3 "$t/stat")" \
			"wchan=$(cat "$t/wchan" 2>/dev/null)" \
			"syscall=$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
		sed 's/^/L2:   /' "$t/stack" 2>/dev/null
	done
}
# alive PID: PID has not exited (a zombie has).
alive() { [ -e "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }

# start_l3: run a copy of mvm with the tiny kernel (L3) in the background
# and wait until it spins; "l3=spinning after N ms", or "l3=failed" with
# what its mvm printed and was doing.
start_l3() {
	mvm run --kernel /l2/mb_action --cmdline action=spin --memory 16 \
		</dev/null >/tmp/l3.log 2>&1 &
	pid=$!
	i=0
	# A tiny kernel three levels down, on TCG: it takes under a second,
	# but allow it four minutes, well inside the lab's budget, so that a
	# hang is reported with what L3's mvm was doing.
	while ! grep -q spinning /tmp/l3.log && kill -0 "$pid" 2>/dev/null &&
		[ "$i" -lt 2400 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if grep -q spinning /tmp/l3.log; then
		say "l3=spinning after ${i}00 ms"
	else
		say "l3=failed"
		sed 's/^/L3| /' /tmp/l3.log
		threads "$pid"
	fi
}

# stop_l3: SIGTERM to L3's mvm; "l3-exit=<status>", and how many
# references kvm_amd still has once it is gone.
stop_l3() {
	kill "$pid"
	# mvm ends within a second of SIGTERM; after a minute, say where it
	# hangs.
	i=0
	while alive "$pid" && [ "$i" -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive "$pid"; then
		say "l3-mvm still running 60 s after SIGTERM"
		threads "$pid"
	fi
	wait "$pid"
	say "l3-exit=$?"
	# Once L3's mvm has exited its VM must be gone: every VM (and every
	# open /dev/kvm, VM or vCPU fd) holds a reference on kvm_amd.
	refs=$(cat /sys/module/kvm_amd/refcnt)
	say "kvm_amd-refs-after-exit=$refs"
	if [ "$refs" != 0 ]; then
		# Who still holds KVM: every process with a KVM fd, and its
		# state.
		for p in /proc/[0-9]*; do
			ls -l "$p/fd" 2>/dev/null | grep -q kvm || continue
			say "holder pid=${p#/proc/}" \
				"$(tr '\0' ' ' <"$p/cmdline")" \
				"$(grep -e '^State' "$p/status" | tr '\t' ' ')"
		done
	fi
	sed 's/^/L3| /' /tmp/l3.log
}

export PATH=/l2/bin:$PATH
say "svm-cpus=$(grep -cw svm /proc/cpuinfo)"
say "kvm_amd=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null || echo not-loaded)"
if [ -c /dev/kvm ]; then say "dev-kvm=yes"; else say "dev-kvm=no"; fi
# kvm_amd is loaded, but no VM exists yet.
wait_l1 idle

start_l3
# Which tick L2 runs on (LAPIC timer or PIT), before and after the round
# trips the lab makes meanwhile; and that it still ticks.
ticks() { grep -e LOC -e ' 0:' /proc/interrupts | tr -s ' ' | tr '\n' ' '; }
say "ticks-before=$(ticks)"
wait_l1 l3-running
say "ticks-after=$(ticks)"
sleep 1
say "sleep-1-returned"

stop_l3
wait_l1 l3-stopped
# "l3": L1 restored a snapshot of this L2 in a new mvm, taken here while
# kvm_amd was loaded and no VM existed; the restored L2 must host an L3
# again.
while [ "$line" = l3 ]; do
	start_l3
	wait_l1 l3-running
	stop_l3
	wait_l1 l3-stopped
done

rmmod kvm_amd
say "rmmod-kvm_amd=$?"
wait_l1 rmmod
