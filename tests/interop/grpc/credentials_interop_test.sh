#!/bin/bash
# credentials_interop_test.sh — h2rpc's credentials against grpc-js (tests/interop/grpc/
# node_credentials_peer.js), both ways, with the helloworld example programs:
#   1. grpc-js client -> our greeter_server (--tls_client_ca, --bearer_token): with its client
#      certificate and a metadata-generator plugin sending the token it is greeted by its verified
#      identity; without the token it gets UNAUTHENTICATED (16); with a certificate from another
#      CA it gets no call (UNAVAILABLE, 14).
#   2. our greeter_client (--tls_client_cert/--tls_client_key, --bearer_token) -> a grpc-js
#      server requiring client certificates: the server sees "Bearer <token>"; without a client
#      certificate the call fails.
#
#   credentials_interop_test.sh --greeter_server=P --greeter_client=P --peer=node_credentials_peer.js
#     --proto=helloworld.proto --package_json=P --certs=DIR
set -uo pipefail

declare -A ARG=()
for a in "$@"; do
  [[ $a == --*=* ]] || { echo "FATAL bad argument '$a'"; exit 2; }
  a=${a#--}
  ARG[${a%%=*}]=${a#*=}
done
die() { echo "FATAL $*"; exit 1; }
NODE=/opt/h2rpc/node20/bin/node
[[ -x $NODE ]] || NODE=/usr/bin/node
[[ -x $NODE ]] || NODE=$(command -v node) || die "node is not installed (make setup)"
pkg=$(readlink -f "${ARG[package_json]}") || die "cannot resolve package.json"
export NODE_PATH=${pkg%/package.json}/node_modules
[[ -d $NODE_PATH/@grpc/grpc-js ]] || die "no $NODE_PATH/@grpc/grpc-js: run 'make setup'"
C=${ARG[certs]}
PEER=("$NODE" "${ARG[peer]}" --proto="${ARG[proto]}")
TMP=${TEST_TMPDIR:-$(mktemp -d)}
PID=""
trap '[[ -n $PID ]] && kill -KILL $PID 2>/dev/null' EXIT
FAILED=0
check() {  # check NAME EXPECTED_SUBSTRING OUTPUT
  if grep -qF -- "$2" <<<"$3"; then echo "PASS $1"; else echo "FAIL $1: expected '$2' in: $3"; FAILED=1; fi
}
wait_port() {  # wait_port LOG REGEX -> PORT
  local p=""
  for _ in $(seq 400); do
    p=$(sed -n "s/$2/\1/p" "$1" | head -1)
    [[ -n $p ]] && { echo "$p"; return 0; }
    kill -0 $PID 2>/dev/null || break
    sleep 0.05
  done
  cat "$1" >&2
  return 1
}

# 1. grpc-js client -> our server.
"${ARG[greeter_server]}" --port=0 --tls_cert=$C/server.pem --tls_key=$C/server.key \
  --tls_client_ca=$C/ca.pem --bearer_token=s3cret >"$TMP/ours.log" 2>&1 &
PID=$!
port=$(wait_port "$TMP/ours.log" '.*listening on .*:\([0-9]*\)$') || die "our server did not start"
client() { timeout 30 "${PEER[@]}" --mode=client --target=localhost:$port --ca=$C/ca.pem "$@" 2>&1; }
out=$(client --cert=$C/client.pem --key=$C/client.key --token=s3cret)
check "grpc-js client with certificate and token" "reply: Hello world (from h2rpc test client)" "$out"
# (grpc-js gives its plugin "https://localhost/helloworld.Greeter": it drops any port, where
# grpc-go and gRPC C++ drop only ":443", as h2rpc does; not checked: it is grpc-js's business.)
out=$(client --cert=$C/client.pem --key=$C/client.key --token=)
check "grpc-js client without token" "error: 16 missing or wrong bearer token" "$out"
out=$(client --cert=$C/rogue_client.pem --key=$C/rogue_client.key --token=s3cret)
check "grpc-js client with a certificate from another CA" "error: 14 " "$out"
kill -TERM $PID; wait $PID 2>/dev/null; PID=""

# 2. our client -> grpc-js server.
"${PEER[@]}" --mode=server --ca=$C/ca.pem --cert=$C/server.pem --key=$C/server.key \
  >"$TMP/node.log" 2>&1 &
PID=$!
port=$(wait_port "$TMP/node.log" '^listening on \([0-9]*\)$') || die "the grpc-js server did not start"
out=$(timeout 30 "${ARG[greeter_client]}" --target=localhost:$port --ca_file=$C/ca.pem \
  --tls_client_cert=$C/client.pem --tls_client_key=$C/client.key --bearer_token=s3cret 2>&1)
check "our client with certificate and token" "Greeter received: Hello world auth=Bearer s3cret" "$out"
out=$(timeout 30 "${ARG[greeter_client]}" --target=localhost:$port --ca_file=$C/ca.pem \
  --bearer_token=s3cret 2>&1) && { echo "FAIL our client without certificate: succeeded: $out"; FAILED=1; }
check "our client without certificate" "UNAVAILABLE" "$out"
exit $FAILED
