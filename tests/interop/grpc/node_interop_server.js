// node_interop_server.js — gRPC's interop test server on grpc-js (@grpc/grpc-js + proto-loader),
// a peer for h2rpc's interop_client:
//
//   NODE_PATH=third_party/npm/node_modules node node_interop_server.js --port=0 \
//     [--use_tls [--tls_cert_file=server.pem --tls_key_file=server.key]]
//
// Prints "listening PORT"; SIGTERM/SIGINT stop it.
//
// Compression: grpc-js never compresses responses (server-interceptors.js: "response compression
// is currently not supported"), so `response_compressed` is ignored, as grpc-node's own interop
// server does; server_compressed_* cannot pass against it. grpc-js also hides the request's
// grpc-encoding and per-message compressed flags from handlers; to check `expect_compressed` as
// the official server does, this server watches each HTTP/2 stream before grpc-js sees it (a
// listener on node:http2's 'stream' event, added first) and records the grpc-encoding header and
// the compressed flag of every incoming message, which handlers then look up.
'use strict';

const fs = require('fs');
const http2 = require('http2');
const common = require('./node_interop_common');

const flags = common.parseFlags(process.argv.slice(2), {
  port: 0,
  use_tls: false,
  tls_cert_file: '',
  tls_key_file: '',
});

// --- request compression observer ------------------------------------------------------------
const OBSERVED_ID = 'x-interop-observed-stream';  // added to the request headers we observe
const observed = new Map();  // id -> {encoding, flags: [compressed flag of message i]}
let nextId = 0;

function observeStream(stream, headers) {
  const id = String(++nextId);
  const record = {encoding: headers['grpc-encoding'] || 'identity', flags: []};
  observed.set(id, record);
  headers[OBSERVED_ID] = id;  // grpc-js builds the call's metadata from this object
  // Parse the 5-byte message prefixes as DATA arrives, without consuming it (emit is wrapped so
  // that the stream's flowing mode is left to grpc-js).
  let prefix = Buffer.alloc(0);
  let skip = 0;
  const emit = stream.emit;
  stream.emit = function(event, ...args) {
    if (event === 'data') {
      const chunk = args[0];
      let off = 0;
      while (off < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - off);
          skip -= n;
          off += n;
          continue;
        }
        const take = chunk.subarray(off, off + (5 - prefix.length));
        prefix = Buffer.concat([prefix, take]);
        off += take.length;
        if (prefix.length === 5) {
          record.flags.push(prefix[0] === 1);
          skip = prefix.readUInt32BE(1);
          prefix = Buffer.alloc(0);
        }
      }
    }
    return emit.call(this, event, ...args);
  };
  stream.once('close', () => setTimeout(() => observed.delete(id), 1000));
}

for (const name of ['createServer', 'createSecureServer']) {
  const create = http2[name];
  http2[name] = function(...args) {
    const server = create.apply(this, args);
    server.prependListener('stream', observeStream);
    return server;
  };
}

const {grpc, testing} = common.loadProtos();
const Status = grpc.status;

// The official CheckExpectedCompression for request message `index` of `call`.
function checkExpectedCompression(call, index, expected) {
  const id = call.metadata.get(OBSERVED_ID)[0];
  const record = observed.get(id);
  if (!record) return true;  // not observed (cannot happen): do not fail the call
  const wasCompressed = record.flags[index] === true;
  if (expected) {
    if (record.encoding === 'identity') {
      console.error('Expected compression but got uncompressed request from client.');
      return false;
    }
    if (!wasCompressed) {
      console.error('Expected compression but the compressed flag is not set.');
      return false;
    }
  } else if (wasCompressed) {
    console.error("Didn't expect compression, but the compressed flag is set.");
    return false;
  }
  return true;
}

const expectationNotMet = {
  code: Status.INVALID_ARGUMENT,
  details: 'Compressed request expectation not met.',
};

function maybeEchoMetadata(call) {
  const initial = call.metadata.get(common.ECHO_INITIAL_KEY);
  const trailing = call.metadata.get(common.ECHO_TRAILING_BIN_KEY);
  const md = new grpc.Metadata();
  if (initial.length) md.set(common.ECHO_INITIAL_KEY, initial[0]);
  call.sendMetadata(md);
  const t = new grpc.Metadata();
  if (trailing.length) t.set(common.ECHO_TRAILING_BIN_KEY, trailing[0]);
  return t;
}

