#!/bin/bash
# compat_server against real clients on one port, cleartext and TLS: curl --http2 and --http1.1,
# Node 20's http2 client (compat_client.js) and its http/https clients (compat_http1_client.js):
# headers merge, trailers, ALPN, expect: 100-continue, a 4 MiB echo with backpressure, and for
# HTTP/1.1 keep-alive and chunked trailers. nghttp -a (nghttp2's client, which fetches a page's
# assets): /page's stylesheet arrives pushed by createPushResponse (not with --no-push); curl sees
# its 103 Early Hints on both protocols; /socket reports req.socket's addresses.
#   compat_server_test.sh SERVER CERT KEY CA CLIENT_JS HTTP1_CLIENT_JS
set -u
server=$1 cert=$2 key=$3 ca=$4 client_js=$5 http1_client_js=$6
node=/usr/bin/node
[[ -x /opt/h2rpc/node20/bin/node ]] && node=/opt/h2rpc/node20/bin/node
failures=0
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done' EXIT

fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
pass() { echo "ok    $*"; }

# start NAME ARGS...: starts the server, waits (10 s at most) for its port; sets PORT.
start() {
  local name=$1; shift
  local log=$TEST_TMPDIR/$name.log
  "$server" --port=0 "$@" >"$log" 2>&1 &
  pids+=($!)
  PORT=""
  for _ in $(seq 200); do
    PORT=$(sed -n -E 's/^compat_server: listening on https?:\/\/.*:([0-9]+)$/\1/p' "$log")
    [[ -n $PORT ]] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name did not start:"; cat "$log"; exit 1
}

# run_curl BASE VERSION ARGS...: GET /, /trailers, POST /echo with curl (VERSION: 2 or 1.1).
run_curl() {
  local base=$1 version=$2; shift 2
  local out
  out=$(timeout 30 curl -sS -i "$@" "$base/" 2>&1)
  grep -q "^HTTP/$version 200" <<<"$out" && pass "$base/ HTTP/$version 200" ||
    fail "$base/ HTTP/$version status: $out"
  grep -qi '^content-type: text/plain; charset=utf-8' <<<"$out" && pass "$base/ content-type" ||
    fail "$base/ content-type: $out"
  grep -qi '^x-foo: bar' <<<"$out" && pass "$base/ x-foo" || fail "$base/ x-foo: $out"
  [[ $out == *$'\n'ok ]] && pass "$base/ body" || fail "$base/ body: $out"
  out=$(timeout 30 curl -sS "$@" -D - "$base/trailers" 2>&1)
  grep -q 'body before trailers' <<<"$out" && pass "$base/trailers body" || fail "trailers: $out"
  grep -qi '^content-md5: 7895bf4b8828b55ceaf47747b4bca667' <<<"$out" &&
    pass "$base/trailers trailer" || fail "$base/trailers trailer: $out"
  out=$(timeout 30 curl -sS "$@" --data-binary 'echo me' -H 'content-type: text/x-y' "$base/echo")
  [[ $out == 'echo me' ]] && pass "$base/echo" || fail "$base/echo: $out"
}

start plain
run_curl "http://127.0.0.1:$PORT" 2 --http2-prior-knowledge
run_curl "http://127.0.0.1:$PORT" 1.1 --http1.1
out=$(timeout 60 "$node" "$client_js" "http://127.0.0.1:$PORT" 2>&1)
grep -q 'compat_client: ok' <<<"$out" && pass "node http2 client, h2c" || fail "node h2c: $out"
out=$(timeout 60 "$node" "$http1_client_js" "http://127.0.0.1:$PORT" 2>&1)
grep -q 'compat_http1_client: ok' <<<"$out" && pass "node http client" || fail "node http: $out"
out=$(timeout 30 curl -sS --http1.1 "http://127.0.0.1:$PORT/alpn")
[[ $out == '{"alpnProtocol":false,"httpVersion":"1.1"}' ]] && pass "cleartext HTTP/1.1 /alpn" ||
  fail "cleartext HTTP/1.1 /alpn: $out"

