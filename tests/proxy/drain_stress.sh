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

start_backend() {
  local name=$1 tls=()
  [[ $name == tls* ]] && tls=(--use_tls)
  : >"$TMP/$name.log"
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
user=""
(($(id -u) == 0)) && user="user root;"
sed -e "s|@TMP@|$TMP|g" -e "s|@USER@|$user|" -e "s|@CA@|$ca|g" -e "s|@FRONT_H2C@|$FRONT_H2C|g" \
    -e "s|@FRONT_TLS@|$FRONT_TLS|g" \
    -e "s|@H2C1@|${PORT[h2c1]}|; s|@H2C2@|${PORT[h2c2]}|; s|@H2C3@|${PORT[h2c3]}|" \
    -e "s|@TLS1@|${PORT[tls1]}|; s|@TLS2@|${PORT[tls2]}|; s|@TLS3@|${PORT[tls3]}|" \
    "$conf_in" >"$TMP/nginx.conf"
"$NGINX" -p "$TMP" -c "$TMP/nginx.conf" >"$TMP/nginx.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do
  (exec 3<>/dev/tcp/127.0.0.1/$FRONT_TLS) 2>/dev/null && break
  sleep 0.05
done
(exec 3<>/dev/tcp/127.0.0.1/$FRONT_TLS) 2>/dev/null || { cat "$TMP/error.log"; die "nginx did not start"; }

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
  old=${PID[$victim]}
  echo "drain $i: SIGTERM to $victim at $(date +%s.%N | cut -c1-14)"
  kill -TERM "$old"
  for _ in $(seq 200); do kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
  wait "$old" || { echo "FAIL $victim exited $? after SIGTERM (drain $i)"; bad_exit=1; }
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
