#!/usr/bin/env bash
# Record what the supervisor shows over scripts/demo's scenario, normalized,
# so that two builds can be compared: a refactor that changes nothing must
# record the same files (tests/scripts/compare_behaviour.sh).
#
# Usage: record_behaviour.sh BUILD_DIR OUT_DIR
#
# In a private mktemp -d directory: a supervisor (--timeout 600ms, --metrics
# on a free port), a `vigilctl events --json` subscriber from the start, and
# worker demo-1 (every 200ms) which is started, SIGKILLed (two timeouts),
# started again (a new pid), stalled with SIGUSR1 (one TIMEOUT delivered),
# resumed, and stopped with SIGTERM; then the supervisor gets SIGTERM. At
# each step, once status shows the step done (conditions are polled, never
# slept on), a snapshot: vigilctl status --json, vigilctl status demo-1
# --json, GET /metrics and GET /status.
#
# What varies from run to run is masked (see normalize_json and
# normalize_metrics): times, durations (timer lateness too, where the
# supervisor reports it), pids (as <supervisor>, <worker-1>,
# <worker-2>), uptime, the port, the directory, the version, our uid, and
# counts that follow the clock (heartbeats, sequence numbers, datagrams:
# 0, 1 or "2+"). Object keys are sorted and metric families put in name
# order; the event stream and the history lists keep their order, which is
# part of the contract.
#
# Exit status: 0 recorded; 1 the scenario failed (a condition never came, a
# daemon misbehaved, a tool is missing); 2 usage; 3 the machine was too slow
# for a timing window of the scenario (each window is 600ms: a snapshot of a
# dead worker must come before its next timeout), or the supervisor itself
# was paused or starved: the recording is not trustworthy, run it again.
set -uo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 BUILD_DIR OUT_DIR" >&2
	exit 2
fi
build=$1 out=$2
sup_bin=$build/supervisor/vigil-supervisor
wrk_bin=$build/worker/vigil-worker
ctl_bin=$build/supervisor/vigilctl
for b in "$sup_bin" "$wrk_bin" "$ctl_bin"; do
	[[ -x $b ]] || { echo "record_behaviour: no $b (build it first)" >&2; exit 1; }
done
for tool in curl jq socat; do
	command -v $tool >/dev/null || { echo "record_behaviour: $tool is not installed (scripts/deps test)" >&2; exit 1; }
done
mkdir -p "$out" || exit 1

TIMEOUT_MS=600
INTERVAL=200ms
NAME=demo-1

dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-behaviour.XXXXXX")
raw=$dir/raw
mkdir "$raw"
sup="" relay="" events="" wrk=""
failed=1

