#!/bin/bash
# grpcpp_stop_test: grpcpp_bench_server (gRPC C++'s side of `make bench`) stops cleanly on SIGTERM
# with calls in flight, as bench/run.sh stops it. It used to abort on every such stop
# (`assertion failed: grpc_cq_begin_op(cq_, notify_tag)`: a handler of a call cancelled by the
# shutdown started an operation on a queue the stopper thread had just shut down). Each round
# starts the server (1 or 2 completion queues), starts bench_client in the background (ping-pong
# 8 x 32 streams, and 64 KiB server streaming, as the bench runs them), waits until its 9
# connections are established, sends SIGTERM, and expects exit status 0 and the "stopped" line.
# No performance assertion.
#   grpcpp_stop_test.sh GRPCPP_BENCH_SERVER BENCH_CLIENT [ROUNDS]
set -u
server=$1 client=$2 rounds=${3:-4}
dir=${TEST_TMPDIR:-/tmp}
log=$dir/grpcpp_bench_server.log
pid="" clients=()
cleanup() {
  [ -n "$pid" ] && kill -9 $pid 2>/dev/null
  [ ${#clients[@]} -gt 0 ] && kill -9 "${clients[@]}" 2>/dev/null
}
trap cleanup EXIT

# established PORT: TCP connections in state ESTABLISHED whose local port is PORT (the server's
# side), from /proc (no iproute2 needed).
established() {
  local hex
  hex=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v p=":$hex" '$2 ~ p"$" && $4 == "01" {n++} END {print n+0}'
}

fail=0
for round in $(seq "$rounds"); do
  loops=$(( round % 2 + 1 ))
  : >"$log"
  "$server" --port=0 --loops=$loops >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 400); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL round $round: server did not start:"; cat "$log"; exit 1; }

  clients=()
  "$client" --target=127.0.0.1:$port --mode=pingpong --channels=8 --outstanding=32 \
    --warmup_s=0 --duration_s=60 --req_size=16 >"$dir/pingpong.log" 2>&1 &
  clients+=($!)
  "$client" --target=127.0.0.1:$port --mode=server_streaming --channels=1 --outstanding=1 \
    --warmup_s=0 --duration_s=60 --req_size=16 --resp_size=65536 >"$dir/streaming.log" 2>&1 &
  clients+=($!)
  n=0
  for _ in $(seq 400); do
    n=$(established "$port")
    [ "$n" -ge 9 ] && break
    sleep 0.05
  done
  [ "$n" -ge 9 ] || { echo "FAIL round $round: $n of 9 client connections"; fail=1; }

  kill -TERM $pid
  wait $pid
  rc=$?
  pid=""
  kill -9 "${clients[@]}" 2>/dev/null
  wait "${clients[@]}" 2>/dev/null
  clients=()
  echo "round $round (loops=$loops, $n connections): exit $rc"
  if [ $rc -ne 0 ] || ! grep -q "^grpcpp_bench_server: stopped" "$log"; then
    echo "FAIL round $round: exit $rc:"; cat "$log"; fail=1
  fi
done
[ $fail -eq 0 ] && echo ok
exit $fail
