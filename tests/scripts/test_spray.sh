#!/usr/bin/env bash
# Peers cannot buy the supervisor's CPU (docs/PERFORMANCE.md, issue 13). N
# names are sprayed at the supervisor, each claiming the shortest timeout
# (WATCHDOG_USEC=1, raised to --min-timeout, 10 ms) with one heartbeat from
# an unbound socket, and then left silent: each is dead and its timer fires
# every 10 ms. Measured: the supervisor's CPU over 5 s of that (schedstat),
# the log lines it wrote, and how long `vigilctl status --json` takes. Then a
# real vigil-worker (100 ms interval, the supervisor's 500 ms timeout) is
# SIGKILLed: its timeout must come within 550 ms of its last heartbeat (on
# time: the judged figure), and "registered" lines must be rate-limited
# (at most 100 a second, the rest summed up).
#   test_spray.sh BUILD_DIR [NAMES]          (default 20000)
# SPRAY_SUP_ARGS adds supervisor options (--min-timeout 1ms: the floor before).
set -uo pipefail
bin=${1:?usage: test_spray.sh BUILD_DIR [NAMES]}
n=${2:-20000}
sup=$bin/supervisor/vigil-supervisor ctl=$bin/supervisor/vigilctl
wrk=$bin/worker/vigil-worker load=$bin/tests/vigil-load
for b in "$sup" "$ctl" "$wrk" "$load"; do
	[[ -x $b ]] || { echo "test_spray: $b is not built"; exit 1; }
done
command -v jq >/dev/null || { echo "test_spray: needs jq (scripts/deps test)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-spray.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail=0
# The supervisor on CPU 0, the load and the worker on CPU 1, where there are two.
pin0=() pin1=()
if (($(nproc) > 1)); then pin0=(taskset -c 0) pin1=(taskset -c 1); fi
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat"; }

"${pin0[@]}" "$sup" --socket "$dir/s.sock" --control "$dir/c.sock" --timeout 500ms \
	--max-workers $((n + 10)) ${SPRAY_SUP_ARGS:-} >"$dir/sup.log" 2>&1 &
svp=$!
pids+=("$svp")
for _ in $(seq 200); do [[ -S $dir/c.sock ]] && break; sleep 0.05; done
[[ -S $dir/c.sock ]] || { echo "FAIL: the supervisor did not start"; cat "$dir/sup.log"; exit 1; }

t0=$(date +%s%N)
"${pin1[@]}" "$load" --supervisor "$dir/s.sock" --workers "$n" --once --flood --claim WATCHDOG_USEC=1 \
	--prefix spray >"$dir/load.out" || { echo "FAIL: vigil-load: $(cat "$dir/load.out")"; exit 1; }
reg=0
for _ in $(seq 400); do
	reg=$("$ctl" --control "$dir/c.sock" status --json | jq '.supervisor.workers')
	((reg >= n)) && break
	sleep 0.05
done
((reg >= n)) || { echo "FAIL: only $reg of $n names registered"; fail=1; }
timeout_ms=$("$ctl" --control "$dir/c.sock" status spray-0 --json | jq '.worker.timeout_ms')
echo "spray: $n names registered in $((($(date +%s%N) - t0) / 1000000)) ms, each with a timeout" \
	"of ${timeout_ms} ms (it claimed 1 us)"
[[ -n ${SPRAY_SUP_ARGS:-} || $timeout_ms == 10 ]] ||
	{ echo "FAIL: a claimed WATCHDOG_USEC=1 gave ${timeout_ms} ms, not 10"; fail=1; }

sleep 1
lines0=$(wc -l <"$dir/sup.log")
c0=$(cpu_ns "$svp") w0=$(date +%s%N)
sleep 5
c1=$(cpu_ns "$svp") w1=$(date +%s%N)
lines1=$(wc -l <"$dir/sup.log")
s0=$(date +%s%N)
"$ctl" --control "$dir/c.sock" status --json >"$dir/status.json" || fail=1
s1=$(date +%s%N)
echo "spray: supervisor CPU $(awk -v c=$((c1 - c0)) -v w=$((w1 - w0)) 'BEGIN { printf "%.1f", 100 * c / w }')%" \
	"over 5 s of $n dead names firing every ${timeout_ms} ms;" \
	"$(((lines1 - lines0) / 5)) log lines a second; status of $n workers in $(((s1 - s0) / 1000000)) ms"
if (((lines1 - lines0) / 5 > 300)); then
	echo "FAIL: $(((lines1 - lines0) / 5)) log lines a second: the timeouts are not rate-limited"
	fail=1
fi
registered=$(grep -c " registered (pid" "$dir/sup.log")
summary=$(grep -c "more workers registered without a line each" "$dir/sup.log")
echo "spray: $registered \"registered\" lines for $n names, $summary summaries"
if ((registered > 100 * 12)); then
	echo "FAIL: $registered \"registered\" lines: not rate-limited"
	fail=1
fi

# A real worker among them: killed, and reported on time.
"${pin1[@]}" "$wrk" --name real --supervisor "$dir/s.sock" --socket "$dir/real.sock" --interval 100ms \
	>"$dir/w.log" 2>&1 &
wp=$!
pids+=("$wp")
for _ in $(seq 100); do
	"$ctl" --control "$dir/c.sock" status real --json 2>/dev/null | jq -e '.worker.heartbeats >= 5' \
		>/dev/null && break
	sleep 0.05
done
kill -KILL "$wp"
wait "$wp" 2>/dev/null
for _ in $(seq 100); do grep -q "worker real timed out" "$dir/sup.log" && break; sleep 0.02; done
line=$(grep -m1 "worker real timed out" "$dir/sup.log")
silent=$(sed -n 's/.*silent for \([0-9.]*\)ms.*/\1/p' <<<"$line")
if [[ -z $silent ]]; then
	echo "FAIL: the killed worker was not reported"
	fail=1
else
	echo "spray: a killed vigil-worker reported after ${silent} ms of silence (timeout 500 ms)"
	awk -v s="$silent" 'BEGIN { exit !(s >= 500 && s <= 550) }' ||
		{ echo "FAIL: reported after ${silent} ms: not on time (500-550 ms)"; fail=1; }
fi
if ((fail)); then
	tail -n 30 "$dir/sup.log"
	exit 1
fi
echo "test_spray: OK"
