// Oracle for altsvc_origin_node_oracle_test (Node 20, TLS over loopback, tests/testdata/tls).
//   node altsvc_origin_oracle.js node-server
//     A Node http2 secure server sends session.altsvc() and session.origin() (see below) to a raw
//     TLS client; prints, hex, the HTTP/2 bytes the client received (until ALTSVC and ORIGIN).
//   node altsvc_origin_oracle.js node-client <file of hex bytes>
//     A raw TLS server writes those bytes (our server's) to Node's http2.connect() client; prints
//     one line per 'altsvc' (alt origin stream) and 'origin' event, with originSet after it.
'use strict';
const fs = require('fs');
const tls = require('tls');
const http2 = require('http2');

const dir = 'tests/testdata/tls/';
const key = fs.readFileSync(dir + 'server.key');
const cert = fs.readFileSync(dir + 'server.pem');
const ca = fs.readFileSync(dir + 'ca.pem');
const mode = process.argv[2];
const fail = (msg) => { console.error(msg); process.exit(1); };
setTimeout(() => fail('timeout'), 10000).unref();

if (mode === 'node-server') {
  const server = http2.createSecureServer({ key, cert });
  server.on('session', (session) => {
    session.altsvc('h2=":8000"; ma=60', 'https://Example.ORG:443/x');
    session.altsvc('h2="alt.example:443"', 'http://example.org:8080');
    session.origin('https://a.example', 'https://b.example:8443');
  });
  server.listen(0, '127.0.0.1', () => {
    const sock = tls.connect({ port: server.address().port, host: '127.0.0.1', ca,
                               servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
      sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
                                Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
    });
    let got = Buffer.alloc(0);
    sock.on('data', (d) => {
      got = Buffer.concat([got, d]);
      const seen = new Set();
      for (let off = 0; off + 9 <= got.length;) {
        const len = got.readUIntBE(off, 3);
        if (off + 9 + len > got.length) break;
        seen.add(got[off + 3]);
        off += 9 + len;
      }
      if (seen.has(0xa) && seen.has(0xc)) {
        process.stdout.write(got.toString('hex') + '\n');
        sock.destroy();
        server.close();
        process.exit(0);
      }
    });
  });
} else if (mode === 'node-client') {
  const bytes = Buffer.from(fs.readFileSync(process.argv[3], 'utf8').trim(), 'hex');
  const server = tls.createServer({ key, cert, ALPNProtocols: ['h2'] }, (sock) => {
    sock.on('data', () => {});
    sock.write(bytes);
  });
  server.listen(0, '127.0.0.1', () => {
    const client = http2.connect(`https://localhost:${server.address().port}`, { ca });
    client.on('error', () => {});
    const out = [];
    let events = 0;
    const expected = Number(process.argv[4] || 3);
    const done = () => {
      if (++events < expected) return;
      process.stdout.write(out.join('\n') + '\n');
      client.destroy();
      server.close();
      process.exit(0);
    };
    client.on('altsvc', (alt, origin, stream) => { out.push(`altsvc ${alt}|${origin}|${stream}`); done(); });
    client.on('origin', (origins) => {
      out.push(`origin ${origins.join(',')}`);
      out.push(`originSet ${client.originSet.slice(1).join(',')}`);  // [0] is ours (port varies)
      done();
    });
  });
} else {
  fail(`unknown mode ${mode}`);
}
