#!/bin/bash
# curl_test: examples/http2/hello_server (our transport) against curl: h2c with prior knowledge,
# TLS with certificate verification and ALPN h2, and an HTTP/1.1-only TLS client, whose treatment
# is compared with Node's (node_scenario_server.js, a node:http2 secure server without allowHTTP1).
# Usage: curl_test.sh HELLO_SERVER SERVER_PEM SERVER_KEY CA_PEM NODE_SCENARIO_SERVER_JS
source "$(dirname "$0")/lib.sh"
HELLO_SERVER=$1 CERT=$2 KEY=$3 CA=$4 NODE_SERVER_JS=$5
CURL=$(tool curl)
NODE=$(tool node)
PAGE_TEXT='Hello from h2rpc over HTTP/2'
CURL_OPTS=(-sS --max-time 10)

# ------------------------------------------------------------------------------------------------
log "h2c (prior knowledge)"
start_server hello_h2c "$HELLO_SERVER" --port=0
H2C_PID=$SERVER_PID
URL="http://127.0.0.1:$PORT/"

got=$("$CURL" "${CURL_OPTS[@]}" --http2-prior-knowledge -o "$TMP/page.html" \
  -w '%{http_code} %{http_version} %{content_type}' "$URL")
check "h2c GET exits 0" test $? -eq 0
echo "h2c GET: $got"
check "h2c GET: 200 over HTTP/2, text/html" test "$got" = "200 2 text/html; charset=utf-8"
check "h2c GET returns the HTML page" grep -q "$PAGE_TEXT" "$TMP/page.html"

head -c 150000 /dev/urandom >"$TMP/body.bin"
got=$("$CURL" "${CURL_OPTS[@]}" --http2-prior-knowledge --data-binary @"$TMP/body.bin" \
  -H 'content-type: application/octet-stream' -o "$TMP/echo.bin" \
  -w '%{http_code} %{http_version} %{content_type}' "$URL")
check "h2c POST exits 0" test $? -eq 0
check "h2c POST: 200 over HTTP/2, content-type echoed" test "$got" = "200 2 application/octet-stream"
check "h2c POST echoes the 150000-byte body" cmp -s "$TMP/body.bin" "$TMP/echo.bin"

got=$("$CURL" "${CURL_OPTS[@]}" --http2-prior-knowledge -X DELETE -o /dev/null -w '%{http_code}' "$URL")
check "h2c DELETE: 405 (hello_server answers GET/HEAD/POST/PUT only)" test "$got" = 405

check "h2c server still running" alive "$H2C_PID"

# ------------------------------------------------------------------------------------------------
log "TLS (curl verifies our certificate against the test CA)"
start_server hello_tls "$HELLO_SERVER" --port=0 --tls_cert="$CERT" --tls_key="$KEY"
TLS_PID=$SERVER_PID
TLS_PORT=$PORT
# localhost -> 127.0.0.1 explicitly (the server listens on IPv4 only); the name is still what
# curl verifies against the certificate (SAN DNS:localhost).
RESOLVE=(--resolve "localhost:$TLS_PORT:127.0.0.1")
TLS_URL="https://localhost:$TLS_PORT/"

got=$("$CURL" "${CURL_OPTS[@]}" "${RESOLVE[@]}" --http2 --cacert "$CA" -o "$TMP/tls_page.html" \
  -w '%{http_code} %{http_version} %{ssl_verify_result}' "$TLS_URL")
check "TLS GET exits 0" test $? -eq 0
echo "TLS GET: $got"
check "TLS GET: 200 over HTTP/2 (ALPN h2), certificate verified" test "$got" = "200 2 0"
check "TLS GET returns the HTML page" grep -q "$PAGE_TEXT" "$TMP/tls_page.html"

got=$("$CURL" "${CURL_OPTS[@]}" "${RESOLVE[@]}" --http2 --cacert "$CA" \
  --data-binary @"$TMP/body.bin" -o "$TMP/tls_echo.bin" -w '%{http_code} %{http_version}' "$TLS_URL")
