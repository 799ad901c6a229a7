#!/usr/bin/env bash
# The Debian packages: scripts/package builds them from this tree into OUT
# (test_package, the booted-systemd suite, installs them from there), lintian
# reports no error, and every tag lintian still reports is explained in
# debian/README.source.
# Usage: test_package_build.sh SOURCE_DIR OUT
set -uo pipefail
src=$1
out=$2

"$src/scripts/package" --out "$out" || { echo "FAIL: scripts/package"; exit 1; }
for p in vigil libvigil0 libvigil-dev; do
	ls "$out"/${p}_*.deb >/dev/null 2>&1 || { echo "FAIL: no ${p}_*.deb in $out"; exit 1; }
done
fail=0
for tag in $(sed -n 's/^[EWI]: [^:]*: \([a-z0-9.+-]*\).*/\1/p' "$out/lintian.txt" | sort -u); do
	if grep -q -- "^\* $tag\b" "$src/debian/README.source"; then
		echo "ok   lintian's $tag is explained in debian/README.source"
	else
		echo "FAIL: lintian's $tag is not explained in debian/README.source"
		fail=1
	fi
done
if grep -q '^E: ' "$out/lintian.txt"; then
	echo "FAIL: lintian reports errors"
	fail=1
fi
exit $fail
