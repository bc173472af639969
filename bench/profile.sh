#!/usr/bin/env bash
# bench/profile.sh — where a server's time goes: the server under callgrind (instruction counts,
# deterministic, so a busy machine does not matter), a fixed h2load run against it, and
# instructions per request with the top symbols. See bench/README.md, "Profiling".
#
#   bench/profile.sh [h2rpc|grpcpp] [SIZE=0|1024] [REQUESTS=20000]
#   SERVER_FLAGS=--max_concurrent_streams=1000 bench/profile.sh h2rpc   # extra server flags
#
# Steps: start the server under `valgrind --tool=callgrind`, warm up with 2000 requests, zero the
# counters (callgrind_control -z), run exactly REQUESTS requests with h2load (8 connections × 32
# streams, the gRPC-shaped POST of bench/run.sh), dump (callgrind_control -d), stop the server.
# Writes $OUTDIR/callgrind.out.<impl>-<size> (OUTDIR defaults to /tmp/h2rpc-profile) and prints
# the instructions per request and callgrind_annotate's top symbols (inclusive and exclusive).
set -uo pipefail
cd "$(dirname "$0")/.."
impl=${1:-h2rpc}
size=${2:-0}
requests=${3:-20000}
BAZEL=${BAZEL:-bazel}
OUTDIR=${OUTDIR:-/tmp/h2rpc-profile}
mkdir -p "$OUTDIR"
die() { echo "profile: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "needs valgrind"
command -v h2load >/dev/null || die "needs h2load (nghttp2-client)"

$BAZEL build --symlink_prefix=/ --config=opt --noshow_progress //bench:bench_server \
  //bench:grpcpp_bench_server //bench:make_request >"$OUTDIR/build.log" 2>&1 ||
  { cat "$OUTDIR/build.log"; die "build failed"; }
bin=$($BAZEL info --config=opt bazel-bin 2>/dev/null)/bench
case $impl in
  h2rpc) server=$bin/bench_server ;;
  grpcpp) server=$bin/grpcpp_bench_server ;;
  *) die "impl is h2rpc or grpcpp" ;;
esac
"$bin/make_request" --req_size="$size" --resp_size="$size" "$OUTDIR/req.bin" || die "make_request"

out=$OUTDIR/callgrind.out.$impl-$size
log=$OUTDIR/server-$impl.log
# shellcheck disable=SC2086
valgrind --tool=callgrind --callgrind-out-file="$out" "$server" --port=0 ${SERVER_FLAGS:-} \
  >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 600); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$log"; die "server did not start"; }
load() {
  h2load -c 8 -m 32 -t 1 -n "$1" -d "$OUTDIR/req.bin" -H 'content-type: application/grpc' \
    -H 'te: trailers' "http://127.0.0.1:$port/grpc.testing.BenchmarkService/UnaryCall" 2>&1 |
    grep -E '^requests:'
}
load 2000 >/dev/null
callgrind_control -z "$pid" >/dev/null
echo "h2load -c 8 -m 32 -t 1 -n $requests (${size} B request and response payloads):"
load "$requests"
callgrind_control -d "$pid" >/dev/null
kill -TERM "$pid"
wait "$pid" 2>/dev/null
# callgrind_control -d wrote the measured run to $out.1 ($out itself is the rest, up to exit).
dump=$out.1
[ -f "$dump" ] || die "no dump $dump"
ir=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "profile: $dump"
echo "instructions: $ir total, $((ir / requests)) per request"
echo
# Symbol names only (no object path), one line each.
annotate() {
  callgrind_annotate --auto=no "$@" "$dump" 2>/dev/null |
    sed -n '/file:function/,/^$/p' | sed 's/ \[[^]]*\]$//' | cut -c1-220
}
echo
echo "--- exclusive (self), top 30 ---"
annotate --inclusive=no --threshold=100 | head -33
echo
echo "--- inclusive, top 60 ---"
annotate --inclusive=yes --threshold=100 | head -63
