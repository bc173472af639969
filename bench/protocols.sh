#!/usr/bin/env bash
# bench/protocols.sh — `make bench-protocols`: what each protocol rpc::Server speaks costs beside
# gRPC. The same bench_server (1 loop on SERVER_CPU, --stats, --allow_http1) under the same h2load
# load (8 connections × 32 streams, on CLIENT_CPU) of unary UnaryCall POSTs, 0 B and 1 KiB
# payloads, in: gRPC, gRPC-Web (binary), gRPC-Web text (base64 body), Connect unary proto (bare
# message) and JSON; gRPC-Web and Connect also over HTTP/1.1 (h2load --h1: 8 connections with 32
# pipelined requests each). Writes bench/PROTOCOLS.md (bench/protocols_report.py): req/s median
# over ROUNDS, server CPU µs per request, ratio to gRPC.
#
#   make bench-protocols                      # 3 rounds, 5 s per run (~3 min)
#   ROUNDS=1 DURATION=1 make bench-protocols  # a quick check (figures meaningless)
#
# Settings (environment): ROUNDS (3), DURATION (5 s measured per run), WARMUP (1 s), SERVER_CPU
# (0), CLIENT_CPU (1), KINDS (all; comma-separated subset of the names below), BAZEL (bazel),
# OUT (bench/PROTOCOLS.md), BIN (a directory holding bench_server and make_request: skips the
# build; bench:protocols_smoke_test uses it), RAW (also copy the raw figures there).
#
# Each run gets a fresh server. It counts only if: one request of that kind answers OK before
# (gRPC and gRPC-Web: grpc-status 0 in the trailers or the trailer frame; Connect: HTTP 200 with
# a body), h2load reports no failed or errored request, the same check passes after, and the
# server's --stats line at exit has not_ok=0 and at least h2load's successes as OK calls. A run
# that fails records no value; it is listed in the report (failed.tsv) and the medians are over
# the surviving rounds.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BAZEL=${BAZEL:-bazel}
OUT=${OUT:-bench/PROTOCOLS.md}
ALL_KINDS=grpc,grpcweb,grpcwebtext,connect_proto,connect_json,h1_grpcweb,h1_grpcwebtext,h1_connect_proto,h1_connect_json
KINDS=${KINDS:-$ALL_KINDS}

die() { echo "bench-protocols: $*" >&2; exit 1; }
for tool in h2load curl taskset base64 /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "needs $tool (Debian: nghttp2-client, curl, util-linux, coreutils, python3)"
done

work=$(mktemp -d /tmp/h2rpc-protocols.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  echo "bench-protocols: building (bazel --config=opt) ..."
  $BAZEL build --config=opt --noshow_progress //bench:bench_server //bench:make_request \
    >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "build failed"; }
  bin=$($BAZEL info --config=opt bazel-bin 2>/dev/null)/bench
  [ -n "${KEEP_BAZEL:-}" ] || $BAZEL shutdown >/dev/null 2>&1
fi
if [ ! -x "$bin/bench_server" ] || [ ! -x "$bin/make_request" ]; then
  die "no bench_server/make_request under $bin"
fi
ulimit -n 65536 2>/dev/null || true

# The bodies, per size (0: 0 B request and response; 1k: 1 KiB each): the gRPC envelope (gRPC,
# gRPC-Web), its base64 (gRPC-Web text), the bare message (Connect proto), its JSON mapping.
for size in 0 1k; do
  n=0; [ "$size" = 1k ] && n=1024
  "$bin/make_request" --req_size=$n --resp_size=$n "$work/env_$size.bin" || die "make_request"
  "$bin/make_request" --req_size=$n --resp_size=$n --no_envelope "$work/raw_$size.bin" || die "make_request"
  "$bin/make_request" --req_size=$n --resp_size=$n --json "$work/json_$size.bin" || die "make_request"
  base64 -w0 "$work/env_$size.bin" >"$work/text_$size.bin"
done

