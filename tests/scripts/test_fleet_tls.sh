#!/usr/bin/env bash
# vigil-fleet over TLS and with etcd authentication (docs/FLEET.md, "TLS and
# authentication"), on one real etcd member serving https with a CA and a
# server certificate made here by the openssl CLI:
#   1. a worker's state published over https (--cacert) reaches etcd;
#   2. with another CA the connection is refused, with a log line saying the
#      server's certificate is refused, and nothing is published;
#   2b. a server whose certificate (from the right CA) names another host
#      (openssl s_server) is refused, the log saying the name does not match;
#   3. --cert/--key: a key that does not match its certificate is a usage error;
#      a second member requiring client certificates (--client-cert-auth)
#      gets a worker published with --cert/--key, and refuses a publisher
#      without them (the log says the handshake failed);
#   4. with etcd authentication enabled (user root), a publisher with the
#      right --auth-file publishes; one with a wrong password logs that
#      authentication failed and publishes nothing, as does one with no
#      --auth-file; etcd's tokens live 1 s here (--auth-token-ttl 1): the
#      worker's death, 2 s later, is published with a new token; a user whose
#      role may only read and write /vigil/v1/ is enough to publish; `status`
#      reads the view over https with the auth file; an auth
#      file readable by others is refused (exit 2) naming the file.
# Skipped (77) with the reason where etcd is not installed, failed under CI=true.
#   test_fleet_tls.sh BUILD_DIR
set -uo pipefail
bin=$(realpath "${1:?usage: test_fleet_tls.sh BUILD_DIR}")
sup=$bin/supervisor/vigil-supervisor wrk=$bin/worker/vigil-worker fleet=$bin/fleet/vigil-fleet

. "$(dirname "$0")/lib.sh"
skip_unless_installed "Debian: etcd-server, etcd-client" etcd etcdctl
need openssl python3
need_built "$sup" "$wrk" "$fleet"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vigil-fleet-tls.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	sanitizer_reports "$dir"
	if [[ $fail -ne 0 || ${keep:-0} -eq 1 ]]; then echo "logs kept in $dir"; else rm -rf "$dir"; fi
	exit $fail
}
trap cleanup EXIT
die() { echo "FAIL: $1"; fail=1; exit 1; }

# A CA, a server certificate for 127.0.0.1 and localhost signed by it, and another CA.
cd "$dir" || exit 1
mkca() { # mkca NAME
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=vigil test $1" \
		-keyout "$1.key" -out "$1.pem" 2>/dev/null
}
mkca ca && mkca otherca || die "openssl could not make the CAs"
openssl req -newkey rsa:2048 -nodes -subj "/CN=etcd" -keyout server.key -out server.csr 2>/dev/null &&
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile ext -out server.pem 2>/dev/null || die "openssl could not sign"

# The same key, certified by the same CA for another name only.
printf 'subjectAltName=DNS:elsewhere.test\n' >ext2 &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile ext2 -out elsewhere.pem 2>/dev/null || die "openssl could not sign"

# A client certificate from the same CA.
openssl req -newkey rsa:2048 -nodes -subj "/CN=vigil-fleet" -keyout client.key -out client.csr 2>/dev/null &&
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-out client.pem 2>/dev/null || die "openssl could not sign"

read -r cport pport sport c2port p2port < <(free_ports 5)
url=https://127.0.0.1:$cport
etcd --name m0 --data-dir "$dir/m0" --listen-client-urls "$url" --advertise-client-urls "$url" \
	--cert-file server.pem --key-file server.key --auth-token-ttl 1 \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "m0=http://127.0.0.1:$pport" --log-level warn >"$dir/etcd.log" 2>&1 &
pids+=($!)
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$url" --cacert ca.pem --command-timeout=2s "$@"; }
wait_for 20 ctl endpoint health >/dev/null 2>&1 || die "etcd did not start over TLS"

