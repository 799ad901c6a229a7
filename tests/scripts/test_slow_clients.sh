#!/usr/bin/env bash
# Clients that ask and never read cannot grow the supervisor (docs/SECURITY.md):
# with N workers registered, 16 HTTP clients pipelining GET /status and 16
# control clients pipelining "status", none reading, with small receive
# buffers, raise its RSS by a bounded amount (each render waits for its
# client to read: a slice's chunk and the walk's snapshot at most), and
# once they are gone it still answers and exits 0 on SIGTERM.
#   test_slow_clients.sh BUILD_DIR [WORKERS]   (default 20000)
set -uo pipefail
bin=${1:?usage: test_slow_clients.sh BUILD_DIR [WORKERS]}
n=${2:-20000}
sup=$bin/supervisor/vigil-supervisor ctl=$bin/supervisor/vigilctl load=$bin/tests/vigil-load
. "$(dirname "$0")/lib.sh"
need python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-slow.XXXXXX")
sv=
trap '[[ -n $sv ]] && kill -KILL $sv 2>/dev/null; rm -rf "$dir"' EXIT
port=$(free_ports 1)
"$sup" --socket "$dir/s.sock" --control "$dir/c.sock" --timeout 1h --max-workers $((n + 10)) \
	--metrics "127.0.0.1:$port" >"$dir/sup.log" 2>&1 &
sv=$!
for _ in $(seq 100); do "$ctl" --control "$dir/c.sock" version >/dev/null 2>&1 && break; sleep 0.05; done
"$load" --supervisor "$dir/s.sock" --workers "$n" --once --flood >/dev/null || exit 1
"$ctl" --control "$dir/c.sock" status --json >/dev/null # the steady state: one render done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$sv/status"; }
before=$(rss)

python3 - "$port" "$dir/c.sock" "$dir/ready" <<'PY' &
import socket, sys, time
port, ctl, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
held = []
for path in ["/status", "/metrics"] * 8:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode() * 200)
    held.append(s)
for _ in range(16):
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(ctl)
    s.sendall(b"status\n" * 2000)
    held.append(s)
open(ready, "w").close()
time.sleep(6)
PY
clients=$!
for _ in $(seq 100); do [[ -e $dir/ready ]] && break; sleep 0.05; done
peak=$before
for _ in $(seq 20); do
	sleep 0.2
	r=$(rss)
	((r > peak)) && peak=$r
done
growth=$(((peak - before) / 1024))
echo "RSS $before kB before, $peak kB at most with 32 clients not reading: +$growth MB"
check "32 clients that never read raise the RSS by less than 16 MB" test "$growth" -lt 16
check "a worker's status still answers while they hang" \
	bash -c "'$ctl' --control '$dir/c.sock' status --json load-0 | jq -e '.worker.name == \"load-0\"' >/dev/null"
wait $clients
check "status answers once they are gone" \
	bash -c "'$ctl' --control '$dir/c.sock' status --json | jq -e '.workers | length == $n' >/dev/null"
kill -TERM $sv
wait $sv
rc=$?
sv=
check "SIGTERM still exits 0" test $rc -eq 0
exit $fail
