#!/usr/bin/env bash
# Re-vendors the Node.js test peers: resolves DIRECT (below) against the npm registry, packs
# every package of the resulting tree into vendor/, and writes package.json + package-lock.json
# that install from vendor/ only. `make setup` then runs `npm ci --offline`: no network at all,
# so CI and fresh machines behind TLS-intercepting proxies install the same bytes.
set -euo pipefail
cd "$(dirname "$0")"
# @bufbuild/buf-linux-x64: the buf CLI's binary for this platform (what @bufbuild/buf's launcher
# runs; the launcher would pull every platform's binary), for the reflection tests (buf curl).
# The browser suite (examples/web): connect-web/connect/protobuf and grpc-web are the page's
# clients, bundled at test time by esbuild (its linux-x64 binary only, as buf's: the `esbuild`
# launcher would pull every platform's), driven in Debian's chromium by playwright-core (no
# browser download: it runs /usr/bin/chromium).
# @connectrpc/connect-node: the third-party Connect/gRPC-Web/gRPC server our C++ client calls
# (tests/interop/connect). 2.0.4 is the last whose engines allow Node 18 (Debian 12's); it
# declares @connectrpc/connect 2.0.4 as its peer while the browser suite needs 2.3.0, and runs
# on 2.3.0 (the interop test shows it): .npmrc's legacy-peer-deps lets npm install both.
DIRECT='{"@grpc/grpc-js": "1.14.3", "@grpc/proto-loader": "0.8.0", "@bufbuild/buf-linux-x64": "1.75.0", "@connectrpc/connect": "2.3.0", "@connectrpc/connect-web": "2.3.0", "@bufbuild/protobuf": "2.17.0", "grpc-web": "2.1.1", "playwright-core": "1.61.1", "@esbuild/linux-x64": "0.28.2", "@connectrpc/connect-node": "2.0.4"}'
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "{\"name\":\"resolve\",\"private\":true,\"dependencies\":$DIRECT}" >"$tmp/package.json"
(cd "$tmp" && npm install --package-lock-only --legacy-peer-deps --no-audit --no-fund >/dev/null)
rm -rf vendor && mkdir vendor
node -e '
const l = require(process.argv[1]);
for (const [k, v] of Object.entries(l.packages)) if (k) console.log(k.replace(/^node_modules\//, "") + "@" + v.version);
' "$tmp/package-lock.json" | (cd vendor && xargs npm pack --silent >/dev/null)
node -e '
const fs = require("fs");
const l = require(process.argv[1]);
const deps = {};
for (const [k, v] of Object.entries(l.packages)) {
  if (!k) continue;
  const name = k.replace(/^node_modules\//, "");
  deps[name] = "file:vendor/" + name.replace("@", "").replace("/", "-") + "-" + v.version + ".tgz";
}
fs.writeFileSync("package.json", JSON.stringify({
  name: "h2rpc-test-peers", private: true,
  description: "Node.js peers of the interop tests and the buf CLI (reflection tests), vendored (see update.sh); installed by make setup.",
  direct: JSON.parse(process.argv[2]), dependencies: deps }, null, 2) + "\n");
' "$tmp/package-lock.json" "$DIRECT"
rm -rf node_modules package-lock.json
npm install --offline --no-audit --no-fund >/dev/null
echo "vendored $(ls vendor | wc -l) packages"
