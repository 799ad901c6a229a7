#!/usr/bin/env bash
# The manual pages: installed by `cmake --install` (into a scratch root, with
# DESTDIR) under MANDIR/man8 and man5; rendered by man(1) and groff without a
# warning (and linted by mandoc, where it is installed); and agreeing with
# the programs' --help: every long option of --help is in the page, every
# option the page's OPTIONS (or COMMANDS) section documents is in --help,
# with the same short option, and the default paths --help prints are the
# ones the installed page names. vigil.conf(5)'s example and the shipped
# vigil.conf pass --check-config, and every key of the shipped file has its
# entry in vigil.conf(5).
# Usage: test_man.sh SOURCE_DIR BUILD_DIR CMAKE INSTALL_PREFIX INSTALL_MANDIR
#                    VIGIL_SUPERVISOR VIGIL_WORKER VIGILCTL VIGIL_FLEET
set -uo pipefail

src=$1 build=$2 cmake=$3 prefix=$4 mandir=$5
declare -A bin=([vigil-supervisor]=$6 [vigil-worker]=$7 [vigilctl]=$8 [vigil-fleet]=$9)
export LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat
unset MANPATH MANOPT

for tool in man groff; do
	command -v $tool >/dev/null ||
		{ echo "$tool is not installed (scripts/deps test: man-db, groff-base)"; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-man.XXXXXX")
trap 'rm -rf "$dir"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {
	local what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}

