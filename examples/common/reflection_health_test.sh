#!/bin/bash
# Health and reflection of an example server, with real clients: the buf CLI (`buf curl`, server
# reflection v1 and v1alpha: list services, list methods, a call described by reflection, and
# grpc.health.v1.Health/Check) and grpcio (health_client.py: Check, NOT_FOUND, and a Watch that
# the server's shutdown ends with NOT_SERVING).
#   reflection_health_test.sh [--mode=tcp|tls] SERVER PACKAGE_JSON HEALTH_CLIENT HEALTH_DESC \
#       SERVICE METHOD JSON_REQUEST 'expected output'
set -u
source examples/common/test_lib.sh || exit 1
mode=tcp
case "${1:-}" in --mode=*) mode=${1#--mode=}; shift ;; esac
server=$1 package_json=$2 health_client=$3 health_desc=$4 service=$5 method=$6 data=$7 expect=$8
log=$TEST_TMPDIR/server.log
certs=tests/testdata/tls
find_buf "$package_json"

case $mode in
  tcp) "$server" --port=0 >"$log" 2>&1 & ;;
  tls) "$server" --port=0 --tls_cert=$certs/server.pem --tls_key=$certs/server.key >"$log" 2>&1 & ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
wait_listening "$log"
case $mode in
  tcp) url=http://127.0.0.1:$port; buf_args=(--http2-prior-knowledge)
       py_args=(--target="127.0.0.1:$port") ;;
  tls) url=https://localhost:$port; buf_args=(--cacert=$certs/ca.pem)
       py_args=(--target="localhost:$port" --ca_file=$certs/ca.pem) ;;
esac

run() {  # prints the command's output; fails the test if it fails
  local out
  out=$(timeout 30 "$@" 2>&1) || { echo "failed: $*"; echo "$out"; exit 1; }
  echo "$out"
}

for protocol in grpc-v1 grpc-v1alpha; do
  echo "--- buf curl, reflection $protocol"
  reflect=(--protocol=grpc "${buf_args[@]}" --reflect-protocol=$protocol)
  out=$(run "$buf" curl "${reflect[@]}" --list-services "$url")
  echo "$out"
  for s in "$service" grpc.health.v1.Health grpc.reflection.v1.ServerReflection \
      grpc.reflection.v1alpha.ServerReflection; do
    expect_in "$s" "$out"
  done
  out=$(run "$buf" curl "${reflect[@]}" --list-methods "$url")
  echo "$out"
  expect_in "$service/$method" "$out"
  out=$(run "$buf" curl "${reflect[@]}" -d "$data" "$url/$service/$method")
  echo "$out"
  expect_in "$expect" "$out"
  out=$(run "$buf" curl "${reflect[@]}" -d '{}' "$url/grpc.health.v1.Health/Check")
  echo "$out"
  expect_in '"status": "SERVING"' "$out"
  if out=$(timeout 30 "$buf" curl "${reflect[@]}" -d '{"service": "no.such.Service"}' \
      "$url/grpc.health.v1.Health/Check" 2>&1); then
    echo "Check of an unknown service succeeded: $out"; exit 1
  fi
  echo "$out"
  expect_in "not_found" "$out"
done
# A method reflection does not know: buf refuses it (the descriptors are what it relies on).
if out=$(timeout 30 "$buf" curl --protocol=grpc "${buf_args[@]}" -d '{}' "$url/$service/NoSuchMethod" 2>&1); then
  echo "an unknown method succeeded: $out"; exit 1
fi
echo "$out"

echo "--- grpcio health"
pylog=$TEST_TMPDIR/health_client.log
/usr/bin/python3 "$health_client" "${py_args[@]}" --descriptor_set="$health_desc" \
  --serving="$service" --watch_until_shutdown >"$pylog" 2>&1 &
py=$!
for _ in $(seq 400); do
  grep -q "watching: SERVING" "$pylog" && break
  kill -0 $py 2>/dev/null || break
  sleep 0.05
done
grep -q "watching: SERVING" "$pylog" || { echo "the watch did not start:"; cat "$pylog"; exit 1; }
kill -TERM $pid  # graceful shutdown: the watcher must hear NOT_SERVING and its call end
wait $py
rc=$?
cat "$pylog"
[ $rc -eq 0 ] || { echo "health_client exit code $rc"; exit 1; }
grep -q "health ok" "$pylog" || exit 1
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "the server did not stop on SIGTERM"; exit 1; fi
grep -q "stopped" "$log" || { echo "no graceful stop:"; cat "$log"; exit 1; }
echo "ok"
