#!/bin/sh
# Runs inside the lab (L1, real KVM; see tests/lab/memory): mvm's balloon
# and virtio-mem device under the real Linux drivers (virtio_balloon,
# virtio_mem) of the default guest (L2), driven through mvm's API.
#   balloon  the driver binds the device; GET /balloon/statistics gives
#            the guest's own figures; an inflate takes its size off
#            MemTotal (Linux does so unless deflate_on_oom was offered)
#            and mvm's RSS drops; a deflate gives it back
#   mem      the driver binds the device; MemTotal grows by what is
#            plugged (the kernel onlines it: memhp_default_state=
#            online_movable) and shrinks by what is unplugged, and mvm's
#            RSS drops after an unplug
#   dyn      a second L2 with dynamic memory 512-2048 MiB: idle, the
#            controller shrinks it to 512 MiB; while it writes 1200 MiB
#            to a tmpfs and holds it, it grows (balloon first, then
#            virtio-mem) with no OOM kill, and holds once the use does;
#            released, it shrinks back and mvm's RSS drops; its log and
#            metrics count the decisions
#   oom      a third L2 with deflate_on_oom: Linux then leaves MemTotal
#            alone and the inflated pages come out of MemFree
# L2 runs tests/lab/memory-l2.sh, which does what the lab tells it on its
# console. Prints FACT lines, "ok - ..."/"not ok - ..." per check and a
# closing "N passed, N failed"; exits 0 only when nothing failed.
# check, finish, now, since, deadline, past, reap, alive, threads, tail_of
. /lab/checks.sh
t0=$(now)
w=$(mktemp -d)
# Steps wait this long at most: well inside lab-run's --timeout, so that
# a step that hangs is reported, with what mvm was doing.
step=300
# The lab's own kernel messages would interleave with the report.
dmesg -n 1
echo "FACT kernel=$(uname -r)"

# L2's script, zero-padded to whole sectors (guest/init drops the
# padding), on a read-only disk.
cp /lab/memory-l2.sh "$w/script.img"
size=$(stat -c %s "$w/script.img")
head -c $(((512 - size % 512) % 512)) /dev/zero >>"$w/script.img"

