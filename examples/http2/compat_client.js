// compat_client.js URL [CA_FILE]: Node 20's http2 client against compat_server, checking what
// Node's own compat server would answer. Prints "compat_client: ok" or exits 1 with the failures.
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');
const crypto = require('node:crypto');

const [url, caFile] = process.argv.slice(2);
const client = http2.connect(url, caFile ? { ca: fs.readFileSync(caFile) } : {});
const failures = [];
const check = (what, ok) => { if (!ok) failures.push(what); };

function request(headers, body, { waitContinue = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = client.request(headers, { endStream: body === undefined });
    const out = { headers: null, trailers: {}, body: [], continued: false };
    req.on('continue', () => { out.continued = true; if (waitContinue) req.end(body); });
    req.on('response', (h) => { out.headers = h; });
    req.on('trailers', (t) => { out.trailers = t; });
    req.on('data', (d) => out.body.push(d));
    req.on('end', () => resolve({ ...out, body: Buffer.concat(out.body) }));
    req.on('error', reject);
    if (body !== undefined && !waitContinue) req.end(body);
  });
}

(async () => {
  const root = await request({ ':path': '/' });
  check('/ status 200', root.headers[':status'] === 200);
  check('/ content-type from writeHead', root.headers['content-type'] === 'text/plain; charset=utf-8');
  check('/ x-foo from setHeader', root.headers['x-foo'] === 'bar');
  check('/ date', typeof root.headers.date === 'string');
  check('/ body', root.body.toString() === 'ok');

  const tr = await request({ ':path': '/trailers' });
  check('/trailers body', tr.body.toString() === 'body before trailers\n');
  check('/trailers content-md5', tr.trailers['content-md5'] === '7895bf4b8828b55ceaf47747b4bca667');

  const alpn = await request({ ':path': '/alpn' });
  const expected = url.startsWith('https:') ? 'h2' : 'h2c';
  let json = {};
  try { json = JSON.parse(alpn.body.toString()); } catch (e) { failures.push('/alpn json: ' + e); }
  check('/alpn alpnProtocol ' + expected, json.alpnProtocol === expected);
  check('/alpn httpVersion', json.httpVersion === '2.0');

  const small = await request({ ':method': 'POST', ':path': '/echo', 'expect': '100-continue',
                                'content-type': 'text/x-test' }, 'after continue',
                              { waitContinue: true });
  check('expect: 100 Continue received', small.continued);
  check('echo after continue', small.body.toString() === 'after continue');
  check('echo content-type', small.headers['content-type'] === 'text/x-test');

  const big = crypto.randomBytes(4 << 20);  // beyond every window: the echo must pause and drain
  const echoed = await request({ ':method': 'POST', ':path': '/echo' }, big);
  check('4 MiB echo', echoed.body.equals(big));

  const missing = await request({ ':path': '/nope' });
  check('404', missing.headers[':status'] === 404);

  client.close();
  if (failures.length) {
    console.log('compat_client: FAIL ' + failures.join('; '));
    process.exit(1);
  }
  console.log('compat_client: ok');
})().catch((e) => { console.log('compat_client: error ' + e); process.exit(1); });