# Server push through the compat API, and early hints.
if command -v nghttp >/dev/null; then
  # Statistics rows: "id responseEnd [*] requestStart process code size path".
  out=$(timeout 30 nghttp -ans "http://127.0.0.1:$PORT/page" 2>&1)
  grep -Eq '^ *[0-9]*[02468] +\+[0-9.]+[mu]?s \* .* 200 +[0-9]+ /page.css$' <<<"$out" &&
    pass "nghttp -a: /page.css pushed (createPushResponse)" || fail "no pushed /page.css: $out"
  out=$(timeout 30 nghttp -ans --no-push "http://127.0.0.1:$PORT/page" 2>&1)
  grep -Eq '^ *[0-9]*[13579] .* 200 +[0-9]+ /page.css$' <<<"$out" &&
    ! grep -Eq '^ *[0-9]+ .* \* ' <<<"$out" && pass "nghttp -a --no-push: /page.css fetched" ||
    fail "nghttp --no-push: $out"
else
  fail "nghttp is missing (Debian package nghttp2-client)"
fi
out=$(timeout 30 curl -sS -i --http2-prior-knowledge "http://127.0.0.1:$PORT/page" 2>&1)
grep -q '^HTTP/2 103' <<<"$out" && grep -qi '^link: </page.css>; rel=preload; as=style' <<<"$out" &&
  grep -q '^HTTP/2 200' <<<"$out" && pass "HTTP/2 103 Early Hints" || fail "HTTP/2 103: $out"
out=$(timeout 30 curl -sS -i --http1.1 "http://127.0.0.1:$PORT/page" 2>&1)
grep -q '^HTTP/1.1 103 Early Hints' <<<"$out" &&
  grep -qi '^link: </page.css>; rel=preload; as=style' <<<"$out" &&
  grep -q '^HTTP/1.1 200 OK' <<<"$out" && pass "HTTP/1.1 103 Early Hints" || fail "HTTP/1.1 103: $out"
for v in --http2-prior-knowledge --http1.1; do
  out=$(timeout 30 curl -sS $v "http://127.0.0.1:$PORT/socket")
  [[ $out == "{\"remoteAddress\":\"127.0.0.1\",\"localAddress\":\"127.0.0.1\",\"localPort\":$PORT,\"encrypted\":false}" ]] &&
    pass "/socket $v" || fail "/socket $v: $out"
done

start tls --tls_cert="$cert" --tls_key="$key"
tls_args=(--cacert "$ca" --resolve "localhost:$PORT:127.0.0.1")
run_curl "https://localhost:$PORT" 2 --http2 "${tls_args[@]}"
run_curl "https://localhost:$PORT" 1.1 --http1.1 "${tls_args[@]}"
out=$(timeout 30 curl -sS --http1.1 "${tls_args[@]}" "https://localhost:$PORT/alpn")
[[ $out == '{"alpnProtocol":"http/1.1","httpVersion":"1.1"}' ]] && pass "ALPN http/1.1 /alpn" ||
  fail "ALPN http/1.1 /alpn: $out"
out=$(timeout 30 curl -sS --http2 "${tls_args[@]}" "https://localhost:$PORT/socket")
[[ $out == *'"localPort":'$PORT',"encrypted":true}' ]] && pass "/socket over TLS" ||
  fail "/socket over TLS: $out"
out=$(timeout 60 "$node" "$client_js" "https://localhost:$PORT" "$ca" 2>&1)
grep -q 'compat_client: ok' <<<"$out" && pass "node http2 client, TLS" || fail "node TLS: $out"
out=$(timeout 60 "$node" "$http1_client_js" "https://localhost:$PORT" "$ca" 2>&1)
grep -q 'compat_http1_client: ok' <<<"$out" && pass "node https client" || fail "node https: $out"

for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$p" 2>/dev/null && fail "server $p did not stop on SIGTERM"
done
[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
echo "all ok"
