#!/bin/sh
# test_prometheus_rules.sh DIR: check vigil.rules.yml in DIR with the real
# promtool (syntax, and lint), then run its unit tests, vigil.rules.test.yml.
# Exits 77 (skipped) without promtool, except under CI, where that fails.
set -eu

dir=$1
if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool is not installed (Debian package prometheus; scripts/deps test)" >&2
	[ -n "${CI:-}" ] && exit 1
	exit 77
fi
cd "$dir"
promtool check rules vigil.rules.yml
promtool test rules vigil.rules.test.yml
