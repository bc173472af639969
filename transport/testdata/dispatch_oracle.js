// Oracle for session_fidelity_test's *MatchesNode tests: what a Node 20 server (maxConcurrentStreams
// 100, every request answered 200 "ok" from its 'stream' listener) sends back when a raw client
// writes one scenario's frames in a single write. Prints one line:
//   streams=<'stream' events> HEADERS=<n> DATA=<n> RST=<code>x<n>,... GOAWAY=<code of the last one>|none
// The client is raw (net.Socket) so that every byte arrives in one read, as the scenario needs.
'use strict';
const net = require('net');
const http2 = require('http2');

const scenario = process.argv[2];
const frame = (type, flags, id, payload) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
};
// GET / with END_STREAM: static :method GET, :path /, :scheme http, :authority "a".
const get = (id) => frame(1, 5, id, Buffer.from([0x82, 0x84, 0x86, 0x41, 0x01, 0x61]));

const parts = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0, Buffer.alloc(0))];
if (scenario === 'limit_acked') {
  parts.push(frame(4, 1, 0, Buffer.alloc(0)));  // SETTINGS ACK: the limit is in force
  for (let i = 0; i < 101; i++) parts.push(get(1 + 2 * i));
} else if (scenario === 'limit_pending') {
  for (let i = 0; i < 202; i++) parts.push(get(1 + 2 * i));
} else if (scenario === 'goaway') {
  parts.push(get(1), frame(7, 0, 0, Buffer.alloc(8)), get(3));
} else {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 100 } });
let streams = 0;
server.on('stream', (s) => {
  s.on('error', () => {});
  streams++;
  s.respond({ ':status': 200 });
  s.end('ok');
});
server.on('session', (session) => session.on('error', () => {}));
server.listen(0, '127.0.0.1', () => {
  const sock = net.connect(server.address().port, '127.0.0.1', () => sock.write(Buffer.concat(parts)));
  let got = Buffer.alloc(0);
  let idle;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    clearTimeout(idle);
    const counts = { HEADERS: 0, DATA: 0 };
    const rst = {};
    let goaway = 'none';
    for (let off = 0; off + 9 <= got.length;) {
      const len = got.readUIntBE(off, 3);
      const type = got[off + 3];
      if (off + 9 + len > got.length) break;
      if (type === 0) counts.DATA++;
      if (type === 1) counts.HEADERS++;
      if (type === 3) { const c = got.readUInt32BE(off + 9); rst[c] = (rst[c] || 0) + 1; }
      if (type === 7) goaway = String(got.readUInt32BE(off + 13));
      off += 9 + len;
    }
    const rsts = Object.keys(rst).map((c) => `${c}x${rst[c]}`).join(',') || 'none';
    console.log(`streams=${streams} HEADERS=${counts.HEADERS} DATA=${counts.DATA} RST=${rsts} GOAWAY=${goaway}`);
    sock.destroy();
    server.close();
  };
  const arm = () => { clearTimeout(idle); idle = setTimeout(finish, 300); };
  sock.on('data', (d) => { got = Buffer.concat([got, d]); arm(); });
  sock.on('close', finish);
  sock.on('error', () => {});
  arm();
});
