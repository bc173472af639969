#!/bin/bash
# grpcpp_stop_test: grpcpp_bench_server (gRPC C++'s side of `make bench`) stops cleanly on SIGTERM
# after load, as bench/run.sh stops it after each run. It used to abort in about half of its stops
# (`assertion failed: grpc_cq_begin_op(cq_, notify_tag)`: a handler started an operation on a
# queue the stopper thread had just shut down). Each round starts the server, runs bench_client
# against it (ping-pong 8x32 streams, then 64 KiB server streaming, as the bench does), sends
# SIGTERM, and expects exit status 0 and its "stopped" line. No performance assertion.
#   grpcpp_stop_test.sh GRPCPP_BENCH_SERVER BENCH_CLIENT [ROUNDS]
set -u
server=$1 client=$2 rounds=${3:-6}
log=${TEST_TMPDIR:-/tmp}/grpcpp_bench_server.log
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null' EXIT

fail=0
for round in $(seq "$rounds"); do
  : >"$log"
  "$server" --port=0 --loops=$(( round % 2 + 1 )) >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 400); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL round $round: server did not start:"; cat "$log"; exit 1; }

  for run in "pingpong 8 32 0" "server_streaming 2 1 65536"; do
    read -r mode channels outstanding size <<<"$run"
    out=$(timeout 60 "$client" --target=127.0.0.1:$port --mode=$mode --channels=$channels \
            --outstanding=$outstanding --warmup_s=0.1 --duration_s=0.5 --req_size=16 \
            --resp_size=$size 2>&1)
    json=$(grep '^{' <<<"$out" | tail -1)
    errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$json")
    if [ "$errors" != 0 ]; then echo "FAIL round $round $mode: $out"; fail=1; fi
  done

  kill -TERM $pid
  wait $pid
  rc=$?
  pid=""
  echo "round $round (loops=$(( round % 2 + 1 ))): exit $rc"
  if [ $rc -ne 0 ] || ! grep -q "^grpcpp_bench_server: stopped" "$log"; then
    echo "FAIL round $round: exit $rc:"; cat "$log"; fail=1
  fi
done
[ $fail -eq 0 ] && echo ok
exit $fail
