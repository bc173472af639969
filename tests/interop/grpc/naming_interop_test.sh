#!/bin/bash
# naming_interop_test.sh — gRPC's target names (doc/naming.md) between h2rpc and gRPC's own
# libraries: one server listens on a Unix socket, an abstract Unix socket or every interface
# ([::]:0), and one client dials it with each target form that reaches it. For each, a few
# interop cases must pass and the server must see the :authority gRPC defines for the form
# ("localhost" for unix:, the address for ipv4:/ipv6:, host:port as written for dns:).
#
#   naming_interop_test.sh --server=ours|grpcpp --client=ours|grpcpp|grpcio --<peer>=PATH...
set -uo pipefail

declare -A ARG=()
for a in "$@"; do
  [[ $a == --*=* ]] || { echo "FATAL bad argument '$a'"; exit 2; }
  a=${a#--}
  ARG[${a%%=*}]=${a#*=}
done
SERVER=${ARG[server]} CLIENT=${ARG[client]}
CASES=empty_unary,large_unary,server_streaming,ping_pong
TMP=${TEST_TMPDIR:-$(mktemp -d)}
# Under /tmp: Bazel's TEST_TMPDIR is longer than a sockaddr_un holds (107 bytes). Not named
# after $$: every sandboxed test has its own PID namespace (the same small $$) but shares /tmp.
SOCK_DIR=$(mktemp -d /tmp/h2rpc-naming.XXXXXX) || { echo "FATAL mktemp"; exit 1; }
SOCK=$SOCK_DIR/s.sock
ABSTRACT=${SOCK_DIR#/tmp/}
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$SOCK_DIR"
}
trap cleanup EXIT
die() { echo "FATAL $*"; exit 1; }
need() { [[ -e ${ARG[$1]:-} ]] || die "--$1: missing or no such file '${ARG[$1]:-}'"; }

case $SERVER in
  ours) need our_server; SERVER_CMD=("${ARG[our_server]}") ;;
  grpcpp) need grpcpp_server; SERVER_CMD=("${ARG[grpcpp_server]}") ;;
  *) die "unknown --server=$SERVER" ;;
esac
case $CLIENT in
  ours) need our_client; CLIENT_CMD=("${ARG[our_client]}") ;;
  grpcpp) need grpcpp_client; CLIENT_CMD=("${ARG[grpcpp_client]}") ;;
  grpcio)
    need python_client; need descriptor_set
    /usr/bin/python3 -c 'import grpc' 2>/dev/null || die "python3-grpcio is not installed (make setup)"
    CLIENT_CMD=(/usr/bin/python3 "${ARG[python_client]}" --descriptor_set="${ARG[descriptor_set]}") ;;
  *) die "unknown --client=$CLIENT" ;;
esac

alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

FAILED=0 PASSED=0
SERVER_PID="" PORT=""
# start_server LISTEN_ADDRESS: sets SERVER_PID and PORT.
start_server() {
  : >"$TMP/server.out"
  "${SERVER_CMD[@]}" --listen="$1" --print_authority >"$TMP/server.out" 2>"$TMP/server.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  local deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    PORT=$(sed -n -E 's/^listening ([0-9]+)$/\1/p' "$TMP/server.out" | head -n 1)
    [[ -n $PORT ]] && return 0
    alive "$SERVER_PID" || { cat "$TMP/server.err"; die "the $SERVER server exited before listening on $1"; }
    sleep 0.05
  done
  die "the $SERVER server did not listen on $1 within 15 s"
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null
  local deadline=$((SECONDS + 10))
  while alive "$SERVER_PID" && ((SECONDS < deadline)); do sleep 0.05; done
  if alive "$SERVER_PID" && [[ $SERVER == grpcpp ]]; then
    # gRPC C++ 1.51's server sometimes never returns from Shutdown() after serving h2rpc's
    # client over an abstract socket, under load in the sandbox (main thread on a futex, its
    # client long gone; 2 runs in 16, never by hand). Its shutdown is not what this test checks.
    echo "note  the grpcpp server did not exit within 10 s of SIGTERM (killed)"
  elif alive "$SERVER_PID"; then
    echo "FAIL  the $SERVER server ignored SIGTERM"
    FAILED=$((FAILED + 1))
    sed 's/^/      stderr: /' "$TMP/server.err" | tail -n 20
  fi
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
}

# dial TARGET EXPECTED_AUTHORITY: the cases pass over TARGET, and EmptyCall saw the authority.
dial() {
  local target=$1 want=$2 out="$TMP/client.out"
  local before
  before=$(grep -c '^authority ' "$TMP/server.out")
  timeout -k 5 60 "${CLIENT_CMD[@]}" --target="$target" --test_case="$CASES" >"$out" 2>"$TMP/client.err"
  local rc=$? c bad=0
  for c in ${CASES//,/ }; do
    grep -qx "PASS $c\( (.*)\)\?" "$out" || bad=1
  done
  # The server printed the authority before answering, so it is in server.out by now.
  local seen
  seen=$(grep '^authority ' "$TMP/server.out" | tail -n +$((before + 1)) | sort -u | sed 's/^authority //')
  if ((rc == 0 && bad == 0)) && [[ $seen == "$want" ]]; then
    echo "ok    $target (:authority $seen)"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL  $target: exit $rc; :authority seen '${seen//$'\n'/,}', want '$want'"
    sed 's/^/      /' "$out" | head -n 20
    sed 's/^/      stderr: /' "$TMP/client.err" | head -n 20
    FAILED=$((FAILED + 1))
  fi
}

echo "--- $CLIENT client x $SERVER server"
start_server "unix:$SOCK"
dial "unix:$SOCK" localhost
dial "unix://$SOCK" localhost
stop_server

start_server "unix-abstract:$ABSTRACT"
dial "unix-abstract:$ABSTRACT" localhost
stop_server

start_server "[::]:0"
dial "localhost:$PORT" "localhost:$PORT"
dial "dns:///localhost:$PORT" "localhost:$PORT"
dial "ipv4:127.0.0.1:$PORT" "127.0.0.1:$PORT"
dial "ipv6:[::1]:$PORT" "[::1]:$PORT"
# The first address is refused; gRPC's :authority is the whole list.
dial "ipv4:127.0.0.1:1,127.0.0.1:$PORT" "127.0.0.1:1,127.0.0.1:$PORT"
stop_server

echo "=== $CLIENT client x $SERVER server: $PASSED targets passed, $FAILED failed"
((FAILED == 0))