mvm_pid=
cmdline="console=ttyS0 quiet panic=-1 memhp_default_state=online_movable mvm.script=/dev/vda"
# start_l2 NAME MIB [MVM_ARGS...]: mvm runs L2 with NAME's API socket,
# console ($log, input on fd 3) and messages ($w/NAME.err).
start_l2() {
	name=$1 mib=$2
	shift 2
	launch_l2 "$name" run --kernel /lab/guest/vmlinuz \
		--initrd /lab/guest/initrd.cpio.gz --cpus 1 --memory "$mib" \
		--cmdline "$cmdline" \
		--disk "path=$w/script.img,readonly=on" "$@"
}
# launch_l2 NAME MVM_ARGS...: mvm MVM_ARGS --api-sock NAME's socket, with
# start_l2's console and messages.
launch_l2() {
	name=$1
	shift
	sock=$w/$name.sock log=$w/$name.log
	mkfifo "$w/$name.in"
	exec 3<>"$w/$name.in"
	: >"$log"
	mvm "$@" --api-sock "$sock" \
		<"$w/$name.in" >"$log" 2>"$w/$name.err" &
	mvm_pid=$!
	tail -f "$log" 2>/dev/null |
		while IFS= read -r line; do echo "  $name| $line"; done &
	tail_pid=$!
}
# stop_l2: L2 ends its script and powers off; mvm's exit status.
stop_l2() {
	echo exit >&3
	reap "$mvm_pid" 120
	_rc=$?
	kill "$tail_pid" 2>/dev/null
	exec 3>&-
	sed "s/^/  $name.err| /" "$w/$name.err"
	return "$_rc"
}
# hang_report: what mvm is doing, and what it said.
hang_report() {
	threads "$mvm_pid"
	tail_of "$w/$name.err"
}
# waits TEXT SECONDS [COUNT]: until L2's console holds TEXT (COUNT times,
# default once), or mvm has ended and it never will.
holds() { [ "$(tr -d '\r' <"$log" | grep -c -- "$1")" -ge "${2:-1}" ]; }
waits() {
	_d=$(deadline "$2")
	while ! holds "$1" "$3"; do
		if past "$_d"; then
			echo "  (waited ${2}s for '$1' in vain)"
			hang_report
			return 1
		fi
		if ! alive "$mvm_pid"; then
			holds "$1" "$3" && return 0
			echo "  (mvm ended while waiting for '$1')"
			tail_of "$w/$name.err"
			return 1
		fi
		sleep 0.2
	done
}
# l2 CMD...: L2 runs CMD (see memory-l2.sh) and is ready for the next.
l2() {
	_n=$(tr -d '\r' <"$log" | grep -c "L2-WAIT cmd")
	echo "$*" >&3
	waits "L2-WAIT cmd" "$step" $((_n + 1))
}
# said KEY: the value of the last "KEY=value" word on L2's "L2: " lines.
said() {
	tr -d '\r' <"$log" | grep '^L2: ' | tr ' ' '\n' |
		sed -n "s/^$1=//p" | tail -n 1
}
# answer KIND TAG FIELD: a figure of L2's last "KIND TAG" answer (0 when
# there is none: the checks then fail, and the arithmetic goes on).
answer() {
	_v=$(tr -d '\r' <"$log" | grep "^L2: $1-$2 " | tail -n 1 |
		tr ' ' '\n' | sed -n "s/^$3=//p")
	echo "${_v:-0}"
}
# mem TAG FIELD: a figure (KiB) of L2's "mem TAG" answer.
mem() { answer mem "$1" "$2"; }
# mem_until TAG KIB SECONDS: ask L2 for "mem TAG" until its MemTotal is
# KIB. The device counts a block plugged when the driver asks for it,
# before Linux has onlined its pages: MemTotal follows a little later.
mem_until() {
	# Not $_d: l2's waits sets that one.
	_md=$(deadline "$3")
	while :; do
		l2 mem "$1"
		[ "$(mem "$1" total)" != "$2" ] || return 0
		past "$_md" && return 1
		sleep 0.5
	done
}
api() { uds-http "$sock" "$@" 2>&1; }
# field JSON KEY: the first "KEY":value of a flat JSON text, unquoted.
field() {
	printf '%s\n' "$1" | grep -o "\"$2\":\(\"[^\"]*\"\|[a-z0-9]*\)" |
		head -n 1 | cut -d: -f2- | tr -d '"'
}
# until_field PATH KEY VALUE SECONDS: poll GET PATH until KEY is VALUE;
# $got is the last answer.
until_field() {
	_d=$(deadline "$4")
	while :; do
		got=$(api GET "$1")
		[ "$(field "$got" "$2")" != "$3" ] || return 0
		past "$_d" && return 1
		sleep 0.2
	done
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$mvm_pid/status"; }
# near A B TOLERANCE: |A - B| <= TOLERANCE (numbers).
near() {
	[ -n "$1" ] && [ -n "$2" ] &&
		awk -v a="$1" -v b="$2" -v t="$3" \
			'BEGIN { d = a - b; exit !(d <= t && -d <= t) }'
}
ge() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -ge "$2" ]; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
MIB=1024 # KiB

# ---- L2 with a balloon and virtio-mem ----------------------------------
t=$(now)
start_l2 mem 1024 --balloon amount_mib=0,stats=1 \
	--memory-hotplug total=1024
booted=no
waits "L2-WAIT cmd" "$step" && booted=yes
echo "FACT l2_ready_s=$(since "$t")"
check "L2 booted with a balloon and virtio-mem" test "$booted" = yes
l2 drivers
l2 mem boot
l2 blocks boot
tr -d '\r' <"$log" | grep -e '^L2: driver' -e '^L2: auto' -e '^L2: block' |
	sed 's/^/FACT /'
check "Linux's virtio_balloon bound mvm's balloon (device ID 5)" \
	has "$(said driver-virtio_balloon)" '^virtio[0-9]*:0x0005$'
check "Linux's virtio_mem bound mvm's virtio-mem device (device ID 24)" \
	has "$(said driver-virtio_mem)" '^virtio[0-9]*:0x0018$'
total0=$(mem boot total)
echo "FACT memtotal_boot_kib=$total0 free=$(mem boot free)" \
	"avail=$(mem boot avail)"

