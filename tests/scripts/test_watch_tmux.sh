#!/usr/bin/env bash
# `vigilctl watch` on a real terminal: run it in a detached tmux session
# against a real supervisor and worker, read the screen with capture-pane,
# kill the worker and watch its row turn dead in place, then press q.
# Usage: test_watch_tmux.sh BINDIR_SUPERVISOR BINDIR_WORKER
set -uo pipefail

sbin=$1 wbin=$2
command -v tmux >/dev/null || { echo "tmux is not installed (scripts/deps test)"; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-watch.XXXXXX")
sess="vigil-watch-$$"
export TMUX_TMPDIR=$dir # a private tmux server, not the user's
sup="" wrk=""
cleanup() {
	tmux kill-server 2>/dev/null
	for p in $wrk $sup; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT

pass=0 fail=0
check() {
	local what=$1
	shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $what"; fi
}
screen() { tmux capture-pane -p -t "$sess"; }
# screen_has SECONDS REGEX: the screen shows it within SECONDS
screen_has() {
	for _ in $(seq $(($1 * 20))); do screen | grep -Eq "$2" && return 0; sleep 0.05; done
	return 1
}

"$sbin/vigil-supervisor" --socket "$dir/s.sock" --control "$dir/c.sock" --timeout 500ms \
	2>"$dir/sup.log" &
sup=$!
for _ in $(seq 100); do [[ -S $dir/c.sock ]] && break; sleep 0.05; done
"$wbin/vigil-worker" --name web-1 --supervisor "$dir/s.sock" --socket "$dir/w.sock" \
	--interval 100ms 2>"$dir/wrk.log" &
wrk=$!

tmux new-session -d -s "$sess" -x 120 -y 20 \
	"$sbin/vigilctl --control $dir/c.sock watch --interval 200ms; echo watch-exited-\$?; sleep 30"
check "the live view shows the worker alive" screen_has 5 '^web-1 +alive'
check "with its header" screen_has 1 "^vigil on $dir/c.sock, every 200ms, q quits"
first=$(screen | grep -c '^NAME ')
check "one table on the screen (redrawn in place, not scrolled)" test "$first" -eq 1
kill -KILL "$wrk"
wait "$wrk" 2>/dev/null
wrk=""
check "a killed worker turns dead on the same screen" screen_has 5 '^web-1 +dead'
check "still one table" test "$(screen | grep -c '^NAME ')" -eq 1
tmux send-keys -t "$sess" q
check "q quits, exit 0" screen_has 5 '^watch-exited-0'
alt() { tmux display -p -t "$1" '#{alternate_on}'; }
# alt_is SECONDS PANE 0|1: the pane is (not) on the alternate screen within SECONDS
alt_is() {
	for _ in $(seq $(($1 * 20))); do [[ $(alt "$2") == "$3" ]] && return 0; sleep 0.05; done
	return 1
}
check "and the terminal is back from the alternate screen" alt_is 2 "$sess" 0

# Ctrl-Z and fg in an interactive shell, as a user does: the terminal is
# given back while stopped, and taken again (keys unechoed, q quits) after.
js="$sess-job"
tmux new-session -d -s "$js" -x 120 -y 20 "env PS1='prompt\$ ' bash --norc --noprofile -i"
sleep 0.3
tmux send-keys -t "$js" "$sbin/vigilctl --control $dir/c.sock watch --interval 200ms" Enter
check "watch on the alternate screen" alt_is 5 "$js" 1
tmux send-keys -t "$js" C-z
check "Ctrl-Z leaves the alternate screen" alt_is 5 "$js" 0
tmux send-keys -t "$js" "fg" Enter
check "fg takes it again" alt_is 5 "$js" 1
check "and redraws the table" bash -c "for _ in \$(seq 100); do tmux capture-pane -p -t '$js' | grep -q '^NAME ' && exit 0; sleep 0.05; done; exit 1"
tmux send-keys -t "$js" q
check "q still quits at once after fg (raw mode again)" alt_is 5 "$js" 0

if [[ $fail -ne 0 ]]; then
	echo "--- screen"; screen
	echo "--- supervisor log"; cat "$dir/sup.log"
fi
echo "watch: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
