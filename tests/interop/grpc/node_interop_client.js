// node_interop_client.js — gRPC's interop test client on grpc-js (@grpc/grpc-js + proto-loader),
// with the official client's flags and the same cases and output as interop_client:
//
//   NODE_PATH=third_party/npm/node_modules node node_interop_client.js \
//     --server_host=127.0.0.1 --server_port=PORT --test_case=all \
//     [--use_tls --use_test_ca [--ca_file=ca.pem] [--server_host_override=localhost]]
//
// Prints "PASS <case>" / "FAIL <case>: <why>"; exits 0 iff every case passed.
//
// grpc-js does not tell an application whether a response message was compressed, so
// server_compressed_unary/streaming run the call with grpc-js (payloads, status) and then check
// the compressed flag of each response message on the wire, with the same request sent over a
// plain node:http2 connection. --skip_compression_probe: as in interop_client (non-official).
'use strict';

const fs = require('fs');
const http2 = require('http2');
const common = require('./node_interop_common');

const flags = common.parseFlags(process.argv.slice(2), {
  server_host: 'localhost',
  server_host_override: '',
  server_port: 0,
  test_case: 'large_unary',
  use_tls: false,
  use_test_ca: false,
  ca_file: '',
  soak_iterations: 10,
  soak_max_failures: 0,
  soak_per_iteration_max_acceptable_latency_ms: 1000,
  skip_compression_probe: false,
});

const {grpc, packageDefinition, testing} = common.loadProtos();
const Status = grpc.status;
const NO_COMPRESS = 2;  // grpc-js WriteFlags.NoCompress
const GZIP = 2;         // grpc-js CompressionAlgorithms.gzip

const REQUEST_SIZES = [27182, 8, 1828, 45904];
const RESPONSE_SIZES = [31415, 9, 2653, 58979];
const LARGE_REQUEST = 271828;
const LARGE_RESPONSE = 314159;

const target = `${flags.server_host}:${flags.server_port}`;
let caPem = null;
if (flags.use_tls && flags.use_test_ca) {
  const caFile = flags.ca_file || process.env.INTEROP_CA_FILE ||
      common.workspaceFile('tests/testdata/tls/ca.pem');
  caPem = fs.readFileSync(caFile);
}

function channelOptions(extra) {
  const options = Object.assign({}, extra);
  if (flags.server_host_override) {
    if (flags.use_tls) options['grpc.ssl_target_name_override'] = flags.server_host_override;
    options['grpc.default_authority'] = flags.server_host_override;
  }
  return options;
}

function credentials() {
  return flags.use_tls ? grpc.credentials.createSsl(caPem) : grpc.credentials.createInsecure();
}

function newClient(Service, extraOptions) {
  return new Service(target, credentials(), channelOptions(extraOptions));
}

class Failure extends Error {}
function check(cond, ...why) {
  if (!cond) throw new Failure(why.join(''));
}
function describe(err) {
  if (!err) return 'OK';
  return `${Status[err.code]} (${err.code}) ${JSON.stringify(err.details)}`;
}
function zeros(n) {
  return Buffer.alloc(n);
}
function isZeros(buf, n) {
  return Buffer.isBuffer(buf) && buf.length === n && buf.every((b) => b === 0);
}
function largeRequest() {
  return {response_size: LARGE_RESPONSE, payload: {body: zeros(LARGE_REQUEST)}};
}

// Promisified call shapes.
function unary(client, method, request, metadata, options) {
  return new Promise((resolve) => {
    let initial = null;
    let trailing = null;
    const call = client[method](request, metadata || new grpc.Metadata(), options || {},
        (err, response) => resolve({err, response, call, get initial() { return initial; },
          get trailing() { return trailing; }}));
    call.on('metadata', (md) => { initial = md; });
    call.on('status', (st) => { trailing = st.metadata; });
  }).then(async (r) => {
    // 'status' may come after the callback: give it a turn.
    await new Promise((res) => setImmediate(res));
    return r;
  });
}

