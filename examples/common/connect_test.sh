#!/bin/bash
# The Connect protocol against an example server, with real clients: `buf curl --protocol connect`
# (connect-go's client; unary and server streaming, binary proto) over plain HTTP/1.1 (http://),
# h2c (--http2-prior-knowledge) or TLS (https://, HTTP/2 by ALPN), and plain curl with JSON for
# a unary call, for a Connect error and for a GET the method refuses. The server serves HTTP/1.1 by default (--allow_http1); buf's schema is a
# descriptor set (.binpb).
#   connect_test.sh [--mode=tcp|tls] SERVER PACKAGE_JSON SCHEMA \
#       PATH JSON_REQUEST 'expected output' [PATH JSON 'expected' ...]
# The first PATH is also called with curl: JSON_REQUEST as the body, 'expected output' in the
# answer.
set -u
source examples/common/test_lib.sh || exit 1
mode=tcp
case "${1:-}" in --mode=*) mode=${1#--mode=}; shift ;; esac
server=$1 package_json=$2 schema=$3
shift 3
log=$TEST_TMPDIR/server.log
certs=tests/testdata/tls
find_buf "$package_json"

case $mode in
  tcp) "$server" --port=0 >"$log" 2>&1 & ;;
  tls) "$server" --port=0 --tls_cert=$certs/server.pem --tls_key=$certs/server.key \
         >"$log" 2>&1 & ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
wait_listening "$log"

call() {  # call 'HTTP/x 200' URL PATH JSON EXPECTED [buf args...]: one call, on the HTTP version said
  local http=$1 url=$2 path=$3 data=$4 expected=$5 out
  shift 5
  out=$(timeout 30 "$buf" curl -v --protocol=connect --schema="$schema" "$@" -d "$data" \
        "$url/$path" 2>&1) || { echo "failed: buf curl $* $url/$path"; echo "$out"; exit 1; }
  echo "$out"
  expect_in "< (#1) $http" "$out"
  expect_in "Content-Type: application/" "$out"
  expect_in "$expected" "$out"
}

case $mode in
  tcp) base=http://127.0.0.1:$port; curl_args=(--http1.1) ;;
  tls) base=https://localhost:$port; curl_args=(--cacert $certs/ca.pem) ;;
esac
first_path=$1 first_data=$2 first_expected=$3
while [ $# -ge 3 ]; do
  path=$1 data=$2 expected=$3
  shift 3
  case $mode in
    tcp)
      echo "--- $path: Connect over HTTP/1.1"
      call "HTTP/1.1 200" "$base" "$path" "$data" "$expected"
      echo "--- $path: Connect over h2c"
      call "HTTP/2.0 200" "$base" "$path" "$data" "$expected" --http2-prior-knowledge ;;
    tls)
      echo "--- $path: Connect over TLS (HTTP/2 by ALPN)"
      call "HTTP/2.0 200" "$base" "$path" "$data" "$expected" --cacert=$certs/ca.pem ;;
  esac
done
echo "--- curl, Connect unary with JSON"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" -H 'content-type: application/json' \
      -d "$first_data" "$base/$first_path" 2>&1) || { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 200" "$out"
expect_in "content-type: application/json" "$out"
expect_in "$first_expected" "$out"
echo "--- curl, a Connect error: HTTP status and the error JSON"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" -H 'content-type: application/json' \
      -d '{}' "$base/${first_path%/*}/NoSuchMethod" 2>&1) || { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 404" "$out"
expect_in '{"code":"unimplemented","message":"Method not found' "$out"
echo "--- curl, bad JSON"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" -H 'content-type: application/json' \
      -d '{"noSuchField": 1}' "$base/$first_path" 2>&1) || { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 400" "$out"
expect_in '{"code":"invalid_argument"' "$out"
echo "--- curl, GET on a method not declared NO_SIDE_EFFECTS: 405, POST only"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" \
      "$base/$first_path?connect=v1&encoding=json&message=%7B%7D" 2>&1) ||
  { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 405" "$out"
expect_in "allow: POST" "$out"
expect_in '{"code":"unimplemented"' "$out"
echo PASS
