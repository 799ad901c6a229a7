#!/usr/bin/env bash
# End-to-end under a real systemd: boot a container with systemd-nspawn on an
# overlay of this machine's root, install the build into it with
# `cmake --install`, and drive vigil's units the way an admin would.
# Usage: test_systemd.sh BUILD_DIR
# Exit: 0 all passed, 1 a check failed, 77 skipped (no root, no nspawn, no
# overlayfs); under CI=true a skip is a failure.
set -uo pipefail

timeout_ms=1000  # the supervisor's --timeout in the test configuration
interval_ms=200  # the workers' --interval
restart_s=3      # the workers' RestartSec: longer than the timeout

. "$(dirname "$0")/lib.sh"
vt_setup "$1"
# The admin's knobs: the options file, and drop-ins for timings.
cat >"$root$confdir/vigil.env" <<EOT
VIGIL_SUPERVISOR_OPTS="--timeout ${timeout_ms}ms --log-level debug"
VIGIL_WORKER_OPTS="--interval ${interval_ms}ms"
EOT
mkdir -p "$root/etc/systemd/system/vigil-worker@.service.d" "$root/etc/systemd/system/vigil-supervisor.service.d"
printf '[Service]\nRestartSec=%ss\n' "$restart_s" >"$root/etc/systemd/system/vigil-worker@.service.d/test.conf"
printf '[Service]\nWatchdogSec=2s\n' >"$root/etc/systemd/system/vigil-supervisor.service.d/test.conf"

vt_boot

