#!/usr/bin/env bash
# bench/run.sh — `make bench`: h2rpc against gRPC C++ 1.51 (async, 1 completion-queue thread) and
# grpc-go 1.33 (Debian's, GOMAXPROCS=1 on SERVER_CPU), in one run, interleaved, several rounds; medians and ratios go to bench/RESULTS.md with the exact
# commands. What each figure means: bench/README.md.
#
#   make bench                         # 3 rounds, 5 s per measurement (~17 min on 2 cores)
#   ROUNDS=5 DURATION=10 make bench
#   BAZEL="bazel --output_base=/tmp/ob" make bench
#
# Settings (environment): ROUNDS (3), DURATION (5 s measured per run), WARMUP (1 s), IDLE_CONNS
# (1000), SERVER_CPU (0) and CLIENT_CPU (1) for taskset, BUSY_POLL_US (100: the busy-polling
# latency runs), SCALING (1: the --loops=1/2 runs), BAZEL (bazel), OUT (bench/RESULTS.md),
# KEEP_BAZEL=1 to leave the Bazel server running after the build (it is shut down by default, so
# it does not sit on memory and CPU while we measure), GRPCGO (1: grpc-go's server in every server
# row; 0 leaves it out), PINGPONG_CONC (1: the concurrent ping-pong rows 8×32 and 64×1), STATS
# (1: the main rows' h2rpc and grpc-go servers run with --stats, a per-call status counter, and a
# server that ended a call with a status other than OK or CANCELLED, or counted fewer OK calls
# than h2load's successes, has all its rows of that round thrown out), NGHTTPD (1: nghttpd
# serving the gRPC response as a file under the same h2load POSTs: the ceiling of the same
# HTTP/2 library).
#
# A run that fails (h2load errors, a client's errors != 0, no output, a server answering without
# grpc-status 0) records no value: it goes to $work/failed.tsv (round, server, client, metric,
# reason), which report.py lists in RESULTS.md; medians are over the surviving rounds.
set -uo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
IDLE_CONNS=${IDLE_CONNS:-1000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BUSY_POLL_US=${BUSY_POLL_US:-100}
SCALING=${SCALING:-1}
BAZEL=${BAZEL:-bazel}
OUT=${OUT:-bench/RESULTS.md}
# Extra flags for bench_server (e.g. --max_concurrent_streams=N); none by default. Until
# 5c83d30 the default was --max_concurrent_streams=1000, a workaround for the closed-stream
# pile-up (bench/README.md, "Known issues") that rpc::Server now applies itself.
H2RPC_SERVER_FLAGS=${H2RPC_SERVER_FLAGS-}
GRPCGO=${GRPCGO:-1}
PINGPONG_CONC=${PINGPONG_CONC:-1}
STATS=${STATS:-1}
NGHTTPD=${NGHTTPD:-1}

die() { echo "bench: $*" >&2; exit 1; }
for tool in h2load nghttp taskset /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "needs $tool (Debian: nghttp2-client, util-linux, python3)"
done
[ "${NGHTTPD:-1}" = 1 ] && ! command -v nghttpd >/dev/null && die "needs nghttpd (Debian: nghttp2-server; NGHTTPD=0 skips it)"

work=$(mktemp -d /tmp/h2rpc-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- build ------------------------------------------------------------------------------------
echo "bench: building (bazel --config=opt) ..."
targets=(//bench:bench_server //bench:bench_client //bench:grpcpp_bench_server
         //bench:grpcpp_bench_client //bench:idle_conns //bench:make_request //bench:tcp_pingpong)
$BAZEL build --symlink_prefix=/ --config=opt --noshow_progress "${targets[@]}" \
  >"$work/build.log" 2>&1 || { cat "$work/build.log"; die "build failed"; }
bin=$($BAZEL info --config=opt bazel-bin 2>/dev/null)/bench
[ -x "$bin/bench_server" ] || die "no binaries under $bin"
[ -n "${KEEP_BAZEL:-}" ] || $BAZEL shutdown >/dev/null 2>&1
servers=(h2rpc grpcpp)
if [ "$GRPCGO" = 1 ]; then
  echo "bench: building grpc-go's server (bench/grpcgo/build.sh) ..."
  bench/grpcgo/build.sh "$work/go" >"$work/gobuild.log" 2>&1 || { cat "$work/gobuild.log"; die "grpc-go build failed (GRPCGO=0 leaves it out)"; }
  servers+=(grpcgo)
fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
clk_tck=$(getconf CLK_TCK)
"$bin/make_request" --req_size=0 --resp_size=0 "$work/req0.bin" || die "make_request"
"$bin/make_request" --req_size=1024 --resp_size=1024 "$work/req1k.bin" || die "make_request"

raw=$work/raw.tsv
failed=$work/failed.tsv
cmds=$work/commands.txt
: >"$raw"
: >"$failed"
: >"$cmds"
round=0

# Records one value: SERVER CLIENT METRIC VALUE.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$3" "$4" >>"$raw"; }
# A failed run: SERVER CLIENT METRIC REASON (no value is recorded for it).
record_failed() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$1" "$2" "$3" "$(tr '\t\n' '  ' <<<"$4" | sed 's/ *$//' | cut -c1-200)" >>"$failed"
  echo "bench: round $round: $2 client against $1 ($3) FAILED, excluded: $4" >&2
}
# The exact command, once (round 1), with the binaries' directory shown as $BIN.
log_cmd() { [ "$round" = 1 ] && echo "$*" | sed "s|$bin|\$BIN|g; s|$work|\$WORK|g" >>"$cmds"; }

server_bin() {
  case $1 in
    h2rpc) echo "$bin/bench_server" ;;
    grpcpp) echo "$bin/grpcpp_bench_server" ;;
    grpcgo) echo "$work/go/grpcgo" ;;
    tcp) echo "$bin/tcp_pingpong" ;;
  esac
}
client_bin() {
  case $1 in
    h2rpc) echo "$bin/bench_client" ;;
    grpcpp) echo "$bin/grpcpp_bench_client" ;;
    tcp) echo "$bin/tcp_pingpong" ;;
  esac
}