check "TLS POST: 200 over HTTP/2" test "$got" = "200 2"
check "TLS POST echoes the body" cmp -s "$TMP/body.bin" "$TMP/tls_echo.bin"

# Without the test CA the certificate must not verify (curl exit 60): the check above is real.
"$CURL" "${CURL_OPTS[@]}" "${RESOLVE[@]}" --http2 -o /dev/null "$TLS_URL" 2>"$TMP/noca.err"
rc=$?
check "TLS without the test CA fails verification (curl exit 60, got $rc)" test $rc -eq 60

# HTTP/1.1-only TLS clients, two kinds: one that offers ALPN "http/1.1" (curl --http1.1) and one
# that offers no ALPN at all (--no-alpn). The brief's requirement: the request fails cleanly (a
# TLS failure, or Node's plain-text 403) and the server survives and still serves h2. On top of
# that, each must be treated exactly as Node 20 treats it (node_scenario_server.js is a
# node:http2 secure server without allowHTTP1 and without an 'unknownProtocol' listener).
h1() {  # h1 PORT OUT_PREFIX CURL_ARGS...: prints "<curl exit> <http code>"; body in OUT_PREFIX.body
  # (curl creates no body file when the TLS handshake fails: it starts empty)
  : >"$2.body"
  local port=$1 prefix=$2 out; shift 2
  out=$("$CURL" "${CURL_OPTS[@]}" --resolve "localhost:$port:127.0.0.1" --http1.1 --cacert "$CA" \
    "$@" -o "$prefix.body" -w '%{http_code}' "https://localhost:$port/" 2>"$prefix.err")
  echo "$? $out"
}
start_server node_tls "$NODE" "$NODE_SERVER_JS" --tls_cert="$CERT" --tls_key="$KEY"
NODE_TLS_PORT=$PORT
for kind in alpn-http1.1 no-alpn; do
  args=()
  [[ $kind == no-alpn ]] && args=(--no-alpn)
  ours=$(h1 "$TLS_PORT" "$TMP/h1_ours_$kind" "${args[@]}")
  node_result=$(h1 "$NODE_TLS_PORT" "$TMP/h1_node_$kind" "${args[@]}")
  echo "HTTP/1.1 client ($kind): ours: curl exit+status '$ours' $(cat "$TMP/h1_ours_$kind.err")"
  echo "HTTP/1.1 client ($kind): Node: curl exit+status '$node_result' $(cat "$TMP/h1_node_$kind.err")"
  echo "    our body: $(head -c 60 "$TMP/h1_ours_$kind.body" | tr "\n" " ")"
  if [[ $ours == "0 403" ]]; then
    check "HTTP/1.1 client ($kind): our 403 is Node's text" \
      grep -q 'Missing ALPN Protocol, expected `h2` to be available' "$TMP/h1_ours_$kind.body"
  else
    check "HTTP/1.1 client ($kind): fails cleanly, a 403 or a TLS failure (got '$ours')" \
      test "${ours%% *}" -ne 0 -a "${ours#* }" = 000
  fi
  check "our server is still running after the HTTP/1.1 client ($kind)" alive "$TLS_PID"
  got=$("$CURL" "${CURL_OPTS[@]}" "${RESOLVE[@]}" --http2 --cacert "$CA" -o /dev/null \
    -w '%{http_code} %{http_version}' "$TLS_URL")
  check "our server answers an h2 request after the HTTP/1.1 client ($kind)" test "$got" = "200 2"
  check "HTTP/1.1 client ($kind): same curl exit and status as with Node ('$node_result')" \
    test "$ours" = "$node_result"
  check "HTTP/1.1 client ($kind): same response body as Node's" \
    cmp -s "$TMP/h1_node_$kind.body" "$TMP/h1_ours_$kind.body"
done

stop_gracefully "$TLS_PID"
check "TLS server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0
stop_gracefully "$H2C_PID"
check "h2c server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0
finish
