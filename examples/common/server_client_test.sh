#!/bin/bash
# Starts an example server, runs its client against it, checks the client's exit code and that
# each expected line is in its output, and that the server stops on SIGTERM.
#   server_client_test.sh [--mode=tcp|unix|tls|mtls] SERVER CLIENT 'expected line' ...
# tcp (default): --port=0 on loopback, client --target=127.0.0.1:PORT.
# unix: server --listen=unix:SOCKET, client --target=unix:SOCKET.
# tls: server --port=0 --tls_cert/--tls_key (tests/testdata/tls), client
#      --target=localhost:PORT --ca_file=ca.pem.
# mtls: tls, plus --tls_client_ca=ca.pem --bearer_token on the server and the client's
#      certificate and token on the client; without the token, or with a certificate from
#      another CA, the client must fail.
# CLIENT_ARGS (environment): more client flags, e.g. --protocol=connect.
set -u
source examples/common/test_lib.sh || exit 1
mode=tcp
case "${1:-}" in --mode=*) mode=${1#--mode=}; shift ;; esac
server=$1 client=$2; shift 2
log=$TEST_TMPDIR/server.log
certs=tests/testdata/tls
# Under /tmp: TEST_TMPDIR is longer than a Unix socket path may be (107 bytes).
sock=/tmp/h2rpc-example-$$.sock
case $mode in
  tcp) "$server" --port=0 >"$log" 2>&1 & ;;
  unix) "$server" --listen="unix:$sock" >"$log" 2>&1 & ;;
  tls) "$server" --port=0 --tls_cert=$certs/server.pem --tls_key=$certs/server.key >"$log" 2>&1 & ;;
  mtls) "$server" --port=0 --tls_cert=$certs/server.pem --tls_key=$certs/server.key \
          --tls_client_ca=$certs/ca.pem --bearer_token=s3cret >"$log" 2>&1 & ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -f "$sock"' EXIT
wait_listening "$log"
case $mode in
  tcp) client_args=(--target="127.0.0.1:$port") ;;
  unix)
    [ "$where" = "unix:$sock" ] || { echo "listening on $where, not unix:$sock"; exit 1; }
    [ -S "$sock" ] || { echo "no socket file at $sock"; exit 1; }
    client_args=(--target="unix:$sock") ;;
  tls) client_args=(--target="localhost:$port" --ca_file=$certs/ca.pem) ;;
  mtls) client_args=(--target="localhost:$port" --ca_file=$certs/ca.pem --bearer_token=s3cret
                     --tls_client_cert=$certs/client.pem --tls_client_key=$certs/client.key) ;;
esac
client_args+=(${CLIENT_ARGS:-})
out=$(timeout 30 "$client" "${client_args[@]}" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "client exit code $rc"; exit 1; }
for line in "$@"; do
  grep -qF -- "$line" <<<"$out" || { echo "missing in the client's output: $line"; exit 1; }
done
if [ "$mode" = tls ]; then
  # The same client without the CA (cleartext to a TLS server) must fail, naming the target.
  bad=$(timeout 30 "$client" --target="localhost:$port" 2>&1) && { echo "cleartext to TLS succeeded"; exit 1; }
  grep -qF "localhost:$port" <<<"$bad" || { echo "the failure does not name the target: $bad"; exit 1; }
fi
if [ "$mode" = mtls ]; then
  # Without the token: UNAUTHENTICATED from the handler. With a certificate from another CA:
  # refused at the handshake.
  bad=$(timeout 30 "$client" "${client_args[@]:0:2}" \
        --tls_client_cert=$certs/client.pem --tls_client_key=$certs/client.key 2>&1) &&
    { echo "a call without the bearer token succeeded"; exit 1; }
  grep -qF "UNAUTHENTICATED" <<<"$bad" || { echo "no UNAUTHENTICATED without the token: $bad"; exit 1; }
  bad=$(timeout 30 "$client" "${client_args[@]:0:3}" \
        --tls_client_cert=$certs/rogue_client.pem --tls_client_key=$certs/rogue_client.key 2>&1) &&
    { echo "a client certificate from another CA was accepted"; exit 1; }
fi
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "the server did not stop on SIGTERM"; exit 1; fi
grep -q "stopped" "$log" || { echo "no graceful stop:"; cat "$log"; exit 1; }
if [ "$mode" = unix ] && [ -e "$sock" ]; then echo "the socket file outlived the server"; exit 1; fi
echo "ok"
