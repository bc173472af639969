#!/bin/bash
# The interop server serves health and reflection by default: `buf curl` lists its services and
# methods by reflection (v1 and v1alpha), makes a UnaryCall described by it, and checks health.
#   reflection_health_test.sh [--tls] SERVER PACKAGE_JSON
set -u
tls=0
[ "${1:-}" = --tls ] && { tls=1; shift; }
server=$1 package_json=$2
modules=$(dirname "$(readlink -f "$package_json")")/node_modules
buf=$modules/@bufbuild/buf-linux-x64/bin/buf
[ -x "$buf" ] || { echo "no buf CLI at $buf: run 'make setup'"; exit 1; }
export HOME=$TEST_TMPDIR XDG_CACHE_HOME=$TEST_TMPDIR/cache
log=$TEST_TMPDIR/server.log
if [ $tls = 1 ]; then "$server" --port=0 --use_tls >"$log" 2>&1 & else "$server" --port=0 >"$log" 2>&1 & fi
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
if [ $tls = 1 ]; then
  url=https://localhost:$port; args=(--protocol=grpc --cacert=tests/testdata/tls/ca.pem)
else
  url=http://127.0.0.1:$port; args=(--protocol=grpc --http2-prior-knowledge)
fi
check() {  # check 'expected' buf-curl-args...
  local want=$1 out
  shift
  out=$(timeout 30 "$buf" curl "${args[@]}" "$@" 2>&1) || { echo "failed: buf curl $*"; echo "$out"; exit 1; }
  echo "$out"
  grep -qF -- "$want" <<<"$out" || { echo "missing: $want"; exit 1; }
}
for protocol in grpc-v1 grpc-v1alpha; do
  echo "--- reflection $protocol"
  for s in grpc.testing.TestService grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
    check "$s" --reflect-protocol=$protocol --list-services "$url"
  done
  check grpc.testing.TestService/FullDuplexCall --reflect-protocol=$protocol --list-methods "$url"
  # 3 zero bytes back: base64 "AAAA".
  check '"body": "AAAA"' --reflect-protocol=$protocol -d '{"responseSize": 3}' \
    "$url/grpc.testing.TestService/UnaryCall"
  check '"status": "SERVING"' --reflect-protocol=$protocol -d '{}' \
    "$url/grpc.health.v1.Health/Check"
done
echo ok