cleanup() {
	local p
	for p in $wrk $events $relay $sup; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [[ $failed -ne 0 ]]; then
		for f in "$dir"/*.log; do
			[[ -f $f ]] && { echo "---- $(basename "$f") ----"; cat "$f"; } >&2
		done
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

die() {
	echo "record_behaviour: $*" >&2
	exit 1
}
# A timing window was missed: not a behaviour, the machine was too busy.
too_slow() {
	echo "record_behaviour: too slow for the scenario: $*" >&2
	exit 3
}

ctl() { "$ctl_bin" --control "$dir/control.sock" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for MS COMMAND...: poll every 20ms until COMMAND succeeds, or fail.
wait_for() {
	local deadline=$(($(now_ms) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		(($(now_ms) > deadline)) && die "timed out waiting for: $*"
		sleep 0.02
	done
}

# field KEY: demo-1's KEY in vigilctl status --json (empty if it has none).
field() { ctl status --json | jq -r --arg n "$NAME" --arg k "$1" '.workers[] | select(.name == $n) | .[$k]'; }
# is KEY VALUE: demo-1's KEY is VALUE.
is() { [[ $(field "$1") == "$2" ]]; }
# at_least KEY N: demo-1's KEY is at least N.
at_least() { local v; v=$(field "$1"); [[ -n $v ]] && ((v >= $2)); }
# state_pid STATE PID: demo-1 is in STATE with PID.
state_pid() {
	ctl status --json | jq -e --arg n "$NAME" --arg s "$1" --argjson p "$2" \
		'.workers[] | select(.name == $n and .state == $s and .pid == $p)'
}

# A port on 127.0.0.1: one nothing listens on now; a bind that fails anyway is retried.
pick_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		ss -Htln 2>/dev/null | grep -q ":$p\b" || { echo $p; return; }
	done
	echo $p
}

start_supervisor() {
	for _ in 1 2 3 4 5; do
		port=$(pick_port)
		"$sup_bin" --socket "$dir/supervisor.sock" --control "$dir/control.sock" \
			--timeout ${TIMEOUT_MS}ms --metrics "127.0.0.1:$port" >>"$dir/supervisor.log" 2>&1 &
		sup=$!
		local deadline=$(($(now_ms) + 5000))
		until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/metrics" &&
			ctl status --json >/dev/null 2>&1; do
			if ! kill -0 $sup 2>/dev/null; then
				wait $sup
				grep -q "Address already in use" "$dir/supervisor.log" || die "the supervisor exited"
				sup=""
				continue 2
			fi
			(($(now_ms) > deadline)) && die "the supervisor does not serve"
			sleep 0.02
		done
		return
	done
	die "no free port for --metrics"
}

# The subscriber from the start: vigilctl events --json through a socat relay
# whose trace shows when the supervisor has answered {"subscribed":true}: from
# then on no event can be missed. (vigilctl itself prints nothing until an event.)
start_events() {
	socat -v UNIX-LISTEN:"$dir/events-tap.sock" UNIX-CONNECT:"$dir/control.sock" \
		2>"$dir/relay.log" &
	relay=$!
	wait_for 5000 test -S "$dir/events-tap.sock"
	"$ctl_bin" --control "$dir/events-tap.sock" events --json >"$raw/events.jsonl" \
		2>"$dir/events.log" &
	events=$!
	wait_for 5000 grep -q '"subscribed":true' "$dir/relay.log"
}

start_worker() {
	"$wrk_bin" --name $NAME --supervisor "$dir/supervisor.sock" \
		--socket "$dir/workers/$NAME.sock" --interval $INTERVAL >>"$dir/worker.log" 2>&1 &
	wrk=$!
}

# snap N LABEL: what a user sees now, raw (normalized at the end).
snap() {
	local f=$raw/$1-$2
	ctl status --json >"$f.status.json" || die "vigilctl status --json failed at $2"
	ctl status $NAME --json >"$f.status-$NAME.json" 2>&1
	echo "exit $?" >>"$f.status-$NAME.json"
	curl -sS --max-time 5 "http://127.0.0.1:$port/metrics" >"$f.metrics.txt" ||
		die "GET /metrics failed at $2"
	curl -sS --max-time 5 "http://127.0.0.1:$port/status" >"$f.http-status.json" ||
		die "GET /status failed at $2"
}

# still KEY VALUE WHAT: after a snapshot in a timing window, the window held.
still() { is "$1" "$2" || too_slow "$3"; }

# snap_alive N LABEL PID TIMEOUTS WHAT: once PID is alive, with TIMEOUTS
# timeouts in all (more: too slow, WHAT), and 5 more heartbeats (a full
# history of intervals), a snapshot.
snap_alive() {
	local beats
	wait_for 5000 state_pid alive "$3"
	still timeouts "$4" "$5"
	beats=$(field heartbeats)
	wait_for 5000 at_least heartbeats $((beats + 5))
	snap "$1" "$2"
}

# snap_dead N LABEL PID WHAT: once PID is dead, a snapshot, taken before its
# second timeout (else too slow, WHAT).
snap_dead() {
	wait_for 5000 state_pid dead "$3"
	snap "$1" "$2"
	still missed 1 "the snapshot of the $4 worker came after its second timeout"
}

exits=$raw/exits.txt

# 1. The supervisor, the subscriber: no worker yet.
start_supervisor
sup_pid=$sup
start_events
snap 1 empty

# 2. The worker, alive, with a full history of intervals.
start_worker
w1=$wrk
snap_alive 2 alive $w1 0 "the worker timed out as it started"

# 3. SIGKILL: dead at MISSED 1 (snapshot before MISSED 2), then MISSED 2.
# (Quietly: bash would report the kill of its job on stderr.)
{
	kill -KILL $w1
	wait $w1
	echo "worker-1 after SIGKILL: $?" >>"$exits"
} 2>/dev/null
wrk=""
snap_dead 3 killed $w1 killed
wait_for 5000 is missed 2

# 4. Started again at once (before MISSED 3): a new pid, a restart.
start_worker
w2=$wrk
snap_alive 4 restarted $w2 2 "the worker was started again only after its third timeout"

# 5. SIGUSR1: a stall, alive but silent: dead at MISSED 1, a TIMEOUT delivered.
kill -USR1 $w2
snap_dead 5 stalled $w2 stalled
wait_for 5000 grep -q "declared us unresponsive: missed 1" "$dir/worker.log"

# 6. SIGUSR1 again: it resumes, and recovers.
kill -USR1 $w2
snap_alive 6 resumed $w2 3 "the stalled worker was resumed only after its second timeout"

# 7. SIGTERM: STOPPING=1, a clean exit, stopped.
kill -TERM $w2
wait $w2
echo "worker-2 after SIGTERM: $?" >>"$exits"
wrk=""
wait_for 5000 is state stopped
snap 7 stopped
# A supervisor that was itself paused or starved (graces, or timers run 100ms
# late: "stalls" where it counts them) is not what this records.
ctl status --json | jq -e '.supervisor | (.pause_graces // 0) == 0 and (.stalls // 0) == 0' \
	>/dev/null || too_slow "the supervisor itself was paused or starved"

# 8. The supervisor's clean stop; the subscriber sees the end of its stream.
kill -TERM $sup
wait $sup
echo "supervisor after SIGTERM: $?" >>"$exits"
sup=""
deadline=$(($(now_ms) + 5000))
while kill -0 $events 2>/dev/null; do
	(($(now_ms) > deadline)) && die "vigilctl events did not end with the supervisor"
	sleep 0.02
done
wait $events
echo "vigilctl events after the supervisor stopped: $?" >>"$exits"
events=""
sed "s|$dir|<dir>|g" "$dir/events.log" >>"$exits"
wait $relay 2>/dev/null
relay=""

if grep -Eq 'runtime error:|Sanitizer' "$dir"/*.log; then
	die "a sanitizer report in the daemons' logs"
fi

# Normalization: what legitimately varies is masked (see the header).
pids=$(jq -n --arg s "$sup_pid" --arg a "$w1" --arg b "$w2" \
	'{($s): "<supervisor>", ($a): "<worker-1>", ($b): "<worker-2>"}')
# shellcheck disable=SC2016 # jq, not shell, variables
jq_norm='
def bucket: if type == "number" and . >= 2 then "2+" else . end;
def ts: if type == "string" and
	test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")
	then "<time>" else . end;
def dur: if type == "number" then "<duration>" else . end;
# Never early: a silence is at least the timeout (times MISSED, in a TIMEOUT).
def silence_vs(limit): if type != "number" then .
	elif . >= limit then ">= timeout" else "< timeout" end;
def norm: walk(if type == "object" then
	. as $o |
	(if has("silent_ms") and has("missed") then
		.silent_ms |= silence_vs(($timeout_ms | tonumber) * $o.missed) else . end) |
	(if has("silent_s") and has("timeout_ms") and (.state == "alive" or .state == "dead")
		then .silent_s = (.silent_s * 1000 | silence_vs($o.timeout_ms))
		elif has("silent_s") then .silent_s |= dur else . end) |
	with_entries(
		if .key == "time" then .value |= ts
		elif .key == "pid" then .value |= (if type == "number"
			then ($pids[tostring] // "<another pid>") else . end)
		elif .key == "uid" then .value |= (if . == ($uid | tonumber) then "<our uid>" else . end)
		elif .key == "version" then .value = "<version>"
		elif (.key | IN("seq", "last_seq", "heartbeats", "datagrams")) then .value |= bucket
		elif (.key | IN("uptime_s", "interval_min_ms", "interval_mean_ms", "interval_max_ms",
			"timer_lateness_max_ms"))
			then .value |= dur
		else . end)
	else . end);
'
normalize_json() { # FILE: JSON documents (one or more), each normalized, keys sorted
	jq -S --argjson pids "$pids" --arg uid "$(id -u)" --arg timeout_ms $TIMEOUT_MS \
		"$jq_norm norm" "$1"
}
normalize_metrics() { # FILE: families in name order, HELP, TYPE, then the samples sorted
	sed -E -e 's/^(vigil_build_info\{version=)"[^"]*"/\1"<version>"/' \
		-e 's/^(vigil_start_time_seconds) .*/\1 <time>/' \
		-e 's/^(vigil_worker_last_heartbeat_age_seconds\{[^}]*\}) .*/\1 <duration>/' \
		-e 's/^(vigil_timer_lateness_max_seconds) .*/\1 <duration>/' \
		-e 's/^((vigil_datagrams_total|vigil_worker_heartbeats_total)(\{[^}]*\})?) ([2-9]|[1-9][0-9]+)(\.[0-9]+)?$/\1 2+/' \
		"$1" |
		awk '{
			if ($1 == "#") { fam = $3; rank = ($2 == "HELP") ? 0 : 1 }
			else { fam = $1; sub(/\{.*/, "", fam); rank = 2 }
			printf "%s\t%d\t%s\n", fam, rank, $0
		}' | LC_ALL=C sort -t "$(printf '\t')" -k1,1 -k2,2n -k3 | cut -f3-
}

for f in "$raw"/*; do
	base=$(basename "$f")
	case $base in
	*.status-$NAME.json) # a document, or an error message, then "exit N"
		if jq -e . <(sed '$d' "$f") >/dev/null 2>&1; then
			{ normalize_json <(sed '$d' "$f"); tail -n 1 "$f"; } >"$out/$base"
		else
			cp "$f" "$out/$base"
		fi ;;
	*.json) normalize_json "$f" >"$out/$base" ;;
	events.jsonl) jq -c -S --argjson pids "$pids" --arg uid "$(id -u)" \
		--arg timeout_ms $TIMEOUT_MS "$jq_norm norm" "$f" >"$out/$base" ;;
	*.metrics.txt) normalize_metrics "$f" >"$out/$base" ;;
	*) sed "s|$dir|<dir>|g" "$f" >"$out/$base" ;;
	esac || die "cannot normalize $base"
done
failed=0