// Reads a duplex or readable stream: resolves with a reader object.
function streamReader(call) {
  const queue = [];
  const waiters = [];
  let ended = false;
  let status = null;
  let error = null;
  let initial = null;
  const statusWaiters = [];
  const wake = () => {
    while (waiters.length && (queue.length || ended)) {
      waiters.shift()(queue.length ? queue.shift() : null);
    }
  };
  call.on('data', (m) => { queue.push(m); wake(); });
  call.on('metadata', (md) => { initial = md; });
  call.on('end', () => { ended = true; wake(); });
  call.on('error', (e) => { error = e; ended = true; wake(); });
  call.on('status', (s) => {
    status = s;
    ended = true;
    wake();
    while (statusWaiters.length) statusWaiters.shift()(s);
  });
  return {
    read: () => new Promise((resolve) => { waiters.push(resolve); wake(); }),
    finish: () => new Promise((resolve) => {
      if (status) resolve(status); else statusWaiters.push(resolve);
    }),
    get error() { return error; },
    get initial() { return initial; },
  };
}

function write(call, message, flags) {
  return new Promise((resolve) => {
    if (flags === undefined) call.write(message, () => resolve());
    else call.write(message, flags, () => resolve());
  });
}

// --- the wire check for server_compressed_*: one call over node:http2, the compressed flag of
// each response message. ---------------------------------------------------------------------
function wireCompressedFlags(method, request) {
  const def = packageDefinition['grpc.testing.TestService'][method];
  const body = def.requestSerialize(request);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return new Promise((resolve, reject) => {
    const scheme = flags.use_tls ? 'https' : 'http';
    const tlsOptions = flags.use_tls ?
        {ca: caPem || undefined, servername: flags.server_host_override || undefined,
          ALPNProtocols: ['h2']} : {};
    const session = http2.connect(`${scheme}://${target}`, tlsOptions);
    session.on('error', reject);
    const authority = flags.server_host_override ?
        `${flags.server_host_override}:${flags.server_port}` : target;
    const stream = session.request({
      ':method': 'POST',
      ':path': `/grpc.testing.TestService/${method}`,
      ':authority': authority,
      'content-type': 'application/grpc',
      'te': 'trailers',
      'grpc-accept-encoding': 'identity,deflate,gzip',
    });
    const chunks = [];
    let trailers = {};
    stream.on('data', (c) => chunks.push(c));
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('response', (h) => { if (h['grpc-status'] !== undefined) trailers = h; });
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      const data = Buffer.concat(chunks);
      const result = [];
      for (let off = 0; off + 5 <= data.length;) {
        const len = data.readUInt32BE(off + 1);
        result.push(data[off] === 1);
        off += 5 + len;
      }
      resolve({flags: result, status: trailers['grpc-status']});
    });
    stream.end(frame);
  });
}

// --- the cases ------------------------------------------------------------------------------
let client = null;

