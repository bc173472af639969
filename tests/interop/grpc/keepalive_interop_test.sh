#!/bin/bash
# keepalive_interop_test.sh — keepalive (gRFC A8) between h2rpc and real gRPC peers. The server is
# started here on 127.0.0.1 (port 0) and stopped at the end; every wait is bounded and every
# process we start is killed on exit. One case per run:
#
#   --case=grpcio_client_too_many_pings --our_server=PATH --python_keepalive_client=PATH
#       grpcio pings every 100 ms without calls (keepalive_time_ms=100,
#       max_pings_without_data=0, permit_without_calls=1) against our server's default policy:
#       grpcio must log the GOAWAY ENHANCE_YOUR_CALM "too_many_pings" it got, and our server must
#       count the connection it closed for it.
#   --case=our_client --server=grpcpp|grpcio --expect=ok|too_many_pings [--min_ping_interval_ms=N]
#       --our_keepalive_client=PATH (--grpcpp_server=PATH | --python_keepalive_server=PATH
#       --descriptor_set=PATH)
#       our client pings every 200 ms through a call silent for 1.5 s: against the server's
#       default policy (5 min) it must get "too_many_pings" and double its keepalive_time;
#       with the policy lowered to --min_ping_interval_ms the call must succeed, pinging.
set -uo pipefail

declare -A ARG=()
for a in "$@"; do
  [[ $a == --*=* ]] || { echo "FATAL bad argument '$a'"; exit 2; }
  a=${a#--}
  ARG[${a%%=*}]=${a#*=}
done
TMP=${TEST_TMPDIR:-$(mktemp -d)}
PYTHON=/usr/bin/python3
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
die() { echo "FATAL $*"; exit 1; }
need() {
  local n
  for n in "$@"; do
    [[ -n ${ARG[$n]:-} ]] || die "missing --$n"
    [[ -e ${ARG[$n]} ]] || die "--$n: no such file ${ARG[$n]}"
  done
}
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}
# Starts "$@" as the server; sets SERVER_PID and PORT (from its "listening PORT" line).
start_server() {
  "$@" >"$TMP/server.out" 2>"$TMP/server.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  local deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    PORT=$(sed -n -E 's/^listening ([0-9]+)$/\1/p' "$TMP/server.out" | head -n 1)
    [[ -n $PORT ]] && return 0
    alive "$SERVER_PID" || { cat "$TMP/server.err"; die "the server exited before listening"; }
    sleep 0.05
  done
  die "the server printed no port within 15 s"
}
# SIGTERM, then wait (bounded) for the server to exit by itself.
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null
  local deadline=$((SECONDS + 10))
  while alive "$SERVER_PID" && ((SECONDS < deadline)); do sleep 0.05; done
  alive "$SERVER_PID" && die "the server did not exit within 10 s of SIGTERM"
  wait "$SERVER_PID"
}

case ${ARG[case]:-} in
  grpcio_client_too_many_pings)
    need our_server python_keepalive_client
    "$PYTHON" -c 'import grpc' 2>/dev/null || die "python3-grpcio is not installed (make setup)"
    start_server "${ARG[our_server]}" --port=0 --host=127.0.0.1
    : >"$TMP/client.err"
    "$PYTHON" "${ARG[python_keepalive_client]}" --server_port="$PORT" --hold_s=30 \
      >"$TMP/client.out" 2>"$TMP/client.err" &
    CLIENT_PID=$!
    PIDS+=("$CLIENT_PID")
    # grpcio logs the GOAWAY it got (C-core, ERROR level): wait for it, at most 20 s.
    deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)) && ! grep -q 'too_many_pings' "$TMP/client.err"; do
      alive "$CLIENT_PID" || break
      sleep 0.05
    done
    kill -TERM "$CLIENT_PID" 2>/dev/null
    echo "--- grpcio client:"; cat "$TMP/client.out" "$TMP/client.err"
    grep -q 'EmptyCall ok' "$TMP/client.out" || die "grpcio's EmptyCall failed"
    grep -q 'ENHANCE_YOUR_CALM.*too_many_pings' "$TMP/client.err" ||
      die "grpcio never reported GOAWAY ENHANCE_YOUR_CALM too_many_pings"
    stop_server
    echo "--- our server:"; cat "$TMP/server.out"
    n=$(sed -n -E 's/^too_many_pings ([0-9]+)$/\1/p' "$TMP/server.out")
    [[ -n $n && $n -ge 1 ]] || die "our server closed no connection for too_many_pings"
    echo "PASS grpcio client told too_many_pings ($n connection(s))"
    ;;
  our_client)
    need our_keepalive_client
    EXPECT=${ARG[expect]:?--expect}
    case ${ARG[server]:-} in
      grpcpp)
        need grpcpp_server
        cmd=("${ARG[grpcpp_server]}" --port=0)
        [[ -n ${ARG[min_ping_interval_ms]:-} ]] &&
          cmd+=(--min_ping_interval_ms="${ARG[min_ping_interval_ms]}") ;;
      grpcio)
        need python_keepalive_server descriptor_set
        "$PYTHON" -c 'import grpc' 2>/dev/null || die "python3-grpcio is not installed"
        cmd=("$PYTHON" "${ARG[python_keepalive_server]}" --descriptor_set="${ARG[descriptor_set]}")
        [[ -n ${ARG[min_ping_interval_ms]:-} ]] &&
          cmd+=(--min_ping_interval_ms="${ARG[min_ping_interval_ms]}") ;;
      *) die "--server must be grpcpp or grpcio" ;;
    esac
    start_server "${cmd[@]}"
    timeout 60 "${ARG[our_keepalive_client]}" --server_port="$PORT" --keepalive_time_ms=200 \
      --silence_ms=1500 --expect="$EXPECT" >"$TMP/client.out" 2>&1
    rc=$?
    cat "$TMP/client.out"
    stop_server
    ((rc == 0)) || die "our client: expected $EXPECT against the ${ARG[server]} server (rc $rc)"
    ;;
  *) die "--case must be grpcio_client_too_many_pings or our_client" ;;
esac
