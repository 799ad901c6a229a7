#!/usr/bin/env bash
# The shipped vigil-fleet.service: systemd-analyze verify is clean, its
# offline exposure score is at most 2.0, it may use the network (AF_INET,
# no PrivateNetwork) while vigil-supervisor.service keeps PrivateNetwork=yes,
# and it is not restarted after exit 2 (usage) or 3 (superseded). And the
# command line: bad flags exit 2 naming what was wrong; a view with no etcd
# to read exits 1 saying so.
#   test_fleet_unit.sh BUILD_DIR
set -uo pipefail
bin=${1:?usage: test_fleet_unit.sh BUILD_DIR}
unit=$bin/systemd/vigil-fleet.service sup=$bin/systemd/vigil-supervisor.service
. "$(dirname "$0")/lib.sh"
need systemd-analyze python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fleet-unit.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# The unit as installed, but running the binary of this build.
sed "s|^ExecStart=[^ ]*|ExecStart=$(realpath "$bin/fleet/vigil-fleet")|" "$unit" >"$dir/vigil-fleet.service"
# Its Documentation= is the man page of this build.
mkdir -p "$dir/man/man8"
cp "$bin/man/vigil-fleet.8" "$dir/man/man8/"
out=$(MANPATH=$dir/man systemd-analyze verify "$dir/vigil-fleet.service" 2>&1)
check "systemd-analyze verify is clean${out:+: $out}" test -z "$out"
score=$(systemd-analyze security --offline=true "$dir/vigil-fleet.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "     exposure of vigil-fleet.service: ${score:-unknown}"
check "exposure ${score:-unknown} <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'
check "vigil-fleet may reach etcd over TCP" grep -q '^RestrictAddressFamilies=.*AF_INET' "$unit"
check "vigil-fleet has no PrivateNetwork" sh -c "! grep -q '^PrivateNetwork=yes' '$unit'"
check "vigil-supervisor keeps PrivateNetwork=yes" grep -q '^PrivateNetwork=yes' "$sup"
check "no restart after a usage error or when superseded" grep -q '^RestartPreventExitStatus=2 3$' "$unit"
fleet=$bin/fleet/vigil-fleet
usage() { # usage MESSAGE ARGS...: exit 2, and MESSAGE on stderr
	local want=$1 out rc
	shift
	out=$("$fleet" "$@" 2>&1 >/dev/null)
	rc=$?
	[[ $rc -eq 2 && $out == *"$want"* ]] || { echo "  vigil-fleet $*: exit $rc, '$out'"; return 1; }
}
check "--etcd without http[s]:// is a usage error" usage "'ftp://x:1' is not http[s]://HOST:PORT" --etcd ftp://x:1 status
check "--etcd without a port is a usage error" usage "is not http[s]://HOST:PORT" --etcd http://x status
check "--ttl below 2s is a usage error" usage "--ttl: out of range: 1s" --ttl 1s
check "--ttl in fractions is a usage error" usage "--ttl: etcd takes whole seconds" --ttl 2500ms
check "--keepalive not below --ttl is a usage error" usage "--keepalive must be shorter than --ttl" --ttl 3s --keepalive 3s
check "--timeout above 6s is a usage error" usage "--timeout: out of range" --timeout 7s
check "a bad --host is a usage error" usage "--host: use 1 to 64 of" --host "a/b"
check "an unknown command is a usage error" usage "unknown command (status or watch): stat" stat
check "an unknown option is a usage error" usage "unknown option --bogus" --bogus
check "--help exits 0 and documents --grace" sh -c "'$fleet' --help | grep -q -- --grace"
port=$(free_ports 1)
out=$("$fleet" status --etcd "http://127.0.0.1:$port" --timeout 200ms 2>&1)
rc=$?
check "status with no etcd exits 1 saying so ($rc: $out)" \
	test "$rc" -eq 1 -a -n "$(grep 'no etcd member answered' <<<"$out")"
exit $fail
