#!/usr/bin/env bash
# scripts/package on a machine that lacks its build dependencies: an overlay
# of this machine's root (tests/systemd/lib.sh) with cmake, debhelper,
# lintian, libinih-dev and libjansson-dev removed, the tree's tracked files
# copied in, and scripts/package run there in systemd-nspawn. It must install
# what it needs from Debian's archive (network needed, so it is not a CTest
# test) and leave the three packages in build/package.
# Usage: tests/systemd/package_from_scratch.sh   (as root; about 2-3 min)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/systemd/lib.sh"
vt_mount
mkdir -p "$root/src"
(cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -C "$root/src" -xf -
removed="cmake debhelper lintian libinih-dev libjansson-dev"
systemd-nspawn -q -D "$root" --register=no --keep-unit --link-journal=no -M "vigil-pkg-$$" \
	--pipe /bin/bash -c "
	export DEBIAN_FRONTEND=noninteractive
	apt-get remove -y -qq $removed >/dev/null 2>&1
	for p in $removed; do
		dpkg-query -W -f='\${db:Status-Abbrev}' \$p 2>/dev/null | grep -q '^ii' && echo \"still installed: \$p\"
	done
	cd /src && scripts/package >/src/package.out 2>&1; echo \"scripts/package exit \$?\" >>/src/package.out
" >"$base/nspawn.log" 2>&1
tail -n 12 "$root/src/package.out"
check "scripts/package ran (nothing of $removed left before)" \
	bash -c "! grep -q 'still installed' '$base/nspawn.log' && grep -q '^scripts/package exit 0$' '$root/src/package.out'"
for p in vigil libvigil0 libvigil-dev; do
	check "${p}_*.deb in build/package" bash -c "ls '$root'/src/build/package/${p}_*.deb >/dev/null"
done
vt_finish
