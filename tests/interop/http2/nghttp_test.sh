#!/bin/bash
# nghttp_test: examples/http2/hello_server (our transport) against nghttp (nghttp2's client), h2c
# and TLS. Usage: nghttp_test.sh HELLO_SERVER SERVER_PEM SERVER_KEY
source "$(dirname "$0")/lib.sh"
HELLO_SERVER=$1 CERT=$2 KEY=$3
NGHTTP=$(tool nghttp)
PAGE_TEXT='Hello from h2rpc over HTTP/2'

# Response status lines and received SETTINGS of an `nghttp -v` transcript.
statuses() { grep -E '^\[ *[0-9.]+\] recv \(stream_id=[0-9]+\) :status: ' "$1" | sed -E 's/.*:status: //'; }
# The entries of the first SETTINGS frame the client received (not the ACK, not its own).
recv_settings() {
  awk '/recv SETTINGS frame/ && !/flags=0x01/ {on=1; next}
       on && /^\[/ {exit}
       on && /\[SETTINGS_/ {gsub(/^ +/, ""); print}' "$1"
}

# ------------------------------------------------------------------------------------------------
log "h2c: hello_server --port=0"
start_server hello_h2c "$HELLO_SERVER" --port=0
H2C_PID=$SERVER_PID
URL="http://127.0.0.1:$PORT/"

# GET: 200 and the HTML page (nghttp -v prints the frames and then the body).
timeout 15 "$NGHTTP" -v "$URL" >"$TMP/get.txt" 2>&1
check "GET exits 0" test $? -eq 0
check "GET answers :status 200" test "$(statuses "$TMP/get.txt")" = 200
check "GET returns the HTML page" grep -q "$PAGE_TEXT" "$TMP/get.txt"
check "GET response is text/html" grep -qE 'recv \(stream_id=[0-9]+\) content-type: text/html' "$TMP/get.txt"

# The server's SETTINGS: MAX_CONCURRENT_STREAMS 100 (hello_server's setting).
recv_settings "$TMP/get.txt" >"$TMP/settings.txt"
echo "server SETTINGS: $(tr '\n' ' ' <"$TMP/settings.txt")"
check "server SETTINGS carry MAX_CONCURRENT_STREAMS 100" \
  grep -qxF '[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]' "$TMP/settings.txt"
check "server acknowledges our SETTINGS" grep -qE 'recv SETTINGS frame <length=0, flags=0x01' "$TMP/get.txt"

# POST: the body is echoed, byte for byte. 200 KiB of binary data: several flow-control windows.
head -c 204800 /dev/urandom >"$TMP/body.bin"
timeout 15 "$NGHTTP" -d "$TMP/body.bin" "$URL" >"$TMP/echo.bin" 2>"$TMP/echo.err"
check "POST exits 0" test $? -eq 0
check "POST echoes the 200 KiB body" cmp -s "$TMP/body.bin" "$TMP/echo.bin"
printf 'hello nghttp\n' >"$TMP/small.txt"
timeout 15 "$NGHTTP" -d "$TMP/small.txt" "$URL" >"$TMP/echo_small.txt" 2>&1
check "POST echoes a small body" cmp -s "$TMP/small.txt" "$TMP/echo_small.txt"

# Ten concurrent requests on one connection (-m 10): ten 200s on ten distinct streams.
timeout 15 "$NGHTTP" -nv -m 10 "$URL" >"$TMP/multi.txt" 2>&1
check "-m 10 exits 0" test $? -eq 0
check "-m 10: ten responses, all 200" test "$(statuses "$TMP/multi.txt" | grep -c '^200$')" -eq 10
streams=$(grep -oE 'recv \(stream_id=[0-9]+\) :status' "$TMP/multi.txt" | sort -u | wc -l)
check "-m 10: on ten distinct streams" test "$streams" -eq 10
check "-m 10: one connection (one preface/SETTINGS)" \
  test "$(grep -c 'send SETTINGS frame <length=[0-9]*, flags=0x00' "$TMP/multi.txt")" -eq 1

check "h2c server still running" alive "$H2C_PID"
stop_gracefully "$H2C_PID"
check "h2c server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0

# ------------------------------------------------------------------------------------------------
log "TLS: hello_server --tls_cert --tls_key (nghttp does not verify certificates)"
start_server hello_tls "$HELLO_SERVER" --port=0 --tls_cert="$CERT" --tls_key="$KEY"
TLS_PID=$SERVER_PID
TLS_URL="https://127.0.0.1:$PORT/"  # (no name lookup: a minimal system may lack /etc/hosts)
timeout 15 "$NGHTTP" -v "$TLS_URL" >"$TMP/tls.txt" 2>&1
check "TLS GET exits 0" test $? -eq 0
check "TLS: ALPN negotiated h2" grep -q 'The negotiated protocol: h2' "$TMP/tls.txt"
check "TLS GET answers :status 200" test "$(statuses "$TMP/tls.txt")" = 200
check "TLS GET returns the HTML page" grep -q "$PAGE_TEXT" "$TMP/tls.txt"
timeout 15 "$NGHTTP" -d "$TMP/body.bin" "$TLS_URL" >"$TMP/tls_echo.bin" 2>"$TMP/tls_echo.err"
check "TLS POST echoes the 200 KiB body" cmp -s "$TMP/body.bin" "$TMP/tls_echo.bin"
timeout 15 "$NGHTTP" -nv -m 10 "$TLS_URL" >"$TMP/tls_multi.txt" 2>&1
check "TLS -m 10: ten responses, all 200" test "$(statuses "$TMP/tls_multi.txt" | grep -c '^200$')" -eq 10
check "TLS server still running" alive "$TLS_PID"
stop_gracefully "$TLS_PID"
check "TLS server exits 0 within 5 s of SIGTERM (graceful close)" test $? -eq 0

if ((FAILURES > 0)); then
  for f in get tls; do echo "--- nghttp -v transcript ($f)"; head -n 80 "$TMP/$f.txt"; done
fi
finish
