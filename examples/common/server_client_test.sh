#!/bin/bash
# Starts an example server on a free port, runs its client against it, checks the client's exit
# code and that each expected line is in its output, and that the server stops on SIGTERM.
#   server_client_test.sh SERVER CLIENT 'expected line' ...
set -u
server=$1 client=$2; shift 2
log=$TEST_TMPDIR/server.log
"$server" --port=0 >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\)$/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
out=$(timeout 30 "$client" --target=127.0.0.1:$port 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "client exit code $rc"; exit 1; }
for line in "$@"; do
  grep -qF -- "$line" <<<"$out" || { echo "missing in the client's output: $line"; exit 1; }
done
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "the server did not stop on SIGTERM"; exit 1; fi
grep -q "stopped" "$log" || { echo "no graceful stop:"; cat "$log"; exit 1; }
echo "ok"
