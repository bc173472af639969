#!/bin/bash
# h2load_test: examples/http2/hello_server (our transport) under h2load (nghttp2's load
# generator): many concurrent streams on several connections, h2c and TLS, GET and POST.
# Usage: h2load_test.sh HELLO_SERVER SERVER_PEM SERVER_KEY
source "$(dirname "$0")/lib.sh"
HELLO_SERVER=$1 CERT=$2 KEY=$3
H2LOAD=$(tool h2load)

# run_h2load NAME PROTOCOL N ARGS...: runs h2load and checks that all N requests succeeded with
# 2xx over PROTOCOL (h2load's "Application protocol": h2c in clear text, h2 from ALPN over TLS).
run_h2load() {
  local name=$1 proto=$2 n=$3; shift 3
  local out="$TMP/$name.txt" before=$FAILURES
  timeout 20 "$H2LOAD" "$@" >"$out" 2>&1
  local rc=$?
  local requests status protocol
  requests=$(grep -E '^requests: ' "$out")
  status=$(grep -E '^status codes: ' "$out")
  protocol=$(grep -E '^Application protocol: ' "$out")
  echo "$name: $requests | $status | $protocol"
  check "$name: h2load exits 0 (got $rc)" test $rc -eq 0
  local succeeded failed errored
  succeeded=$(sed -n -E 's/.* ([0-9]+) succeeded.*/\1/p' <<<"$requests")
  failed=$(sed -n -E 's/.* ([0-9]+) failed.*/\1/p' <<<"$requests")
  errored=$(sed -n -E 's/.* ([0-9]+) errored.*/\1/p' <<<"$requests")
  check "$name: $n of $n requests succeeded (got ${succeeded:-none})" test "${succeeded:-0}" -eq "$n"
  check "$name: none failed or errored" test "${failed:-1}" -eq 0 -a "${errored:-1}" -eq 0
  check "$name: all responses 2xx" grep -qE "^status codes: $n 2xx, 0 3xx, 0 4xx, 0 5xx" "$out"
  check "$name: spoke $proto" test "$protocol" = "Application protocol: $proto"
  if ((FAILURES > before)); then sed 's/^/    /' "$out"; fi
}

head -c 20000 /dev/urandom >"$TMP/body.bin"

log "h2c"
start_server hello_h2c "$HELLO_SERVER" --port=0
H2C_PID=$SERVER_PID
run_h2load h2c_get h2c 2000 -n 2000 -c 4 -m 16 "http://127.0.0.1:$PORT/"
run_h2load h2c_post h2c 500 -n 500 -c 4 -m 16 -d "$TMP/body.bin" "http://127.0.0.1:$PORT/"
check "h2c server still running" alive "$H2C_PID"

log "TLS"
start_server hello_tls "$HELLO_SERVER" --port=0 --tls_cert="$CERT" --tls_key="$KEY"
TLS_PID=$SERVER_PID
run_h2load tls_get h2 2000 -n 2000 -c 4 -m 16 "https://127.0.0.1:$PORT/"
run_h2load tls_post h2 500 -n 500 -c 4 -m 16 -d "$TMP/body.bin" "https://127.0.0.1:$PORT/"
check "TLS server still running" alive "$TLS_PID"

stop_gracefully "$H2C_PID"
check "h2c server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0
stop_gracefully "$TLS_PID"
check "TLS server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0
finish