# Statistics, every second: the idle guest's figures, as Linux counts
# them (MemTotal is what the driver reports as total_memory).
until_field /balloon/statistics total_memory $((total0 * 1024)) 20
stats=$got
echo "FACT stats_idle=$(printf '%s' "$stats" | tail -n 1)"
check "GET /balloon/statistics: total_memory is the guest's MemTotal" \
	test "$(field "$stats" total_memory)" = $((total0 * 1024))
l2 mem stats
check "GET /balloon/statistics: free_memory within 16 MiB of MemFree" \
	near "$(field "$stats" free_memory)" $(($(mem stats free) * 1024)) \
	$((16 * MIB * 1024))
check "GET /balloon/statistics: available_memory within 16 MiB of MemAvailable" \
	near "$(field "$stats" available_memory)" \
	$(($(mem stats avail) * 1024)) $((16 * MIB * 1024))

# The pages the balloon will take must be the host's first: L2 writes
# 700 MiB and frees it.
l2 fill balloon 700
check "L2 wrote 700 MiB and freed it" test "$(said fill-balloon)" = 700
rss0=$(rss)
t=$(now)
resp=$(api PATCH /balloon '{"amount_mib": 512}')
check "PATCH /balloon amount_mib 512: 204" has "$resp" '^HTTP 204'
inflated=no
until_field /balloon/statistics actual_mib 512 "$step" && inflated=yes
echo "FACT inflate_512MiB_s=$(since "$t")"
rss1=$(rss)
check "the driver inflated 512 MiB (statistics: actual_mib)" \
	test "$inflated" = yes
echo "FACT rss_inflate_kib=$rss0->$rss1 dropped=$((rss0 - rss1))"
check "mvm's RSS dropped by at least 256 MiB after the inflate" \
	ge $((rss0 - rss1)) $((256 * MIB))
l2 mem inflated
echo "FACT memtotal_inflated_kib=$(mem inflated total)" \
	"free=$(mem inflated free) avail=$(mem inflated avail)"
check "inflated: MemTotal dropped by exactly 512 MiB" \
	test "$(mem inflated total)" = $((total0 - 512 * MIB))
check "inflated: statistics' total_memory follows MemTotal" \
	until_field /balloon/statistics total_memory \
	$(($(mem inflated total) * 1024)) 20
resp=$(api PATCH /balloon '{"amount_mib": 0}')
check "PATCH /balloon amount_mib 0: 204" has "$resp" '^HTTP 204'
t=$(now)
check "the driver deflated (statistics: actual_mib 0)" \
	until_field /balloon/statistics actual_mib 0 "$step"
echo "FACT deflate_512MiB_s=$(since "$t")"
l2 mem deflated
check "deflated: MemTotal is back to its boot value" \
	test "$(mem deflated total)" = "$total0"

# ---- virtio-mem ----------------------------------------------------------
hp=$(api GET /hotplug/memory)
echo "FACT hotplug_boot=$(printf '%s' "$hp" | tail -n 1)"
check "GET /hotplug/memory at boot: nothing plugged or requested" has \
	"$hp" '"plugged_size_mib":0,"requested_size_mib":0'
t=$(now)
resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 512}')
check "PATCH /hotplug/memory requested_size_mib 512: 204" \
	has "$resp" '^HTTP 204'
check "the driver plugged 512 MiB (GET /hotplug/memory)" \
	until_field /hotplug/memory plugged_size_mib 512 "$step"
echo "FACT plug_512MiB_s=$(since "$t")"
t=$(now)
check "plugged: MemTotal grew by exactly 512 MiB" \
	mem_until plugged $((total0 + 512 * MIB)) 60
echo "FACT memtotal_plugged_kib=$(mem plugged total)" \
	"after=$(since "$t")s"
l2 blocks plugged
tr -d '\r' <"$log" | grep '^L2: blocks-plugged' | sed 's/^/FACT /'
check "plugged: Linux onlined 4 more memory blocks of 128 MiB" test \
	"$(answer blocks plugged online)" = \
	$(($(answer blocks boot online) + 4))
# Writing 600 MiB fills ZONE_MOVABLE (the plugged memory) first.
l2 fill plugged 600
check "L2 wrote 600 MiB and freed it" test "$(said fill-plugged)" = 600
rss0=$(rss)
t=$(now)
resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 0}')
check "PATCH /hotplug/memory requested_size_mib 0: 204" \
	has "$resp" '^HTTP 204'