function zeros(n) {
  return Buffer.alloc(n);
}
function sleepUs(us) {
  return us > 0 ? new Promise((resolve) => setTimeout(resolve, us / 1000)) : Promise.resolve();
}

const service = {
  EmptyCall(call, callback) {
    const trailing = maybeEchoMetadata(call);
    callback(null, {}, trailing);
  },

  UnaryCall(call, callback) {
    const trailing = maybeEchoMetadata(call);
    const req = call.request;
    if (!checkExpectedCompression(call, 0, req.expect_compressed && req.expect_compressed.value)) {
      callback(Object.assign({metadata: trailing}, expectationNotMet));
      return;
    }
    if (req.response_status && req.response_status.code !== 0) {
      callback({code: req.response_status.code, details: req.response_status.message,
        metadata: trailing});
      return;
    }
    callback(null, {payload: {body: zeros(req.response_size)}}, trailing);
  },

  CacheableUnaryCall(call, callback) {
    const md = new grpc.Metadata();
    md.set('cache-control', 'max-age=60, public');
    call.sendMetadata(md);
    callback(null, {payload: {body: Buffer.from(String(process.hrtime.bigint()))}});
  },

  async StreamingOutputCall(call) {
    const req = call.request;
    for (const params of req.response_parameters) {
      await sleepUs(params.interval_us);
      if (call.cancelled) return;
      call.write({payload: {body: zeros(params.size)}});
    }
    if (req.response_status && req.response_status.code !== 0) {
      call.emit('error', {code: req.response_status.code, details: req.response_status.message});
      return;
    }
    call.end();
  },

  StreamingInputCall(call, callback) {
    let aggregated = 0;
    let index = 0;
    let failed = false;
    call.on('data', (req) => {
      if (failed) return;
      if (!checkExpectedCompression(call, index++,
          req.expect_compressed && req.expect_compressed.value)) {
        failed = true;
        callback(expectationNotMet);
        return;
      }
      if (req.payload) aggregated += req.payload.body.length;
    });
    call.on('end', () => {
      if (!failed) callback(null, {aggregated_payload_size: aggregated});
    });
    call.on('error', () => {});
  },

  FullDuplexCall(call) {
    const trailing = maybeEchoMetadata(call);
    let chain = Promise.resolve();
    let done = false;
    call.on('data', (req) => {
      chain = chain.then(async () => {
        if (done) return;
        if (req.response_status && req.response_status.code !== 0) {
          done = true;
          call.emit('error', {code: req.response_status.code,
            details: req.response_status.message, metadata: trailing});
          return;
        }
        for (const params of req.response_parameters) {
          await sleepUs(params.interval_us);
          if (call.cancelled) return;
          call.write({payload: {body: zeros(params.size)}});
        }
      });
    });
    call.on('end', () => {
      chain = chain.then(() => {
        if (!done) {
          done = true;
          call.end(trailing);
        }
      });
    });
    call.on('error', () => {});
  },

  HalfDuplexCall(call) {
    const requests = [];
    call.on('data', (req) => requests.push(req));
    call.on('end', () => {
      for (const req of requests) {
        if (req.response_parameters.length === 0) {
          call.emit('error', {code: Status.INTERNAL,
            details: 'Request does not have response parameters.'});
          return;
        }
        call.write({payload: {body: zeros(req.response_parameters[0].size)}});
      }
      call.end();
    });
    call.on('error', () => {});
  },
  // UnimplementedCall is left out: grpc-js answers UNIMPLEMENTED.
};

function main() {
  const server = new grpc.Server();
  server.addService(testing.TestService.service, service);
  let creds = grpc.ServerCredentials.createInsecure();
  if (flags.use_tls) {
    const cert = flags.tls_cert_file || common.workspaceFile('tests/testdata/tls/server.pem');
    const key = flags.tls_key_file || common.workspaceFile('tests/testdata/tls/server.key');
    creds = grpc.ServerCredentials.createSsl(null,
        [{cert_chain: fs.readFileSync(cert), private_key: fs.readFileSync(key)}], false);
  }
  server.bindAsync(`0.0.0.0:${flags.port}`, creds, (err, port) => {
    if (err) {
      console.error(`node_interop_server: cannot listen: ${err.message}`);
      process.exit(1);
    }
    console.log(`listening ${port}`);
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
