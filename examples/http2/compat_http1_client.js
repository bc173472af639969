// compat_http1_client.js URL [CA_FILE]: Node 20's http / https client (HTTP/1.1, keep-alive
// agent) against compat_server with allowHTTP1. Prints "compat_http1_client: ok" or exits 1.
'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');

const [url, caFile] = process.argv.slice(2);
const secure = url.startsWith('https:');
const mod = require(secure ? 'node:https' : 'node:http');
const agent = new mod.Agent({ keepAlive: true, maxSockets: 1,
                              ...(caFile ? { ca: fs.readFileSync(caFile) } : {}) });
const failures = [];
const check = (what, ok) => { if (!ok) failures.push(what); };
const sockets = new Set();

function request(path, { method = 'GET', headers = {}, body, waitContinue = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = mod.request(url + path, { method, headers, agent });
    req.on('socket', (s) => sockets.add(s));
    let continued = false;
    req.on('continue', () => { continued = true; req.end(body); });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ res, continued, trailers: res.trailers,
                                     body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (!waitContinue) req.end(body);
  });
}

(async () => {
  const root = await request('/');
  check('/ status 200', root.res.statusCode === 200);
  check('/ httpVersion 1.1', root.res.httpVersion === '1.1');
  check('/ content-type', root.res.headers['content-type'] === 'text/plain; charset=utf-8');
  check('/ x-foo', root.res.headers['x-foo'] === 'bar');
  check('/ body', root.body.toString() === 'ok');

  const tr = await request('/trailers');
  check('/trailers body', tr.body.toString() === 'body before trailers\n');
  check('/trailers trailer', tr.trailers['content-md5'] === '7895bf4b8828b55ceaf47747b4bca667');

  const alpn = JSON.parse((await request('/alpn')).body.toString());
  check('/alpn httpVersion', alpn.httpVersion === '1.1');
  check('/alpn alpnProtocol', alpn.alpnProtocol === false);  // no ALPN offered by Node's agent

  const small = await request('/echo', { method: 'POST', body: 'after continue',
    headers: { expect: '100-continue', 'content-type': 'text/x-test' }, waitContinue: true });
  check('100 Continue', small.continued);
  check('echo', small.body.toString() === 'after continue');

  const big = crypto.randomBytes(4 << 20);
  const echoed = await request('/echo', { method: 'POST', body: big });
  check('4 MiB echo', echoed.body.equals(big));

  const missing = await request('/nope');
  check('404', missing.res.statusCode === 404);
  check('keep-alive: one connection for all requests', sockets.size === 1);

  agent.destroy();
  if (failures.length) {
    console.log('compat_http1_client: FAIL ' + failures.join('; '));
    process.exit(1);
  }
  console.log('compat_http1_client: ok');
})().catch((e) => { console.log('compat_http1_client: error ' + e); process.exit(1); });