# kind_spec KIND: sets ctype, headers (extra -H arguments, one per line), body (file prefix), h1.
kind_spec() {
  h1=0
  local k=$1
  case $k in h1_*) h1=1; k=${k#h1_} ;; esac
  case $k in
    grpc) ctype=application/grpc headers=$'te: trailers' body=env ;;
    grpcweb) ctype=application/grpc-web+proto headers=$'x-grpc-web: 1' body=env ;;
    grpcwebtext) ctype=application/grpc-web-text headers=$'x-grpc-web: 1' body=text ;;
    connect_proto) ctype=application/proto headers=$'connect-protocol-version: 1' body=raw ;;
    connect_json) ctype=application/json headers=$'connect-protocol-version: 1' body=json ;;
    *) die "unknown kind $1 (known: $ALL_KINDS)" ;;
  esac
}

url() { echo "http://127.0.0.1:$1/grpc.testing.BenchmarkService/UnaryCall"; }

# check_ok KIND SIZE PORT: one request of that kind (curl, the same protocol version) answers
# OK; prints why not otherwise.
check_ok() {
  kind_spec "$1"
  local args=(-s -m 10 -o "$work/resp.body" -D "$work/resp.head" -w '%{http_code}'
              -H "content-type: $ctype" --data-binary "@$work/${body}_$2.bin")
  while IFS= read -r h; do args+=(-H "$h"); done <<<"$headers"
  if [ "$h1" = 1 ]; then args+=(--http1.1); else args+=(--http2-prior-knowledge); fi
  local code
  code=$(curl "${args[@]}" "$(url "$3")") || { echo "curl failed ($code)"; return 1; }
  [ "$code" = 200 ] || { echo "HTTP $code"; return 1; }
  case $1 in
    *connect_*)
      # An empty response message is an empty body (proto) or {} (JSON): the check is the 200.
      return 0 ;;
    *grpcwebtext)
      # The body is base64 chunks, each padded: decode them one by one.
      /usr/bin/python3 -c '
import base64, re, sys
data = open(sys.argv[1], "rb").read()
out = b"".join(base64.b64decode(c) for c in re.findall(rb"[^=]+=*", data))
sys.exit(0 if b"grpc-status: 0\r\n" in out or b"grpc-status:0\r\n" in out else 1)' "$work/resp.body" \
        || { echo "no grpc-status 0 in the decoded trailer frame"; return 1; }
      ;;
    *grpcweb)
      grep -aq 'grpc-status: \?0' "$work/resp.body" "$work/resp.head" \
        || { echo "no grpc-status 0 (trailer frame or headers)"; return 1; } ;;
    grpc)
      grep -aqi '^grpc-status: 0' "$work/resp.head" || { echo "no grpc-status 0 trailer"; return 1; } ;;
  esac
  return 0
}

# h2load_cmd KIND SIZE PORT SECONDS: the command, quoted for eval.
h2load_cmd() {
  kind_spec "$1"
  local cmd=(taskset -c "$CLIENT_CPU" h2load -c 8 -m 32 -D "$4") file=$work/${body}_$2.bin
  # Connect's 0 B request is the empty message, an empty body: h2load cannot -d (mmap) an empty
  # file, and without -d it sends GETs, so POST is asked for with the :method header.
  if [ -s "$file" ]; then cmd+=(-d "$file"); else cmd+=(-H ':method: POST'); fi
  cmd+=(-H "content-type: $ctype")
  while IFS= read -r h; do cmd+=(-H "$h"); done <<<"$headers"
  [ "$h1" = 1 ] && cmd+=(--h1)
  cmd+=("$(url "$3")")
  printf '%q ' "${cmd[@]}"
}

raw=$work/raw.tsv failed=$work/failed.tsv cmds=$work/commands.txt
: >"$raw"; : >"$failed"; : >"$cmds"
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$3" "$4" >>"$raw"; }
record_failed() {
  printf '%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$(tr '\t\n' '  ' <<<"$3" | cut -c1-200)" >>"$failed"
  echo "bench-protocols: round $round: $1 $2 FAILED, excluded: $3" >&2
}