# Linux may keep blocks it cannot empty; what it gave back is what counts,
# and online_movable memory normally all goes.
all=no
until_field /hotplug/memory plugged_size_mib 0 120 && all=yes
echo "FACT unplug_s=$(since "$t") all=$all"
left=$(field "$got" plugged_size_mib)
rss1=$(rss)
gone=$((512 - ${left:-512}))
echo "FACT unplugged_mib=$gone left_mib=$left"
echo "FACT rss_unplug_kib=$rss0->$rss1 dropped=$((rss0 - rss1))"
check "the driver unplugged memory (GET /hotplug/memory)" test "$gone" -gt 0
check "the driver unplugged all 512 MiB (online_movable)" test "$all" = yes
check "mvm's RSS dropped by at least half of what was unplugged" \
	ge $((rss0 - rss1)) $((gone * MIB / 2))
check "unplugged: MemTotal shrank by what was unplugged" \
	mem_until unplugged $((total0 + ${left:-512} * MIB)) 60
echo "FACT memtotal_unplugged_kib=$(mem unplugged total)"
l2 blocks unplugged
tr -d '\r' <"$log" | grep '^L2: blocks-unplugged' | sed 's/^/FACT /'
# The whole region, two KVM slots' worth beyond one: all of it is usable.
resp=$(api PATCH /hotplug/memory '{"requested_size_mib": 1024}')
check "PATCH /hotplug/memory requested_size_mib 1024: 204" \
	has "$resp" '^HTTP 204'
check "the driver plugged the whole 1024 MiB region" \
	until_field /hotplug/memory plugged_size_mib 1024 "$step"
check "whole region plugged: MemTotal grew by exactly 1024 MiB" \
	mem_until whole $((total0 + 1024 * MIB)) 60
stop_l2
rc=$?
check "L2 powered off; mvm exited 0" test "$rc" = 0 -a \
	"$(grep -c 'MVM-GUEST-EXIT=0' "$log")" = 1

# ---- dynamic memory: the controller under a real guest -----------------
# The same 1 GiB L2 with a balloon (statistics every second), 1 GiB of
# hotpluggable memory and dynamic memory 512-2048 MiB, buffer 20%. Booted
# from a config file, the one way to give mvm a logger and metrics as
# well: the decisions are checked in both.
dm_min=512 dm_max=2048
cat >"$w/dyn.json" <<JSON
{
  "boot-source": {"kernel_image_path": "/lab/guest/vmlinuz",
    "initrd_path": "/lab/guest/initrd.cpio.gz", "boot_args": "$cmdline"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 1024},
  "drives": [{"drive_id": "script", "path_on_host": "$w/script.img",
    "is_root_device": false, "is_read_only": true}],
  "balloon": {"amount_mib": 0, "deflate_on_oom": false,
    "stats_polling_interval_s": 1},
  "memory-hotplug": {"total_size_mib": 1024},
  "dynamic-memory": {"enabled": true, "min_mib": $dm_min,
    "max_mib": $dm_max, "buffer_percent": 20},
  "logger": {"log_path": "$w/dyn.mvmlog", "level": "Info"},
  "metrics": {"metrics_path": "$w/dyn.metrics"}
}
JSON
# dm FIELD: GET /dynamic-memory's FIELD now.
dm() { field "$(api GET /dynamic-memory)" "$1"; }
# decisions KIND: the controller's "grow"/"shrink" lines in mvm's log.
decisions() {
	grep -c "] $1 [0-9]* -> [0-9]* MiB: the guest uses" "$w/dyn.mvmlog"
}
# metric KEY: dynamic_memory.KEY summed over the metrics' lines (deltas).
metric() {
	grep -o '"dynamic_memory":{[^}]*}' "$w/dyn.metrics" |
		grep -o "\"$1\":[0-9]*" | cut -d: -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}
