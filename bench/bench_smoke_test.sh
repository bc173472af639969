#!/bin/bash
# bench_smoke_test: bench_server and bench_client still work. Starts bench_server on a free port
# (with 1 event loop, then with --loops=2, then 1 loop with busy polling on both sides, then 1
# loop with idle polling off on both sides; the others keep the default adaptive polling), runs
# bench_client for 1 s in each mode, and checks each JSON line reports ops > 0 and no errors, and
# that the server stops gracefully on SIGTERM, its --stats line counting OK calls and none that
# ended with another status than OK or the client's CANCELLED; then tcp_pingpong (the latency floor), blocking and
# busy-polling. No performance assertion: this runs under sanitizers and on busy machines.
#   bench_smoke_test.sh BENCH_SERVER BENCH_CLIENT TCP_PINGPONG
set -u
server=$1 client=$2 tcp_pingpong=$3
log=${TEST_TMPDIR:-/tmp}/bench_server.log
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null' EXIT

if "$server" --loops=0 --port=0 >/dev/null 2>&1; then
  echo "FAIL bench_server --loops=0 should be refused"; exit 1
fi

# start SERVER_COMMAND...: runs it in the background (pid) and waits for its "listening PORT"
# line (port); exits the test if it never comes.
start() {
  # Empty the log first: the background child truncates it only once it runs, and until then
  # the loop below could read the previous server's "listening PORT" (a stopped server's port:
  # connection refused, 0 ops).
  : >"$log"
  "$@" >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 400); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "$* did not start:"; cat "$log"; exit 1; }
}

# json_ok JSON: the client's JSON line reports ops > 0 and no errors.
json_ok() {
  local ops errors
  ops=$(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$1")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$1")
  [ -n "$ops" ] && [ "$ops" -gt 0 ] && [ "$errors" = 0 ]
}

# window_ok JSON: bench_client measured for the whole 1 s asked, not for whatever was left of it
# after a late warm-up ("duration_s":0.010 and 0 ops, seen under load).
window_ok() {
  awk -v d="$(sed -n 's/.*"duration_s":\([0-9.]*\).*/\1/p' <<<"$1")" 'BEGIN {exit !(d >= 1.0)}'
}

fail=0
for config in 1:0:-1 2:0:-1 1:100:-1 1:0:0; do
  IFS=: read -r loops busy adaptive <<<"$config"
  start "$server" --port=0 --loops=$loops --busy_poll_us=$busy --adaptive_poll_max_us=$adaptive --stats

  # 4 channels: with 2 loops the kernel spreads the connections over both listening sockets.
  for mode in unary pingpong server_streaming client_streaming both_streaming; do
    size=0
    [ "$mode" = server_streaming ] && size=65536
    out=$(timeout 60 "$client" --target=127.0.0.1:$port --mode=$mode --channels=4 --outstanding=4 \
            --busy_poll_us=$busy --adaptive_poll_max_us=$adaptive --warmup_s=0.2 --duration_s=1 --req_size=16 --resp_size=$size 2>&1)
    rc=$?
    json=$(grep '^{' <<<"$out" | tail -1)
    echo "loops=$loops busy_poll_us=$busy adaptive_poll_max_us=$adaptive $mode: $json"
    if [ $rc -ne 0 ] || ! json_ok "$json" || ! window_ok "$json"; then
      echo "FAIL $config $mode (exit $rc):"; echo "$out"; fail=1
    fi
  done

  kill -TERM $pid
  for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  if kill -0 $pid 2>/dev/null; then echo "FAIL bench_server --loops=$loops did not stop on SIGTERM"; fail=1; fi
  grep -q "stopped" "$log" || { echo "FAIL no graceful stop (loops=$loops):"; cat "$log"; fail=1; }
  stats=$(grep '^stats:' "$log")
  echo "$config $stats"
  if ! grep -Eq '^stats: ok=[1-9][0-9]* not_ok=0 cancelled=[0-9]+$' <<<"$stats"; then
    echo "FAIL --stats (loops=$loops): '$stats'"; grep '^not ok:' "$log" | head -5; fail=1
  fi
  wait $pid 2>/dev/null
  pid=""
done
start "$tcp_pingpong" --port=0
for busy in 0 100; do
  json=$(timeout 30 "$tcp_pingpong" --target=127.0.0.1:$port --busy_poll_us=$busy --warmup_s=0.1 \
           --duration_s=0.5 | grep '^{')
  echo "tcp_pingpong busy_poll_us=$busy: $json"
  json_ok "$json" || { echo "FAIL tcp_pingpong busy_poll_us=$busy"; fail=1; }
done
kill -9 $pid
wait $pid 2>/dev/null
pid=""
[ $fail -eq 0 ] && echo ok
exit $fail
