#!/bin/bash
# interop_test.sh — runs gRPC's interop test cases with one client against one server, each case
# as its own client process (as gRPC's run_interop_tests.py does), and checks that every case
# passes. The server is started here on 127.0.0.1 (port 0) and stopped at the end; every wait is
# bounded and every process we start is killed on exit.
#
#   interop_test.sh --server=ours|grpc_js|grpcpp --client=ours|grpc_js|grpcio|grpcpp \
#                   --mode=h2c|tls [--cases=a,b,c] --<peer>=PATH...   (see BUILD.bazel)
#
# A case a peer cannot run is skipped with its reason (the NOT_APPLICABLE table below); a client
# may also print "SKIP <case>: <why>" for a case its library's API cannot express; a failure that
# matches a known library bug (KNOWN_ISSUE_PATTERN) is reported but tolerated. Anything else
# that is not "PASS <case>" fails the test.
set -uo pipefail

declare -A ARG=()
for a in "$@"; do
  [[ $a == --*=* ]] || { echo "FATAL bad argument '$a'"; exit 2; }
  a=${a#--}
  ARG[${a%%=*}]=${a#*=}
done
SERVER=${ARG[server]} CLIENT=${ARG[client]} MODE=${ARG[mode]}
ALL_CASES="empty_unary large_unary client_compressed_unary server_compressed_unary
  client_streaming client_compressed_streaming server_streaming server_compressed_streaming
  ping_pong empty_stream custom_metadata status_code_and_message special_status_message
  unimplemented_method unimplemented_service cancel_after_begin cancel_after_first_response
  timeout_on_sleeping_server rpc_soak channel_soak"
# Our client also runs concurrent_large_unary (a TODO case of the interop descriptions: 100
# large_unary calls and 20 ping_pong streams at once on one channel).
[[ $CLIENT == ours ]] && ALL_CASES+=" concurrent_large_unary"
# grpcio also sends 125 small metadata entries on one call (many_small_metadata, not an official
# case): gRPC limits metadata by size, so servers must take them (h2rpc issue 13).
[[ $CLIENT == grpcio ]] && ALL_CASES+=" many_small_metadata"
CASES=${ARG[cases]:-$ALL_CASES}
CASES=${CASES//,/ }

TMP=${TEST_TMPDIR:-$(mktemp -d)}
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
die() { echo "FATAL $*"; exit 1; }

# What a peer cannot do, by "server:<peer>" or "client:<peer>" and case.
declare -A NOT_APPLICABLE=(
  [server:grpc_js:server_compressed_unary]="grpc-js servers never compress responses"
  [server:grpc_js:server_compressed_streaming]="grpc-js servers never compress responses"
)

# Known library bugs, by "<server>:<client>:<case>": none at the moment. A failure whose output
# matches the pattern would be reported as "known" and not fail the test (each must then have a
# deterministic failing test in rpc_findings_test.cc). Any other failure fails.
declare -A KNOWN_ISSUE_PATTERN=()
declare -A KNOWN_ISSUE_NOTE=()

# A data file passed as --name=rootpath must exist.
need() {
  local n
  for n in "$@"; do
    [[ -n ${ARG[$n]:-} ]] || die "missing --$n"
    [[ -e ${ARG[$n]} ]] || die "--$n: no such file ${ARG[$n]}"
  done
}

# Node 20, as everywhere in the tests: make setup installs it into /opt/h2rpc/node20 when the
# system's is older (Debian 12 has 18).
NODE=/opt/h2rpc/node20/bin/node
[[ -x $NODE ]] || NODE=/usr/bin/node
[[ -x $NODE ]] || NODE=$(command -v node) || die "node is not installed (make setup)"
PYTHON=/usr/bin/python3

node_env() {
  local pkg
  need package_json test_proto
  pkg=$(readlink -f "${ARG[package_json]}") || die "cannot resolve package.json"
  local modules=${pkg%/package.json}/node_modules
  [[ -d $modules/@grpc/grpc-js ]] || die "no $modules/@grpc/grpc-js: run 'make setup'"
  export NODE_PATH=$modules
  export INTEROP_PROTO_ROOT=${ARG[test_proto]%/grpc/testing/test.proto}
}

# --- the server -----------------------------------------------------------------------------
SERVER_ARGS=(--port=0)
CLIENT_TLS=()
if [[ $MODE == tls ]]; then
  need server_pem server_key ca_pem
  SERVER_ARGS+=(--use_tls --tls_cert_file="${ARG[server_pem]}" --tls_key_file="${ARG[server_key]}")
  # The certificate names localhost and 127.0.0.1; connect to the address, check the name.
  CLIENT_TLS=(--use_tls --use_test_ca --ca_file="${ARG[ca_pem]}" --server_host_override=localhost)
elif [[ $MODE != h2c ]]; then
  die "--mode must be h2c or tls"
fi

case $SERVER in
  ours) need our_server; SERVER_CMD=("${ARG[our_server]}") ;;
  grpcpp) need grpcpp_server; SERVER_CMD=("${ARG[grpcpp_server]}") ;;
  grpc_js) need node_server; node_env; SERVER_CMD=("$NODE" "${ARG[node_server]}") ;;
  *) die "unknown --server=$SERVER" ;;