t=$(now)
launch_l2 dyn --config-file "$w/dyn.json"
# Each second, GET /dynamic-memory's sizes (lab seconds, current MiB,
# target MiB): when each move began and ended, and whether the controller
# swung back and forth.
(
	while :; do
		_a=$(api GET /dynamic-memory)
		echo "$(now) $(field "$_a" current_mib) $(field "$_a" target_mib)"
		sleep 1
	done
) >"$w/dyn.samples" 2>/dev/null &
sampler=$!
booted=no
waits "L2-WAIT cmd" "$step" && booted=yes
echo "FACT dyn_l2_ready_s=$(since "$t")"
check "dynamic memory: L2 booted with a balloon, virtio-mem and dynamic memory 512-2048 MiB" \
	test "$booted" = yes
got=$(api GET /dynamic-memory)
echo "FACT dyn_at_ready=$(printf '%s' "$got" | tail -n 1)"
check "dynamic memory: GET /dynamic-memory: enabled, 512-2048 MiB, buffer 20%" \
	test "$(field "$got" enabled)/$(field "$got" min_mib)/$(field "$got" max_mib)/$(field "$got" buffer_percent)" = \
	"true/$dm_min/$dm_max/20"
rss_ready=$(rss)
# Idle, the guest uses far less than min_mib: the controller shrinks it
# to min_mib, inflating the balloon a quarter of the size at a time.
shrunk=no
until_field /dynamic-memory current_mib "$dm_min" 300 && shrunk=yes
echo "FACT dyn_idle_shrink_s=$(since "$t") (from mvm's start)" \
	"last=$(printf '%s' "$got" | tail -n 1)"
check "dynamic memory idle: the controller shrank the guest to min_mib (512 MiB)" \
	test "$shrunk" = yes
check "dynamic memory idle: the balloon holds 512 MiB (statistics: actual_mib)" \
	until_field /balloon/statistics actual_mib 512 20
check "dynamic memory idle: MemTotal is 512 MiB under the boot's" \
	mem_until dyn-idle $((total0 - 512 * MIB)) 60
rss_idle=$(rss)
echo "FACT dyn_rss_kib ready=$rss_ready idle=$rss_idle" \
	"memtotal_idle_kib=$(mem dyn-idle total) avail=$(mem dyn-idle avail)"
shrinks_idle=$(decisions shrink)
echo "FACT dyn_idle_shrink_decisions=$shrinks_idle"
# Under pressure: L2 writes 1200 MiB to a tmpfs and keeps it, 16 MiB at a
# time, each piece once MemAvailable has room for it (a workload that
# waits for memory rather than die of its lack). The guest must grow past
# its boot 1 GiB: the balloon deflates, then virtio-mem plugs blocks.
t=$(now)
echo "FACT dyn_hold_start=$t"
l2 hold dyn 1200
echo "FACT dyn_hold_1200MiB_s=$(since "$t")"
tr -d '\r' <"$log" | grep '^L2: hold-dyn' | sed 's/^/FACT /'
check "dynamic memory pressure: L2 wrote 1200 MiB to a tmpfs and holds it" \
	test "$(said hold-dyn)" = 1200
got=$(api GET /dynamic-memory)
echo "FACT dyn_pressure=$(printf '%s' "$got" | tail -n 1)"
hp=$(api GET /hotplug/memory)
echo "FACT dyn_pressure_hotplug=$(printf '%s' "$hp" | tail -n 1)"
check "dynamic memory pressure: the controller grew the guest past 1300 MiB" \
	ge "$(field "$got" current_mib)" 1300
check "dynamic memory pressure: the balloon deflated to 0" \
	until_field /balloon/statistics actual_mib 0 20
check "dynamic memory pressure: virtio-mem plugged blocks" \
	ge "$(field "$hp" plugged_size_mib)" 128
l2 mem dyn-held
echo "FACT dyn_memtotal_held_kib=$(mem dyn-held total)" \
	"avail=$(mem dyn-held avail)"
check "dynamic memory pressure: MemTotal rose past the boot's" \
	ge "$(mem dyn-held total)" $((total0 + 128 * MIB))
l2 oom dyn
check "dynamic memory pressure: no OOM kill in L2" test "$(said oom-dyn)" = 0
# Held steady, the controller holds too: no decision for 15 s once it has
# had 10 s to finish the move the last pieces started.
sleep 10
n0=$(($(decisions grow) + $(decisions shrink)))
sleep 15
n1=$(($(decisions grow) + $(decisions shrink)))
echo "FACT dyn_steady_decisions=$((n1 - n0)) size=$(dm current_mib)"
check "dynamic memory pressure: steady use, no decision for 15 s" \
	test "$n1" = "$n0"