# start_server IMPL VAR: starts IMPL's server on SERVER_CPU (or on server_cpus when set), with
# $server_extra; sets VAR_pid and VAR_port.
start_server() {
  local impl=$1 var=$2 log="$work/$2.log"
  local cmd=(taskset -c "${server_cpus:-$SERVER_CPU}" "$(server_bin "$impl")" --port=0)
  # grpc-go: one Go thread running goroutines, like the others' one loop (GOMAXPROCS=1).
  [ "$impl" = grpcgo ] && cmd=(env GOMAXPROCS=1 "${cmd[@]}")
  # shellcheck disable=SC2206
  [ "$impl" = h2rpc ] && cmd+=($H2RPC_SERVER_FLAGS)
  # shellcheck disable=SC2206
  [ -n "${server_extra:-}" ] && cmd+=($server_extra)
  [ -n "${server_stats:-}" ] && [ "$impl" != grpcpp ] && cmd+=(--stats)
  log_cmd "${cmd[*]}"
  : >"$log"  # the child truncates it only once it runs: never read a stale "listening"
  "${cmd[@]}" >"$log" 2>&1 &
  local pid=$! port=""
  pids+=("$pid")
  for _ in $(seq 200); do
    port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$log"; die "$impl server did not start"; }
  printf -v "${var}_pid" '%s' "$pid"
  printf -v "${var}_port" '%s' "$port"
}
# stop_server, cpu_ticks, cpu_ns, rss_kib, h2load_parse, stats_parse.
# shellcheck source=bench/lib.sh
source bench/lib.sh

# The gRPC-shaped request h2load posts must get grpc-status 0 (h2load itself only sees :status).
# check_grpc_ok PORT SERVER: 0 if it does. Run before and after each server's h2load rows: a
# server that stops answering correctly fails its rows (h2load would count HTTP 200s).
check_grpc_ok() {
  command -v nghttp >/dev/null || die "needs nghttp (Debian: nghttp2-client)"
  nghttp -v -d "$work/req1k.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$1/grpc.testing.BenchmarkService/UnaryCall" 2>&1 | grep -aq 'grpc-status: 0'
}

