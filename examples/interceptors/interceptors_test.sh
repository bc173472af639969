#!/bin/bash
# Runs interceptors_server (ports picked by the kernel) and interceptors_client against it:
# the auth interceptor lets the call with the token through and refuses the one without
# (UNAUTHENTICATED), both sides log one structured line per call, the client's metrics count
# its two attempts, the server's /metrics (fetched over HTTP/2) its two calls, its /channelz
# one ready connection with one call succeeded and one failed; the server
# stops on SIGTERM.
set -u
server=$1 client=$2
log=$TEST_TMPDIR/server.log
"$server" --port=0 --metrics_port=0 --bearer_token=s3cret >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
where="" metrics=""
for _ in $(seq 200); do
  where=$(sed -n 's/.*listening on \([^ ]*\)$/\1/p' "$log" | head -1)
  metrics=$(sed -n 's/.*metrics on \([^ ]*\)$/\1/p' "$log" | head -1)
  [ -n "$where" ] && [ -n "$metrics" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ -n "$where" ] && [ -n "$metrics" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
out=$(timeout 30 "$client" --target="$where" --bearer_token=s3cret --metrics_url="$metrics" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "client exit code $rc"; exit 1; }
m='helloworld.Greeter/SayHello'
t="dns:///$where"
for line in \
    "Greeter received: Hello world, token-holder" \
    "without a token: UNAUTHENTICATED: missing or wrong bearer token" \
    "call log: side=client method=/$m peer=$where status=OK " \
    "call log: side=client method=/$m peer=$where status=UNAUTHENTICATED " \
    "client metric: grpc_client_attempt_started_total{grpc_method=\"$m\",grpc_target=\"$t\"} 2" \
    "client metric: grpc_client_call_duration_seconds_count{grpc_method=\"$m\",grpc_target=\"$t\",grpc_status=\"OK\"} 1" \
    "client metric: grpc_client_call_duration_seconds_count{grpc_method=\"$m\",grpc_target=\"$t\",grpc_status=\"UNAUTHENTICATED\"} 1" \
    "server metric: grpc_server_call_started_total{grpc_method=\"$m\"} 2" \
    "server metric: grpc_server_call_duration_seconds_count{grpc_method=\"$m\",grpc_status=\"OK\"} 1" \
    "server metric: grpc_server_call_duration_seconds_count{grpc_method=\"$m\",grpc_status=\"UNAUTHENTICATED\"} 1" \
    '"calls_started":2,"calls_succeeded":1,"calls_failed":1' \
    '"state":"ready"'; do
  grep -qF -- "$line" <<<"$out" || { echo "missing in the client's output: $line"; exit 1; }
done
for status in OK UNAUTHENTICATED; do
  grep -qE "^h2rpc call: side=server method=/$m peer=127\.0\.0\.1:[0-9]+ status=$status duration_ms=[0-9.]+ " "$log" ||
    { echo "no server log line with status=$status:"; cat "$log"; exit 1; }
done
kill -TERM $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then echo "the server did not stop on SIGTERM"; exit 1; fi
grep -q "stopped" "$log" || { echo "no graceful stop:"; cat "$log"; exit 1; }
echo "ok"
