#!/bin/bash
# gRPC-Web against an example server, with a real client: `buf curl --protocol grpcweb` (connect-go's
# gRPC-Web client) over plain HTTP/1.1 (http://), h2c (--http2-prior-knowledge) or TLS (https://,
# HTTP/2 by ALPN). The server serves HTTP/1.1 by default (--allow_http1); the schema is a descriptor set (.binpb):
# reflection is a bidi call, which HTTP/1.1 cannot carry.
#   grpc_web_test.sh [--mode=tcp|tls] SERVER PACKAGE_JSON SCHEMA \
#       PATH JSON_REQUEST 'expected output' [PATH JSON 'expected' ...]
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
  tcp) "$server" --port=0 --cors_allowed_origins=http://page.test >"$log" 2>&1 & ;;
  tls) "$server" --port=0 --cors_allowed_origins=http://page.test --tls_cert=$certs/server.pem --tls_key=$certs/server.key \
         >"$log" 2>&1 & ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
wait_listening "$log"

call() {  # call 'HTTP/x 200' URL PATH JSON EXPECTED [buf args...]: one call, on the HTTP version said
  local http=$1 url=$2 path=$3 data=$4 expected=$5 out
  shift 5
  out=$(timeout 30 "$buf" curl -v --protocol=grpcweb --schema="$schema" "$@" -d "$data" \
        "$url/$path" 2>&1) || { echo "failed: buf curl $* $url/$path"; echo "$out"; exit 1; }
  echo "$out"
  expect_in "< (#1) $http" "$out"
  expect_in "Content-Type: application/grpc-web+proto" "$out"
  expect_in "$expected" "$out"
}

first_path=$1
while [ $# -ge 3 ]; do
  path=$1 data=$2 expected=$3
  shift 3
  case $mode in
    tcp)
      echo "--- $path: gRPC-Web over HTTP/1.1"
      call "HTTP/1.1 200" "http://127.0.0.1:$port" "$path" "$data" "$expected"
      echo "--- $path: gRPC-Web over h2c"
      call "HTTP/2.0 200" "http://127.0.0.1:$port" "$path" "$data" "$expected" \
        --http2-prior-knowledge ;;
    tls)
      echo "--- $path: gRPC-Web over TLS (HTTP/2 by ALPN)"
      call "HTTP/2.0 200" "https://localhost:$port" "$path" "$data" "$expected" \
        --cacert=$certs/ca.pem ;;
  esac
done
# gRPC itself over HTTP/1.1 is refused, and says why.
if [ "$mode" = tcp ]; then
  echo "--- gRPC over HTTP/1.1 is refused"
  out=$(timeout 30 curl -sS -i --http1.1 -H 'content-type: application/grpc' --data-binary '' \
        "http://127.0.0.1:$port/$first_path" 2>&1 || true)
  echo "$out"
  expect_in "HTTP/1.1 505" "$out"
  expect_in "grpc-message: gRPC requires HTTP/2" "$out"
  # What is no call (a browser's GET of a page) is the http_fallback's: 404 without --web_root.
  echo "--- a page without --web_root"
  out=$(timeout 30 curl -sS -i --http1.1 "http://127.0.0.1:$port/" 2>&1 || true)
  echo "$out"
  expect_in "HTTP/1.1 404" "$out"
  expect_in "no page here" "$out"
fi
# CORS: a browser's preflight from the allowed page, and from another one.
case $mode in
  tcp) base=http://127.0.0.1:$port; curl_args=() ;;
  tls) base=https://localhost:$port; curl_args=(--cacert $certs/ca.pem) ;;
esac
echo "--- CORS preflight"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" -X OPTIONS -H 'origin: http://page.test' \
      -H 'access-control-request-method: POST' \
      -H 'access-control-request-headers: content-type,x-grpc-web,x-user-agent' \
      "$base/$first_path" 2>&1) || { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 204" "$out"
expect_in "access-control-allow-origin: http://page.test" "$out"
expect_in "access-control-allow-methods: POST, GET" "$out"
expect_in "access-control-allow-headers: content-type,x-grpc-web,x-user-agent" "$out"
out=$(timeout 30 curl -sS -i "${curl_args[@]}" -X OPTIONS -H 'origin: http://other.test' \
      -H 'access-control-request-method: POST' "$base/$first_path" 2>&1) ||
  { echo "curl failed: $out"; exit 1; }
echo "$out"
expect_in " 403" "$out"
if grep -qi "access-control-allow-origin" <<<"$out"; then echo "CORS fields for another origin"; exit 1; fi
echo PASS
