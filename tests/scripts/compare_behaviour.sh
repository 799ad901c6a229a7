#!/usr/bin/env bash
# Record the demo scenario with the binaries of BUILD_DIR
# (tests/scripts/record_behaviour.sh) and compare it with the recording
# committed in tests/scripts/behaviour/, made with main's binaries before the
# supervisor was restructured: what vigilctl events --json, vigilctl status
# and /metrics show must not change.
#
# Usage: compare_behaviour.sh BUILD_DIR
# Exit status: 0 identical; 1 different (the diff is printed) or the
# scenario failed; 2 usage; 77 (skipped) without curl, jq or socat, except
# under CI=true, where that fails.
set -uo pipefail

if [[ $# -ne 1 ]]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
baseline=$here/behaviour

for tool in curl jq socat; do
	if ! command -v $tool >/dev/null; then
		echo "$tool is not installed (scripts/deps test)"
		[[ -n ${CI:-} ]] && exit 1
		exit 77
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A busy machine can miss one of the scenario's 600ms windows (exit 3): that
# says nothing about behaviour, so such a recording is made again.
for attempt in 1 2 3; do
	rm -rf "$work/now"
	"$here/record_behaviour.sh" "$1" "$work/now"
	rc=$?
	[[ $rc -ne 3 ]] && break
	echo "compare_behaviour: attempt $attempt was too slow for the scenario"
done
if [[ $rc -ne 0 ]]; then
	echo "compare_behaviour: no recording (record_behaviour.sh exit $rc)"
	exit 1
fi

if diff -ru "$baseline" "$work/now"; then
	echo "compare_behaviour: identical to $baseline ($(find "$baseline" -type f | wc -l) files)"
	exit 0
fi
echo "compare_behaviour: the behaviour differs from $baseline (- baseline, + now)."
echo "If the change is intended, record a new baseline and commit it:"
echo "  rm -r tests/scripts/behaviour && tests/scripts/record_behaviour.sh BUILD_DIR tests/scripts/behaviour"
exit 1
