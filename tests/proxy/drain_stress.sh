#!/bin/bash
# drain_stress.sh — nginx_test.sh's drain, many times over: nginx in front of three h2c and three
# TLS interop servers, clients calling without pause through both fronts, and the middle backend
# of each kind stopped (SIGTERM: Server::Shutdown) and restarted again and again. nginx never
# retries a gRPC call once it has written it to a backend (grpc_pass does not buffer request
# bodies), so a call a draining backend loses is a 502 in nginx's access log: there must be none.
# Manual (tags = ["manual"]): the flake hunt of nginx_test, e.g.
#
#   bazel test //tests/proxy:drain_stress --runs_per_test=5 --test_output=all
#
#   drain_stress.sh INTEROP_SERVER INTEROP_CLIENT CA_PEM NGINX_CONF_IN [DRAINS [CLIENTS]]
#
# (bazel: --test_arg=DRAINS --test_arg=CLIENTS). CLIENTS: unary soaks per front (default 2).
set -uo pipefail
server=$1 client=$2 ca=$(readlink -f "$3") conf_in=$4 drains=${5:-40} clients=${6:-2}
TMP=${TEST_TMPDIR:-$(mktemp -d)}
# shellcheck source=tests/proxy/lib.sh
source "$(dirname "$0")/lib.sh"

for name in "${BACKENDS[@]}"; do start_backend "$name"; done
start_nginx

# Load: on each front, CLIENTS unary soaks on one channel and one with a channel per call, without pause, and a loop of the streaming cases; every
# call is a new upstream connection (no upstream keepalive), so connections arrive all the time.
# Failures are counted from nginx's log, not by the clients (which keep going).
touch "$TMP/run"
load() {
  while [[ -e $TMP/run ]]; do
    timeout 120 "$client" --server_host=127.0.0.1 --server_port="$1" "${@:2}" >/dev/null 2>&1
  done
}
soak="--soak_iterations=200 --soak_max_failures=200 --soak_per_iteration_max_acceptable_latency_ms=10000"
for port in $FRONT_H2C $FRONT_TLS; do
  for _ in $(seq "$clients"); do
    load "$port" --test_case=rpc_soak $soak &
    PIDS+=($!)
  done
  load "$port" --test_case=channel_soak $soak &
  PIDS+=($!)
  load "$port" --test_case=ping_pong,client_streaming,server_streaming,empty_unary &
  PIDS+=($!)
done

bad_exit=0
for i in $(seq "$drains"); do
  victim=h2c2
  ((i % 2 == 0)) && victim=tls2
  sleep "0.$((RANDOM % 4 + 2))"
  echo "drain $i: SIGTERM to $victim at $(date +%s.%N | cut -c1-14)"
  stop_backend "$victim" || { echo "FAIL $victim exited $? after SIGTERM (drain $i)"; bad_exit=1; }
  start_backend "$victim"
done
rm -f "$TMP/run"

sleep 1

calls=$(wc -l <"$TMP/access.log")
lost=$(grep -c ' 502 ' "$TMP/access.log")
slow=$(awk '{ sub("took=", "", $5); if ($5 + 0 > 0.5) n++ } END { print n + 0 }' "$TMP/access.log")
slowest=$(awk '{ sub("took=", "", $5); if ($5 + 0 > m) m = $5 + 0 } END { print m + 0 }' "$TMP/access.log")
echo "drains: $drains; calls through nginx: $calls; 502s: $lost;" \
     "calls slower than 0.5 s: $slow (slowest ${slowest} s)"
if ((lost > 0 || bad_exit)); then
  grep ' 502 ' "$TMP/access.log" | head
  echo "nginx error log (errors):"; grep -E '\[(error|crit)\]' "$TMP/error.log" | tail -20
  echo "FAILED"; exit 1
fi
echo "PASSED"
