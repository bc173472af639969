#!/bin/bash
# The headless-browser suite: route_guide_server serves the test page (--web_root) and its calls
# on one port; Debian's Chromium (driven by playwright-core, driver.js) loads it over HTTP/1.1
# (http://) and over HTTP/2 (https://, TLS with the test certificate), and the page calls with
# connect-web (Connect, gRPC-Web), grpc-web (text) and, over HTTP/2, Connect streaming uploads by
# fetch (app.js). Then greeter_server serves the same page the same two ways, and the page
# (?service=greeter) calls its SayHello with the same three clients. Checks every call's result
# and which HTTP version carried the page; screenshots go to $TEST_UNDECLARED_OUTPUTS_DIR
# (browser.png: HTTP/2, browser_http1.png: HTTP/1.1; greeter.png, greeter_http1.png).
#   browser_test.sh SERVER PACKAGE_JSON SCHEMA INDEX_HTML APP_JS DRIVER_JS GREETER_SERVER
#                   GREETER_SCHEMA
set -u
source examples/common/test_lib.sh || exit 1
server=$1 package_json=$2 schema=$3 index=$4 app=$5 driver=$6 greeter_server=$7 greeter_schema=$8
certs=tests/testdata/tls
node_modules=$(dirname "$(readlink -f "$package_json")")/node_modules
esbuild=$node_modules/@esbuild/linux-x64/bin/esbuild
[ -x "$esbuild" ] || { echo "no esbuild at $esbuild: run 'make setup'"; exit 1; }
[ -d "$node_modules/playwright-core" ] || { echo "no playwright-core: run 'make setup'"; exit 1; }
chromium=${CHROMIUM:-$(command -v chromium || true)}
[ -x "$chromium" ] || { echo "no chromium (Debian package 'chromium'): run 'make setup'"; exit 1; }
# Chromium writes its profile, caches and crash dumps under HOME/XDG dirs: keep them here.
export HOME=$TEST_TMPDIR XDG_CONFIG_HOME=$TEST_TMPDIR/config XDG_CACHE_HOME=$TEST_TMPDIR/cache
out=${TEST_UNDECLARED_OUTPUTS_DIR:-$TEST_TMPDIR}

# The page: index.html, the schema, and app.js bundled with its npm clients.
www=$TEST_TMPDIR/www
mkdir -p "$www"
cp "$index" "$www/index.html"
cp "$schema" "$www/route_guide.binpb"
cp "$greeter_schema" "$www/helloworld.binpb"
NODE_PATH=$node_modules "$esbuild" "$app" --bundle --format=esm --target=chrome120 \
  --log-level=warning --outfile="$www/app.js" || { echo "esbuild failed"; exit 1; }

pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null; done' EXIT
start() {  # start NAME [flags...]: a route_guide_server (or $bin) serving $www; sets port
  local name=$1
  shift
  "${bin:-$server}" --port=0 --web_root="$www" "$@" >"$TEST_TMPDIR/$name.log" 2>&1 &
  pid=$!
  pids+=($pid)
  wait_listening "$TEST_TMPDIR/$name.log"
}
start plain
plain_port=$port
start tls --tls_cert=$certs/server.pem --tls_key=$certs/server.key
tls_port=$port
bin=$greeter_server start greeter_plain
greeter_plain_port=$port
bin=$greeter_server start greeter_tls --tls_cert=$certs/server.pem --tls_key=$certs/server.key
greeter_tls_port=$port
spki=$(openssl x509 -in $certs/server.pem -pubkey -noout | openssl pkey -pubin -outform der |
       openssl dgst -sha256 -binary | base64)

# The page's files are served, and what is none is 404 (rpc::ServerOptions::http_fallback).
head=$(curl -sS -i "http://127.0.0.1:$plain_port/" 2>&1)
expect_in "HTTP/1.1 200" "$head"
expect_in "content-type: text/html" "$head"
expect_in "route_guide from a browser" "$head"
expect_in "HTTP/1.1 404" "$(curl -sS -i "http://127.0.0.1:$plain_port/../BUILD.bazel" 2>&1)"
expect_in "HTTP/2 200" "$(curl -sS -i --cacert $certs/ca.pem "https://localhost:$tls_port/app.js" 2>&1)"

drive() {  # drive URL SCREENSHOT [SPKI]: the page's results as JSON lines
  timeout 240 node "$driver" "$chromium" "$@" 2>"$TEST_TMPDIR/driver.err" ||
    { echo "driver failed:"; cat "$TEST_TMPDIR/driver.err"; exit 1; }
}
echo "--- HTTP/1.1: http://127.0.0.1:$plain_port/"
http1=$(NODE_PATH=$node_modules drive "http://127.0.0.1:$plain_port/" "$out/browser_http1.png")
echo "$http1"
# The streamed upload's failure over HTTP/1.1 is Chromium's refusal (it wants HTTP/2), not the server's.
expect_in "net::ERR_ALPN_NEGOTIATION_FAILED" "$(cat "$TEST_TMPDIR/driver.err")"
echo "--- HTTP/2: https://localhost:$tls_port/"
http2=$(NODE_PATH=$node_modules drive "https://localhost:$tls_port/" "$out/browser.png" "$spki")
echo "$http2"
echo "--- greeter, HTTP/1.1: http://127.0.0.1:$greeter_plain_port/?service=greeter"
greeter_http1=$(NODE_PATH=$node_modules drive "http://127.0.0.1:$greeter_plain_port/?service=greeter" \
                "$out/greeter_http1.png")
