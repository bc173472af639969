#!/usr/bin/env bash
# bench/grpcgo/build.sh OUT_DIR: builds grpc-go's bench server (main.go) offline into OUT_DIR/grpcgo
# from Debian's Go packages (golang-go, golang-google-grpc-dev, golang-goprotobuf-dev, grpc-proto):
# no modules, no network (rules_go cannot work offline here). The BenchmarkService stubs are not
# in golang-google-grpc-dev, so protoc-gen-go generates them from grpc-proto's .proto files into
# OUT_DIR/gopath (never into the tree).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
for tool in go protoc protoc-gen-go; do
  command -v "$tool" >/dev/null || { echo "grpcgo: needs $tool (Debian: golang-go, protobuf-compiler, golang-goprotobuf-dev)" >&2; exit 1; }
done
proto=/usr/share/grpc-proto
[ -f "$proto/grpc/testing/benchmark_service.proto" ] || { echo "grpcgo: needs grpc-proto" >&2; exit 1; }
[ -d /usr/share/gocode/src/google.golang.org/grpc ] || { echo "grpcgo: needs golang-google-grpc-dev" >&2; exit 1; }
pkg=$out/gopath/src/h2rpcbench
mkdir -p "$pkg/grpc_testing" "$pkg/grpcgo"
# One protoc run: both files land in one Go package (grpc_testing), so no import path is needed.
mkdir -p "$out/gen"
protoc -I "$proto" --go_out=plugins=grpc,paths=source_relative:"$out/gen" \
  grpc/testing/benchmark_service.proto grpc/testing/messages.proto
cp "$out"/gen/grpc/testing/*.pb.go "$pkg/grpc_testing/"
cp "$src/main.go" "$pkg/grpcgo/"
cd "$pkg/grpcgo"
GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/gocache" GOFLAGS= \
  go build -o "$out/grpcgo" .