esac

CLIENT_EXTRA=()
# h2rpc's server cannot see whether a request was compressed (README.md, "Known gaps"): skip the
# client_compressed_* probes that need it.
case $CLIENT in
  ours) need our_client; CLIENT_CMD=("${ARG[our_client]}") ;;
  grpcpp) need grpcpp_client; CLIENT_CMD=("${ARG[grpcpp_client]}") ;;
  grpc_js) need node_client; node_env; CLIENT_CMD=("$NODE" "${ARG[node_client]}") ;;
  grpcio)
    need python_client descriptor_set
    "$PYTHON" -c 'import grpc' 2>/dev/null || die "python3-grpcio is not installed (make setup)"
    CLIENT_CMD=("$PYTHON" "${ARG[python_client]}" --descriptor_set="${ARG[descriptor_set]}") ;;
  *) die "unknown --client=$CLIENT" ;;
esac

alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

echo "--- $CLIENT client x $SERVER server, $MODE"
"${SERVER_CMD[@]}" "${SERVER_ARGS[@]}" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
PORT=""
deadline=$((SECONDS + 15))
while ((SECONDS < deadline)); do
  PORT=$(sed -n -E 's/^listening ([0-9]+)$/\1/p' "$TMP/server.out" | head -n 1)
  [[ -n $PORT ]] && break
  if ! alive "$SERVER_PID"; then
    cat "$TMP/server.err"
    die "the $SERVER server exited before listening"
  fi
  sleep 0.05
done
[[ -n $PORT ]] || die "the $SERVER server printed no port within 15 s"
echo "--- $SERVER server listening on port $PORT"

# --- the cases ------------------------------------------------------------------------------
PASSED=0 FAILED=0 SKIPPED=0 KNOWN=0
for c in $CASES; do
  if [[ -n ${NOT_APPLICABLE[server:$SERVER:$c]:-} ]]; then
    echo "skip  $c: ${NOT_APPLICABLE[server:$SERVER:$c]}"
    SKIPPED=$((SKIPPED + 1))
    continue
  fi
  out="$TMP/client.$c.out"
  timeout -k 5 60 "${CLIENT_CMD[@]}" --server_host=127.0.0.1 --server_port="$PORT" \
    --test_case="$c" "${CLIENT_TLS[@]}" "${CLIENT_EXTRA[@]}" >"$out" 2>"$TMP/client.$c.err"
  rc=$?
  if [[ $rc -eq 0 ]] && grep -qx "PASS $c\( (.*)\)\?" "$out"; then
    echo "ok    $c"
    PASSED=$((PASSED + 1))
  elif [[ $rc -eq 0 ]] && grep -q "^SKIP $c: " "$out"; then
    echo "skip  $c: $CLIENT client: $(sed -n "s/^SKIP $c: //p" "$out")"
    SKIPPED=$((SKIPPED + 1))
  elif [[ $rc -eq 1 && -n ${KNOWN_ISSUE_PATTERN[$SERVER:$CLIENT:$c]:-} ]] &&
       grep -q "^FAIL $c: .*${KNOWN_ISSUE_PATTERN[$SERVER:$CLIENT:$c]}" "$out"; then
    echo "known $c: $(sed -n "s/^FAIL $c: //p" "$out")"
    echo "      (known library bug: ${KNOWN_ISSUE_NOTE[$SERVER:$CLIENT:$c]})"
    KNOWN=$((KNOWN + 1))
  else
    [[ $rc -eq 124 ]] && echo "FAIL  $c: the client timed out (60 s)" || echo "FAIL  $c (exit $rc)"
    sed 's/^/      /' "$out" | head -n 20
    sed 's/^/      stderr: /' "$TMP/client.$c.err" | head -n 20
    FAILED=$((FAILED + 1))
  fi
  if ! alive "$SERVER_PID"; then
    echo "FAIL  the $SERVER server died during $c"
    sed 's/^/      stderr: /' "$TMP/server.err" | head -n 40
    FAILED=$((FAILED + 1))
    break
  fi
done

# --- graceful stop: the server must exit by itself on SIGTERM ---------------------------------
kill -TERM "$SERVER_PID" 2>/dev/null
deadline=$((SECONDS + 10))
while alive "$SERVER_PID" && ((SECONDS < deadline)); do sleep 0.05; done
if alive "$SERVER_PID"; then
  echo "FAIL  the $SERVER server did not exit within 10 s of SIGTERM"
  FAILED=$((FAILED + 1))
else
  wait "$SERVER_PID"
  rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL  the $SERVER server exited with status $rc after SIGTERM"
    sed 's/^/      stderr: /' "$TMP/server.err" | head -n 40
    FAILED=$((FAILED + 1))
  fi
fi

echo "=== $CLIENT client x $SERVER server ($MODE): $PASSED passed, $FAILED failed, $SKIPPED skipped, $KNOWN known library bugs"
((FAILED == 0))
