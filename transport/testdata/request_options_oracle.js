// Oracle for request_options_node_oracle_test: what Node's client puts on the wire for
// request()'s priority options and signal, and for stream.priority(). A raw TCP server reads
// the client's frames; once the expected ones have arrived it prints the HEADERS (1),
// PRIORITY (2) and RST_STREAM (3) frames, one per line, sorted:
//   <type> <stream id> <flags, 2 hex digits> <hex: PRIORITY/RST_STREAM payload, the 5 priority
//   bytes of a HEADERS frame with the PRIORITY flag, or '-'>
// The sequence (ids as Node assigns them):
//   1: request({})                    then priority({weight: 10}) and
//                                      priority({parent: 0, weight: 300, exclusive: true})
//   3: request({}, {weight: 42, exclusive: true, parent: 1})
//   5: request({}, {weight: 1000})    7: request({}, {weight: 0})
//   -: request({}, {signal: AbortSignal.abort()})  (never sent)
//   9: request({}, {signal}), aborted at its 'ready'
'use strict';
const http2 = require('node:http2');
const net = require('node:net');

const expected = { 1: 5, 2: 2, 3: 1 };  // frames per type
const lines = [];
const seen = { 1: 0, 2: 0, 3: 0 };
let client;

const server = net.createServer((sock) => {
  let buf = Buffer.alloc(0);
  let off = 24;  // the client preface
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= off + 9) {
      const len = buf.readUIntBE(off, 3);
      if (buf.length < off + 9 + len) break;
      const type = buf[off + 3], flags = buf[off + 4];
      const id = buf.readUInt32BE(off + 5) & 0x7fffffff;
      const payload = buf.subarray(off + 9, off + 9 + len);
      off += 9 + len;
      if (!(type in seen)) continue;
      seen[type]++;
      let shown = '-';
      if (type !== 1) shown = payload.toString('hex');
      else if (flags & 0x20) shown = payload.subarray(0, 5).toString('hex');
      lines.push(`${type} ${id} ${flags.toString(16).padStart(2, '0')} ${shown}`);
    }
    if (Object.keys(expected).every((t) => seen[t] >= expected[t])) {
      lines.sort();
      process.stdout.write(lines.join('\n') + '\n');
      client.destroy();
      sock.destroy();
      server.close();
    }
  });
  sock.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  client = http2.connect(`http://127.0.0.1:${server.address().port}`);
  client.on('error', () => {});
  const quiet = (s) => { s.on('error', () => {}); return s; };
  const r1 = quiet(client.request({}));
  r1.priority({ weight: 10 });
  r1.priority({ parent: 0, weight: 300, exclusive: true });
  quiet(client.request({}, { weight: 42, exclusive: true, parent: 1 }));
  quiet(client.request({}, { weight: 1000 }));
  quiet(client.request({}, { weight: 0 }));
  quiet(client.request({}, { signal: AbortSignal.abort() }));
  const controller = new AbortController();
  const r9 = quiet(client.request({}, { signal: controller.signal }));
  r9.on('ready', () => setImmediate(() => controller.abort()));
});

// A bound, not a synchronisation: a hang fails the test instead of blocking it.
setTimeout(() => {
  process.stderr.write(`timeout; seen ${JSON.stringify(seen)}\n${lines.join('\n')}\n`);
  process.exit(1);
}, 20000).unref();
