#!/bin/bash
# grpcgo_smoke_test: bench/grpcgo builds offline from Debian's Go packages (bench/grpcgo/build.sh)
# and serves bench_client: unary, ping-pong (1×1 and 8×4 concurrent streams) and server
# streaming, 1 s each, ops > 0 and errors = 0; on SIGTERM it prints its --stats line with calls
# that ended with grpc-status 0 and none that did not, then stops.
#   grpcgo_smoke_test.sh BUILD_SH BENCH_CLIENT
set -u
build=$1 client=$2
tmp=${TEST_TMPDIR:-$(mktemp -d)}
log=$tmp/grpcgo.log
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null' EXIT
HOME=$tmp "$build" "$tmp/go" || { echo "FAIL build"; exit 1; }
: >"$log"
GOMAXPROCS=1 "$tmp/go/grpcgo" --port=0 --stats >"$log" 2>&1 &
pid=$!
port=""
for _ in $(seq 400); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$port" ] || { echo "FAIL grpcgo did not start:"; cat "$log"; exit 1; }
fail=0
for run in unary:1:1:0 pingpong:1:1:0 pingpong:8:4:0 server_streaming:1:1:65536; do
  IFS=: read -r mode ch out size <<<"$run"
  json=$(timeout 60 "$client" --target=127.0.0.1:$port --mode=$mode --channels=$ch --outstanding=$out \
           --warmup_s=0.2 --duration_s=1 --req_size=16 --resp_size=$size 2>&1 | grep '^{' | tail -1)
  echo "grpcgo $run: $json"
  ops=$(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$json")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$json")
  { [ -n "$ops" ] && [ "$ops" -gt 0 ] && [ "$errors" = 0 ]; } || { echo "FAIL $run"; fail=1; }
done
kill -TERM $pid
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
wait $pid 2>/dev/null
pid=""
cat "$log"
stats=$(grep '^stats:' "$log")
ok=$(sed -n "s/^stats: ok=\([0-9]*\) not_ok=\([0-9]*\) cancelled=[0-9]*$/\1/p" <<<"$stats")
bad=$(sed -n "s/^stats: ok=\([0-9]*\) not_ok=\([0-9]*\) cancelled=[0-9]*$/\2/p" <<<"$stats")
{ [ -n "$ok" ] && [ "$ok" -gt 0 ] && [ "$bad" = 0 ]; } || { echo "FAIL stats: $stats"; fail=1; }
grep -q '^grpcgo: stopped' "$log" || { echo "FAIL no graceful stop"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
