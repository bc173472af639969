#!/bin/bash
# bench_smoke_test: bench_server and bench_client still work. Starts bench_server on a free port,
# runs bench_client for 1 s in each mode, and checks each JSON line reports ops > 0 and no
# errors. No performance assertion: this runs under sanitizers and on busy machines.
#   bench_smoke_test.sh BENCH_SERVER BENCH_CLIENT
set -u
server=$1 client=$2
log=${TEST_TMPDIR:-/tmp}/bench_server.log
"$server" --port=0 >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 400); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || { echo "bench_server did not start:"; cat "$log"; exit 1; }

if "$server" --loops=2 --port=0 >/dev/null 2>&1; then
  echo "bench_server --loops=2 should refuse (not supported yet)"; exit 1
fi

fail=0
for mode in unary pingpong server_streaming client_streaming both_streaming; do
  size=0
  [ "$mode" = server_streaming ] && size=65536
  out=$(timeout 60 "$client" --target=127.0.0.1:$port --mode=$mode --channels=2 --outstanding=4 \
          --warmup_s=0.2 --duration_s=1 --req_size=16 --resp_size=$size 2>&1)
  rc=$?
  json=$(grep '^{' <<<"$out" | tail -1)
  echo "$mode: $json"
  ops=$(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$json")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$json")
  if [ $rc -ne 0 ] || [ -z "$ops" ] || [ "$ops" -le 0 ] || [ "$errors" != 0 ]; then
    echo "FAIL $mode (exit $rc):"; echo "$out"; fail=1
  fi
done

kill -TERM $pid
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "bench_server did not stop on SIGTERM"; fail=1; fi
grep -q "stopped" "$log" || { echo "no graceful stop:"; cat "$log"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
