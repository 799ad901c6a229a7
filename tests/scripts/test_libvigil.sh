#!/usr/bin/env bash
# libvigil as a user gets it: `cmake --install` the build into a scratch
# root, compile docs/examples against the installed library with the
# flags pkg-config gives, check the library exports exactly what vigil.h
# declares, then run both examples against a real vigil-supervisor.
# Usage: test_libvigil.sh SOURCE_DIR BUILD_DIR LIBDIR SUPERVISOR VIGILCTL [CFLAGS]
set -uo pipefail

src=$1 build=$2 libdir=$3 supervisor=$4 vigilctl=$5 cflags=${6:-}
for t in cc pkg-config jq nm readelf; do
	command -v $t >/dev/null || { echo "$t is not installed (scripts/deps test)"; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-libvigil.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

pass=0 fail=0
check() { # check WHAT COMMAND...
	local what=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $what"; fi
}
wait_until() { # wait_until SECONDS COMMAND...
	local n=$(($1 * 20))
	shift
	for _ in $(seq $n); do "$@" && return 0; sleep 0.05; done
	return 1
}
root=$dir/root
DESTDIR=$root cmake --install "$build" >"$dir/install.log" 2>&1 ||
	{ cat "$dir/install.log"; echo "FAIL cmake --install"; exit 1; }

# pkg-config finds the installed vigil.pc; the sysroot maps its paths into $root.
export PKG_CONFIG_PATH=$root$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
check "pkg-config knows vigil" pkg-config --exists vigil
check "pkg-config gives the package's version" \
	test "$(pkg-config --modversion vigil)" = "$(sed -n 's/^project(vigil VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")"
flags=$(pkg-config --cflags --libs vigil libevent_core)
# shellcheck disable=SC2086 # word splitting of compiler flags is intended
check "docs/examples/vigil-libevent.c compiles against the installed library" \
	cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror $cflags -o "$dir/ex-libevent" \
	"$src/docs/examples/vigil-libevent.c" $flags
# shellcheck disable=SC2086
check "docs/examples/vigil-noloop.c compiles against the installed library" \
	cc -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror $cflags -o "$dir/ex-noloop" \
	"$src/docs/examples/vigil-noloop.c" $(pkg-config --cflags --libs vigil)
# shellcheck disable=SC2086
check "vigil.h is plain C99" sh -c "echo '#include <vigil.h>' | cc -std=c99 -pedantic -Werror -fsyntax-only $(pkg-config --cflags vigil) -x c -"

lib=$root$libdir/libvigil.so.0
check "the installed library has SONAME libvigil.so.0" \
	sh -c "readelf -d '$lib' | grep -q 'SONAME.*\[libvigil.so.0\]'"
# The ABI is the header: every function it declares exported, nothing else.
sed -n 's/^[a-z][^;/]*[ *]\(vigil_[a-z_]*\)(.*/\1/p' "$src/lib/vigil.h" | sort >"$dir/declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort >"$dir/exported"
check "exports exactly what vigil.h declares ($(wc -l <"$dir/declared") functions)" \
	diff -u "$dir/declared" "$dir/exported"
check "the examples load the installed copy" \
	sh -c "LD_LIBRARY_PATH='$root$libdir' ldd '$dir/ex-noloop' | grep -q '$root$libdir/libvigil.so.0'"
export LD_LIBRARY_PATH=$root$libdir

"$supervisor" --socket "$dir/s.sock" --control "$dir/c.sock" --timeout 600ms 2>"$dir/sup.log" &
pids+=($!)
check "the supervisor started" wait_until 5 test -S "$dir/c.sock"
state() { # state NAME: its state, as vigilctl reports it
	"$vigilctl" --control "$dir/c.sock" status --json |
		jq -r --arg n "$1" '.workers[] | select(.name == $n) | .state'
}
field() { "$vigilctl" --control "$dir/c.sock" status --json |
	jq -r --arg n "$1" ".workers[] | select(.name == \$n) | .$2"; }

"$dir/ex-libevent" ex "$dir/s.sock" >"$dir/ex.out" 2>&1 &
ex=$!
pids+=($ex)
check "the libevent example registers" wait_until 5 sh -c "[ \"\$(\"$vigilctl\" --control '$dir/c.sock' status --json | jq -r '.workers[] | select(.name == \"ex\") | .state')\" = alive ]"
check "with its interval (200 ms)" test "$(field ex interval_ms)" = 200
kill -USR1 $ex
check "a hang is declared and reaches the program's TIMEOUT callback" \
	wait_until 5 grep -q "supervisor says we are late: missed 1" "$dir/ex.out"
check "the supervisor reports it dead" test "$(state ex)" = dead
kill -USR1 $ex
check "working again: alive" wait_until 3 sh -c "[ \"\$(\"$vigilctl\" --control '$dir/c.sock' status --json | jq -r '.workers[] | select(.name == \"ex\") | .state')\" = alive ]"
kill -TERM $ex
wait $ex
status=$?
check "SIGTERM: the program exits 0 (it was $status)" test $status -eq 0
check "and is reported stopped, not dead" wait_until 3 sh -c "[ \"\$(\"$vigilctl\" --control '$dir/c.sock' status --json | jq -r '.workers[] | select(.name == \"ex\") | .state')\" = stopped ]"

check "the no-loop example runs 10 periods and exits 0" \
	sh -c "'$dir/ex-noloop' nl 10 '$dir/s.sock' >'$dir/nl.out' 2>&1"
check "it says it sent 10 heartbeats" grep -q "sent 10 heartbeats" "$dir/nl.out"
check "the supervisor saw all 10" test "$(field nl heartbeats)" = 10
check "and a clean stop" test "$(state nl)" = stopped

if [[ $fail -ne 0 ]]; then
	echo "--- supervisor log"; cat "$dir/sup.log"
	echo "--- libevent example"; cat "$dir/ex.out"
	[[ -f $dir/nl.out ]] && { echo "--- no-loop example"; cat "$dir/nl.out"; }
fi
echo "libvigil: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
