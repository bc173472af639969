#!/bin/bash
# websocket_echo against Node 20's http2 client (websocket_echo_client.js): extended CONNECT,
# WebSocket frames echoed, bad frames closed with 1002/1009.
#   websocket_echo_test.sh SERVER CLIENT_JS
set -u
server=$1 client=$2
log=$TEST_TMPDIR/server.log
"$server" --port=0 >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
for _ in $(seq 200); do
  grep -q "listening on" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
port=$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
out=$(timeout 60 node "$client" "$port" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "client exit code $rc"; cat "$log"; exit 1; }
grep -qx "websocket: ok" <<<"$out" || exit 1
kill -0 $pid || { echo "the server died"; exit 1; }
echo "ok"