# h2load_cmd PORT SECONDS FILE: the load of the h2load figures (8 connections × 32 streams).
h2load_cmd() {
  echo taskset -c "${h2load_cpus:-$CLIENT_CPU}" h2load -c 8 -m 32 -t "${h2load_threads:-1}" -D "$2" -d "$3" \
    -H "'content-type: application/grpc'" -H "'te: trailers'" \
    "http://127.0.0.1:$1/grpc.testing.BenchmarkService/UnaryCall"
}

# h2load_unary SERVER PID PORT LABEL FILE: a warm-up run, then the measured one: req/s, and the
# server's CPU time (utime + stime from /proc/PID/stat) over it divided by the requests.
h2load_unary() {
  local impl=$1 pid=$2 port=$3 label=$4 file=$5
  eval "$(h2load_cmd "$port" "$WARMUP" "$file")" >/dev/null 2>&1
  local cmd
  cmd=$(h2load_cmd "$port" "$DURATION" "$file")
  log_cmd "$cmd"
  local t0 t1 out
  t0=$(cpu_ticks "$pid")
  out=$(eval "$cmd" 2>&1)
  t1=$(cpu_ticks "$pid")
  local rps ok bad h2_rps h2_ok h2_bad
  h2load_parse "$out"
  rps=$h2_rps ok=$h2_ok bad=$h2_bad
  local reason=""
  if [ -z "$rps" ] || [ -z "$ok" ] || [ "$ok" = 0 ] || [ "$bad" != 00 ]; then
    reason="h2load: $(grep -a '^requests:' <<<"$out" | head -1)"
    [ "$reason" = "h2load: " ] && reason="h2load: no result ($(tail -1 <<<"$out"))"
  elif [ "$impl" != nghttpd ] && ! check_grpc_ok "$port" "$impl"; then
    reason="after the run the server no longer answers with grpc-status 0"
  fi
  if [ -n "$reason" ]; then
    record_failed "$impl" h2load "h2load_$label" "$reason"
    return
  fi
  record "$impl" h2load "h2load_$label.rps" "$rps"
  h2ok[$impl]=$((${h2ok[$impl]:-0} + ok))
  record "$impl" h2load "h2load_$label.cpu_us_per_req" \
    "$(awk -v d=$((t1 - t0)) -v n="$ok" -v hz="$clk_tck" 'BEGIN {printf "%.3f", d * 1e6 / hz / n}')"
}

# h2load_paced SERVER PID PORT RPS: paced unary 0 B load, 8 connections of one stream each,
# each sending RPS requests/s (h2load --rps): the server's CPU (% of one CPU, and µs per request,
# from the scheduler's run time) and h2load's mean request time. Load that leaves the loop idle
# between requests: what idle polling costs and brings under moderate traffic.
h2load_paced() {
  local impl=$1 pid=$2 port=$3 rps=$4
  local cmd="taskset -c $CLIENT_CPU h2load -c 8 -m 1 --rps=$rps -D $DURATION -d $work/req0.bin"
  cmd+=" -H 'content-type: application/grpc' -H 'te: trailers'"
  cmd+=" http://127.0.0.1:$port/grpc.testing.BenchmarkService/UnaryCall"
  log_cmd "$cmd"
  local t0 t1 out ok mean
  check_grpc_ok "$port" "$impl" || { record_failed "$impl" h2load "paced_$((rps * 8))" "no grpc-status 0 before the run"; return; }
  t0=$(cpu_ns "$pid")
  out=$(eval "$cmd" 2>&1)
  t1=$(cpu_ns "$pid")
  ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
  # "time for request:  min  max  mean  sd  +/- sd", each with its unit (us or ms).
  mean=$(awk '/^time for request:/ {v = $6; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         print (u == "ms" ? v * 1000 : (u == "s" ? v * 1e6 : v))}' <<<"$out")
  if [ -z "$ok" ] || [ "$ok" = 0 ] || ! grep -aq '^requests: .* 0 failed, 0 errored' <<<"$out"; then
    record_failed "$impl" h2load "paced_$((rps * 8))" "h2load: $(grep -a '^requests:' <<<"$out" | head -1)"
    return
  fi
  record "$impl" h2load "paced_$((rps * 8)).server_cpu_pct" \
    "$(awk -v d=$((t1 - t0)) -v s="$DURATION" 'BEGIN {printf "%.1f", d / (s * 1e7)}')"
  record "$impl" h2load "paced_$((rps * 8)).cpu_us_per_req" \
    "$(awk -v d=$((t1 - t0)) -v n="$ok" 'BEGIN {printf "%.2f", d / 1e3 / n}')"
  [ -n "$mean" ] && record "$impl" h2load "paced_$((rps * 8)).mean_us" "$mean"
}

json() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }

# client_run SERVER CLIENT PORT METRIC MODE CHANNELS OUTSTANDING REQ RESP FIELD...: one closed-loop
# run; records each FIELD of its JSON line as METRIC.FIELD.
client_run() {
  local server=$1 client=$2 port=$3 metric=$4 mode=$5 ch=$6 out=$7 req=$8 resp=$9
  shift 9
  local cmd=(taskset -c "$CLIENT_CPU" "$(client_bin "$client")" --target=127.0.0.1:"$port")
  # tcp_pingpong has one shape (1 connection, 40-byte messages): no mode or size flags.
  [ "$client" = tcp ] || cmd+=(--mode="$mode" --channels="$ch" --outstanding="$out"
                               --req_size="$req" --resp_size="$resp")
  cmd+=(--warmup_s="$WARMUP" --duration_s="$DURATION")
  # shellcheck disable=SC2206
  [ -n "${client_extra:-}" ] && cmd+=($client_extra)
  log_cmd "${cmd[*]}"
  local line t0=0 t1=0
  [ -n "${server_pid:-}" ] && t0=$(cpu_ns "$server_pid")
  line=$("${cmd[@]}" 2>"$work/client.err" | grep '^{' | tail -1)
  [ -n "${server_pid:-}" ] && t1=$(cpu_ns "$server_pid")
  if [ -z "$line" ] || [ "$(json "$line" errors)" != 0 ] || [ "$(json "$line" ops)" = 0 ]; then
    cat "$work/client.err" >&2
    if [ -z "$line" ]; then
      record_failed "$server" "$client" "$metric" "no result ($(tail -1 "$work/client.err"))"
    else
      record_failed "$server" "$client" "$metric" "errors=$(json "$line" errors) ops=$(json "$line" ops)"
    fi
    return
  fi
  for field in "$@"; do
    record "$server" "$client" "$metric.$field" "$(json "$line" "$field")"
  done
  # With server_pid set: the server's CPU per op, its run time over the whole run (warm-up
  # included) divided by the ops of the whole run (the measured rate times the run's length).
  local rate
  rate=$(json "$line" ops_per_s)
  if [ -n "${server_pid:-}" ] && [ -n "$rate" ]; then
    record "$server" "$client" "$metric.server_cpu_us_per_op" \
      "$(awk -v d=$((t1 - t0)) -v r="$rate" -v s="$((DURATION + WARMUP))" \
        'BEGIN {if (r > 0) printf "%.2f", d / 1e3 / (r * s)}')"
  fi
}

