// A third-party server for our C++ client (connect_node_client_test): @connectrpc/connect-node
// serving h2rpc.rpc_test.EchoService over h2c, Connect, gRPC-Web and gRPC on one port. The
// service comes from a descriptor set (argv[2]; protoc --include_imports) at run time, so no
// generated JS is needed. Prints "PORT <n>" once listening; exits when stdin closes.
//
// Every response has header x-content-type: the request's. Echo: the text back; each x-in header → response header x-head and trailer x-tail (+ "!");
// status_code → a ConnectError with that code, the text as message and an ErrorInfo detail
// (reason "SAYS_NO", domain "connect-node"). Expand: `count` replies (index i), then the
// same error if status_code is set.
"use strict";
const fs = require("node:fs");
const http2 = require("node:http2");
const { connectNodeAdapter } = require("@connectrpc/connect-node");
const { ConnectError } = require("@connectrpc/connect");
const { createFileRegistry, fromBinary } = require("@bufbuild/protobuf");
const { FileDescriptorSetSchema } = require("@bufbuild/protobuf/wkt");

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(process.argv[2])));
const service = registry.getService("h2rpc.rpc_test.EchoService");
const errorInfo = registry.getMessage("google.rpc.ErrorInfo");

function metadata(ctx) {
  // The request's content-type back: which protocol and codec the client spoke.
  ctx.responseHeader.set("x-content-type", ctx.requestHeader.get("content-type") ?? "");
  const v = ctx.requestHeader.get("x-in");
  if (v !== null) {
    ctx.responseHeader.set("x-head", v);
    ctx.responseTrailer.set("x-tail", v + "!");
  }
}

function failure(req) {
  if (!req.statusCode) return null;
  return new ConnectError(req.text, req.statusCode, undefined, [
    { desc: errorInfo, value: { reason: "SAYS_NO", domain: "connect-node" } },
  ]);
}

const impl = {
  async echo(req, ctx) {
    metadata(ctx);
    const err = failure(req);
    if (err) throw err;
    return { text: req.text, payload: req.payload };
  },
  async *expand(req, ctx) {
    metadata(ctx);
    for (let i = 0; i < req.count; i++) yield { text: req.text, index: i };
    const err = failure(req);
    if (err) throw err;
  },
};

const handler = connectNodeAdapter({ routes: (router) => router.service(service, impl) });
const server = http2.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
