#!/usr/bin/env bash
# make demo: builds everything, starts each example server on loopback with `bazel run`, runs its
# client against it, prints what each call returned, stops the servers (they send GOAWAY), and
# ends with 'demo: ok'. DEMO_PORT (default 20151) is the first of the seven ports used
# (DEMO_PORT .. DEMO_PORT+6). Needs curl, nghttp (nghttp2-client) and Node 20 (.ci/setup.sh).
# The default is below Linux's ephemeral range (32768-60999): a port in it can be taken by any
# program's outgoing connection during the build (50152 was, once, while other tests ran).
set -uo pipefail
cd "$(dirname "$0")/.."
flags=()
[[ -n "${CI:-}" || ! -t 1 ]] && flags+=(--config=ci)
quiet=(--ui_event_filters=-info,-stdout,-stderr --noshow_progress)
port=${DEMO_PORT:-20151}
tls_port=$((port + 1))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  bazel shutdown >/dev/null 2>&1
}
trap cleanup EXIT
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

port_free() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}
for p in "$port" "$tls_port" "$((port + 2))" "$((port + 3))" "$((port + 4))" "$((port + 5))" \
  "$((port + 6))"; do
  port_free "$p" || fail "port $p on 127.0.0.1 is already in use; free it or run: make demo DEMO_PORT=<another port>"
done

echo "demo: building //... (offline)"
bazel build "${flags[@]}" //... || fail "the build failed"

