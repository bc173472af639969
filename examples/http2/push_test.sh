#!/bin/bash
# hello_server --push against nghttp -a (nghttp2's client, which fetches a page's assets): the
# page's /style.css and /app.js arrive pushed (marked '*' in nghttp's statistics, on even
# stream ids); with --no-push (SETTINGS_ENABLE_PUSH 0) the server pushes nothing and nghttp
# fetches them itself.
#   push_test.sh SERVER
set -u
server=$1
command -v nghttp >/dev/null || { echo "nghttp is missing (Debian package nghttp2-client)"; exit 1; }
log=$TEST_TMPDIR/server.log
"$server" --push --port=0 >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
for _ in $(seq 200); do
  grep -q "listening on http://" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
url=$(grep -o "http://[0-9.]*:[0-9]*" "$log" | head -n 1)
[ -n "$url" ] || { echo "the server did not start:"; cat "$log"; exit 1; }

fail() { echo "$1"; echo "--- nghttp output"; echo "$out"; exit 1; }
# Statistics rows: "id responseEnd [*] requestStart process code size path".
out=$(timeout 30 nghttp -ans "$url/" 2>&1) || fail "nghttp failed"
grep -Eq '^ *[0-9]*[13579] .* 200 +[0-9]+ /$' <<<"$out" || fail "no 200 for the page"
for asset in /style.css /app.js; do
  grep -Eq "^ *[0-9]*[02468] +\\+[0-9.]+[mu]?s \\* .* 200 +[0-9]+ $asset\$" <<<"$out" ||
    fail "$asset was not received as a pushed stream"
done

out=$(timeout 30 nghttp -ans --no-push "$url/" 2>&1) || fail "nghttp --no-push failed"
grep -Fq ' * ' <<<"$(grep -E '^ *[0-9]+ ' <<<"$out")" && fail "pushed although the client disabled push"
for asset in /style.css /app.js; do
  grep -Eq "^ *[0-9]*[13579] .* 200 +[0-9]+ $asset\$" <<<"$out" || fail "$asset not fetched"
done
grep -q "push" "$log" && { echo "server errors:"; cat "$log"; exit 1; }
echo "ok"
