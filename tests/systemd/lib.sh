# Shared by the booted-systemd suites (source it): mount an overlay of this
# machine's root on a tmpfs, install the build into it, boot it with
# systemd-nspawn, and the helpers every suite uses. Each suite gets its own
# mktemp directory and machine name, so suites may run side by side.
#   vt_setup BUILD_DIR   checks, mounts, `cmake --install`; sets $build $base
#                        $root $confdir $bindir; cleans up at exit
#   vt_mount             checks and mounts only, installs nothing (a suite that
#                        installs otherwise, e.g. the .debs); sets $base $root
#   (write drop-ins and configuration under $root here)
#   vt_boot              boots; sets $pid1; `ct CMD...` runs CMD inside
#   check DESCRIPTION COMMAND...; wait_until SECONDS COMMAND...
#   vt_finish            prints the tally (and the vigil journal on a failure)
#                        and exits 0 or 1
# Exit 77 (skipped) where a container cannot be booted; under CI=true a skip
# is a failure.

skip() {
	if [[ "${CI:-}" == true ]]; then
		echo "FAIL: the systemd suite cannot run here: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}

base=""
nspawn=""
pid1=""
vt_cleanup() {
	if [[ -n $pid1 ]] && kill -0 "$pid1" 2>/dev/null; then
		nsenter -t "$pid1" -a systemctl poweroff >/dev/null 2>&1 || true
	fi
	if [[ -n $nspawn ]]; then
		for _ in $(seq 150); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$nspawn" 2>/dev/null || true
		wait "$nspawn" 2>/dev/null || true
	fi
	[[ -n $base ]] || return 0
	mountpoint -q "$base/root" && umount "$base/root"
	mountpoint -q "$base" && umount "$base"
	rmdir "$base" 2>/dev/null || true
}

vt_mount() {
	[[ $(id -u) -eq 0 ]] || skip "needs root (to mount an overlay and boot a container)"
	command -v systemd-nspawn >/dev/null || skip "systemd-nspawn is missing (scripts/deps test installs systemd-container)"
	command -v jq >/dev/null || skip "jq is missing (scripts/deps test installs it)"
	base=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
	machine=vigil-e2e-$$
	trap vt_cleanup EXIT
	mount -t tmpfs tmpfs "$base" || skip "cannot mount a tmpfs on $base"
	mkdir -p "$base"/{upper,work,root}
	mount -t overlay overlay -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root" ||
		skip "cannot mount an overlay of / on $base/root"
	root=$base/root
}

vt_setup() {
	build=$(cd "$1" && pwd)
	vt_mount
	# Install exactly as a user would, into the container's root.
	DESTDIR=$root cmake --install "$build" >"$base/install.log" 2>&1 || {
		cat "$base/install.log"
		echo "FAIL: cmake --install"
		exit 1
	}
	confdir=$(sed -n 's/^EnvironmentFile=-\(.*\)\/vigil.env$/\1/p' "$build/systemd/vigil-supervisor.service")
	bindir=$(sed -n 's|^ExecStart=\(.*\)/vigil-worker .*|\1|p' "$build/systemd/vigil-worker@.service")
}

ct() { nsenter -t "$pid1" -a "$@"; }

# The container's PID 1 is the newest child of systemd-nspawn (an earlier
# child is a short-lived helper); basic.target is all vigil needs, while the
# image's other services may take their time.
vt_boot() {
	systemd-nspawn -D "$root" -b -M "$machine" --register=no --keep-unit >"$base/console.log" 2>&1 &
	nspawn=$!
	local booted=""
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
}

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

vt_finish() {
	if [[ $fail -ne 0 ]]; then
		echo "---- journal of the vigil units"
		journal -u vigil-supervisor.service -u vigil-supervisor.socket -u 'vigil-worker@*' | tail -n 80
	fi
	echo "$pass passed, $fail failed"
	[[ $fail -eq 0 ]] && exit 0
	exit 1
}