"$sup" --socket "$dir/s.sock" --control "$dir/c.sock" --timeout 500ms >sup.log 2>&1 &
pids+=($!)
wait_for 10 test -S "$dir/c.sock" || die "the supervisor did not start"
"$wrk" --name w1 --supervisor "$dir/s.sock" --socket "$dir/w1.sock" --interval 100ms >w1.log 2>&1 &
wpid=$!
pids+=($!)
declare -A fpid
publish() { # publish HOST ARGS...: a vigil-fleet in the background, its log HOST.log
	local h=$1
	shift
	"$fleet" --etcd "$url" --host "$h" --control "$dir/c.sock" --ttl 3s --timeout 1s "$@" >"$h.log" 2>&1 &
	fpid[$h]=$!
	pids+=($!)
}
# stop HOST...: end those publishers (the supervisor takes 8 event subscribers)
stop() {
	local h
	for h in "$@"; do kill -TERM "${fpid[$h]}" && wait "${fpid[$h]}" 2>/dev/null; done
}
# has KEY [ETCDCTL ARGS]: the key exists in etcd
has() { [[ -n $(ctl "${@:2}" get --keys-only "$1" 2>/dev/null) ]]; }
logs() { grep -qs "$2" "$1.log"; }

# 1. Over https, verified against the CA.
publish tls --cacert ca.pem
check "1. a worker published over https reaches etcd" wait_for 10 has /vigil/v1/workers/tls/w1
# 2. Another CA: refused, said, nothing published.
publish wrongca --cacert otherca.pem
check "2. with another CA the certificate is refused in the log" \
	wait_for 10 logs wrongca "certificate is refused: unable to get local issuer certificate"
check "2. ... and nothing is published" sh -c "! ETCDCTL_API=3 etcdctl --endpoints '$url' --cacert ca.pem get --prefix --keys-only /vigil/v1/hosts/wrongca | grep -q ."
stop tls wrongca
# 2b. The right CA, the wrong name.
openssl s_server -quiet -accept "127.0.0.1:$sport" -cert elsewhere.pem -key server.key >s_server.log 2>&1 &
pids+=($!)
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null; }
wait_for 10 listening || die "openssl s_server did not start"
"$fleet" --etcd "https://127.0.0.1:$sport" --host wrongname --control "$dir/c.sock" --timeout 1s \
	--cacert ca.pem >wrongname.log 2>&1 &
fpid[wrongname]=$!
pids+=($!)
check "2b. a certificate for another name is refused in the log" \
	wait_for 10 logs wrongname "certificate is refused: IP address mismatch"
stop wrongname
# 3. A client key that is not the certificate's.
out=$("$fleet" status --etcd "$url" --cacert ca.pem --cert server.pem --key ca.key 2>&1)
rc=$?
check "3. --key not matching --cert exits 2 naming it ($rc)" \
	test "$rc" -eq 2 -a -n "$(grep -F -- '--key ca.key' <<<"$out")"
# 3. ... and a member that wants a client certificate.
url2=https://127.0.0.1:$c2port
etcd --name m1 --data-dir "$dir/m1" --listen-client-urls "$url2" --advertise-client-urls "$url2" \
	--cert-file server.pem --key-file server.key --client-cert-auth --trusted-ca-file ca.pem \
	--listen-peer-urls "http://127.0.0.1:$p2port" --initial-advertise-peer-urls "http://127.0.0.1:$p2port" \
	--initial-cluster "m1=http://127.0.0.1:$p2port" --log-level warn >"$dir/etcd2.log" 2>&1 &
pids+=($!)
ctl2() { ETCDCTL_API=3 etcdctl --endpoints "$url2" --cacert ca.pem --cert client.pem --key client.key --command-timeout=2s "$@"; }
wait_for 20 ctl2 endpoint health >/dev/null 2>&1 || die "the second etcd did not start"
"$fleet" --etcd "$url2" --host cc --control "$dir/c.sock" --timeout 1s --cacert ca.pem \
	--cert client.pem --key client.key >cc.log 2>&1 &
