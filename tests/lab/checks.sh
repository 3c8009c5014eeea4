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

reap() {
	_d=$(deadline "$2")
	while kill -0 "$1" 2>/dev/null && ! past "$_d"; do
		sleep 0.2
	done
	kill "$1" 2>/dev/null
	wait "$1"
}