# rss_per_conn IMPL [active]: a fresh server; its RSS before and after IDLE_CONNS idle
# connections, or active ones (idle_conns --active: each made one unary call and holds a
# ping-pong call open).
rss_per_conn() {
  local impl=$1 mode=${2:-idle}
  local metric=rss_kib_per_conn flag=()
  if [ "$mode" = active ]; then metric=rss_kib_per_active_conn flag=(--active); fi
  start_server "$impl" rss
  sleep 0.5
  local before after
  before=$(rss_kib "$rss_pid")
  local cmd=(taskset -c "$CLIENT_CPU" "$bin/idle_conns" 127.0.0.1 "$rss_port" "$IDLE_CONNS" "${flag[@]}")
  log_cmd "${cmd[*]}   # VmRSS of the server from /proc/PID/status before and after"
  "${cmd[@]}" >"$work/idle.log" 2>&1 &
  local ipid=$!
  pids+=("$ipid")
  for _ in $(seq 600); do
    grep -q '^ready' "$work/idle.log" && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q '^ready' "$work/idle.log"; then
    sleep 0.5
    after=$(rss_kib "$rss_pid")
    record "$impl" idle_conns "$metric" \
      "$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN {printf "%.2f", (a - b) / n}')"
    if [ "$mode" = idle ]; then record "$impl" idle_conns rss_kib_base "$before"; fi
  else
    cat "$work/idle.log" >&2
    echo "bench: $mode connections to $impl failed" >&2
  fi
  kill -9 "$ipid" 2>/dev/null
  wait "$ipid" 2>/dev/null
  stop_server "$rss_pid"
}

# h2load's successful requests per server in this round's main rows (measured runs only).
declare -A h2ok
# stop_main IMPL: stops the main rows' server of IMPL; with --stats, checks its count: a call
# that ended with another status than OK (or the client's CANCELLED), or fewer OK calls than
# h2load counted, throws out all of IMPL's rows of this round (report.py: metric "*").
stop_main() {
  local impl=$1 log=$work/srv_$1.log
  stop_server "$(pid_of "$impl")"
  [ "$STATS" = 1 ] && [ "$impl" != grpcpp ] || return 0
  local line ok bad st_ok st_not_ok
  line=$(grep -a '^stats:' "$log" | tail -1)
  stats_parse "$log"
  ok=$st_ok bad=$st_not_ok
  if [ -z "$ok" ]; then
    record_failed "$impl" "*" "*" "no stats line at exit (crashed or hung?)"
  elif [ "$bad" != 0 ]; then
    record_failed "$impl" "*" "*" "server stats: $line (calls ended with an error status)"
  elif [ "$ok" -lt "${h2ok[$impl]:-0}" ]; then
    record_failed "$impl" "*" "*" "server stats: $line, fewer OK calls than h2load's ${h2ok[$impl]} successes"
  fi
  return 0
}

# The running servers of the main rows, one per implementation: srv_IMPL_pid, srv_IMPL_port.
pid_of() { local v=srv_$1_pid; echo "${!v}"; }
port_of() { local v=srv_$1_port; echo "${!v}"; }
# Each round's own clients: gRPC C++'s and h2rpc's (grpc-go is measured as a server only).
clients=(h2rpc grpcpp)