fpid[cc]=$!
pids+=($!)
"$fleet" --etcd "$url2" --host nocc --control "$dir/c.sock" --timeout 1s --cacert ca.pem \
	>nocc.log 2>&1 &
fpid[nocc]=$!
pids+=($!)
cc_has() { [[ -n $(ctl2 get --keys-only "$1" 2>/dev/null) ]]; }
check "3. with --cert/--key a worker is published where etcd wants a client certificate" \
	wait_for 10 cc_has /vigil/v1/workers/cc/w1
check "3. without them the handshake is refused, said in the log" \
	wait_for 10 logs nocc "etcd unreachable (.*TLS: .*alert bad certificate"
check "3. ... and nothing is published" sh -c "! ETCDCTL_API=3 etcdctl --endpoints '$url2' --cacert ca.pem --cert client.pem --key client.key get --prefix --keys-only /vigil/v1/hosts/nocc | grep -q ."
stop cc nocc

# 4. etcd authentication.
ctl user add root:rootpw >/dev/null && ctl user grant-role root root >/dev/null &&
	ctl auth enable >/dev/null || { echo "FAIL: could not enable etcd auth"; fail=1; }
ctl --user root:rootpw role add vigil >/dev/null &&
	ctl --user root:rootpw role grant-permission vigil --prefix=true readwrite /vigil/v1/ >/dev/null &&
	ctl --user root:rootpw user add fleet:fleetpw >/dev/null &&
	ctl --user root:rootpw user grant-role fleet vigil >/dev/null || die "could not add the etcd user fleet"
printf 'fleet:fleetpw\n' >fleet.auth
printf 'root:rootpw\n' >good.auth
printf 'root:wrong\n' >bad.auth
chmod 600 good.auth bad.auth fleet.auth
publish authed --cacert ca.pem --auth-file good.auth
check "4. with the right --auth-file a worker is published" \
	wait_for 10 has /vigil/v1/workers/authed/w1 --user root:rootpw
publish limited --cacert ca.pem --auth-file fleet.auth
check "4. a user whose role may only read and write /vigil/v1/ publishes" \
	wait_for 10 has /vigil/v1/workers/limited/w1 --user root:rootpw
stop limited
publish badpw --cacert ca.pem --auth-file bad.auth
check "4. a wrong password is logged as an authentication failure" \
	wait_for 10 logs badpw "authentication as root failed: .*authentication failed"
check "4. ... and nothing is published" sh -c "! ETCDCTL_API=3 etcdctl --endpoints '$url' --cacert ca.pem --user root:rootpw get --prefix --keys-only /vigil/v1/hosts/badpw | grep -q ."
stop badpw
publish noauth --cacert ca.pem
check "4. without --auth-file publishing fails, said in the log" \
	wait_for 10 logs noauth "etcd unreachable (.*user name is empty"
sleep 2
kill -KILL "$wpid"
wait "$wpid" 2>/dev/null
dead() { ctl --user root:rootpw get --print-value-only /vigil/v1/workers/authed/w1 | grep -q '"state":"dead"'; }
check "4. after the token expired, the worker's death is published with a new one" wait_for 10 dead
check "4. ... having authenticated again" logs authed "invalid auth token; authenticating again as root"
view_has() { # view_has HOST [AUTH FILE]: `status` over https lists HOST
	"$fleet" status --json --etcd "$url" --cacert ca.pem --auth-file "$2" --timeout 1s 2>/dev/null |
		grep -q "\"$1\""
}
check "4. vigil-fleet status reads the view over https as root" view_has authed good.auth
not() { ! "$@"; }
check "4. ... and not with a wrong password" not view_has authed bad.auth
chmod 644 good.auth
out=$("$fleet" status --etcd "$url" --cacert ca.pem --auth-file good.auth 2>&1)
rc=$?
check "4. an auth file readable by others is refused ($rc: $out)" \
	test "$rc" -eq 2 -a -n "$(grep -F 'good.auth: permissions 0644 are too open' <<<"$out")"
exit $fail
