#!/bin/bash
# hello_server --unix_socket and client --unix_socket: a POST echoed over a Unix domain socket;
# the socket file goes when the server stops.
#   unix_socket_test.sh SERVER CLIENT
set -u
server=$1 client=$2
log=$TEST_TMPDIR/server.log
sock=/tmp/h2rpc-hello-$$.sock  # TEST_TMPDIR is too long for a Unix socket path
"$server" --unix_socket="$sock" >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null; rm -f "$sock"' EXIT
for _ in $(seq 200); do
  grep -q "listening on unix:$sock" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
grep -q "listening on unix:$sock" "$log" || { echo "the server did not start:"; cat "$log"; exit 1; }
out=$(timeout 30 "$client" --url=http://localhost/echo --data="over a unix socket" --unix_socket="$sock" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "client exit code $rc"; exit 1; }
grep -qF ":status: 200" <<<"$out" || { echo "no 200"; exit 1; }
grep -qF "over a unix socket" <<<"$out" || { echo "no echo"; exit 1; }
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
kill -0 $pid 2>/dev/null && { echo "the server did not stop on SIGTERM"; exit 1; }
[ -e "$sock" ] && { echo "the socket file outlived the server"; exit 1; }
echo "ok"
