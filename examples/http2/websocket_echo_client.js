// WebSocket over HTTP/2 (RFC 8441) with Node 20's http2 client against websocket_echo:
// extended CONNECT, masked frames (text, a 70000-byte binary with a 64-bit length, fragments,
// ping), their echoes, a close handshake; then bad frames must get a close 1002/1009.
//   node websocket_echo_client.js PORT
'use strict';
const http2 = require('node:http2');
const crypto = require('node:crypto');
const assert = require('node:assert');

const port = process.argv[2];

function frame(opcode, payload, {fin = true, masked = true, lengthBytes} = {}) {
  payload = Buffer.from(payload);
  const n = payload.length;
  let header;
  const enc = lengthBytes ?? (n < 126 ? 0 : n <= 0xffff ? 2 : 8);
  if (enc === 0) header = Buffer.from([0, n]);
  else if (enc === 2) { header = Buffer.alloc(4); header[1] = 126; header.writeUInt16BE(n, 2); }
  else { header = Buffer.alloc(10); header[1] = 127; header.writeBigUInt64BE(BigInt(n), 2); }
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (!masked) return Buffer.concat([header, payload]);
  header[1] |= 0x80;
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([header, mask, body]);
}

// Parses the server's (unmasked) frames out of `buf`.
function parseFrames(buf) {
  const frames = [];
  let pos = 0;
  while (buf.length - pos >= 2) {
    const b0 = buf[pos], b1 = buf[pos + 1];
    assert.strictEqual(b1 & 0x80, 0, 'server frames are not masked');
    let n = b1 & 0x7f, p = pos + 2;
    if (n === 126) { n = buf.readUInt16BE(p); p += 2; }
    else if (n === 127) { n = Number(buf.readBigUInt64BE(p)); p += 8; }
    if (buf.length < p + n) break;
    frames.push({fin: !!(b0 & 0x80), opcode: b0 & 0x0f, payload: buf.subarray(p, p + n)});
    pos = p + n;
  }
  return {frames, rest: buf.subarray(pos)};
}

// Opens a WebSocket stream, sends `chunks`, ends when the server ends; resolves with its frames.
function exchange(session, chunks, {endAfter = false} = {}) {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/echo',
      'sec-websocket-version': '13',
    }, {endStream: false});
    let got = Buffer.alloc(0);
    req.on('response', (h) => {
      if (h[':status'] !== 200) reject(new Error('status ' + h[':status']));
      for (const c of chunks) req.write(c);
      if (endAfter) req.end();
    });
    req.on('data', (d) => { got = Buffer.concat([got, d]); });
    req.on('end', () => { req.end(); });
    req.on('error', reject);
    req.on('close', () => {
      const {frames, rest} = parseFrames(got);
      assert.strictEqual(rest.length, 0, 'a truncated frame');
      resolve(frames);
    });
  });
}

async function main() {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', (e) => { console.error('session error', e); process.exit(1); });
  await new Promise((r) => session.once('remoteSettings', r));
  assert.strictEqual(session.remoteSettings.enableConnectProtocol, true,
                     'the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL');

  const big = crypto.randomBytes(70000);
  const closeOk = Buffer.from([0x03, 0xe8]);  // 1000
  let frames = await exchange(session, [
    frame(0x1, 'hello websocket'),
    frame(0x9, 'are you there'),
    frame(0x2, big),
    frame(0x1, 'frag', {fin: false}), frame(0x0, 'mented'),
    frame(0x8, closeOk),
  ]);
  assert.deepStrictEqual(frames.map((f) => [f.opcode, f.fin]),
                         [[0x1, true], [0xa, true], [0x2, true], [0x1, false], [0x0, true], [0x8, true]]);
  assert.strictEqual(frames[0].payload.toString(), 'hello websocket');
  assert.strictEqual(frames[1].payload.toString(), 'are you there');
  assert.ok(frames[2].payload.equals(big), 'the binary echo is byte-exact');
  assert.strictEqual(frames[3].payload.toString() + frames[4].payload.toString(), 'fragmented');
  assert.ok(frames[5].payload.equals(closeOk));
  console.log('echo: ok');

  const closeCode = (fs) => {
    const last = fs[fs.length - 1];
    assert.strictEqual(last.opcode, 0x8);
    return last.payload.readUInt16BE(0);
  };
  // An unmasked client frame: 1002.
  assert.strictEqual(closeCode(await exchange(session, [frame(0x1, 'x', {masked: false})])), 1002);
  // A 64-bit length with the most significant bit set: 1002.
  const huge = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
  assert.strictEqual(closeCode(await exchange(session, [huge])), 1002);
  // A length over the server's limit (2 MiB > 1 MiB), refused from the header alone: 1009.
  const tooBig = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4]);
  assert.strictEqual(closeCode(await exchange(session, [tooBig])), 1009);
  // A ping longer than 125 bytes: 1002.
  assert.strictEqual(closeCode(await exchange(session, [frame(0x9, Buffer.alloc(126), {lengthBytes: 2})])), 1002);
  console.log('bad frames: ok');

  // A plain request to the WebSocket server is refused (400).
  await new Promise((resolve, reject) => {
    const r = session.request({':path': '/'});
    r.on('response', (h) => { h[':status'] === 400 ? resolve() : reject(new Error('' + h[':status'])); });
    r.resume();
  });
  session.close();
  console.log('websocket: ok');
}

main().catch((e) => { console.error(e); process.exit(1); });
