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
NGINX=/usr/sbin/nginx
[[ -x $NGINX ]] || { echo "FATAL nginx is not installed (make setup installs nginx-light)"; exit 1; }

PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
die() { echo "FATAL $*"; exit 1; }

# Fixed ports (the test has its own network namespace), BELOW the kernel's ephemeral range:
# nginx opens a connection per call, and while a drained backend is down one of those could
# take its port as a source port, so its restart would fail with EADDRINUSE (a CI flake).
declare -A PORT=([h2c1]=20051 [h2c2]=20052 [h2c3]=20053 [tls1]=20061 [tls2]=20062 [tls3]=20063)
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
((ephemeral_low > 20063)) || { echo "FATAL ephemeral ports start at $ephemeral_low: pick lower backend ports"; exit 1; }
declare -A PID=()
FRONT_H2C=8080 FRONT_TLS=8443

# start_backend NAME: an interop server on its port (TLS for tls*), waits for "listening".
# Its drain gives running calls 5 s (the interop server's default is 500 ms): what is tested is
# that a draining backend loses no call it accepted, not how fast a loaded machine answers (CI
# took 0.6-0.9 s for calls that crossed a drain: cut at 500 ms, they were 502s).
start_backend() {
  local name=$1 tls=()
  [[ $name == tls* ]] && tls=(--use_tls)
  : >"$TMP/$name.log"  # a restart must not read the previous run's "listening"
  "$server" --host=127.0.0.1 --port="${PORT[$name]}" --shutdown_grace_ms=5000 "${tls[@]}" \
    >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  PIDS+=($!)
  for _ in $(seq 300); do
    grep -q '^listening' "$TMP/$name.log" && return 0
    kill -0 "${PID[$name]}" 2>/dev/null || break
    sleep 0.05
  done
  cat "$TMP/$name.log"
  die "backend $name did not start"
}

for name in h2c1 h2c2 h2c3 tls1 tls2 tls3; do start_backend "$name"; done

mkdir -p "$TMP"/{body,proxy,fastcgi,uwsgi,scgi}
chmod 777 "$TMP"/{body,proxy,fastcgi,uwsgi,scgi}
# As root, nginx's workers would switch to nobody, which Bazel's sandbox cannot chown to: stay.
user=""
(($(id -u) == 0)) && user="user root;"
sed -e "s|@TMP@|$TMP|g" -e "s|@USER@|$user|" -e "s|@CA@|$ca|g" -e "s|@FRONT_H2C@|$FRONT_H2C|g" \
    -e "s|@FRONT_TLS@|$FRONT_TLS|g" \
    -e "s|@H2C1@|${PORT[h2c1]}|; s|@H2C2@|${PORT[h2c2]}|; s|@H2C3@|${PORT[h2c3]}|" \
    -e "s|@TLS1@|${PORT[tls1]}|; s|@TLS2@|${PORT[tls2]}|; s|@TLS3@|${PORT[tls3]}|" \
    "$conf_in" >"$TMP/nginx.conf"
"$NGINX" -t -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx-t.log" 2>&1 || {
  cat "$TMP/nginx-t.log"; die "nginx rejects the configuration"; }
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  (exec 3<>/dev/tcp/127.0.0.1/$FRONT_TLS) 2>/dev/null && break
  sleep 0.05
done
(exec 3<>/dev/tcp/127.0.0.1/$FRONT_TLS) 2>/dev/null || { cat "$TMP/error.log"; die "nginx did not start"; }

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
  local old=${PID[$victim]}
  kill -TERM "$old"
  for _ in $(seq 200); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$old" 2>/dev/null && { echo "FAIL $victim did not stop on SIGTERM"; fail=1; }
  wait "$old"; local rc=$?
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