# ---- units are clean and secure
units="vigil-supervisor.socket vigil-supervisor.service vigil-worker@a.service"
ct systemd-sysusers >/dev/null
ct systemd-tmpfiles --create /usr/lib/tmpfiles.d/vigil.conf
ct systemctl daemon-reload
verify=$(ct systemd-analyze verify $units 2>&1)
check "systemd-analyze verify is clean${verify:+: $verify}" test -z "$verify"
for u in vigil-supervisor.service vigil-worker@a.service; do
	score=$(ct systemd-analyze security "$u" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	echo "     exposure of $u: ${score:-unknown}"
	check "$u exposure $score <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
done

# ---- start everything
ct systemctl enable --now vigil-supervisor.socket >/dev/null 2>&1
ct systemctl start vigil-supervisor.service vigil-worker@a.service vigil-worker@b.service
check "supervisor active" ct systemctl is-active -q vigil-supervisor.service
check "worker a alive" wait_until 10 is_state a alive
check "worker b alive" wait_until 10 is_state b alive
check "sd_notify STATUS= reaches systemd" wait_until 5 bash -c \
	"nsenter -t $pid1 -a systemctl show -p StatusText --value vigil-supervisor.service | grep -q '2 workers: 2 alive'"

# ---- SIGKILL a worker: reported dead on time, restarted by systemd, alive again
apid=$(field a pid)
t0=$(now_ms)
ct systemctl kill -s KILL vigil-worker@a.service
check "killed worker reported dead" wait_until 5 is_state a dead
took=$(($(now_ms) - t0))
echo "     dead in vigilctl ${took}ms after the kill (timeout ${timeout_ms}ms)"
check "reported within timeout + 1s" test "$took" -le $((timeout_ms + 1000))
check "reported no earlier than timeout - interval" test "$took" -ge $((timeout_ms - interval_ms - 20))
check "journal has the timeout" wait_until 2 bash -c \
	"nsenter -t $pid1 -a journalctl -q -o cat -u vigil-supervisor.service | grep -q 'worker a timed out (pid $apid, missed 1'"
# Structured fields (sd_journal_send): an admin filters by worker and event.
check "journalctl -u vigil-supervisor WORKER=a EVENT=timeout finds it, with MISSED= and PID=" \
	bash -c "nsenter -t $pid1 -a journalctl -q -o cat -u vigil-supervisor.service WORKER=a EVENT=timeout MISSED=1 PID=$apid | grep -q 'worker a timed out'"
check "and WORKER=b does not" bash -c \
	"! nsenter -t $pid1 -a journalctl -q -o cat -u vigil-supervisor.service WORKER=b EVENT=timeout | grep -q ."
echo "     journal, as an admin sees it:"
journal -u vigil-supervisor.service -o short | grep -E "worker a (timed out|registered|restarted|recovered)" | head -n 4 | sed 's/^/       /'
silent=$(journal -u vigil-supervisor.service | sed -n "s/.*worker a timed out (pid $apid, missed 1, silent for \([0-9.]*\)ms.*/\1/p" | head -n 1)
echo "     the supervisor measured a silence of ${silent}ms at detection"
check "systemd restarts it with a new pid" wait_until $((restart_s + 10)) bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"a\") | \"\\(.state) \\(.pid)\"') == alive* ]] && \
	 [[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"a\") | .pid') != $apid ]]"
check "a counted one restart" test "$(field a restarts)" = 1
check "b never left alive" test "$(field b timeouts)/$(field b state)/$(field b restarts)" = "0/alive/0"

# ---- restart the supervisor: the socket keeps the heartbeats, none is lost
# The registry is restored (test_systemd_restore.sh), counters included: a
# heartbeat lost across the restart would show as a sequence number that ran
# ahead of the count of heartbeats, last_seq - heartbeats growing.
cursor=$(ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
declare -A gap
for w in a b; do gap[$w]=$(status | jq --arg n "$w" '.workers[] | select(.name == $n) | .last_seq - .heartbeats'); done
timeouts_before=$(status | jq '[.workers[].timeouts] | add')
ct systemctl restart vigil-supervisor.service
check "supervisor back, both alive" wait_until 10 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '[.workers[] | .state] | join(\",\")') == alive,alive ]]"
sleep 1
for w in a b; do
	last=$(journal --after-cursor "$cursor" -u vigil-supervisor.service | sed -n "s/.*at shutdown: worker $w .* last seq \([0-9]*\)$/\1/p" | tail -n 1)
	restored=$(journal --after-cursor "$cursor" -u vigil-supervisor.service | sed -n "s/.*worker $w restored (.*, seq \([0-9]*\),.*/\1/p" | tail -n 1)
	now_gap=$(status | jq --arg n "$w" '.workers[] | select(.name == $n) | .last_seq - .heartbeats')
	echo "     $w: old supervisor's last seq ${last:-?}, restored at ${restored:-?}; seq - heartbeats ${gap[$w]} before, $now_gap after"
	check "$w restored where the old supervisor stopped" test -n "$last" -a "${restored:-x}" = "$last"
	check "no heartbeat of $w lost across the restart" test "${gap[$w]}" = "$now_gap"
done
sleep $(((timeout_ms * 2) / 1000))
check "no false timeout after the restart" test "$(status | jq '[.workers[].timeouts] | add')" = "$timeouts_before"

# ---- a hung supervisor is restarted by systemd's watchdog
spid=$(ct systemctl show -p MainPID --value vigil-supervisor.service)
ct kill -STOP "$spid"
check "watchdog restarts a stopped supervisor" wait_until 20 bash -c \
	"p=\$(nsenter -t $pid1 -a systemctl show -p MainPID --value vigil-supervisor.service); [[ \$p != 0 && \$p != $spid ]] && nsenter -t $pid1 -a systemctl is-active -q vigil-supervisor.service"
check "the journal says watchdog" bash -c \
	"nsenter -t $pid1 -a journalctl -q -o cat -u vigil-supervisor.service | grep -qi 'watchdog timeout'"
check "workers alive under the new supervisor" wait_until 10 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '[.workers[] | .state] | join(\",\")') == alive,alive ]]"

# ---- systemctl stop: stopped, not dead
ct systemctl stop vigil-worker@b.service
check "stopped worker is stopped" wait_until 5 is_state b stopped
sleep $(((timeout_ms * 2) / 1000))
check "and stays stopped, no timeout" test "$(field b state)/$(field b timeouts)" = "stopped/0"

vt_finish