# Starts `bazel run TARGET -- ARGS` in the background and waits (20 s at most) for its
# "listening" line.
start_server() {
  local log=$1; shift
  : >"$log"  # the child truncates it only once it runs
  bazel run "${flags[@]}" "${quiet[@]}" "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    grep -q "listening" "$log" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  fail "$1 did not start"
}
run_client() {
  echo "demo: \$ bazel run $*"
  bazel run "${flags[@]}" "${quiet[@]}" "$@" 2>&1 | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

logdir=$(mktemp -d)
certs=$PWD/tests/testdata/tls

echo "demo: HTTP/2 over cleartext (h2c) — //examples/http2:hello_server on port $port"
start_server "$logdir/h2c.log" //examples/http2:hello_server -- --port="$port"
run_client //examples/http2:client -- --url="http://127.0.0.1:$port/" || fail "GET over h2c"
run_client //examples/http2:client -- --url="http://127.0.0.1:$port/echo" --data="hello, h2rpc" \
  || fail "POST echo over h2c"
echo

echo "demo: HTTP/2 over TLS (ALPN h2) — //examples/http2:hello_server on port $tls_port"
start_server "$logdir/tls.log" //examples/http2:hello_server -- --port="$tls_port" \
  --tls_cert="$certs/server.pem" --tls_key="$certs/server.key"
run_client //examples/http2:client -- --url="https://localhost:$tls_port/" --ca_file="$certs/ca.pem" \
  || fail "GET over TLS"
echo

grpc_port=$((port + 2))
route_port=$((port + 3))
echo "demo: gRPC helloworld — //examples/helloworld:greeter_server on port $grpc_port"
start_server "$logdir/greeter.log" //examples/helloworld:greeter_server -- --port="$grpc_port"
run_client //examples/helloworld:greeter_client -- --target="127.0.0.1:$grpc_port" --name=h2rpc \
  || fail "greeter_client (unary SayHello)"
# A browser-style call on the same port: the Connect protocol's JSON unary, over HTTP/1.1, the
# way a web page's fetch (or connect-web) makes it (examples/README.md, "Web apps").
connect_call=(curl -sS --http1.1 -H 'content-type: application/json' -d '{"name": "browser"}'
              "http://127.0.0.1:$grpc_port/helloworld.Greeter/SayHello")
echo "demo: the same SayHello as a web page makes it (Connect, JSON, HTTP/1.1):"
echo "demo: \$ ${connect_call[*]}"
connect_out=$("${connect_call[@]}" 2>&1) || fail "curl of a Connect JSON unary: $connect_out"
echo "    $connect_out"
grep -qF '"message":"Hello browser"' <<<"$connect_out" || fail "Connect JSON SayHello: $connect_out"
# The C++ client speaks it too (ChannelOptions::protocol; rpc/README.md, "Client protocols").
echo "demo: the same SayHello from the C++ client in the Connect protocol (JSON, HTTP/2):"
run_client //examples/helloworld:greeter_client -- --target="127.0.0.1:$grpc_port" \
  --name="h2rpc over Connect" --protocol=connect-json || fail "greeter_client --protocol=connect-json"
echo

sock=$logdir/greeter.sock
echo "demo: gRPC helloworld over a Unix domain socket — greeter_server --listen=unix:$sock"
start_server "$logdir/greeter_unix.log" //examples/helloworld:greeter_server -- --listen="unix:$sock"
run_client //examples/helloworld:greeter_client -- --target="unix:$sock" --name="h2rpc over unix" \
  || fail "greeter_client over a Unix socket"
echo

echo "demo: gRPC route_guide — unary, server streaming, client streaming and bidirectional streaming"
start_server "$logdir/route_guide.log" //examples/route_guide:route_guide_server -- --port="$route_port"
run_client //examples/route_guide:route_guide_client -- --target="127.0.0.1:$route_port" \
  || fail "route_guide_client (incl. the bidirectional RouteChat)"
echo

echo "demo: the Core API examples of the node:http2 docs, server and client in one process"
run_client //examples/http2:core_api_tour || fail "core_api_tour"
echo

# Prints a command, runs it indented; its status is the command's.
show() {
  echo "demo: \$ $*"
  "$@" 2>&1 | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}

file_port=$((port + 4))
www=$logdir/www
mkdir -p "$www/css" "$www/js"
cat >"$www/index.html" <<'HTML'
<!DOCTYPE html><html><head><title>h2rpc file_server</title>
<link rel="stylesheet" href="css/site.css"><script src="js/app.js"></script></head>
<body><h1>Served by //examples/http2:file_server, its assets pushed</h1></body></html>
HTML
echo "h1 { color: green }" >"$www/css/site.css"
echo "console.log('pushed with the page');" >"$www/js/app.js"
seq 1 2000 >"$www/numbers.txt"
echo "demo: static files with server push and ranges — //examples/http2:file_server --push on port $file_port"
start_server "$logdir/file_server.log" //examples/http2:file_server -- --root="$www" \
  --port="$file_port" --push
# nghttp -a fetches the page's assets; pushed streams are marked '*' in its statistics.
out=$(timeout 30 nghttp -ans "http://127.0.0.1:$file_port/index.html" 2>&1)
echo "demo: \$ nghttp -ans http://127.0.0.1:$file_port/index.html  (its statistics; '*': pushed)"
sed -n '/^id  *responseEnd/,$p' <<<"$out" | sed 's/^/    /'
grep -q '^id  *responseEnd' <<<"$out" || { echo "$out"; fail "nghttp -ans printed no statistics"; }
for asset in /css/site.css /js/app.js; do
  grep -Eq "^ *[0-9]*[02468] +\\+[0-9.]+[mu]?s \\* .* 200 +[0-9]+ $asset\$" <<<"$out" ||
    fail "file_server --push: $asset did not arrive as a pushed stream"
done
show curl -sS --http2-prior-knowledge -D - -r 0-19 "http://127.0.0.1:$file_port/numbers.txt" \
  || fail "Range request to file_server"
echo

ws_port=$((port + 5))
node=/usr/bin/node
[[ -x /opt/h2rpc/node20/bin/node ]] && node=/opt/h2rpc/node20/bin/node
echo "demo: WebSocket over HTTP/2 (RFC 8441) — //examples/http2:websocket_echo on port $ws_port, Node's client"
start_server "$logdir/websocket.log" //examples/http2:websocket_echo -- --port="$ws_port"
out=$(timeout 60 "$node" examples/http2/websocket_echo_client.js "$ws_port" 2>&1)
rc=$?
echo "demo: \$ node examples/http2/websocket_echo_client.js $ws_port"
sed 's/^/    /' <<<"$out"
[[ $rc -eq 0 ]] && grep -qx "websocket: ok" <<<"$out" || fail "websocket_echo with Node's client"
echo

compat_port=$((port + 6))
echo "demo: the compatibility API (req, res), HTTP/1.1 and HTTP/2 on one port — //examples/http2:compat_server on port $compat_port"
start_server "$logdir/compat.log" //examples/http2:compat_server -- --port="$compat_port"
show curl -sS --http1.1 -D - "http://127.0.0.1:$compat_port/trailers" || fail "compat_server over HTTP/1.1"
show curl -sS --http2-prior-knowledge -D - "http://127.0.0.1:$compat_port/trailers" \
  || fail "compat_server over HTTP/2"
show curl -sS --http2-prior-knowledge -i "http://127.0.0.1:$compat_port/page" \
  || fail "compat_server's early hints"
echo

for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait 2>/dev/null
pids=()
grep -h "GOAWAY\|closed\|shutting down\|stopped" "$logdir"/*.log | sed 's/^/    /'
rm -rf "$logdir"
echo "demo: ok"