const cases = {
  async empty_unary() {
    const r = await unary(client, 'EmptyCall', {});
    check(!r.err, 'EmptyCall: ', describe(r.err));
    check(r.response !== null && r.response !== undefined, 'EmptyCall: no response');
  },

  async large_unary(c) {
    const r = await unary(c || client, 'UnaryCall', largeRequest());
    check(!r.err, 'UnaryCall: ', describe(r.err));
    check(isZeros(r.response.payload.body, LARGE_RESPONSE), 'UnaryCall: payload of ',
        r.response.payload.body.length, ' bytes');
  },

  async client_compressed_unary() {
    if (!flags.skip_compression_probe) {
      const probe = largeRequest();
      probe.expect_compressed = {value: true};
      const r = await unary(client, 'UnaryCall', probe);
      check(r.err && r.err.code === Status.INVALID_ARGUMENT,
          'probe (expect_compressed=true, sent uncompressed): expected INVALID_ARGUMENT, got ',
          describe(r.err));
    }
    const gzipClient = newClient(testing.TestService,
        {'grpc.default_compression_algorithm': GZIP});
    try {
      for (const compressed of [true, false]) {
        const req = largeRequest();
        req.expect_compressed = {value: compressed};
        const r = await unary(compressed ? gzipClient : client, 'UnaryCall', req);
        check(!r.err, `UnaryCall (request compressed=${compressed}): `, describe(r.err));
        check(isZeros(r.response.payload.body, LARGE_RESPONSE), 'payload size');
      }
    } finally {
      gzipClient.close();
    }
  },

  async server_compressed_unary() {
    for (const compressed of [true, false]) {
      const req = largeRequest();
      req.response_compressed = {value: compressed};
      const r = await unary(client, 'UnaryCall', req);
      check(!r.err, `UnaryCall (response_compressed=${compressed}): `, describe(r.err));
      check(isZeros(r.response.payload.body, LARGE_RESPONSE), 'payload size');
      const wire = await wireCompressedFlags('UnaryCall', req);
      check(wire.status === '0' && wire.flags.length === 1 && wire.flags[0] === compressed,
          `on the wire (response_compressed=${compressed}): grpc-status ${wire.status}, `,
          `compressed flags [${wire.flags}]`);
    }
  },

  async client_streaming() {
    let done;
    const result = new Promise((resolve) => { done = resolve; });
    const call = client.StreamingInputCall((err, resp) => done({err, resp}));
    for (const size of REQUEST_SIZES) await write(call, {payload: {body: zeros(size)}});
    call.end();
    const {err, resp} = await result;
    check(!err, 'StreamingInputCall: ', describe(err));
    check(resp.aggregated_payload_size === 74922, 'aggregated ', resp.aggregated_payload_size);
  },

  async client_compressed_streaming() {
    if (!flags.skip_compression_probe) {
      let done;
      const result = new Promise((resolve) => { done = resolve; });
      const call = client.StreamingInputCall((err, resp) => done({err, resp}));
      call.write({expect_compressed: {value: true}, payload: {body: zeros(27182)}});
      call.end();
      const {err} = await result;
      check(err && err.code === Status.INVALID_ARGUMENT,
          'probe: expected INVALID_ARGUMENT, got ', describe(err));
    }
    const gzipClient = newClient(testing.TestService,
        {'grpc.default_compression_algorithm': GZIP});
    try {
      let done;
      const result = new Promise((resolve) => { done = resolve; });
      const call = gzipClient.StreamingInputCall((err, resp) => done({err, resp}));
      await write(call, {expect_compressed: {value: true}, payload: {body: zeros(27182)}});
      await write(call, {expect_compressed: {value: false}, payload: {body: zeros(45904)}},
          NO_COMPRESS);
      call.end();
      const {err, resp} = await result;
      check(!err, 'StreamingInputCall: ', describe(err));
      check(resp.aggregated_payload_size === 73086, 'aggregated ', resp.aggregated_payload_size);
    } finally {
      gzipClient.close();
    }
  },

  async server_streaming() {
    const call = client.StreamingOutputCall(
        {response_parameters: RESPONSE_SIZES.map((size) => ({size}))});
    const reader = streamReader(call);
    let n = 0;
    for (let m; (m = await reader.read()) !== null; n++) {
      check(n < RESPONSE_SIZES.length, 'too many responses');
      check(isZeros(m.payload.body, RESPONSE_SIZES[n]), `response ${n}: `,
          m.payload.body.length, ' bytes');
    }
    const st = await reader.finish();
    check(st.code === Status.OK, 'StreamingOutputCall: ', describe(reader.error || st));
    check(n === RESPONSE_SIZES.length, `${n} responses`);
  },

  async server_compressed_streaming() {
    const req = {response_parameters: [
      {compressed: {value: true}, size: 31415},
      {compressed: {value: false}, size: 92653},
    ]};
    const reader = streamReader(client.StreamingOutputCall(req));
    const sizes = [31415, 92653];
    let n = 0;
    for (let m; (m = await reader.read()) !== null; n++) {
      check(n < sizes.length, 'too many responses');
      check(isZeros(m.payload.body, sizes[n]), `response ${n}: `, m.payload.body.length, ' bytes');
    }
    const st = await reader.finish();
    check(st.code === Status.OK, 'StreamingOutputCall: ', describe(reader.error || st));
    check(n === 2, `${n} responses`);
    const wire = await wireCompressedFlags('StreamingOutputCall', req);
    check(wire.status === '0' && wire.flags.join() === 'true,false',
        `on the wire: grpc-status ${wire.status}, compressed flags [${wire.flags}], `,
        'expected [true,false]');
  },

  async ping_pong() {
    const call = client.FullDuplexCall();
    const reader = streamReader(call);
    for (let i = 0; i < REQUEST_SIZES.length; i++) {
      await write(call, {response_parameters: [{size: RESPONSE_SIZES[i]}],
        payload: {body: zeros(REQUEST_SIZES[i])}});
      const m = await reader.read();
      check(m !== null, `no response ${i}: `, describe(reader.error));
      check(isZeros(m.payload.body, RESPONSE_SIZES[i]), `response ${i}: `,
          m.payload.body.length, ' bytes');
    }
    call.end();
    check((await reader.read()) === null, 'an extra response');
    const st = await reader.finish();
    check(st.code === Status.OK, 'FullDuplexCall: ', describe(reader.error || st));
  },

  async empty_stream() {
    const call = client.FullDuplexCall();
    const reader = streamReader(call);
    call.end();
    check((await reader.read()) === null, 'unexpected response');
    const st = await reader.finish();
    check(st.code === Status.OK, 'FullDuplexCall: ', describe(reader.error || st));
  },

  async custom_metadata() {
    const initialValue = 'test_initial_metadata_value';
    const trailingValue = Buffer.from([0xab, 0xab, 0xab]);
    const md = () => {
      const m = new grpc.Metadata();
      m.set(common.ECHO_INITIAL_KEY, initialValue);
      m.set(common.ECHO_TRAILING_BIN_KEY, trailingValue);
      return m;
    };
    const verify = (what, initial, trailing) => {
      const i = initial ? initial.get(common.ECHO_INITIAL_KEY) : [];
      check(i.length === 1 && i[0] === initialValue, `${what}: initial metadata `,
          JSON.stringify(i));
      const t = trailing ? trailing.get(common.ECHO_TRAILING_BIN_KEY) : [];
      check(t.length === 1 && Buffer.isBuffer(t[0]) && t[0].equals(trailingValue),
          `${what}: trailing metadata `, JSON.stringify(t));
    };
    const r = await unary(client, 'UnaryCall', largeRequest(), md());
    check(!r.err, 'UnaryCall: ', describe(r.err));
    check(isZeros(r.response.payload.body, LARGE_RESPONSE), 'UnaryCall payload');
    verify('UnaryCall', r.initial, r.trailing);

    const call = client.FullDuplexCall(md());
    const reader = streamReader(call);
    await write(call, {response_parameters: [{size: LARGE_RESPONSE}],
      payload: {body: zeros(LARGE_REQUEST)}});
    const m = await reader.read();
    check(m !== null && isZeros(m.payload.body, LARGE_RESPONSE), 'FullDuplexCall: response');
    call.end();
    check((await reader.read()) === null, 'FullDuplexCall: an extra response');
    const st = await reader.finish();
    check(st.code === Status.OK, 'FullDuplexCall: ', describe(reader.error || st));
    verify('FullDuplexCall', reader.initial, st.metadata);
  },

  async status_code_and_message() {
    const message = 'test status message';
    const r = await unary(client, 'UnaryCall', {response_status: {code: 2, message}});
    check(r.err && r.err.code === 2 && r.err.details === message, 'UnaryCall: ',
        describe(r.err));
    const call = client.FullDuplexCall();
    const reader = streamReader(call);
    call.write({response_status: {code: 2, message}});
    call.end();
    check((await reader.read()) === null, 'unexpected response');
    const st = await reader.finish();
    check(st.code === 2 && st.details === message, 'FullDuplexCall: ', describe(st));
  },

  async special_status_message() {
    const message = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \ud83d\ude08\t\n';
    const r = await unary(client, 'UnaryCall', {response_status: {code: 2, message}});
    check(r.err && r.err.code === 2 && r.err.details === message, 'UnaryCall: ',
        describe(r.err));
  },

  async unimplemented_method() {
    const r = await unary(client, 'UnimplementedCall', {});
    check(r.err && r.err.code === Status.UNIMPLEMENTED, 'UnimplementedCall: ', describe(r.err));
  },

  async unimplemented_service() {
    const c = newClient(testing.UnimplementedService);
    try {
      const r = await unary(c, 'UnimplementedCall', {});
      check(r.err && r.err.code === Status.UNIMPLEMENTED, 'UnimplementedCall: ',
          describe(r.err));
    } finally {
      c.close();
    }
  },

  async cancel_after_begin() {
    let done;
    const result = new Promise((resolve) => { done = resolve; });
    const call = client.StreamingInputCall((err) => done(err));
    call.cancel();
    const err = await result;
    check(err && err.code === Status.CANCELLED, 'StreamingInputCall: ', describe(err));
  },

  async cancel_after_first_response() {
    const call = client.FullDuplexCall();
    const reader = streamReader(call);
    await write(call, {response_parameters: [{size: 31415}], payload: {body: zeros(27182)}});
    const m = await reader.read();
    check(m !== null && isZeros(m.payload.body, 31415), 'no first response');
    call.cancel();
    const st = await reader.finish();
    check(st.code === Status.CANCELLED, 'FullDuplexCall: ', describe(st));
  },

  async timeout_on_sleeping_server() {
    const call = client.FullDuplexCall({deadline: Date.now() + 1});
    const reader = streamReader(call);
    call.write({payload: {body: zeros(27182)}});
    const st = await reader.finish();
    check(st.code === Status.DEADLINE_EXCEEDED, 'FullDuplexCall: ', describe(st));
  },

  async rpc_soak() { await soak(false); },
  async channel_soak() { await soak(true); },
};

