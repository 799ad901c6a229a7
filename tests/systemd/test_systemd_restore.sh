#!/usr/bin/env bash
# Nothing forgotten across a restart or a crash of the supervisor, under a
# real systemd (lib.sh boots a container): the registry's snapshot kept in
# the service's file descriptor store. One worker killed for good (dead,
# timed out), one alive with a restart behind it; after `systemctl restart
# vigil-supervisor`, and again after `systemctl kill -s KILL
# vigil-supervisor` (systemd restarts it), the dead one is still dead with
# its counts and goes on being reported, the alive one is alive with its
# counters continued, and no healthy worker got a false timeout.
# Usage: test_systemd_restore.sh BUILD_DIR
# Exit: 0 all passed, 1 a check failed, 77 skipped (see lib.sh).
set -uo pipefail

timeout_ms=1000 # the supervisor's --timeout
interval_ms=200 # the workers' --interval

. "$(dirname "$0")/lib.sh"
vt_setup "$1"
cat >"$root$confdir/vigil.env" <<EOT
VIGIL_SUPERVISOR_OPTS="--timeout ${timeout_ms}ms --log-level debug"
VIGIL_WORKER_OPTS="--interval ${interval_ms}ms"
EOT
d=$root/etc/systemd/system
mkdir -p "$d/vigil-worker@up.service.d" "$d/vigil-worker@down.service.d"
# "up" comes back well within a timeout: a restart, never a timeout.
printf '[Service]\nRestartSec=100ms\n' >"$d/vigil-worker@up.service.d/test.conf"
# "down" stays dead once killed.
printf '[Service]\nRestart=no\n' >"$d/vigil-worker@down.service.d/test.conf"

vt_boot
ct systemd-sysusers >/dev/null
ct systemd-tmpfiles --create /usr/lib/tmpfiles.d/vigil.conf
ct systemctl daemon-reload
ct systemctl enable --now vigil-supervisor.socket >/dev/null 2>&1
ct systemctl start vigil-supervisor.service vigil-worker@up.service vigil-worker@down.service
check "up alive" wait_until 10 is_state up alive
check "down alive" wait_until 10 is_state down alive

upid=$(field up pid)
ct systemctl kill -s KILL vigil-worker@up.service
check "up restarted by systemd (a new pid, RESTARTS 1)" wait_until 10 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"up\") | \"\\(.state) \\(.restarts)\"') == 'alive 1' ]]"
check "up's pid changed" test "$(field up pid)" != "$upid"
ct systemctl kill -s KILL vigil-worker@down.service
check "down dead, TIMEOUTS >= 1" wait_until 5 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"down\") | \"\\(.state) \\(.timeouts)\"') == dead\ [1-9]* ]]"
check "the snapshot is in the fd store" wait_until 3 bash -c \
	"(( \$(nsenter -t $pid1 -a systemctl show -p NFileDescriptorStore --value vigil-supervisor.service) >= 1 ))"

# across: how the supervisor goes (a command), and what the check says of it.
across() {
	local how=$1
	shift
	local spid down_t up_r up_beats up_t
	spid=$(ct systemctl show -p MainPID --value vigil-supervisor.service)
	down_t=$(field down timeouts)
	up_r=$(field up restarts)
	up_t=$(field up timeouts)
	up_beats=$(field up heartbeats)
	local cursor
	cursor=$(ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
	"$@"
	check "$how: a new supervisor" wait_until 15 bash -c \
		"p=\$(nsenter -t $pid1 -a systemctl show -p MainPID --value vigil-supervisor.service); [[ \$p != 0 && \$p != $spid ]] && nsenter -t $pid1 -a systemctl is-active -q vigil-supervisor.service"
	check "$how: status answers" wait_until 5 bash -c "nsenter -t $pid1 -a $bindir/vigilctl status --json >/dev/null"
	local st
	st=$(status)
	echo "     $how: down was dead with $down_t timeouts; now $(jq -c '.workers[] | select(.name=="down") | [.state, .timeouts]' <<<"$st")"
	echo "     $how: up had $up_r restarts, $up_beats heartbeats; now $(jq -c '.workers[] | select(.name=="up") | [.state, .restarts, .heartbeats, .timeouts]' <<<"$st")"
	# A snapshot is written within a second of a change: a SIGKILL may cost
	# the last second's timeouts of down (one per timeout), never more.
	check "$how: down still dead, its timeouts kept" test \
		"$(jq -r --argjson t "$down_t" '.workers[] | select(.name=="down") | "\(.state) \(.timeouts >= $t - 1)"' <<<"$st")" = "dead true"
	check "$how: up restored with its restarts" test "$(jq -r '.workers[] | select(.name=="up") | .restarts' <<<"$st")" = "$up_r"
	check "$how: up's heartbeats went on from where they were" test \
		"$(jq -r --argjson b "$up_beats" '.workers[] | select(.name=="up") | .heartbeats >= $b - 10' <<<"$st")" = true
	check "$how: the journal says both were restored" bash -c \
		"nsenter -t $pid1 -a journalctl -q -o cat --after-cursor '$cursor' -u vigil-supervisor.service | grep -q 'worker down restored (dead' &&
		 nsenter -t $pid1 -a journalctl -q -o cat --after-cursor '$cursor' -u vigil-supervisor.service | grep -q 'worker up restored ('"
	check "$how: down's history kept, with its restored event (vigilctl status down)" bash -c \
		"nsenter -t $pid1 -a $bindir/vigilctl status down --json | jq -e '.worker.history.events | map(.event) | (index(\"restored\") != null and index(\"timeout\") != null)' >/dev/null"
	local t
	t=$(field down timeouts)
	check "$how: down goes on being reported" wait_until 5 bash -c \
		"(( \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq '.workers[] | select(.name==\"down\") | .timeouts') >= $t + 2 ))"
	check "$how: no false timeout of up" test "$(field up timeouts)/$(field up state)" = "$up_t/alive"
}

across "systemctl restart" ct systemctl restart vigil-supervisor.service
sleep 1.5 # the changes of the last second reach the store
across "systemctl kill -s KILL" ct systemctl kill -s KILL vigil-supervisor.service
check "the crash was a SIGKILL systemd restarted" bash -c \
	"nsenter -t $pid1 -a journalctl -q -o cat -u vigil-supervisor.service | grep -qi 'killed.*KILL\|status=9/KILL'"

# systemd empties the store when the service stops (rather than restarts): a start afresh.
ct systemctl stop vigil-supervisor.service
ct systemctl start vigil-supervisor.service
check "after stop and start: up registered anew, down forgotten" wait_until 10 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '[.workers[] | \"\\(.name) \\(.restarts)\"] | join(\",\")') == 'up 0' ]]"

vt_finish
