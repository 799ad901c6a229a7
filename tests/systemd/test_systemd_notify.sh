#!/usr/bin/env bash
# Moving services from WatchdogSec= to vigil, in a booted systemd (252 here):
#  - systemd-timesyncd under the README's drop-in (vigil-worker --exec, the
#    sd_notify proxy) and WatchdogSec=3s: active, its STATUS= in systemctl
#    and vigilctl, vigil's timeout taken from systemd's WATCHDOG_USEC, a
#    SIGSTOPped daemon reported dead 3 s after its last ping, a stop stopped;
#  - under the shipped supervisor unit, services of other users named after
#    their unit: a root Type=simple shell loop of systemd-notify, and a
#    DynamicUser=yes python3-systemd program; 0 restarts, SIGSTOP reported.
# Usage: test_systemd_notify.sh BUILD_DIR SOURCE_DIR
# Exit: 0 passed, 1 a check failed, 77 skipped (see lib.sh).
set -uo pipefail

. "$(dirname "$0")/lib.sh"
src=$(cd "$2" && pwd)
vt_setup "$1"
command -v systemd-notify >/dev/null || skip "systemd-notify is missing"
/usr/bin/python3 -c 'import systemd.daemon' 2>/dev/null ||
	skip "python3-systemd is missing (scripts/deps test installs it)"
[[ -x $root/lib/systemd/systemd-timesyncd ]] || skip "systemd-timesyncd is not installed"

cat >"$root$confdir/vigil.env" <<EOT
VIGIL_SUPERVISOR_OPTS="--timeout 2s --log-level debug"
EOT

# The README's drop-in, verbatim but for the install prefix.
dropin=$(sed -n '/<!-- dropin: timesyncd -->/,/^```$/p' "$src/README.md" | sed '1,2d;$d')
[[ -n $dropin ]] || { echo "FAIL: no drop-in in README.md"; exit 1; }
d=$root/etc/systemd/system/systemd-timesyncd.service.d
mkdir -p "$d"
printf '%s\n' "$dropin" | sed "s|/usr/local/bin/|$bindir/|" >"$d/vigil.conf"
# For the test: a 3 s watchdog; timesyncd's conditions and CAP_SYS_TIME do not
# hold in a container; no restart, so that systemd's own watchdog (which
# fires too: the worker forwards the pings) cannot bring it back before
# vigil's deadline.
cat >"$d/test.conf" <<'EOT'
[Unit]
ConditionVirtualization=
[Service]
WatchdogSec=3s
AmbientCapabilities=
CapabilityBoundingSet=
Restart=no
EOT

# A root Type=simple service pinging with systemd-notify in a shell loop.
cat >"$root/etc/systemd/system/vt-shell.service" <<'EOT'
[Service]
Type=simple
Environment=NOTIFY_SOCKET=/run/vigil/supervisor.sock
ExecStart=/bin/sh -c 'while :; do systemd-notify WATCHDOG=1 "STATUS=shell loop"; sleep 0.3; done'
EOT
# A DynamicUser=yes program using python3-systemd (in group vigil, to reach the socket).
cat >"$root/etc/systemd/system/vt-dynamic.service" <<'EOT'
[Service]
Type=simple
DynamicUser=yes
SupplementaryGroups=vigil
Environment=NOTIFY_SOCKET=/run/vigil/supervisor.sock
ExecStart=/usr/bin/python3 /usr/local/lib/vt-dynamic.py
EOT
mkdir -p "$root/usr/local/lib"
cat >"$root/usr/local/lib/vt-dynamic.py" <<'EOT'
import time
from systemd import daemon
while True:
    daemon.notify("WATCHDOG=1\nSTATUS=dynamic")
    time.sleep(0.3)
EOT

vt_boot
ct systemd-sysusers >/dev/null
ct systemd-tmpfiles --create /usr/lib/tmpfiles.d/vigil.conf
ct systemctl daemon-reload

