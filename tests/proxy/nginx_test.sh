#!/bin/bash
# nginx_test.sh — h2rpc servers behind Debian's nginx (grpc_pass), the way users scale past one
# machine today (issue 14, item 8): three interop servers as h2c upstreams and three as TLS
# upstreams, our interop client through nginx for the four call kinds, metadata, status and
# deadlines; then, under load, one backend drained (SIGTERM: graceful shutdown) and restarted on
# its port while clients keep calling: no call may fail.
#
#   nginx_test.sh INTEROP_SERVER INTEROP_CLIENT CA_PEM NGINX_CONF_IN
#
# Ports are fixed: each Bazel test runs in its own network namespace (.bazelrc). Every wait is
# bounded and every process started here is killed on exit.
set -uo pipefail
server=$1 client=$2 ca=$(readlink -f "$3") conf_in=$4
TMP=${TEST_TMPDIR:-$(mktemp -d)}
# shellcheck source=tests/proxy/lib.sh
source "$(dirname "$0")/lib.sh"

for name in "${BACKENDS[@]}"; do start_backend "$name"; done
start_nginx

fail=0
# run_client PORT ARGS...: our interop client through nginx; prints its lines, fails on a FAIL.
run_client() {
  local port=$1; shift
  local out
  out=$(timeout 120 "$client" --server_host=127.0.0.1 --server_port="$port" "$@" 2>&1)
  local rc=$?
  echo "$out" | grep -E '^(PASS|FAIL|SKIP)' | sed "s/^/  [$port] /"
  if ((rc != 0)); then
    echo "FAIL client through :$port ($*), exit $rc:"; echo "$out" | tail -20
    return 1
  fi
}

# 1. Every call kind, metadata, status and deadlines, through both fronts.
CASES=empty_unary,large_unary,client_compressed_unary,server_compressed_unary,client_streaming,server_streaming,ping_pong,empty_stream,custom_metadata,status_code_and_message,special_status_message,unimplemented_method,cancel_after_begin,cancel_after_first_response,timeout_on_sleeping_server
for port in $FRONT_H2C $FRONT_TLS; do
  echo "cases through nginx :$port"
  run_client "$port" --test_case="$CASES" || fail=1
done

# 2. Drain and restart one backend of each kind while clients call, through both fronts.
# Load: a soak of unary calls on one channel, a soak with a channel per call, and the streaming
# cases in a loop; they must all pass while h2c2 and tls2 stop and come back.
drain_under_load() {
  local port=$1 victim=$2
  local soak="--soak_iterations=400 --soak_min_time_ms_between_rpcs=5 --soak_max_failures=0"
  soak+=" --soak_per_iteration_max_acceptable_latency_ms=5000"
  run_client "$port" --test_case=rpc_soak $soak >"$TMP/load1.$victim" 2>&1 &
  local l1=$!
  run_client "$port" --test_case=channel_soak $soak >"$TMP/load2.$victim" 2>&1 &
  local l2=$!
  (for _ in $(seq 15); do
     run_client "$port" --test_case=client_streaming,server_streaming,ping_pong,large_unary || exit 1
   done) >"$TMP/load3.$victim" 2>&1 &
  local l3=$!
  # Calls that last ~0.4 s each, six at a time: about two are on the victim when it drains.
  local slow=()
  for _ in 1 2 3 4 5 6; do
    (for _ in $(seq 8); do run_client "$port" --test_case=slow_server_streaming || exit 1; done) \
      >>"$TMP/load4.$victim" 2>&1 &
    slow+=($!)
  done
  PIDS+=($l1 $l2 $l3 "${slow[@]}")
  # Let calls flow to every backend, then drain the victim (graceful: SIGTERM) and restart it.
  sleep 0.5
  stop_backend "$victim"; local rc=$?
  ((rc == 0)) || { echo "FAIL $victim exited $rc after SIGTERM"; cat "$TMP/$victim.log"; fail=1; }
  local before_restart
  before_restart=$(wc -l <"$TMP/access.log")
  start_backend "$victim"
  local l
  for l in $l1 $l2 $l3 "${slow[@]}"; do
    wait "$l" || fail=1
  done
  local victim_addr="127.0.0.1:${PORT[$victim]}" served_before served_after
  served_before=$(head -n "$before_restart" "$TMP/access.log" | grep -c "$victim_addr")
  served_after=$(tail -n "+$((before_restart + 1))" "$TMP/access.log" | grep -c "$victim_addr")
  echo "drain of $victim through :$port: $victim served $served_before calls before its drain," \
       "$served_after after its restart (nginx log)"
  ((served_before > 0)) || { echo "FAIL no call reached $victim before its drain"; fail=1; }
  cat "$TMP/load1.$victim" "$TMP/load2.$victim"
  grep -c '^  \[.*PASS' "$TMP/load3.$victim" | sed 's/^/  streaming and unary cases passed: /'
  grep -c '^  \[.*PASS' "$TMP/load4.$victim" | sed 's/^/  slow server streams passed (of 48): /'
  grep -h FAIL "$TMP/load"[34]".$victim" | head -5
  grep -q FAIL "$TMP/load1.$victim" "$TMP/load2.$victim" "$TMP/load3.$victim" "$TMP/load4.$victim" &&
    fail=1
}
drain_under_load $FRONT_H2C h2c2
drain_under_load $FRONT_TLS tls2

# The restarted backends serve again (nginx spreads calls round robin over the three).
start=$(wc -l <"$TMP/access.log")
for port in $FRONT_H2C $FRONT_TLS; do
  run_client "$port" --test_case=rpc_soak --soak_iterations=30 || fail=1
done
for victim in h2c2 tls2; do
  n=$(tail -n "+$((start + 1))" "$TMP/access.log" | grep -c "127.0.0.1:${PORT[$victim]}")
  echo "$victim served $n of the last 60 calls after its restart"
  ((n > 0)) || { echo "FAIL the restarted $victim got no call"; fail=1; }
done

if ((fail)); then
  echo "nginx error log (last lines):"; tail -30 "$TMP/error.log"
  echo "FAILED"; exit 1
fi
echo "PASSED"
