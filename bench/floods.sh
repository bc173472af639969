#!/usr/bin/env bash
# bench/floods.sh — `make floods`: hostile HTTP/2 clients (HPACK bomb, rapid reset, CONTINUATION,
# PING, SETTINGS, empty DATA, PRIORITY, WINDOW_UPDATE 0 floods, idle connections) against
# bench_server (gRPC) and examples/http2:hello_server, beside nghttpd and gRPC C++'s bench server,
# while a paced h2load on other connections measures legitimate success, p99 and server RSS.
# Writes bench/FLOODS.md (bench/floods.py). About 4 × 10 × (DURATION + 1) s.
#
#   make floods                      # DURATION=4 s per attack, all servers and attacks
#   DURATION=2 ONLY=hpack_bomb SERVERS=h2rpc_grpc,grpcpp make floods
#
# Settings (environment): DURATION, ONLY (attacks, comma-separated), SERVERS, IDLE_CONNS (1000),
# BAZEL (bazel), OUT (bench/FLOODS.md), BEFORE_BIN and BEFORE_LABEL (below).
set -euo pipefail
cd "$(dirname "$0")/.."
BAZEL=${BAZEL:-bazel}
for tool in h2load nghttpd taskset /usr/bin/python3; do
  command -v "$tool" >/dev/null || {
    echo "floods: needs $tool (Debian: nghttp2-client, nghttp2-server, util-linux, python3)" >&2
    exit 1
  }
done
$BAZEL build --config=opt --noshow_progress //bench:bench_server //bench:grpcpp_bench_server \
  //bench:make_request //examples/http2:hello_server
bin=$($BAZEL info --config=opt bazel-bin 2>/dev/null)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- transport rpc bench examples 2>/dev/null || commit="$commit+dirty"
args=(--bin "$bin" --duration "${DURATION:-4}" --idle_conns "${IDLE_CONNS:-1000}"
      --out "${OUT:-bench/FLOODS.md}" --commit "$commit")
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
[ -n "${SERVERS:-}" ] && args+=(--servers "$SERVERS")
# BEFORE_BIN=DIR: also run bench_server and hello_server from DIR (bench/, examples/http2/
# below it), e.g. binaries built from an older commit; BEFORE_LABEL names it in the report.
[ -n "${BEFORE_BIN:-}" ] && args+=(--before_bin "$BEFORE_BIN" --before_label "${BEFORE_LABEL:-}")
exec /usr/bin/python3 bench/floods.py "${args[@]}"