async function soak(newChannel) {
  let failures = 0;
  let last = '';
  for (let i = 0; i < flags.soak_iterations; i++) {
    const t0 = Date.now();
    const c = newChannel ?
        newClient(testing.TestService, {'grpc.use_local_subchannel_pool': 1}) : client;
    try {
      await cases.large_unary(c);
      if (Date.now() - t0 > flags.soak_per_iteration_max_acceptable_latency_ms) {
        failures++;
        last = `iteration ${i} took ${Date.now() - t0} ms`;
      }
    } catch (e) {
      failures++;
      last = `iteration ${i}: ${e.message}`;
    } finally {
      if (newChannel) c.close();
    }
  }
  check(failures <= flags.soak_max_failures, `${failures} failures; last: ${last}`);
}

const ALL = ['empty_unary', 'large_unary', 'client_compressed_unary', 'server_compressed_unary',
  'client_streaming', 'client_compressed_streaming', 'server_streaming',
  'server_compressed_streaming', 'ping_pong', 'empty_stream', 'custom_metadata',
  'status_code_and_message', 'special_status_message', 'unimplemented_method',
  'unimplemented_service', 'cancel_after_begin', 'cancel_after_first_response',
  'timeout_on_sleeping_server', 'rpc_soak', 'channel_soak'];

async function main() {
  if (!(flags.server_port > 0)) {
    console.error('node_interop_client: --server_port is required');
    process.exit(2);
  }
  const names = flags.test_case === 'all' ? ALL : flags.test_case.split(',').filter((s) => s);
  for (const name of names) {
    if (!cases[name]) {
      console.error(`node_interop_client: unknown --test_case '${name}'`);
      process.exit(2);
    }
  }
  client = newClient(testing.TestService);
  let failed = 0;
  for (const name of names) {
    try {
      await cases[name]();
      console.log(`PASS ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e instanceof Failure ? e.message : e.stack}`);
    }
  }
  client.close();
  process.exit(failed === 0 ? 0 : 1);
}

main();