# ---- the shipped supervisor unit: secure, and able to name other users' services
score=$(ct systemd-analyze security vigil-supervisor.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "     exposure of vigil-supervisor.service: ${score:-unknown}"
check "vigil-supervisor.service exposure $score <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
ct systemctl enable --now vigil-supervisor.socket >/dev/null 2>&1
ct systemctl start vigil-supervisor.service
check "supervisor active" ct systemctl is-active -q vigil-supervisor.service

# ---- systemd-timesyncd under the README's drop-in
tsd=systemd-timesyncd.service
ct systemctl start "$tsd"
check "timesyncd reaches active (Type=notify: its READY=1 is passed on)" \
	wait_until 10 ct systemctl is-active -q "$tsd"
ct systemctl is-active -q "$tsd" || journal -u "$tsd" | tail -n 30
check "named after its unit, alive" wait_until 10 is_state "$tsd" alive
check "vigil's timeout is systemd's WatchdogSec (WATCHDOG_USEC): 3000 ms" \
	test "$(field "$tsd" timeout_ms)" = 3000
sd_status=$(ct systemctl show -p StatusText --value "$tsd")
echo "     systemctl status: '$sd_status'; vigilctl: '$(field "$tsd" status)'"
check "its STATUS= shows in systemctl status" test -n "$sd_status"
check "and the same in vigilctl status" wait_until 5 bash -c \
	"[[ -n '$sd_status' && \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"$tsd\") | .status') == \"$sd_status\" ]]"
worker=$(ct systemctl show -p MainPID --value "$tsd")
daemon=$(ct pgrep -P "$worker" | head -n 1)
check "the worker is the main process, timesyncd its child ($worker, $daemon)" \
	test -n "$daemon" -a "$(field "$tsd" pid)" = "$worker"
check "the daemon sees its own WATCHDOG_PID and NOTIFY_SOCKET" bash -c \
	"nsenter -t $pid1 -a cat /proc/$daemon/environ | tr '\\0' '\\n' | grep -qx WATCHDOG_PID=$daemon && \
	 nsenter -t $pid1 -a cat /proc/$daemon/environ | tr '\\0' '\\n' | grep -q '^NOTIFY_SOCKET=@'"

# Past WatchdogSec=3s: systemd's own watchdog is fed too (the pings are passed on).
sleep 4
check "past its 3 s WatchdogSec, still active with the same main process" bash -c \
	"nsenter -t $pid1 -a systemctl is-active -q $tsd && \
	 [[ \$(nsenter -t $pid1 -a systemctl show -p MainPID --value $tsd) == $worker ]] && \
	 [[ \$(nsenter -t $pid1 -a systemctl show -p NRestarts --value $tsd) == 0 ]]"
check "and alive in vigil, never timed out" test "$(field "$tsd" state)/$(field "$tsd" timeouts)" = "alive/0"

# systemctl stop: stopped, never dead.
ct systemctl stop "$tsd"
check "systemctl stop: stopped" wait_until 5 is_state "$tsd" stopped
sleep 3.5
check "and stays stopped past its timeout, no timeout" \
	test "$(field "$tsd" state)/$(field "$tsd" timeouts)" = "stopped/0"

# Started again, then its daemon SIGSTOPped: dead 3 s after its last ping.
ct systemctl start "$tsd"
check "started again: alive" wait_until 10 bash -c \
	"nsenter -t $pid1 -a systemctl is-active -q $tsd && [[ \$(nsenter -t $pid1 -a $bindir/vigilctl status --json | jq -r '.workers[] | select(.name==\"$tsd\") | .state') == alive ]]"
worker=$(ct systemctl show -p MainPID --value "$tsd")
daemon=$(ct pgrep -P "$worker" | head -n 1)
sleep 1
cursor=$(ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p')
ct kill -STOP "$daemon"
check "SIGSTOPped timesyncd reported dead" wait_until 8 is_state "$tsd" dead
silent=$(ct journalctl -q -o cat --after-cursor "$cursor" -u vigil-supervisor.service |
	sed -n "s/.*worker $tsd timed out (pid [0-9]*, missed 1, silent for \([0-9.]*\)ms.*/\1/p" | head -n 1)
echo "     timesyncd stopped: dead after a silence of ${silent}ms (timeout 3000ms)"
check "dead 3 s after its last ping (+-50 ms): ${silent}ms" \
	awk -v s="${silent:-0}" 'BEGIN { exit !(s >= 3000 && s <= 3050) }'
ct kill -CONT "$daemon" 2>/dev/null || true
ct systemctl stop "$tsd" 2>/dev/null || true

# ---- other users' services, named after their units
ct systemctl start vt-shell.service vt-dynamic.service
check "root shell loop of systemd-notify: vt-shell.service alive" wait_until 10 is_state vt-shell.service alive
check "DynamicUser=yes python3-systemd: vt-dynamic.service alive" wait_until 10 is_state vt-dynamic.service alive
sleep 10
for u in vt-shell vt-dynamic; do
	main=$(ct systemctl show -p MainPID --value $u.service)
	got="$(field $u.service state)/$(field $u.service restarts)/$(field $u.service timeouts)"
	check "$u.service over 10 s: alive, 0 restarts, 0 timeouts ($got)" test "$got" = "alive/0/0"
	check "$u.service: the pid shown is its main process ($main)" test "$(field $u.service pid)" = "$main"
	ct kill -STOP "$main"
	check "$u.service: its main process SIGSTOPped is reported dead" wait_until 5 is_state $u.service dead
	ct kill -CONT "$main"
done
uid=$(field vt-dynamic.service uid)
check "the dynamic user's uid is shown (${uid:-none})" test "${uid:-0}" -gt 0
check "no sender was left unnamed (no_worker, no_cgroup)" test \
	"$(status | jq -r '.supervisor.invalid_by_reason | "\(.no_worker)/\(.no_cgroup)"')" = "0/0"
ct systemctl stop vt-shell.service vt-dynamic.service

vt_finish
