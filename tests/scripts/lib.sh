# Shared by the shell tests of tests/scripts (source it after `set -uo pipefail`):
# what each of them would otherwise write again. Nothing here starts a process
# or exits but skip, need and need_built.
#   skip REASON                 SKIP: REASON, exit 77; under CI=true a failure:
#                               FAIL: REASON (CI=true: scripts/deps test installs it), exit 1
#   skip_unless_installed HINT TOOL...
#                               skip "TOOL is not installed (HINT)" for the first
#                               TOOL not on PATH
#   need TOOL...                FAIL: NAME needs TOOL (scripts/deps test), exit 1, for
#                               the first TOOL not on PATH (NAME: this script's, no .sh)
#   need_built FILE...          FAIL: FILE is not built, exit 1, for the first
#                               FILE that is not an executable
#   check WHAT COMMAND...       runs COMMAND: "ok: WHAT", or "FAIL: WHAT" and fail=1
#   now_ms                      CLOCK_REALTIME in ms
#   wait_for SECONDS COMMAND... polls every 20 ms until COMMAND succeeds; 1 if
#                               SECONDS pass first
#   free_ports N                N distinct free TCP ports on 127.0.0.1, one line, below
#                               the kernel's ephemeral range (see vigiltest.py)
#   sanitizer_reports DIR       "FAIL: a sanitizer report in FILE" and fail=1 for
#                               each *.log or *.err below DIR with an ASan, LSan or
#                               UBSan report (under the asan preset a leak is
#                               reported when a daemon exits)

fail=0
# Where this file is, absolute: a script may cd before it calls free_ports.
vigil_testlib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

skip() {
	if [[ "${CI:-}" == true ]]; then
		echo "FAIL: $1 (CI=true: scripts/deps test installs it)"
		exit 1
	fi
	echo "SKIP: $1"
	exit 77
}

skip_unless_installed() {
	local hint=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed ($hint)"
	done
}

need() {
	local t name=${0##*/}
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "FAIL: ${name%.sh} needs $t (scripts/deps test)"; exit 1; }
	done
}

need_built() {
	local b
	for b in "$@"; do
		[[ -x $b ]] || { echo "FAIL: $b is not built"; exit 1; }
	done
}

check() {
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

now_ms() { date +%s%3N; }

wait_for() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		(($(now_ms) > deadline)) && return 1
		sleep 0.02
	done
}

# Held open together while chosen, so that none repeats.
free_ports() {
	python3 -c '
import sys
sys.path.insert(0, sys.argv[2])
sys.dont_write_bytecode = True
import vigiltest
print(" ".join(str(p) for p in vigiltest.free_ports(int(sys.argv[1]))))' "$1" "$vigil_testlib_dir"
}

sanitizer_reports() {
	local f
	while IFS= read -r f; do
		grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f" &&
			{ echo "FAIL: a sanitizer report in $f"; fail=1; }
	done < <(find "$1" \( -name '*.log' -o -name '*.err' \))
	return 0
}
