// Oracle for push_node_oracle_test: what Node 20 reports of server push over loopback. A server
// answers GET /index.html by pushing /a.css and /b.js (each answered 200 text/css with a body)
// before its own response, trying a nested push from each pushed stream; a second client, with
// enablePush false, asks for /nopush and the server tries to push anyway. Prints one event a
// line, "<label> <event...>"; the label is who saw it (server, client, req, or a pushed path).
// Order is meaningful within a label (events of different streams may interleave differently).
'use strict';
const http2 = require('http2');

const out = [];
const log = (line) => out.push(line);
const server = http2.createServer();
server.on('stream', (s, h) => {
  if (h[':path'] === '/nopush') {
    log(`server pushAllowed ${s.pushAllowed}`);
    try {
      s.pushStream({ ':path': '/x' }, () => log('server pushed /x'));
    } catch (e) {
      log(`server push ${e.code}`);
    }
    s.respond({ ':status': 200 }, { endStream: true });
    return;
  }
  log(`server pushAllowed ${s.pushAllowed}`);
  for (const [path, body] of [['/a.css', 'body{}'], ['/b.js', 'alert(1)']]) {
    s.pushStream({ ':path': path }, (err, ps, headers) => {
      if (err) return log(`server push error ${err.code}`);
      log(`server pushed ${headers[':path']} ${headers[':method']} ${headers[':scheme']} id-even=${ps.id % 2 === 0}`);
      log(`server pushAllowed-on-pushed ${ps.pushAllowed}`);
      try {
        ps.pushStream({ ':path': '/nested' }, () => log('server nested pushed'));
      } catch (e) {
        log(`server nested ${e.code}`);
      }
      ps.respond({ ':status': 200, 'content-type': 'text/css' });
      ps.end(body);
    });
  }
  s.respond({ ':status': 200 });
  s.end('<html>');
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const client = http2.connect(`http://localhost:${port}`);
  let pending = 3;  // req, /a.css, /b.js
  const done = () => {
    if (--pending > 0) return;
    client.close();
    const client2 = http2.connect(`http://localhost:${port}`, { settings: { enablePush: false } });
    client2.on('stream', () => log('client2 stream'));
    const r = client2.request({ ':path': '/nopush' });
    r.on('response', (h) => log(`client2 response ${h[':status']}`));
    r.resume();
    r.on('close', () => {
      client2.close();
      server.close();
      process.stdout.write(out.join('\n') + '\n');
    });
  };
  client.on('stream', (ps, headers, flags) => {
    const p = headers[':path'];
    log(`client stream ${p} ${headers[':method']} ${headers[':scheme']} ${headers[':authority'] === `localhost:${port}`}`);
    ps.on('push', (h) => log(`${p} push ${h[':status']} ${h['content-type']}`));
    ps.on('response', () => log(`${p} response`));
    let body = '';
    ps.on('data', (d) => { body += d; });
    ps.on('end', () => log(`${p} end ${body}`));
    ps.on('close', () => { log(`${p} close ${ps.rstCode}`); done(); });
  });
  const req = client.request({ ':path': '/index.html' });
  req.on('response', (h) => log(`req response ${h[':status']}`));
  req.on('push', () => log('req push'));
  let page = '';
  req.on('data', (d) => { page += d; });
  req.on('end', () => log(`req end ${page}`));
  req.on('close', () => { log(`req close ${req.rstCode}`); done(); });
});
