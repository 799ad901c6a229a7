#!/usr/bin/env bash
# The fleet's alerts (contrib/prometheus, docs/FLEET.md): vigil-fleet.rules.yml
# checked and unit-tested with the real promtool; alertmanager-fleet.yml
# checked with amtool and run by the real Alertmanager on a loopback port,
# which is sent a VigilFleetHostLost for host b and VigilFleetWorkerDown for
# workers of b and of a: b's worker alert must be suppressed (inhibited), a's
# must stay active. Skipped (77) without the binaries, failed so under CI=true.
#   test_fleet_alerts.sh CONTRIB_PROMETHEUS_DIR
set -uo pipefail
src=${1:?usage: test_fleet_alerts.sh CONTRIB_PROMETHEUS_DIR}
. "$(dirname "$0")/lib.sh"
skip_unless_installed "scripts/deps test: prometheus, prometheus-alertmanager" \
	promtool amtool prometheus-alertmanager curl jq python3
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fleet-alerts.XXXXXX")
am=""
cleanup() {
	[[ -n $am ]] && { kill -TERM "$am" 2>/dev/null; wait "$am" 2>/dev/null; }
	rm -rf "$dir"
}
trap cleanup EXIT
check "promtool check rules" promtool check rules "$src/vigil-fleet.rules.yml"
check "promtool test rules" promtool test rules "$src/vigil-fleet.rules.test.yml"
check "amtool check-config" amtool check-config "$src/alertmanager-fleet.yml"

read -r web peer < <(free_ports 2)
url=http://127.0.0.1:$web
prometheus-alertmanager --config.file "$src/alertmanager-fleet.yml" --storage.path "$dir/data" \
	--web.listen-address "127.0.0.1:$web" --cluster.listen-address "" >"$dir/am.log" 2>&1 &
am=$!
check "Alertmanager ready" wait_for 10 curl -sf "$url/-/ready" -o /dev/null
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
curl -sf -XPOST -H 'Content-Type: application/json' "$url/api/v2/alerts" -d "[
 {\"labels\":{\"alertname\":\"VigilFleetHostLost\",\"host\":\"b\",\"severity\":\"critical\"},\"startsAt\":\"$now\"},
 {\"labels\":{\"alertname\":\"VigilFleetWorkerDown\",\"host\":\"b\",\"worker\":\"b1\",\"state\":\"dead\"},\"startsAt\":\"$now\"},
 {\"labels\":{\"alertname\":\"VigilFleetWorkerDown\",\"host\":\"a\",\"worker\":\"a1\",\"state\":\"dead\"},\"startsAt\":\"$now\"}
]" >/dev/null || { echo "FAIL: posting alerts"; exit 1; }
state() { # state HOST ALERTNAME: active, suppressed, or nothing
	curl -sf "$url/api/v2/alerts" | jq -r --arg h "$1" --arg n "$2" \
		'.[] | select(.labels.host == $h and .labels.alertname == $n) | .status.state'
}
settled() { [[ $(state b VigilFleetWorkerDown) == suppressed ]]; }
wait_for 5 settled
check "b's worker alert inhibited by b's host loss ($(state b VigilFleetWorkerDown))" \
	test "$(state b VigilFleetWorkerDown)" = suppressed
check "the host-lost alert itself active ($(state b VigilFleetHostLost))" \
	test "$(state b VigilFleetHostLost)" = active
check "a's worker alert still active ($(state a VigilFleetWorkerDown))" \
	test "$(state a VigilFleetWorkerDown)" = active
curl -sf "$url/api/v2/alerts" | jq -c '.[] | {alert: .labels.alertname, host: .labels.host, state: .status.state, inhibitedBy: .status.inhibitedBy}'
exit $fail