uptime_start=$(cat /proc/loadavg)
t_start=$(date +%s)
for round in $(seq "$ROUNDS"); do
  # Interleaved: every measurement runs on every server back to back, the order rotating
  # between rounds (round 1: h2rpc first; round 2: the next one first; ...).
  n=${#servers[@]} k=$(((round - 1) % ${#servers[@]}))
  order=("${servers[@]:k}" "${servers[@]:0:k}")
  corder=(h2rpc grpcpp)
  ((round % 2)) || corder=(grpcpp h2rpc)
  echo "bench: round $round/$ROUNDS (${order[*]})"
  h2ok=()
  server_stats=$STATS
  for s in "${order[@]}"; do start_server "$s" "srv_$s"; done
  server_stats=

  # h2load sees only :status: each server's h2load rows are checked for grpc-status 0 before
  # (here) and after (in h2load_unary) the run.
  for label in unary_0B unary_1KiB; do
    file=$work/req0.bin
    [ "$label" = unary_1KiB ] && file=$work/req1k.bin
    for s in "${order[@]}"; do
      if check_grpc_ok "$(port_of "$s")" "$s"; then
        h2load_unary "$s" "$(pid_of "$s")" "$(port_of "$s")" "$label" "$file"
      else
        record_failed "$s" h2load "h2load_$label" "no grpc-status 0 before the run"
      fi
    done
  done
  # nghttpd's ceiling: nghttp2's own server, 1 worker, on SERVER_CPU, serving from a docroot the
  # gRPC response (5-byte prefix + SimpleResponse) as a file at the gRPC path, for h2load's same
  # POSTs: the HTTP/2 library without gRPC on top (--echo-upload would measure its temporary
  # files: ~10× slower). Not gRPC: no grpc-status to check; its 200s are what h2load counts.
  if [ "$NGHTTPD" = 1 ]; then
    for label in unary_0B unary_1KiB; do
      file=$work/req0.bin size=0
      [ "$label" = unary_1KiB ] && file=$work/req1k.bin size=1024
      docroot=$work/docroot_$label
      mkdir -p "$docroot/grpc.testing.BenchmarkService"
      /usr/bin/python3 -c '
import struct, sys
n = int(sys.argv[2])
def varint(v):
    out = b""
    while True:
        out += bytes([(v & 0x7F) | (0x80 if v > 0x7F else 0)])
        v >>= 7
        if not v: return out
payload = b"\x12" + varint(n) + bytes(n) if n else b""
msg = b"\x0a" + varint(len(payload)) + payload if n else b""
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)' \
        "$docroot/grpc.testing.BenchmarkService/UnaryCall" "$size"
      ngport=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      ngcmd=(taskset -c "$SERVER_CPU" nghttpd --no-tls -n 1 -d "$docroot" "$ngport")
      log_cmd "${ngcmd[*]}"
      "${ngcmd[@]}" >"$work/nghttpd.log" 2>&1 &
      ngpid=$!
      pids+=("$ngpid")
      for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$ngport") 2>/dev/null && break
        sleep 0.05
      done
      h2load_unary nghttpd "$ngpid" "$ngport" "$label" "$file"
      stop_server "$ngpid"
    done
  fi
  # Each side with its own client (grpc-go: with gRPC C++'s, the client common to all).
  own() { [ "$1" = grpcgo ] && echo grpcpp || echo "$1"; }
  for s in "${order[@]}"; do
    server_pid=$(pid_of "$s") client_run "$s" "$(own "$s")" "$(port_of "$s")" latency_unary_1x1 unary 1 1 0 0 \
      p50_us p99_us ops_per_s client_cpu_us_per_op
  done
  for s in "${order[@]}"; do
    server_pid=$(pid_of "$s") client_run "$s" "$(own "$s")" "$(port_of "$s")" pingpong_1x1 pingpong 1 1 0 0 \
      ops_per_s p50_us p99_us client_cpu_us_per_op
  done
  # Every client against every server: server streaming 64 KiB (1 stream), and unary 0 B at 8
  # channels × 32 calls. The own-client pairs give the table's streaming figure; the others
  # separate the server's share from the client's.
  for s in "${order[@]}"; do
    for c in "${corder[@]}"; do
      server_pid=$(pid_of "$s") client_run "$s" "$c" "$(port_of "$s")" streaming_64KiB_1x1 \
        server_streaming 1 1 0 65536 mb_per_s client_cpu_us_per_op
    done
  done
  for s in "${order[@]}"; do
    for c in "${corder[@]}"; do
      server_pid=$(pid_of "$s") client_run "$s" "$c" "$(port_of "$s")" client_unary_8x32 unary 8 32 0 0 \
        ops_per_s p99_us client_cpu_us_per_op
    done
  done
  # Concurrent ping-pong: 8 channels × 32 streams and 64 channels × 1 stream, each stream one
  # message in flight, with both clients against every server. The client's CPU use (CPU per
  # message × messages/s) tells whether the client was the limit (report.py: ≥ 90 % of its CPU).
  if [ "$PINGPONG_CONC" = 1 ]; then
    for shape in 8x32 64x1; do
      for s in "${order[@]}"; do
        for c in "${corder[@]}"; do
          server_pid=$(pid_of "$s") client_run "$s" "$c" "$(port_of "$s")" "pingpong_$shape" pingpong \
            "${shape%x*}" "${shape#*x}" 0 0 ops_per_s p99_us client_cpu_us_per_op
        done
      done
    done
  fi
  for s in "${order[@]}"; do stop_main "$s"; done
  for s in "${order[@]}"; do rss_per_conn "$s"; rss_per_conn "$s" active; done

  # The sleeping-loop phase: h2rpc with idle polling off on both sides (--adaptive_poll_max_us=0:
  # Node's always-sleep loop, rows "*_nopoll"), h2rpc's default (adaptive polling) and gRPC C++'s
  # default (both rows "*_ph2"), three fresh servers side by side on SERVER_CPU, each row run on
  # the three in turn (the order rotating between rounds): the same-policy sleeping ratios and
  # what polling brings or costs compare runs of one phase, never a main-phase run with this one.
  # Then sparse unary traffic (a 1 ms pause after each call), polling off and on: what it costs
  # when it does not pay off (client and server CPU per call).
  server_extra=--adaptive_poll_max_us=0
  start_server h2rpc nopoll
  server_extra=
  start_server h2rpc ours
  start_server grpcpp theirs
  variants=(nopoll ours theirs)
  k=$(((round - 1) % 3))
  variants=("${variants[@]:k}" "${variants[@]:0:k}")
  # ph2_run VARIANT METRIC MODE REQ RESP FIELD...: one 1 × 1 run on the phase's VARIANT server.
  ph2_run() {
    local v=$1 metric=$2 mode=$3 req=$4 resp=$5 impl=h2rpc suffix=_ph2
    shift 5
    case $v in nopoll) suffix=_nopoll client_extra=--adaptive_poll_max_us=0 ;; theirs) impl=grpcpp ;; esac
    local pid_var=${v}_pid port_var=${v}_port
    server_pid=${!pid_var} client_run "$impl" "$impl" "${!port_var}" "$metric$suffix" "$mode" 1 1 \
      "$req" "$resp" "$@"
    client_extra=
  }
  for v in "${variants[@]}"; do
    ph2_run "$v" latency_unary_1x1 unary 0 0 p50_us p99_us ops_per_s client_cpu_us_per_op
  done
  for v in "${variants[@]}"; do
    ph2_run "$v" pingpong_1x1 pingpong 0 0 ops_per_s p50_us p99_us client_cpu_us_per_op
  done
  for v in "${variants[@]}"; do
    ph2_run "$v" streaming_64KiB_1x1 server_streaming 0 65536 mb_per_s client_cpu_us_per_op
  done
  # Concurrent ping-pong 8 × 32 with gRPC C++'s client on the phase's three servers (the client
  # is the limit there): issue 18 asks our server never to fall below gRPC C++'s own with that
  # client, polling on or off. Rows "pingpong_8x32_nopoll" (h2rpc, polling off) and
  # "pingpong_8x32_ph2" (h2rpc's default, gRPC C++), client "grpcpp".
  if [ "$PINGPONG_CONC" = 1 ]; then
    for v in "${variants[@]}"; do
      case $v in nopoll) impl=h2rpc suffix=_nopoll ;; ours) impl=h2rpc suffix=_ph2 ;; theirs) impl=grpcpp suffix=_ph2 ;; esac
      pid_var=${v}_pid port_var=${v}_port
      server_pid=${!pid_var} client_run "$impl" grpcpp "${!port_var}" "pingpong_8x32$suffix" pingpong 8 32 \
        0 0 ops_per_s p99_us client_cpu_us_per_op
    done
  fi
  for variant in nopoll ours; do
    client_extra=--think_ms=1
    [ "$variant" = nopoll ] && client_extra+=" --adaptive_poll_max_us=0"
    pid_var=${variant}_pid port_var=${variant}_port
    server_pid=${!pid_var} client_run h2rpc h2rpc "${!port_var}" "sparse_unary_$variant" unary 1 1 \
      0 0 ops_per_s p50_us p99_us client_cpu_us_per_op
  done
  client_extra=
  # Paced load (4,000 and 20,000 requests/s) on the three servers: polling off, the default,
  # gRPC C++. The h2rpc server with polling off is recorded as server "h2rpc_nopoll".
  paced=(nopoll ours theirs)
  [ "$GRPCGO" = 1 ] && { start_server grpcgo go; paced+=(go); }
  for rps in 500 2500; do
    for s in "${paced[@]}"; do
      pid_var=${s}_pid port_var=${s}_port
      case $s in nopoll) impl=h2rpc_nopoll ;; ours) impl=h2rpc ;; theirs) impl=grpcpp ;; go) impl=grpcgo ;; esac
      h2load_paced "$impl" "${!pid_var}" "${!port_var}" "$rps"
    done
  done
  stop_server "$nopoll_pid"
  stop_server "$ours_pid"
  stop_server "$theirs_pid"
  [ "$GRPCGO" = 1 ] && stop_server "$go_pid"

  # Latency with busy polling on both sides (bench/README.md, "Latency"), and the floor under
  # it: tcp_pingpong, a bare 40-byte TCP ping-pong, blocking and busy-polling.
  if [ "$BUSY_POLL_US" -gt 0 ]; then
    server_extra=--busy_poll_us=$BUSY_POLL_US
    client_extra=--busy_poll_us=$BUSY_POLL_US
    start_server h2rpc srv_h2rpc
    start_server grpcpp srv_grpcpp
    for s in "${corder[@]}"; do
      server_pid=$(pid_of "$s") client_run "$s" "$s" "$(port_of "$s")" latency_unary_1x1_busy unary 1 1 0 0 p50_us p99_us \
        ops_per_s client_cpu_us_per_op
    done
    for s in "${corder[@]}"; do
      server_pid=$(pid_of "$s") client_run "$s" "$s" "$(port_of "$s")" pingpong_1x1_busy pingpong 1 1 0 0 ops_per_s p50_us \
        p99_us client_cpu_us_per_op
    done
    stop_server "$srv_h2rpc_pid"
    stop_server "$srv_grpcpp_pid"
    server_extra= client_extra=
    start_server tcp floor
    client_run tcp tcp "$floor_port" tcp_pingpong pingpong 1 1 40 40 ops_per_s p50_us p99_us
    stop_server "$floor_pid"
    server_extra=--busy_poll_us=$BUSY_POLL_US
    client_extra=--busy_poll_us=$BUSY_POLL_US
    start_server tcp floor
    client_run tcp tcp "$floor_port" tcp_pingpong_busy pingpong 1 1 40 40 ops_per_s p50_us p99_us
    stop_server "$floor_pid"
    server_extra= client_extra=
  fi

  # Scaling (issue 6: --loops=2): unary 0 B from h2load, server with 1 then 2 loops (gRPC C++:
  # completion queues, one polling thread each). With 2 CPUs there is no CPU left for the load
  # generator, so here server and h2load (2 threads) share both: read it with the server CPU
  # per request (bench/README.md, "N cores").
  if [ "$SCALING" = 1 ]; then
    server_cpus=0-$(($(nproc) - 1)) h2load_cpus=0-$(($(nproc) - 1)) h2load_threads=2
    for s in "${corder[@]}"; do
      for loops in 1 2; do
        server_extra=--loops=$loops
        start_server "$s" scale
        h2load_unary "$s" "$scale_pid" "$scale_port" "unary_0B_all_cpus_loops$loops" "$work/req0.bin"
        stop_server "$scale_pid"
      done
    done
    server_cpus= h2load_cpus= h2load_threads= server_extra=
  fi
done
t_end=$(date +%s)

/usr/bin/python3 bench/report.py --raw "$raw" --failed "$failed" --commands "$cmds" --out "$OUT" \
  --rounds "$ROUNDS" --duration "$DURATION" --warmup "$WARMUP" --idle_conns "$IDLE_CONNS" \
  --server_cpu "$SERVER_CPU" --client_cpu "$CLIENT_CPU" --busy_poll_us "$BUSY_POLL_US" --elapsed $((t_end - t_start)) \
  --load_start "$uptime_start" --load_end "$(cat /proc/loadavg)" \
  --server_flags="$H2RPC_SERVER_FLAGS" || die "report failed"
echo "bench: wrote $OUT ($((t_end - t_start)) s of measurements)"
