# Sourced by the lab's scripts (lab-run installs it as /lab/checks.sh):
# the "ok - ..." / "not ok - ..." lines that the criterion tests read, and
# the lab's own clock.
#   check DESC CMD...  run CMD; print "ok - DESC" or "not ok - DESC"
#   finish             print "N passed, N failed"; status 0 if none failed
#   now                seconds since the lab booted
#   since T            seconds since T, one decimal
#   deadline S         the lab's clock S seconds from now
#   past D             true once the lab's clock is beyond D
#   reap PID S         wait for PID to end (killing it after S seconds);
#                      its exit status
#   alive PID          true while PID runs (a zombie has ended: kill -0
#                      would still say yes)
#   threads PID        each thread of PID: state, wait channel, system
#                      call and kernel stack (what a hang is waiting on)
#   tail_of FILE [N]   FILE's last N lines (default 40), indented
pass=0
fail=0

check() {
	desc=$1
	shift
	if "$@"; then
		echo "ok - $desc"
		pass=$((pass + 1))
	else
		echo "not ok - $desc"
		fail=$((fail + 1))
	fi
}

finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

now() {
	read -r u _ </proc/uptime
	echo "$u"
}

since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
deadline() { awk -v n="$(now)" -v s="$1" 'BEGIN { printf "%.1f", n + s }'; }
past() { awk -v n="$(now)" -v d="$1" 'BEGIN { exit !(n > d) }'; }

alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

threads() {
	for _t in /proc/"$1"/task/*; do
		[ -d "$_t" ] || continue
		echo "  thread ${_t##*/} $(cat "$_t/comm" 2>/dev/null):" \
			"state=$(sed 's/.*) //' "$_t/stat" 2>/dev/null | cut -d' ' -f1)" \
			"wchan=$(cat "$_t/wchan" 2>/dev/null)" \
			"syscall=$(cut -d' ' -f1-3 "$_t/syscall" 2>/dev/null)"
		sed 's/^/    /' "$_t/stack" 2>/dev/null
	done
}

tail_of() {
	echo "  --- last ${2:-40} lines of $1:"
	tail -n "${2:-40}" "$1" 2>/dev/null | tr -d '\r' | sed 's/^/  | /'
}

reap() {
	_d=$(deadline "$2")
	while alive "$1" && ! past "$_d"; do
		sleep 0.2
	done
	if alive "$1"; then
		echo "  (pid $1 still running after ${2}s; its threads, then SIGTERM)"
		threads "$1"
		kill "$1" 2>/dev/null
		_d=$(deadline 10)
		while alive "$1" && ! past "$_d"; do
			sleep 0.2
		done
		if alive "$1"; then
			echo "  (pid $1 outlived SIGTERM by 10s; its threads, then SIGKILL)"
			threads "$1"
			kill -9 "$1" 2>/dev/null
		fi
	fi
	wait "$1"
}
