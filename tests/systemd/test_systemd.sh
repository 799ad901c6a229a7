#!/usr/bin/env bash
# End-to-end under a real systemd: boot a container with systemd-nspawn on an
# overlay of this machine's root, install the build into it with
# `cmake --install`, and drive vigil's units the way an admin would.
# Usage: test_systemd.sh BUILD_DIR
# Exit: 0 all passed, 1 a check failed, 77 skipped (no root, no nspawn, no
# overlayfs); under CI=true a skip is a failure.
set -uo pipefail

build=$(cd "$1" && pwd)
timeout_ms=1000  # the supervisor's --timeout in the test configuration
interval_ms=200  # the workers' --interval
restart_s=3      # the workers' RestartSec: longer than the timeout

skip() {
	if [[ "${CI:-}" == true ]]; then
		echo "FAIL: the systemd suite cannot run here: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

[[ $(id -u) -eq 0 ]] || skip "needs root (to mount an overlay and boot a container)"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (scripts/deps test installs systemd-container)"
command -v jq >/dev/null || skip "jq is missing (scripts/deps test installs it)"

base=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
machine=vigil-e2e-$$
nspawn=""
pid1=""
cleanup() {
	if [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null; then
		nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1 || true
	fi
	if [[ -n $nspawn ]]; then
		for _ in $(seq 150); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$nspawn" 2>/dev/null || true
		wait "$nspawn" 2>/dev/null || true
	fi
	mountpoint -q "$base/root" && umount "$base/root"
	mountpoint -q "$base" && umount "$base"
	rmdir "$base" 2>/dev/null || true
}
trap cleanup EXIT

mount -t tmpfs tmpfs "$base" || skip "cannot mount a tmpfs on $base"
mkdir -p "$base"/{upper,work,root}
mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root" ||
	skip "cannot mount an overlay of / on $base/root"
root=$base/root

# Install exactly as a user would, into the container's root.
DESTDIR=$root cmake --install "$build" >"$base/install.log" 2>&1 || {
	cat "$base/install.log"
	echo "FAIL: cmake --install"
	exit 1
}
confdir=$(sed -n 's/^EnvironmentFile=-\(.*\)\/vigil.env$/\1/p' "$build/systemd/vigil-supervisor.service")
bindir=$(sed -n 's|^ExecStart=\(.*\)/vigil-worker .*|\1|p' "$build/systemd/vigil-worker@.service")
# The admin's knobs: the options file, and drop-ins for timings.
cat >"$root$confdir/vigil.env" <<EOT
VIGIL_SUPERVISOR_OPTS="--timeout ${timeout_ms}ms --log-level debug"
VIGIL_WORKER_OPTS="--interval ${interval_ms}ms"
EOT
mkdir -p "$root/etc/systemd/system/vigil-worker@.service.d" "$root/etc/systemd/system/vigil-supervisor.service.d"
printf '[Service]\nRestartSec=%ss\n' "$restart_s" >"$root/etc/systemd/system/vigil-worker@.service.d/test.conf"
printf '[Service]\nWatchdogSec=2s\n' >"$root/etc/systemd/system/vigil-supervisor.service.d/test.conf"

systemd-nspawn -D "$root" -b -M "$machine" --register=no --keep-unit >"$base/console.log" 2>&1 &
nspawn=$!
ct() { nsenter -t "$pid1" -a "$@"; }
# The container's PID 1 is the newest child of systemd-nspawn (an earlier
# child is a short-lived helper); basic.target is all vigil needs, while the
# image's other services may take their time.
booted=""
for _ in $(seq 600); do
	pid1=$(pgrep -n -P "$nspawn")
	if [[ -n $pid1 ]] && ct systemctl is-active -q basic.target 2>/dev/null; then
		booted=yes
		break
	fi
	kill -0 "$nspawn" 2>/dev/null || break
	sleep 0.2
done
[[ -n $booted ]] || skip "the container's systemd did not reach basic.target: $(ct systemctl is-system-running 2>&1); console: $(tail -n 5 "$base/console.log")"

pass=0
fail=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   $what"
	else
		fail=$((fail + 1))
		echo "FAIL $what"
	fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
status() { ct "$bindir/vigilctl" status --json 2>/dev/null; }
field() { status | jq -r --arg n "$1" ".workers[] | select(.name == \$n) | .$2"; }
# wait_until SECONDS COMMAND...: poll every 50ms.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		(($(now_ms) > end)) && return 1
		sleep 0.05
	done
}
is_state() { [[ "$(field "$1" state)" == "$2" ]]; }
journal() { ct journalctl -q -o cat "$@"; }

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
cursor=$(ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
ct systemctl restart vigil-supervisor.service
check "supervisor back, both alive" wait_until 10 bash -c \
	"[[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '[.workers[] | .state] | join(\",\")') == alive,alive ]]"
for w in a b; do
	last=$(journal --after-cursor "$cursor" -u vigil-supervisor.service | sed -n "s/.*at shutdown: worker $w .* last seq \([0-9]*\)$/\1/p" | tail -n 1)
	first=$(journal --after-cursor "$cursor" -u vigil-supervisor.service | sed -n "s/.*worker $w registered (pid [0-9]*, seq \([0-9]*\),.*/\1/p" | tail -n 1)
	echo "     $w: old supervisor's last seq ${last:-?}, new supervisor's first ${first:-?}"
	check "no heartbeat of $w lost across the restart" test -n "$last" -a "${first:-0}" = "$((last + 1))"
done
sleep $(((timeout_ms * 2) / 1000))
check "no false timeout after the restart" test "$(status | jq '[.workers[].timeouts] | add')" = 0

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

if [[ $fail -ne 0 ]]; then
	echo "---- journal of the vigil units"
	journal -u vigil-supervisor.service -u vigil-supervisor.socket -u 'vigil-worker@*' | tail -n 80
fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