echo "$greeter_http1"
echo "--- greeter, HTTP/2: https://localhost:$greeter_tls_port/?service=greeter"
greeter_http2=$(NODE_PATH=$node_modules drive "https://localhost:$greeter_tls_port/?service=greeter" \
                "$out/greeter.png" "$spki")
echo "$greeter_http2"
for png in browser browser_http1 greeter greeter_http1; do
  [ -s "$out/$png.png" ] || { echo "no screenshot $png.png"; exit 1; }
done

python3 - "$greeter_http1" "$greeter_http2" <<'PY' || exit 1
import json, sys
# Each client's own name comes back: the reply is its call's, not another's.
WANT = {"connect-web (Connect)": "Hello browser via connect",
        "connect-web (gRPC-Web)": "Hello browser via grpc-web",
        "grpc-web (text)": "Hello browser via grpc-web text"}
failures = []
for name, text, version in [("greeter HTTP/1.1", sys.argv[1], "http/1.1"),
                            ("greeter HTTP/2", sys.argv[2], "h2")]:
    lines = [json.loads(l) for l in text.splitlines() if l.strip()]
    if not lines or lines[0].get("protocol") != version:
        failures.append(f"{name}: the page came over {lines[0] if lines else '?'}, not {version}")
    rows = {(r["client"], r["call"]): r for r in lines[1:]}
    if len(rows) != len(WANT) or len(lines) - 1 != len(WANT):
        failures.append(f"{name}: {len(lines) - 1} calls, want {len(WANT)}: {lines[1:]}")
    for client, message in WANT.items():
        row = rows.get((client, "SayHello (unary)"))
        if not (row and row["outcome"] == "ok" and row["result"] == message):
            failures.append(f"{name}: {client} SayHello: {row}, want {message!r}")
for f in failures: print("FAIL:", f)
sys.exit(1 if failures else 0)
PY

python3 - "$http1" "$http2" <<'PY' || exit 1
import json, sys
FEATURE = "Patriots Path, Mendham, NJ 07945, USA at (407838351, -746143763)"
LISTED = "Bailey Turn Road, Harriman, NY 10926, USA"
CLIENTS = ["connect-web (Connect)", "connect-web (gRPC-Web)", "grpc-web (text)"]
failures = []
def check(cond, what):
    if not cond: failures.append(what)
lists = set()
for name, text, version in [("HTTP/1.1", sys.argv[1], "http/1.1"), ("HTTP/2", sys.argv[2], "h2")]:
    lines = [json.loads(l) for l in text.splitlines() if l.strip()]
    check(lines and lines[0].get("protocol") == version,
          f"{name}: the page came over {lines[0] if lines else '?'}, not {version}")
    rows = {(r["client"], r["call"]): r for r in lines[1:]}
    check(len(rows) == len(lines) - 1, f"{name}: a call reported twice")
    for client in CLIENTS:
        unary = rows.get((client, "GetFeature (unary)"))
        check(unary and unary["outcome"] == "ok" and unary["result"] == FEATURE,
              f"{name}: {client} GetFeature: {unary}")
        stream = rows.get((client, "ListFeatures (server streaming)"))
        check(stream and stream["outcome"] == "ok" and LISTED in stream["result"],
              f"{name}: {client} ListFeatures: {stream}")
        if stream: lists.add(stream["result"])
    record = rows.get(("fetch (Connect streaming)", "RecordRoute (client streaming)"))
    chat = rows.get(("fetch (Connect streaming)", "RouteChat (bidi, half-duplex)"))
    if version == "h2":
        check(record and record["outcome"] == "ok" and record["result"] == "3 points, 2 features",
              f"{name}: RecordRoute: {record}")
        check(chat and chat["outcome"] == "ok" and chat["result"] == '"First message" at (0, 0)',
              f"{name}: RouteChat: {chat}")
        check(len(rows) == 8, f"{name}: {len(rows)} calls, want 8")
    else:
        # A streamed request body over HTTP/1.1: the browser's refusal, not a call that failed.
        check(record and record["outcome"] == "limit", f"{name}: RecordRoute: {record}")
        check(chat is None and len(rows) == 7, f"{name}: {len(rows)} calls, want 7")
check(len(lists) == 1, f"ListFeatures differs by client or HTTP version: {lists}")
n = int(next(iter(lists)).split()[0]) if len(lists) == 1 else 0
check(n > 1, f"ListFeatures: {n} features")
for f in failures: print("FAIL:", f)
sys.exit(1 if failures else 0)
PY
echo PASS
