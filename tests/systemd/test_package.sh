#!/usr/bin/env bash
# The Debian packages under a real systemd: boot a container on an overlay of
# this machine's root (tests/systemd/lib.sh), install the .debs scripts/package
# built with apt-get, as an admin would, and check what installing, removing
# and purging do to the units, the user, /etc/vigil and /run/vigil.
# Usage: test_package.sh DEB_DIR   (the directory of scripts/package --out)
# Exit: 0 all passed, 1 a check failed, 77 skipped (no root, no nspawn, no
# overlayfs); under CI=true a skip is a failure.
set -uo pipefail

debs=$(cd "$1" && pwd)

. "$(dirname "$0")/lib.sh"
ls "$debs"/vigil_*.deb "$debs"/libvigil0_*.deb >/dev/null 2>&1 ||
	{ echo "FAIL: no vigil_*.deb and libvigil0_*.deb in $debs (run scripts/package --out $debs)"; exit 1; }
vt_mount
# Where the package puts things (prefix /usr, debian/vigil.install).
confdir=/etc/vigil
bindir=/usr/bin
mkdir -p "$root/var/tmp/vigil-debs"
cp "$debs"/vigil_*.deb "$debs"/libvigil0_*.deb "$root/var/tmp/vigil-debs/"
files=()
for f in "$root"/var/tmp/vigil-debs/*.deb; do files+=("/var/tmp/vigil-debs/${f##*/}"); done
# A container image's policy-rc.d (exit 101: start no service) is this
# machine's, not a Debian host's: without it, maintainer scripts start and
# stop units as they do on a booted system.
rm -f "$root/usr/sbin/policy-rc.d"
vt_boot

apt() { ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >>"$base/apt.log" 2>&1; }
gone() { ! ct test -e "$1"; }
unit_files() { ct systemctl list-unit-files --no-legend 'vigil*' | awk '{print $1}'; }

# ---- install: the socket and the supervisor are enabled and running
check "apt-get install ./vigil_*.deb ./libvigil0_*.deb" \
	apt install "${files[@]}"
check "vigil-supervisor.socket enabled and active" bash -c \
	"nsenter -t $pid1 -a systemctl is-enabled -q vigil-supervisor.socket && nsenter -t $pid1 -a systemctl is-active -q vigil-supervisor.socket"
check "vigil-supervisor.service enabled and active" bash -c \
	"nsenter -t $pid1 -a systemctl is-enabled -q vigil-supervisor.service && nsenter -t $pid1 -a systemctl is-active -q vigil-supervisor.service"
check "the system user vigil exists (sysusers)" ct getent passwd vigil
check "/run/vigil/workers belongs to vigil (tmpfiles)" \
	test "$(ct stat -c %U:%a /run/vigil/workers)" = vigil:770
check "/etc/vigil/vigil.env and vigil.conf are conffiles" bash -c \
	"[[ \$(nsenter -t $pid1 -a dpkg-query -W -f='\${Conffiles}' vigil | awk '{print \$1}' | sort | tr '\n' ' ') == '/etc/vigil/vigil.conf /etc/vigil/vigil.env ' ]]"
verify=$(ct systemd-analyze verify vigil-supervisor.socket vigil-supervisor.service vigil-worker@a.service 2>&1)
check "systemd-analyze verify is clean${verify:+: $verify}" test -z "$verify"

# ---- a worker, the admin's way
ct systemctl enable --now vigil-worker@web-1 >/dev/null 2>&1
check "systemctl enable --now vigil-worker@web-1: alive in vigilctl status" wait_until 15 is_state web-1 alive
check "vigilctl check web-1 says OK" bash -c \
	"nsenter -t $pid1 -a $bindir/vigilctl check web-1 | grep -q '^VIGIL OK'"
ct cat /etc/vigil/vigil.env >/dev/null
echo "# an admin's line" | ct tee -a /etc/vigil/vigil.env >/dev/null
ct tee /etc/vigil/worker-web-1.env >/dev/null <<<'VIGIL_WORKER_OPTS="--interval 500ms"'

# ---- remove: everything stops, the configuration stays
check "apt-get remove vigil" apt remove vigil
for u in vigil-supervisor.socket vigil-supervisor.service vigil-worker@web-1.service; do
	check "$u stopped by the removal" bash -c "! nsenter -t $pid1 -a systemctl is-active -q $u"
done
check "no vigil process left" bash -c "! nsenter -t $pid1 -a pgrep -f '/usr/s?bin/vigil'"
check "/etc/vigil stays after remove" ct test -f /etc/vigil/vigil.env

# ---- purge: nothing of vigil's is left but the user
check "apt-get purge vigil libvigil0" apt purge vigil libvigil0
check "/etc/vigil is gone" gone /etc/vigil
check "/run/vigil is gone" gone /run/vigil
left=$(unit_files)
check "no vigil unit file left${left:+: $left}" test -z "$left"
# systemd lets go of a stopped unit whose file is gone at its next garbage
# collection, which a cgroup still being removed can delay for a moment.
no_units() { [[ -z $(ct systemctl list-units --all --no-legend --plain "vigil*") ]]; }
wait_until 10 no_units
loaded=$(ct systemctl list-units --all --no-legend --plain "vigil*")
check "no vigil unit loaded${loaded:+: $loaded}" test -z "$loaded"
# Every file the container wrote is in the overlay's upper directory. Not
# the package's: the .debs copied in, and man-db's cache of formatted pages
# (systemd-analyze verify above read the units' Documentation= pages).
files=$(cd "$base/upper" && find . -iname '*vigil*' ! -path './var/tmp/vigil-debs*' \
	! -path './var/cache/man/*' | sort)
check "no file named vigil written anywhere${files:+: $files}" test -z "$files"
check "the system user stays (Debian practice)" ct getent passwd vigil

[[ $fail -ne 0 ]] && { echo "---- apt"; tail -n 40 "$base/apt.log"; }
vt_finish
