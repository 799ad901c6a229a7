#!/usr/bin/env bash
# The supervisor's layers (docs/ARCHITECTURE.md): dependencies run one way,
#   core <- monitor <- adapters <- assembly
# and form no circle. Every #include "x.h" between supervisor/ files is
# checked: a file may include headers of its own layer or below, never above,
# and the graph of modules (a .c and its .h are one) has no cycle. A file in
# no layer is an error too, so that a new module must be placed.
#   test_layers.sh SOURCE_DIR
set -euo pipefail
src=${1:?usage: test_layers.sh SOURCE_DIR}
cd "$src/supervisor"

declare -A layer=(
	# core: pure, no socket, no event loop of its own
	[state]=0 [registry]=0 [command]=0 [allow]=0 [ctimeout]=0 [phi]=0 [identity]=0
	[policy]=0 [metrics]=0 [events]=0 [walk]=0 [statusdoc]=0 [netaddr]=0 [options]=0
	[config]=0 [configure]=0 [counters]=0 [fdbudget]=0 [statuspage]=0 [snapshot]=0
	# monitor: decisions and effects, and the context they share
	[monitor]=1 [report]=1 [escalate]=1 [claim]=1 [hooks]=1 [notify]=1 [supervisor]=1
	[store]=1 [restore]=1
	# adapters: sockets
	[listener]=2 [control]=2 [http]=2 [render]=2
	# assembly
	[main]=3 [reload]=3
	# vigilctl: a program of its own, on common/ and its own files only
	[vigilctl]=9 [check]=9
)
names=(core monitor adapters assembly)

fail=0
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in *.c *.h; do
	m=${f%.*}
	if [[ -z ${layer[$m]+x} ]]; then
		echo "test_layers: supervisor/$f is in no layer: place it in tests/scripts/test_layers.sh" >&2
		fail=1
		continue
	fi
	while read -r h; do
		d=${h%.h}
		[[ -f $h ]] || continue # common/ or a system header
		[[ $d == "$m" ]] && continue
		if [[ ${layer[$m]} -eq 9 && ${layer[$d]} -ne 9 ]]; then
			echo "test_layers: vigilctl's $f includes supervisor/$h: it must stand on common/ alone" >&2
			fail=1
		elif ((layer[$d] > layer[$m])); then
			echo "test_layers: supervisor/$f (${names[${layer[$m]}]}) includes $h" \
				"(${names[${layer[$d]}]}): a dependency pointing up" >&2
			fail=1
		fi
		echo "$m $d" >>"$edges"
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
# tsort reports every cycle it finds on stderr.
if ! cycles=$(sort -u "$edges" | tsort 2>&1 >/dev/null) || [[ -n $cycles ]]; then
	echo "test_layers: an include circle among supervisor/ modules:" >&2
	echo "$cycles" >&2
	fail=1
fi
n=$(sort -u "$edges" | wc -l)
((n > 20)) || { echo "test_layers: only $n include edges found: is the parser broken?" >&2; fail=1; }
[[ $fail -eq 0 ]] && echo "test_layers: $n include edges, one direction, no circle"
exit $fail
