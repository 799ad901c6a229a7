#!/usr/bin/env bash
# One full supervisor/worker scenario with both daemons under valgrind's
# memcheck: registration, a stall and its TIMEOUT, recovery, vigilctl
# status, STOPPING, clean shutdown. Any memory error or leak fails.
# Usage: test_valgrind.sh BINDIR_SUPERVISOR BINDIR_WORKER
set -uo pipefail

sbin=$1 wbin=$2
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/deps test)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-valgrind.XXXXXX")
sup="" wrk=""
cleanup() {
	for p in $wrk $sup; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

vg=(valgrind --quiet --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite,indirect,possible --track-fds=no)
pass=0 fail=0
check() {
	local what=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $what"; fi
}
wait_log() { # wait_log FILE TEXT SECONDS
	for _ in $(seq $(($3 * 20))); do grep -q "$2" "$1" && return 0; sleep 0.05; done
	return 1
}

"${vg[@]}" --log-file="$dir/sup.vg" "$sbin/vigil-supervisor" --socket "$dir/s.sock" \
	--control "$dir/c.sock" --timeout 1s 2>"$dir/sup.log" &
sup=$!
"${vg[@]}" --log-file="$dir/wrk.vg" "$wbin/vigil-worker" --name vg --supervisor "$dir/s.sock" \
	--socket "$dir/w.sock" --interval 200ms 2>"$dir/wrk.log" &
wrk=$!
check "registered" wait_log "$dir/sup.log" "worker vg registered" 30
kill -USR1 "$wrk"
check "the worker received its TIMEOUT" wait_log "$dir/wrk.log" "declared us unresponsive" 30
kill -USR1 "$wrk"
check "recovered" wait_log "$dir/sup.log" "worker vg recovered" 30
check "vigilctl status" bash -c "'$sbin/vigilctl' --control '$dir/c.sock' status --json | grep -q '\"name\":\"vg\"'"
kill -TERM "$wrk"
wait "$wrk"
check "worker exit 0 under memcheck (99: errors or leaks)" test $? -eq 0
wrk=""
check "stopped" wait_log "$dir/sup.log" "worker vg stopped" 30
kill -TERM "$sup"
wait "$sup"
check "supervisor exit 0 under memcheck (99: errors or leaks)" test $? -eq 0
sup=""
if [[ $fail -ne 0 ]]; then
	cat "$dir"/*.vg "$dir"/*.log
fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
