// Oracle for perform_server_handshake_node_oracle_test: a Node 20 client talks to a session made
// by performServerHandshake(), through recorded bytes.
//   node perform_server_handshake_oracle.js client-bytes
//     prints (hex, one line) what Node's client sends for request({':path': '/hello'}) up to
//     and including that request's HEADERS.
//   node perform_server_handshake_oracle.js client-replay <file of server bytes in hex>
//     serves those bytes to Node's client making the same request and prints what it gets:
//     "status <:status>" then "body <body>".
'use strict';
const fs = require('node:fs');
const http2 = require('node:http2');
const net = require('node:net');

const mode = process.argv[2];

function rawServer(onConnection) {
  return new Promise((resolve) => {
    const server = net.createServer(onConnection);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  let client;
  if (mode === 'client-bytes') {
    const server = await rawServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        for (let off = 24; buf.length >= off + 9;) {
          const len = buf.readUIntBE(off, 3);
          if (buf.length < off + 9 + len) break;
          off += 9 + len;
          if (buf[off - 9 - len + 3] === 1) {  // the request's HEADERS: done
            process.stdout.write(buf.subarray(0, off).toString('hex') + '\n');
            client.destroy();
            sock.destroy();
            server.close();
            return;
          }
        }
      });
    });
    client = http2.connect(`http://127.0.0.1:${server.address().port}`);
    client.on('error', () => {});
    client.request({ ':path': '/hello' }).on('error', () => {});
  } else if (mode === 'client-replay') {
    const bytes = Buffer.from(fs.readFileSync(process.argv[3], 'utf8').trim(), 'hex');
    const server = await rawServer((sock) => {
      sock.on('error', () => {});
      sock.on('data', () => {});
      sock.write(bytes);
    });
    client = http2.connect(`http://127.0.0.1:${server.address().port}`);
    client.on('error', (e) => process.stderr.write(`client error ${e.message}\n`));
    const req = client.request({ ':path': '/hello' });
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => process.stdout.write(`status ${h[':status']}\n`));
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      process.stdout.write(`body ${body}\n`);
      client.destroy();
      server.close();
    });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main();
// A bound, not a synchronisation: a hang fails the test instead of blocking it.
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); }, 20000).unref();