# run KIND SIZE: one measurement on a fresh server.
run() {
  local kind=$1 size=$2 log=$work/server.log reason="" out="" t0 t1
  local scmd=(taskset -c "$SERVER_CPU" "$bin/bench_server" --port=0 --stats --allow_http1)
  : >"$log"
  "${scmd[@]}" >"$log" 2>&1 &
  server_pid=$!
  local port
  port=$(wait_listening "$log" "$server_pid") || { cat "$log" >&2; die "bench_server did not start"; }
  if [ "$round" = 1 ]; then
    echo "${scmd[*]}" | sed "s|$bin|\$BIN|g" >>"$cmds"
    h2load_cmd "$kind" "$size" PORT "$DURATION" | sed "s|$work|\$WORK|g" >>"$cmds"
    echo >>"$cmds"
  fi
  if ! why=$(check_ok "$kind" "$size" "$port"); then
    reason="before the run: $why"
  else
    [ "$WARMUP" != 0 ] && eval "$(h2load_cmd "$kind" "$size" "$port" "$WARMUP")" >/dev/null 2>&1
    t0=$(cpu_ns "$server_pid")
    out=$(eval "$(h2load_cmd "$kind" "$size" "$port" "$DURATION")" 2>&1)
    t1=$(cpu_ns "$server_pid")
    local h2_rps h2_ok h2_bad
    h2load_parse "$out"
    if [ -z "$h2_rps" ] || [ -z "$h2_ok" ] || [ "$h2_ok" = 0 ] || [ "$h2_bad" != 00 ]; then
      reason="h2load: $(grep -a '^requests:' <<<"$out" | head -1)"
      [ "$reason" = "h2load: " ] && reason="h2load: no result ($(tail -1 <<<"$out"))"
    elif ! why=$(check_ok "$kind" "$size" "$port"); then
      reason="after the run: $why"
    fi
  fi
  stop_server "$server_pid"
  server_pid=""
  local st_ok st_not_ok
  stats_parse "$log"
  if [ -z "$reason" ]; then
    if [ -z "$st_ok" ]; then
      reason="no stats line at exit (crashed or hung?)"
    elif [ "$st_not_ok" != 0 ]; then
      reason="server stats: not_ok=$st_not_ok ($(grep -a '^not ok:' "$log" | head -1))"
    elif [ "$st_ok" -lt "$h2_ok" ]; then
      reason="server stats: ok=$st_ok, fewer than h2load's $h2_ok successes"
    fi
  fi
  if [ -n "$reason" ]; then
    record_failed "$kind" "$size" "$reason"
    return
  fi
  record "$kind" "$size" rps "$h2_rps"
  record "$kind" "$size" cpu_us_per_req "$(awk -v d=$((t1 - t0)) -v n="$h2_ok" 'BEGIN {printf "%.2f", d / 1e3 / n}')"
  record "$kind" "$size" errors 0
  echo "bench-protocols: round $round: $kind $size: $h2_rps req/s"
}

load_start=$(cat /proc/loadavg)
t_start=$(date +%s)
IFS=, read -r -a kinds <<<"$KINDS"
for k in "${kinds[@]}"; do kind_spec "$k"; done  # unknown names fail before measuring
for round in $(seq "$ROUNDS"); do
  for size in 0 1k; do
    for k in "${kinds[@]}"; do run "$k" "$size"; done
  done
done
t_end=$(date +%s)
[ -n "${RAW:-}" ] && cp "$raw" "$RAW" && cp "$failed" "$RAW.failed"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
/usr/bin/python3 bench/protocols_report.py --raw "$raw" --failed "$failed" --commands "$cmds" \
  --out "$OUT" --kinds "$KINDS" --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" \
  --server_cpu "$SERVER_CPU" --client_cpu "$CLIENT_CPU" --elapsed $((t_end - t_start)) \
  --load_start "$load_start" --load_end "$(cat /proc/loadavg)" --commit "$commit" || die "report failed"
echo "bench-protocols: wrote $OUT"
