// Oracle for the incoming side of headers_node_oracle_test: a raw HTTP/2 client (hand-written
// HPACK literals, so it can send what Node's own client refuses, e.g. two user-agent fields)
// sends each case as a request to a Node http2 server, which prints the headers object it built.
// Input, one case per line: hex(name):hex(value) pairs, comma-separated. Output, one line per case:
//   OK <TAB> name=S<hex(String(value))> or name=A<hex(v1)>|<hex(v2)>... for arrays, comma-separated
//   RESET <TAB> <RST_STREAM error code>   (nghttp2 refused the block before Node saw it)
//   CLOSED or TIMEOUT                      (anything else: a failure of the test)
'use strict';
const fs = require('fs');
const http2 = require('http2');
const net = require('net');

const hex = (s) => Buffer.from(String(s), 'latin1').toString('hex');

// HPACK integer with an N-bit prefix (RFC 7541 section 5.1).
function integer(value, prefixBits, firstByte) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return out;
}
const string = (buf) => Buffer.concat([Buffer.from(integer(buf.length, 7, 0)), buf]);
// Literal header field without indexing, new name (RFC 7541 section 6.2.2).
const literal = (name, value) => Buffer.concat([Buffer.from([0]), string(name), string(value)]);
function frame(type, flags, streamId, payload) {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function runCase(server, fields) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (line) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    // A safety net only: every case ends with a stream or an RST_STREAM well before this.
    const timer = setTimeout(() => finish('TIMEOUT'), 5000);
    server.removeAllListeners('stream');
    server.on('stream', (stream, headers) => {
      const entries = Object.keys(headers).map((name) => {
        const v = headers[name];
        return `${hex(name)}=${Array.isArray(v) ? 'A' + v.map(hex).join('|') : 'S' + hex(v)}`;
      });
      stream.respond({ ':status': 200 }, { endStream: true });
      finish(`OK\t${entries.join(',')}`);
    });
    const socket = net.connect(server.address().port, '127.0.0.1', () => {
      const block = Buffer.concat(fields.map(([n, v]) => literal(n, v)));
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
                                  frame(4, 0, 0, Buffer.alloc(0)),         // SETTINGS
                                  frame(1, 0x5, 1, block)]));             // HEADERS, END_STREAM|END_HEADERS
    });
    let pending = Buffer.alloc(0);
    socket.on('data', (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        if (pending[3] === 3) finish(`RESET\t${pending.readUInt32BE(9)}`);  // RST_STREAM
        pending = pending.subarray(9 + length);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => finish('CLOSED'));
  });
}

const server = http2.createServer();
server.listen(0, '127.0.0.1', async () => {
  const out = [];
  for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
    if (line === '') continue;
    const fields = line.split(',').map((pair) => pair.split(':').map((h) => Buffer.from(h, 'hex')));
    out.push(await runCase(server, fields));
  }
  process.stdout.write(out.join('\n') + '\n');
  server.close();
});
