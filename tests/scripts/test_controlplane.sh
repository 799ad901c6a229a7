#!/usr/bin/env bash
# Detection never waits on the control plane (docs/PERFORMANCE.md). With N
# idle workers registered, 3 loops each of `curl /status`, `curl /metrics`
# and `vigilctl status --json` run against the supervisor without pause,
# while two real vigil-workers heartbeat every 100 ms with a 500 ms timeout.
# One of them is SIGKILLed: its timeout must come within 550 ms of its last
# heartbeat; the other must lose no heartbeat and get no timeout; every
# render must be cut in slices; and a probe worker with a 20 ms timeout,
# whose timer fires 50 times a second, shows how late timers ran: that
# bounds the longest turn of the loop (printed with the slices' times, not
# judged: timing figures belong to benchmarks, machines here are noisy).
#   test_controlplane.sh BUILD_DIR [WORKERS]     (default 20000; the
#                                                 PERFORMANCE.md figure: 100000)
set -uo pipefail
bin=${1:?usage: test_controlplane.sh BUILD_DIR [WORKERS]}
n=${2:-20000}
secs=${VIGIL_CP_SECONDS:-6}
sup=$bin/supervisor/vigil-supervisor ctl=$bin/supervisor/vigilctl
wrk=$bin/worker/vigil-worker load=$bin/tests/vigil-load
. "$(dirname "$0")/lib.sh"
need_built "$sup" "$ctl" "$wrk" "$load"
need curl jq socat python3

dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-cp.XXXXXX")
pids=()
cleanup() {
	touch "$dir/stop"
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[[ ${keep:-0} -eq 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT

port=$(free_ports 1)
cat >"$dir/vigil.conf" <<CONF
[worker real-1]
timeout = 500ms
expected = no
[worker real-2]
timeout = 500ms
expected = no
CONF
# Real-time priority (root), else a higher nice: this measures the loop, not the
# CPU scheduler of a machine that the 9 loops and other tests keep busy.
rt="nice -n -5"
chrt -f 10 true 2>/dev/null && rt="chrt -f 10"
$rt "$sup" --socket "$dir/s.sock" --control "$dir/c.sock" --config "$dir/vigil.conf" \
	--timeout 1h --max-workers $((n + 100)) --metrics "127.0.0.1:$port" --log-level debug \
	>"$dir/sup.log" 2>&1 &
sv=$!
pids+=($sv)
for _ in $(seq 100); do [[ -S $dir/c.sock ]] && "$ctl" --control "$dir/c.sock" version >/dev/null 2>&1 && break; sleep 0.05; done
"$load" --supervisor "$dir/s.sock" --workers "$n" --once --flood --prefix idle >/dev/null ||
	{ echo "test_controlplane: registering $n workers failed"; exit 1; }
printf 'HEARTBEAT=1\nWORKER=probe\nWATCHDOG_USEC=20000\n' |
	socat -u - "UNIX-SENDTO:$dir/s.sock" || { echo "test_controlplane: socat failed"; exit 1; }
"$ctl" --control "$dir/c.sock" events --json >"$dir/events" 2>&1 &
pids+=($!)

# The control plane, flat out.
loop() { # loop NAME COMMAND...: run it again and again until $dir/stop exists
	local name=$1 k=0
	shift
	while [[ ! -e $dir/stop ]]; do
		"$@" >"$dir/$name.out" 2>&1 || echo "$name: exit $?" >>"$dir/$name.err"
		k=$((k + 1))
	done
	echo "$k" >"$dir/$name.count"
}
for i in $(seq "${VIGIL_CP_LOOPS:-3}"); do
	loop "status$i" curl -sf "http://127.0.0.1:$port/status" -o "$dir/status$i.json" &
	pids+=($!)
	loop "metrics$i" curl -sf "http://127.0.0.1:$port/metrics" -o "$dir/metrics$i.txt" &
	pids+=($!)
	loop "ctl$i" "$ctl" --control "$dir/c.sock" status --json &
	pids+=($!)
done

"$wrk" --name real-1 --supervisor "$dir/s.sock" --socket "$dir/real-1.sock" --interval 100ms \
	>"$dir/real-1.log" 2>&1 &
w1=$!
pids+=($w1)
"$wrk" --name real-2 --supervisor "$dir/s.sock" --socket "$dir/real-2.sock" --interval 100ms \
	>"$dir/real-2.log" 2>&1 &
w2=$!
pids+=($w2)
sleep $((secs / 2))
kill -KILL $w1
# Its timeout, from the event stream: silent_ms is how long after its last heartbeat.
silent=
for _ in $(seq 200); do
	silent=$(jq -r 'select(.event == "timeout" and .worker == "real-1") | .silent_ms' \
		"$dir/events" 2>/dev/null | head -1)
	[[ -n $silent ]] && break
	sleep 0.05
done
sleep $((secs - secs / 2))
touch "$dir/stop"
sleep 0.5

st=$("$ctl" --control "$dir/c.sock" status --json)
r2=$(jq -c '.workers[] | select(.name == "real-2")' <<<"$st")
probe_late=$(jq -r '.supervisor.timer_lateness_max_ms' <<<"$st")
graces=$(jq -r '.supervisor.pause_graces' <<<"$st")
# "... the longest W ms (C ms of CPU)": the wall clock, and the slice's own CPU time.
slices=$(sed -n 's/.*debug: \(status\|metrics\): .*the longest \([0-9.]*\) ms (.*/\2/p' "$dir/sup.log" |
	sort -g | tail -1)
slices_cpu=$(sed -n 's/.*debug: \(status\|metrics\): .*(\([0-9.]*\) ms of CPU)$/\2/p' "$dir/sup.log" |
	sort -g | tail -1)
renders=$(grep -c 'debug: \(status\|metrics\): ' "$dir/sup.log")
# "status: N workers in S slices over ...": the fewest slices any render took.
fewest=$(sed -n 's/.*debug: \(status\|metrics\): [0-9]* workers in \([0-9]*\) slices.*/\2/p' \
	"$dir/sup.log" | sort -n | head -1)
runs=0
for f in "$dir"/*.count; do runs=$((runs + $(cat "$f"))); done
errors=$(cat "$dir"/*.err 2>/dev/null | wc -l)

echo "workers $n; $runs control-plane requests in ${secs}s ($renders renders), $errors failed"
echo "real-1 SIGKILLed: timeout at silent_ms=${silent:-none} (timeout 500 ms)"
echo "real-2: $(jq -r '"heartbeats \(.heartbeats), last_seq \(.last_seq), timeouts \(.timeouts)"' <<<"$r2")"
echo "longest render slice ${slices:-none} ms (${slices_cpu:-none} ms of CPU);" \
	"timers at most ${probe_late} ms late; pause graces $graces"

check "the control plane was busy (at least 9 renders)" test "$renders" -ge 9
check "no control-plane request failed" test "$errors" -eq 0
check "real-1's death reported within 550 ms of its last heartbeat" \
	awk -v s="${silent:-99999}" 'BEGIN { exit !(s >= 500 && s <= 550) }'
holds() { jq -e "$1" <<<"$2" >/dev/null; } # holds FILTER JSON
check "real-2 lost no heartbeat" holds '.heartbeats == .last_seq and .heartbeats > 0' "$r2"
check "real-2 got no timeout" holds '.timeouts == 0 and .state == "alive"' "$r2"
# Cut in slices: every render of N workers took many turns of the loop. How
# long a slice took is printed, not judged: on this VM even a slice's CPU time
# includes the host's stalls (17 ms once, in a slice that takes 0.5 ms).
check "every render was cut in at least 10 slices (the fewest: ${fewest:-none})" \
	test "${fewest:-0}" -ge 10
check "no pause grace given (the loop never stalled 100 ms)" test "$graces" -eq 0
# The probe's timer fires 50 times a second: how late it ever ran bounds how
# long any turn of the loop held it. A figure of this machine's scheduling as
# much as of the loop, so it is printed above (docs/PERFORMANCE.md has it at
# 100 000 workers) and only a stall, 100 ms, fails the test: a pause grace.
if ((fail)); then
	keep=1
	echo "logs kept in $dir"
	tail -20 "$dir/sup.log"
fi
exit $fail