rss_held=$(rss)
grows=$(decisions grow)
echo "FACT dyn_pressure_decisions grows=$grows" \
	"shrinks=$(($(decisions shrink) - shrinks_idle))"
check "dynamic memory pressure: it only grew while the use climbed (no shrink)" \
	test "$(decisions shrink)" = "$shrinks_idle" -a "$grows" -ge 1
# Released: idle again, it gives the plugged blocks back and inflates the
# balloon down to min_mib.
t=$(now)
echo "FACT dyn_release_start=$t"
l2 release dyn
shrunk=no
until_field /dynamic-memory current_mib "$dm_min" 300 && shrunk=yes
echo "FACT dyn_release_shrink_s=$(since "$t")" \
	"last=$(printf '%s' "$got" | tail -n 1)"
check "dynamic memory released: the controller shrank the guest back to min_mib" \
	test "$shrunk" = yes
check "dynamic memory released: virtio-mem unplugged all it had plugged" \
	until_field /hotplug/memory plugged_size_mib 0 20
check "dynamic memory released: MemTotal is 512 MiB under the boot's again" \
	mem_until dyn-released $((total0 - 512 * MIB)) 60
rss_released=$(rss)
echo "FACT dyn_rss_kib held=$rss_held released=$rss_released" \
	"dropped=$((rss_held - rss_released))"
check "dynamic memory released: mvm's RSS dropped by at least 800 MiB" \
	ge $((rss_held - rss_released)) $((800 * MIB))
echo "FACT dyn_release_decisions shrinks=$(($(decisions shrink) - shrinks_idle))" \
	"grows=$(($(decisions grow) - grows))"
check "dynamic memory released: it only shrank (no grow)" \
	test "$(decisions grow)" = "$grows"
check "dynamic memory: mvm's log has grow and shrink decisions" \
	test "$grows" -ge 1 -a "$(decisions shrink)" -gt "$shrinks_idle"
resp=$(api PUT /actions '{"action_type": "FlushMetrics"}')
echo "FACT dyn_metrics grow_count=$(metric grow_count)" \
	"shrink_count=$(metric shrink_count) fails=$(metric fails)" \
	"log_grows=$(decisions grow) log_shrinks=$(decisions shrink)"
check "dynamic memory: the metrics count its grows and shrinks, and no failure" \
	test "$(metric grow_count)" = "$(decisions grow)" -a \
	"$(metric shrink_count)" = "$(decisions shrink)" -a \
	"$(metric fails)" = 0 -a "$(decisions grow)" -ge 1
kill "$sampler" 2>/dev/null
sed 's/^/FACT dyn_sample /' "$w/dyn.samples"
sed 's/^/  dyn.log| /' "$w/dyn.mvmlog"
stop_l2
rc=$?
check "dynamic memory: L2 powered off; mvm exited 0" test "$rc" = 0

# ---- deflate_on_oom: what Linux does then ------------------------------
start_l2 oom 512 --balloon amount_mib=0,deflate_on_oom=on,stats=1
booted=no
waits "L2-WAIT cmd" "$step" && booted=yes
check "deflate_on_oom: L2 booted with the balloon" test "$booted" = yes
l2 mem before
resp=$(api PATCH /balloon '{"amount_mib": 128}')
check "deflate_on_oom: PATCH /balloon amount_mib 128: 204" \
	has "$resp" '^HTTP 204'
check "deflate_on_oom: the driver inflated 128 MiB" \
	until_field /balloon/statistics actual_mib 128 "$step"
l2 mem after
echo "FACT oom_meminfo_kib=before:total=$(mem before total)" \
	"free=$(mem before free),after:total=$(mem after total)" \
	"free=$(mem after free)"
check "deflate_on_oom: MemTotal unchanged by the inflate" \
	test "$(mem after total)" = "$(mem before total)"
check "deflate_on_oom: MemFree lower by at least 120 MiB" \
	ge $(($(mem before free) - $(mem after free))) $((120 * MIB))
stop_l2
rc=$?
check "deflate_on_oom: L2 powered off; mvm exited 0" test "$rc" = 0

echo "FACT script_s=$(since "$t0")"
finish
