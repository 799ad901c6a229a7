#!/usr/bin/env bash
# vigil-fleet.service under a real systemd (tests/systemd/lib.sh: a booted
# container on an overlay of this machine's root, the build installed with
# `cmake --install`): the shipped unit, hardened, reaches an etcd member that
# runs outside the container on a loopback port (the container shares the
# network), publishes the host and its workers, and a worker killed in the
# container shows dead in `vigil-fleet status` outside it; the supervisor
# keeps PrivateNetwork=yes. Stopping the supervisor makes the host lost
# after the TTL, not its workers dead.
# Usage: test_fleet_systemd.sh BUILD_DIR
# Exit: 0 all passed, 1 a check failed, 77 skipped (no root, no nspawn, no
# overlayfs, no etcd); under CI=true a skip is a failure.
set -uo pipefail

. "$(dirname "$0")/lib.sh"
command -v etcd >/dev/null || skip "etcd is not installed (scripts/deps test: etcd-server)"
vt_setup "$1"
fleet=$build/fleet/vigil-fleet
ttl=3

# Below the ephemeral range, as tests/scripts/vigiltest.py explains.
read -r cport pport < <(python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
sys.dont_write_bytecode = True
import vigiltest
print(*vigiltest.free_ports(2))' "$(dirname "$0")/../scripts")
url=http://127.0.0.1:$cport
etcd --name m0 --data-dir "$base/etcd" --listen-client-urls "$url" --advertise-client-urls "$url" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "m0=http://127.0.0.1:$pport" --log-level warn >"$base/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill -TERM $etcd_pid 2>/dev/null; wait $etcd_pid 2>/dev/null; vt_cleanup' EXIT

cat >"$root$confdir/vigil.env" <<EOT
VIGIL_SUPERVISOR_OPTS="--timeout 1s"
VIGIL_WORKER_OPTS="--interval 200ms"
VIGIL_FLEET_OPTS="--etcd $url --host ct --ttl ${ttl}s --timeout 1s"
EOT
mkdir -p "$root/etc/systemd/system/vigil-worker@.service.d"
printf '[Service]\nRestartSec=3s\n' >"$root/etc/systemd/system/vigil-worker@.service.d/test.conf"

vt_boot
ct systemd-sysusers >/dev/null
ct systemd-tmpfiles --create /usr/lib/tmpfiles.d/vigil.conf
ct systemctl daemon-reload
verify=$(ct systemd-analyze verify vigil-fleet.service 2>&1)
check "systemd-analyze verify vigil-fleet.service is clean${verify:+: $verify}" test -z "$verify"
score=$(ct systemd-analyze security vigil-fleet.service 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "     exposure of vigil-fleet.service: ${score:-unknown}"
check "exposure $score <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'

ct systemctl enable --now vigil-supervisor.socket >/dev/null 2>&1
ct systemctl start vigil-supervisor.service vigil-worker@a.service vigil-worker@b.service vigil-fleet.service
check "vigil-fleet.service active (Type=notify: ready)" ct systemctl is-active -q vigil-fleet.service
check "the supervisor keeps PrivateNetwork=yes" test \
	"$(ct systemctl show -p PrivateNetwork --value vigil-supervisor.service)" = yes
view() { "$fleet" status --json --etcd "$url" --timeout 1s 2>/dev/null; }
wstate() { view | jq -r --arg w "$1" '.hosts[] | select(.host == "ct") | .workers[] | select(.worker == $w) | .state'; }
both_alive() { [[ $(wstate a) == alive && $(wstate b) == alive ]]; }
check "host ct and workers a, b alive in etcd, seen from outside" wait_until 20 both_alive
check "the host key names the supervisor's pid" test \
	"$(view | jq -r '.hosts[] | select(.host == "ct") | .info.supervisor_pid')" = \
	"$(ct systemctl show -p MainPID --value vigil-supervisor.service)"

t0=$(now_ms)
ct systemctl kill -s KILL vigil-worker@a.service
a_dead() { [[ $(wstate a) == dead ]]; }
check "a killed in the container: dead in the fleet view" wait_until 5 a_dead
echo "     dead in the fleet view $(($(now_ms) - t0)) ms after the kill (timeout 1 s, polling status)"
a_back() { [[ $(wstate a) == alive ]]; }
check "systemd restarts a: alive again in the view" wait_until 15 a_back

t1=$(now_ms)
ct systemctl stop vigil-supervisor.service vigil-supervisor.socket
lost() { [[ $(view | jq -r '.hosts[] | select(.host == "ct") | .state') == lost ]]; }
check "supervisor stopped: host ct lost" wait_until $((ttl + 5)) lost
echo "     host lost $(($(now_ms) - t1)) ms after the supervisor stopped (TTL ${ttl} s)"
check "its workers unknown, not dead" test "$(view | jq -r '[.hosts[] | select(.host == "ct") | .workers[].state] | unique | join(",")')" = unknown
check "vigil-fleet.service still active, waiting for the supervisor" ct systemctl is-active -q vigil-fleet.service
ct systemctl start vigil-supervisor.socket vigil-supervisor.service
check "supervisor back: host ct up again" wait_until 15 both_alive
if [[ $fail -ne 0 ]]; then
	echo "---- journal of vigil-fleet.service"
	journal -u vigil-fleet.service | tail -n 40
fi
vt_finish
