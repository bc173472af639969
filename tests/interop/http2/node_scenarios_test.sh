#!/bin/bash
# node_scenarios_test: the scenario list (README.md) run by every server x client pair of
# {Node's node:http2, our transport}: node x node is the baseline; node-server x our-client,
# our-server x node-client and ours x ours must print the same normalised event lists
# (compare.js, where the only normalisation lives).
# Usage: node_scenarios_test.sh h2c|tls SCENARIO_SERVER SCENARIO_CLIENT NODE_SERVER_JS
#          NODE_CLIENT_JS COMPARE_JS SERVER_PEM SERVER_KEY CA_PEM
source "$(dirname "$0")/lib.sh"
MODE=$1 OUR_SERVER=$2 OUR_CLIENT=$3 NODE_SERVER_JS=$4 NODE_CLIENT_JS=$5 COMPARE_JS=$6
CERT=$7 KEY=$8 CA=$9
NODE=$(tool node)

case "$MODE" in
  h2c) SERVER_ARGS=(); SCHEME=http; CLIENT_ARGS=() ;;
  # Our server with the test certificate; Node's client trusts it with `ca`, ours with ca_file.
  tls) SERVER_ARGS=(--tls_cert="$CERT" --tls_key="$KEY"); SCHEME=https; CLIENT_ARGS=(--ca="$CA") ;;
  *) die "mode must be h2c or tls, not '$MODE'" ;;
esac

# run SERVER CLIENT: one fresh server, one client run; output in $TMP/SERVER_CLIENT.json.
run() {
  local server=$1 client=$2 name="${1}_server_${2}_client"
  if [[ $server == node ]]; then
    start_server "$name" "$NODE" "$NODE_SERVER_JS" "${SERVER_ARGS[@]}"
  else
    start_server "$name" "$OUR_SERVER" "${SERVER_ARGS[@]}"
  fi
  local url="$SCHEME://127.0.0.1:$PORT" rc
  if [[ $client == node ]]; then
    timeout 30 "$NODE" "$NODE_CLIENT_JS" --url="$url" "${CLIENT_ARGS[@]}" >"$TMP/$name.json" 2>"$TMP/$name.client.err"
  else
    timeout 30 "$OUR_CLIENT" --url="$url" "${CLIENT_ARGS[@]}" >"$TMP/$name.json" 2>"$TMP/$name.client.err"
  fi
  rc=$?
  check "$MODE $server server x $client client: the client finishes (exit $rc)" test $rc -eq 0
  check "$MODE $server server x $client client: the server did not crash" alive "$SERVER_PID"
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  if [[ -s $TMP/$name.client.err ]]; then
    echo "    client stderr:"; head -n 20 "$TMP/$name.client.err" | sed 's/^/    /'
  fi
  if [[ -s $TMP/$name.err ]]; then
    echo "    server stderr:"; head -n 20 "$TMP/$name.err" | sed 's/^/    /'
  fi
}

log "$MODE: baseline, Node server x Node client"
run node node
BASE="$TMP/node_server_node_client.json"
[[ -s $BASE ]] || die "the baseline produced no output"
# The baseline must show that each scenario really did what it is named after.
expect() {
  check "baseline: $1" grep -qF -- "$2" "$BASE"
}
expect "(a) GET body" '"response :status=200 content-type=text/plain x-scenario=get","data 31 bytes'
expect "(b) 100 KiB echoed" '"data 102400 bytes fnv=95b5b20d","end"'
expect "(c) trailers" '"trailers x-checksum=37a16f3e x-trailer=done"'
expect "(c) server saw wantTrailers" '"wantTrailers"'
expect "(d) 103 then 200" '"headers :status=103 link=</style.css>; rel=preload; as=style","response :status=200"'
expect "(e) RST 11 seen by the client" '"error ERR_HTTP2_STREAM_ERROR Stream closed with error code NGHTTP2_ENHANCE_YOUR_CALM","close rst=11"'
expect "(e'') RST 2 after data seen by the client" '"error ERR_HTTP2_STREAM_ERROR Stream closed with error code NGHTTP2_INTERNAL_ERROR","close rst=2"'
expect "(f) ping payload echoed" '"ping ok payload=abcdefgh"'
expect "(f) server saw the ping" '"ping abcdefgh"'
expect "(g) GOAWAY with data" '"goaway code=0 last=1 data=bye"'
expect "(g) stream finished after GOAWAY" '"data 27 bytes fnv=a1e2c724","end","close rst=0"'
if grep -qE 'TIMEOUT|!report_error|!unclosed_sessions' "$BASE"; then fail "baseline has timeouts or report errors"; fi

for pair in "node ours" "ours node" "ours ours"; do
  read -r server client <<<"$pair"
  log "$MODE: $server server x $client client"
  run "$server" "$client"
  name="${server}_server_${client}_client"
  "$NODE" "$COMPARE_JS" "$BASE" "$TMP/$name.json" "$MODE $server server x $client client"
  check "$MODE $server server x $client client: same events as Node x Node" test $? -eq 0
done

if ((FAILURES > 0)); then
  echo "--- normalised baseline (node server x node client):"
  "$NODE" "$COMPARE_JS" --print "$BASE" | sed 's/^/    /'
fi
finish