# (3) cmake --install with DESTDIR puts the four pages under MANDIR/man8 and man5.
[[ $mandir == /* ]] || mandir=$prefix/$mandir
root=$dir/root
if ! DESTDIR=$root "$cmake" --install "$build" >"$dir/install.log" 2>&1; then
	bad "cmake --install $build"
	cat "$dir/install.log"
	echo "man: $pass passed, $fail failed"
	exit 1
fi
declare -A page=(
	[vigil-supervisor]=$root$mandir/man8/vigil-supervisor.8
	[vigil-worker]=$root$mandir/man8/vigil-worker.8
	[vigilctl]=$root$mandir/man8/vigilctl.8
	[vigil-fleet]=$root$mandir/man8/vigil-fleet.8
	[vigil.conf]=$root$mandir/man5/vigil.conf.5
)
for p in vigil-supervisor vigil-worker vigilctl vigil-fleet vigil.conf; do
	check "$p: installed as ${page[$p]#"$root"}" test -s "${page[$p]}"
done
[[ $fail -eq 0 ]] || { echo "man: $pass passed, $fail failed"; exit 1; }

# (1) Rendered without a warning, by man -l (man-db and groff, as a user reads
# it) and groff with every warning on; mandoc -Tlint where mandoc exists.
render_clean() {
	local p=$1 out=$dir/render.out err=$dir/render.err
	man --warnings -l "$p" >"$out" 2>"$err" || { echo "man -l $p failed"; cat "$err"; return 1; }
	[[ ! -s $err ]] || { echo "man -l $p warns:"; cat "$err"; return 1; }
	[[ -s $out ]] || { echo "man -l $p printed nothing"; return 1; }
	groff -mandoc -ww -z -Tutf8 "$p" 2>"$err" || { cat "$err"; return 1; }
	[[ ! -s $err ]] || { echo "groff -ww $p warns:"; cat "$err"; return 1; }
}
for p in vigil-supervisor vigil-worker vigilctl vigil-fleet vigil.conf; do
	check "$p: renders without a warning" render_clean "${page[$p]}"
done
if command -v mandoc >/dev/null; then
	for p in vigil-supervisor vigil-worker vigilctl vigil-fleet vigil.conf; do
		# Warnings and errors; STYLE's "referenced manual not found" depends on the machine.
		check "$p: mandoc -Tlint -Wwarning is clean" mandoc -Tlint -Wwarning "${page[$p]}"
	done
elif [[ ${CI:-} == true ]]; then
	bad "mandoc is not installed (scripts/deps test)"
else
	echo "note: mandoc is not installed: mandoc -Tlint skipped (scripts/deps test)"
fi

# (2) --help and the page agree.
# The long options --help prints, one per line.
help_longs() { grep -oE -- '--[a-z][a-z-]*' "$1" | sort -u; }
# "s:--socket" or ":--phi-pause" for each option line of --help.
help_pairs() {
	sed -nE 's/^ +-([A-Za-z]), (--[a-z][a-z-]*).*/\1:\2/p; s/^ +(--[a-z][a-z-]*).*/:\1/p' "$1" |
		sort -u
}
# The .It lines of the page's sections named in $2 (a regex), e.g. OPTIONS|COMMANDS.
page_items() { sed -nE "/^\.Sh ($2)\$/,/^\.Sh /p" "$1" | grep '^\.It'; }
# The same pairs from the page's OPTIONS section: ".It Fl s , Fl -socket Ar path".
page_pairs() {
	page_items "$1" OPTIONS |
		sed -nE 's/^\.It Fl ([A-Za-z]) , Fl (-[a-z][a-z-]*).*/\1:-\2/p; s/^\.It Fl (-[a-z][a-z-]*).*/:-\1/p' |
		sort -u
}
for p in vigil-supervisor vigil-worker vigilctl vigil-fleet; do
	h=$dir/$p.help
	if ! "${bin[$p]}" --help >"$h" 2>"$dir/$p.help.err" || [[ -s $dir/$p.help.err ]]; then
		bad "$p --help: exit 0, nothing on stderr"
		continue
	fi
	m=${page[$p]}
	missing=""
	for o in $(help_longs "$h"); do
		# Documented as a flag (.Fl -name), not only mentioned.
		grep -qE -- "Fl -${o#--}([^a-z-]|\$)" "$m" || missing+=" $o"
	done
	check "$p: every long option of --help is in $p.${m##*.} (missing:$missing)" test -z "$missing"
	extra=""
	for o in $(page_items "$m" 'OPTIONS|COMMANDS' | grep -oE 'Fl -[a-z][a-z-]*' | sed 's/^Fl /-/' |
		sort -u); do
		grep -qE -- "(^|[^a-z-])$o([^a-z-]|\$)" "$h" || extra+=" $o"
	done
	check "$p: every option the page documents is in --help (not in --help:$extra)" test -z "$extra"
	if ! diff <(help_pairs "$h") <(page_pairs "$m") >"$dir/pairs.diff"; then
		bad "$p: short and long options differ between --help (<) and OPTIONS (>)"
		cat "$dir/pairs.diff"
	else
		ok
	fi
	# The default paths --help prints (no placeholders) are the page's.
	missing=""
	while read -r path; do
		grep -qF -- "$path" "$m" || missing+=" $path"
	done < <(grep -oE 'default /[^ ;)]+' "$h" | sed 's/^default //' | grep -v '[A-Z]' | sort -u)
	check "$p: the installed page names the defaults of --help (missing:$missing)" \
		test -z "$missing"
done

# vigilctl: the commands of --help are the page's COMMANDS.
check "vigilctl: the commands of --help are the page's COMMANDS" diff \
	<(sed -n '/^Commands:/,/^$/p' "$dir/vigilctl.help" | sed -nE 's/^  ([a-z]+) .*/\1/p' | sort) \
	<(page_items "${page[vigilctl]}" COMMANDS | sed -nE 's/^\.It Cm ([a-z]+).*/\1/p' | sort)

# vigil.conf(5): its example is a valid file; so is the shipped one, whose
# every key has an entry; every [supervisor] key is an option of --help.
conf5=${page[vigil.conf]}
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$conf5" | sed -n '/^\.Bd -literal/,/^\.Ed/p' |
	sed '1d' | sed '/^\.Ed/,$d' >"$dir/example.conf"
check "vigil.conf.5: the example has a [supervisor] section" grep -q '^\[supervisor\]' \
	"$dir/example.conf"
check_config() {
	"${bin[vigil-supervisor]}" --config "$1" --check-config >"$dir/check.out" 2>&1 ||
		{ cat "$dir/check.out"; return 1; }
}
check "vigil.conf.5: the example passes --check-config" check_config "$dir/example.conf"
check "systemd/vigil.conf passes --check-config" check_config "$src/systemd/vigil.conf"
missing=""
while read -r k; do
	grep -qE "^\.It Ic $k " "$conf5" || missing+=" $k"
done < <(sed -nE 's/^#?([a-z][a-z-]*) *=.*/\1/p' "$src/systemd/vigil.conf" | sort -u)
check "vigil.conf.5 documents every key of systemd/vigil.conf (missing:$missing)" test -z "$missing"
extra=""
while read -r k; do
	grep -qE -- "--$k([^a-z-]|\$)" "$dir/vigil-supervisor.help" || extra+=" $k"
done < <(sed -n '/^\.Ss The \[supervisor\] section/,/^\.Ss /p' "$conf5" |
	sed -nE 's/^\.It Ic ([a-z][a-z-]*) .*/\1/p')
check "vigil.conf.5: every [supervisor] key is an option (not in --help:$extra)" test -z "$extra"

echo "man: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
