#!/usr/bin/env bash
# Run README.md's socat recipes verbatim, in order, in one shell, with the
# freshly built binaries first on PATH, and check what each one printed.
# Usage: test_readme_socat.sh README.md BINDIR...
set -uo pipefail

readme=$1
shift
for d in "$@"; do PATH="$d:$PATH"; done
export PATH

command -v socat >/dev/null || { echo "socat is not installed (scripts/deps test)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-socat-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tmp"

# Each recipe is the ```sh block after a "<!-- recipe: NAME -->" line.
awk '
	/^<!-- recipe: [a-z]+ -->$/ { name = $3; next }
	name != "" && /^```sh$/ { printf "echo \"@@begin %s\"\n", name; inblock = 1; next }
	inblock && /^```$/ { printf "echo \"@@end %s $?\"\n", name; inblock = 0; name = ""; next }
	inblock { print }
' "$readme" >"$work/recipes.sh"

pass=0
fail=0
check() { # check NAME CONDITION-DESCRIPTION COMMAND...
	local name=$1 what=$2
	shift 2
	if "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL recipe $name: $what"
	fi
}

for r in setup a b c d cleanup; do
	check "$r" "present in $readme" grep -q "^echo \"@@begin $r\"$" "$work/recipes.sh"
done

# Its own session, so that anything a recipe leaves running can be ended here.
TMPDIR="$work/tmp" timeout 60 setsid bash "$work/recipes.sh" >"$work/out" 2>&1 &
runner=$!
wait $runner
rc=$?
kill -- -$runner 2>/dev/null || true
check all "ran to the end within 60s (exit $rc)" test $rc -eq 0

section() { sed -n "/^@@begin $1\$/,/^@@end $1 /p" "$work/out"; }
status_of() { sed -n "s/^@@end $1 \([0-9]*\)\$/\1/p" "$work/out"; }
has() { section "$1" | grep -qF -- "$2"; }

check a "exit 0" test "$(status_of a)" = 0
row_alive() { section "$1" | grep -q "^$2 *alive "; }
check a "vigilctl shows fake-1 alive" row_alive a fake-1
check b "timed out as planned" test "$(status_of b)" = 124
check b "received TIMEOUT=1" has b "TIMEOUT=1"
check b "TIMEOUT names fake-2" has b "WORKER=fake-2"
check b "MISSED counts up" has b "MISSED=2"
check c "exit 0" test "$(status_of c)" = 0
check c "shows a heartbeat" has c "WORKER=tapped"
check c "shows HEARTBEAT=1" has c "HEARTBEAT=1"
check c "shows a TIMEOUT going back" has c "TIMEOUT=1"
check d "exit 0" test "$(status_of d)" = 0
check d "status reply" has d '{"workers":['
check d "version reply" has d '"version":"'
check d "help reply" has d '"commands":{'
check cleanup "exit 0" test "$(status_of cleanup)" = 0
check cleanup "supervisor said it shut down" grep -q "shutting down" "$work/out"
check cleanup "nothing left in the scratch directory" test -z "$(ls -A "$work/tmp")"
check all "no sanitizer report from the daemons" bash -c "! grep -Eq 'runtime error:|Sanitizer' '$work/out'"

if [ $fail -ne 0 ]; then
	echo "---- output of the recipes ----"
	cat "$work/out"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
