#!/bin/bash
# file_server against curl --http2-prior-knowledge: a 3 MiB file arrives byte-exact (sha256), a
# Range gives 206 with those bytes, a range past the end 416, If-Modified-Since 304, a missing
# file and a path out of the root 404.
# With --push, nghttp -a (which fetches a page's assets) gets the files the page links to as
# pushed streams (not the missing one, nor the ones of another host or outside the root), and
# none with --no-push.
# Then the same large file over TLS (ALPN h2) with the test CA.
#   file_server_test.sh SERVER CERT KEY CA
set -u
server=$1 cert=$2 key=$3 ca=$4
root=$TEST_TMPDIR/root
mkdir -p "$root/sub"
head -c $((3 * 1024 * 1024 + 7)) /dev/urandom >"$root/sub/big.bin"
echo "secret" >"$TEST_TMPDIR/outside.txt"
mkdir -p "$root/site/css" "$root/site/js"
echo "h1 { color: green }" >"$root/site/css/site.css"
echo "console.log('app');" >"$root/site/js/app.js"
head -c 1000 /dev/urandom >"$root/site/logo.png"
cat >"$root/site/index.html" <<'HTML'
<!DOCTYPE html><html><head><link rel="stylesheet" href="css/site.css?v=1">
<script src='/site/js/app.js'></script><script src="https://example.com/x.js"></script>
<link rel="stylesheet" href="../../outside.txt"><link rel="stylesheet" href="/site/none.css">
</head><body><img src=logo.png><a href="#top">top</a></body></html>
HTML
log=$TEST_TMPDIR/server.log
"$server" --root="$root" --port=0 --push >"$log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
for _ in $(seq 200); do
  grep -q "file_server: serving" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
port=$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { echo "the server did not start:"; cat "$log"; exit 1; }
url=http://127.0.0.1:$port
fail() { echo "FAIL: $*"; exit 1; }
c() { timeout 30 curl -sS --http2-prior-knowledge "$@"; }

c -o "$TEST_TMPDIR/got.bin" -D "$TEST_TMPDIR/h1" "$url/sub/big.bin" || fail "curl"
grep -q "^HTTP/2 200" "$TEST_TMPDIR/h1" || fail "no 200: $(cat "$TEST_TMPDIR/h1")"
grep -qi "^content-length: 3145735" "$TEST_TMPDIR/h1" || fail "content-length"
want=$(sha256sum <"$root/sub/big.bin" | cut -d' ' -f1)
got=$(sha256sum <"$TEST_TMPDIR/got.bin" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "sha256 $got, want $want"

c -o "$TEST_TMPDIR/range.bin" -D "$TEST_TMPDIR/h2" -r 1000000-1000099 "$url/sub/big.bin" || fail "curl range"
grep -q "^HTTP/2 206" "$TEST_TMPDIR/h2" || fail "no 206: $(cat "$TEST_TMPDIR/h2")"
grep -qi "^content-range: bytes 1000000-1000099/3145735" "$TEST_TMPDIR/h2" || fail "content-range"
cmp "$TEST_TMPDIR/range.bin" <(tail -c +1000001 "$root/sub/big.bin" | head -c 100) || fail "range bytes"

code=$(c -o /dev/null -w '%{http_code}' -r 4000000- "$url/sub/big.bin")
[ "$code" = 416 ] || fail "range past the end: $code"

lm=$(sed -n 's/^last-modified: \(.*\)\r$/\1/Ip' "$TEST_TMPDIR/h1")
[ -n "$lm" ] || fail "no last-modified"
code=$(c -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $lm" "$url/sub/big.bin")
[ "$code" = 304 ] || fail "If-Modified-Since: $code"
code=$(c -o /dev/null -w '%{http_code}' -H "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT" "$url/sub/big.bin")
[ "$code" = 200 ] || fail "old If-Modified-Since: $code"

code=$(c -o /dev/null -w '%{http_code}' "$url/nope")
[ "$code" = 404 ] || fail "missing file: $code"
code=$(c -o /dev/null -w '%{http_code}' --path-as-is "$url/../outside.txt")
[ "$code" = 404 ] || fail "path out of the root: $code"
code=$(c -o /dev/null -w '%{http_code}' "$url/sub")
[ "$code" = 404 ] || fail "directory: $code"
command -v nghttp >/dev/null || fail "nghttp is missing (Debian package nghttp2-client)"
# Statistics rows: "id responseEnd [*] requestStart process code size path".
out=$(timeout 30 nghttp -ans "$url/site/index.html" 2>&1) || fail "nghttp: $out"
grep -Eq '^ *[0-9]*[13579] .* 200 +[0-9]+ /site/index.html$' <<<"$out" || fail "no page: $out"
for asset in '/site/css/site.css\?v=1' /site/js/app.js /site/logo.png; do
  grep -Eq "^ *[0-9]*[02468] +\+[0-9.]+[mu]?s \* .* 200 +[0-9]+ $asset\$" <<<"$out" ||
    fail "$asset was not pushed: $out"
done
pushed=$(grep -Ec '^ *[0-9]+ +\+[0-9.]+[mu]?s \* ' <<<"$out")
[ "$pushed" = 3 ] || fail "$pushed pushed streams, want 3: $out"
out=$(timeout 30 nghttp -ans --no-push "$url/site/index.html" 2>&1) || fail "nghttp --no-push: $out"
grep -Eq '^ *[0-9]+ +\+[0-9.]+[mu]?s \* ' <<<"$out" && fail "pushed with push disabled: $out"
grep -Eq '^ *[0-9]*[13579] .* 200 +[0-9]+ /site/css/site.css\?v=1$' <<<"$out" ||
  fail "site.css not fetched without push: $out"
kill -0 $pid || fail "the server died"
kill -9 $pid; wait $pid 2>/dev/null

log=$TEST_TMPDIR/tls.log
"$server" --root="$root" --port=0 --tls_cert="$cert" --tls_key="$key" >"$log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  grep -q "file_server: serving" "$log" && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
port=$(sed -n 's/.*https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
[ -n "$port" ] || { echo "the TLS server did not start:"; cat "$log"; exit 1; }
timeout 30 curl -sS --http2 --cacert "$ca" --resolve "localhost:$port:127.0.0.1" \
  -o "$TEST_TMPDIR/tls.bin" -D "$TEST_TMPDIR/h3" "https://localhost:$port/sub/big.bin" || fail "curl tls"
grep -q "^HTTP/2 200" "$TEST_TMPDIR/h3" || fail "no HTTP/2 200 over TLS: $(cat "$TEST_TMPDIR/h3")"
got=$(sha256sum <"$TEST_TMPDIR/tls.bin" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "TLS sha256 $got, want $want"
echo "ok"
