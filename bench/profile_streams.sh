#!/usr/bin/env bash
# bench/profile_streams.sh — instructions and allocations per message on open streams: one side
# (server or client) under callgrind while bench_client runs a streaming mode against
# bench_server. See bench/PROFILE.md, "Streams, stop 27".
#
#   bench/profile_streams.sh server pingpong 8 32 0          # SIDE MODE CHANNELS OUTSTANDING RESP_SIZE
#   bench/profile_streams.sh client server_streaming 1 1 65536
#   CLIENT_FLAGS=--max_frame_size=16384 bench/profile_streams.sh client server_streaming 1 1 65536
#                                        # the server then sends 16 KiB DATA frames (as grpc-go's)
#
# Steps: both binaries from `bazel build --config=opt` (or $BIN); the measured side under
# `valgrind --tool=callgrind`; after the client's warm-up (and past the streams' set-up) the
# counters are zeroed, then dumped some seconds later, while the streams still run. Messages
# in the window are counted by callgrind itself, as the calls of a function run once per
# message (the server: ServerCall::WriteFramed; the client: ClientCall::ReadMessage), so the
# figures do not depend on timing. Prints instructions and malloc calls per message.
set -uo pipefail
cd "$(dirname "$0")/.."
side=${1:?server or client} mode=${2:?mode} ch=${3:?channels} out=${4:?outstanding} resp=${5:-0}
BAZEL=${BAZEL:-bazel}
OUTDIR=${OUTDIR:-/tmp/h2rpc-profile}
mkdir -p "$OUTDIR"
die() { echo "profile_streams: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "needs valgrind"
if [ -z "${BIN:-}" ]; then
  $BAZEL build --config=opt --noshow_progress //bench:bench_server //bench:bench_client \
    >"$OUTDIR/build.log" 2>&1 || { cat "$OUTDIR/build.log"; die "build failed"; }
  BIN=$($BAZEL info --config=opt bazel-bin 2>/dev/null)/bench
fi
tag=$side-$mode-$ch-$out-$resp
cg=$OUTDIR/callgrind.out.streams-$tag
rm -f "$cg" "$cg".*
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
server=("$BIN/bench_server" --port=0)
[ "$side" = server ] && server=(valgrind --tool=callgrind --callgrind-out-file="$cg" "${server[@]}")
"${server[@]}" >"$OUTDIR/server-$tag.log" 2>&1 &
spid=$!
pids+=("$spid")
port=""
for _ in $(seq 600); do
  port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$OUTDIR/server-$tag.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$OUTDIR/server-$tag.log"; die "server did not start"; }
client=("$BIN/bench_client" --target=127.0.0.1:"$port" --mode="$mode" --channels="$ch"
        --outstanding="$out" --req_size=0 --resp_size="$resp" --warmup_s=3 --duration_s=8
        ${CLIENT_FLAGS:-})
[ "$side" = client ] && client=(valgrind --tool=callgrind --callgrind-out-file="$cg" "${client[@]}")
"${client[@]}" >"$OUTDIR/client-$tag.log" 2>&1 &
cpid=$!
pids+=("$cpid")
measured=$spid
[ "$side" = client ] && measured=$cpid
sleep 5                               # past the client's start-up, streams set up
callgrind_control -z "$measured" >/dev/null
sleep 4
callgrind_control -d "$measured" >/dev/null
wait "$cpid"
dump=$cg.1
[ -f "$dump" ] || die "no dump $dump"
per_message='h2rpc::rpc::ServerCall::WriteFramed\('
[ "$side" = client ] && per_message='h2rpc::rpc::ClientCall::ReadMessage\(\)$'
/usr/bin/python3 - "$dump" "$per_message" <<'PY'
import re, sys
names, calls, total = {}, {}, 0
cur = None
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        cur = names.get(m.group(2)) if m.group(1) == "cfn" else None
    elif line.startswith("calls=") and cur is not None:
        calls[cur] = calls.get(cur, 0) + int(line.split()[0][6:])
        cur = None
    elif line.startswith("summary:"):
        total = int(line.split()[1])
pat = re.compile(sys.argv[2])
messages = sum(n for f, n in calls.items() if pat.search(f))
mallocs = calls.get("malloc", 0)
if messages == 0:
    sys.exit("profile_streams: no messages in the window")
print(f"{sys.argv[1]}: {messages} messages, {total / messages:,.0f} instructions and "
      f"{mallocs / messages:.2f} malloc calls per message")
PY
