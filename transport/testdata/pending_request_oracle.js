// Oracle for pending_request_node_oracle_test: requests made while a client session connects
// (Node's requestOnConnect), run by Node 20's client against Node's server on 127.0.0.1. Prints
// one trace per scenario: "# <scenario>", the client's events in order, then what the server
// saw (its 'stream' events in stream id order). The C++ test runs the same scenarios with our
// client and server and compares the traces line by line. Ports are printed as PORT.
'use strict';
const http2 = require('http2');
const net = require('net');

const scenario = process.argv[2];
// Client lines: the session's in order, then each request's in order (requests in the order
// made); the order between two requests' events depends on timing, so it is not compared.
const sessionLines = [];
const streams = new Map();
const server = [];
const log = (line, name) => {
  if (name === undefined) {
    sessionLines.push(line);
    return;
  }
  if (!streams.has(name)) streams.set(name, []);
  streams.get(name).push(line);
};

function code(e) {
  return e ? `${e.code} ${e.message}`.replace(/:\d+\b/g, ':PORT') : 'none';
}

function track(name, req) {
  const l = (line) => log(`${name} ${line}`, name);
  l(`request pending=${req.pending} id=${req.id === undefined ? 0 : req.id}`);
  req.on('ready', () => l(`ready pending=${req.pending} id=${req.id}`));
  req.on('aborted', () => l('aborted'));
  req.on('error', (e) => l(`error ${code(e)}`));
  req.on('response', (h) => l(`response status=${h[':status']}`));
  req.on('data', () => {});
  req.on('end', () => l('end'));
  req.on('close', () => l(`close rstCode=${req.rstCode}`));
}

function finish() {
  const client = [...sessionLines];
  for (const lines of streams.values()) client.push(...lines);
  server.sort((x, y) => x.id - y.id);
  process.stdout.write([`# ${scenario}`, ...client, '# server', ...server.map((s) => s.line)]
    .map((l) => l + '\n').join(''));
  process.exit(0);
}

function withServer(run) {
  const srv = http2.createServer();
  srv.on('stream', (stream, headers) => {
    let body = '';
    stream.on('data', (d) => { body += d; });
    stream.on('end', () => {
      server.push({id: stream.id, line: `stream ${headers[':path']} id=${stream.id} body=${body}`});
      stream.respond({':status': 200});
      stream.end('ok');
    });
    stream.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1', () => {
    const session = http2.connect(`http://127.0.0.1:${srv.address().port}`);
    session.on('error', (e) => log(`session error ${code(e)}`));
    session.on('close', () => {
      log('session close');
      srv.close(finish);
    });
    run(session);
  });
}

const scenarios = {
  // Three requests while connecting: ids in order at 'connect', 'ready' with the id; what was
  // written, ended and prioritised meanwhile applies.
  order: () => withServer((s) => {
    s.on('connect', () => log(`connect connecting=${s.connecting}`));
    const a = s.request({':path': '/a'});
    track('a', a);
    const b = s.request({':path': '/b', ':method': 'POST'});
    track('b', b);
    b.write('xy');
    b.end('z');
    const c = s.request({':path': '/c'});
    track('c', c);
    c.priority({weight: 42});  // (silent: true here aborts Node 20.20: a C++ assertion)
    let ended = 0;
    for (const r of [a, b, c]) r.on('close', () => { if (++ended === 3) s.close(); });
  }),
  // A request destroyed while pending is never sent and uses no id.
  destroyStream: () => withServer((s) => {
    const a = s.request({':path': '/a'});
    track('a', a);
    a.destroy();
    const b = s.request({':path': '/b'});
    track('b', b);
    b.on('close', () => s.close());
  }),
  // close(code) while pending: the HEADERS go out, then RST_STREAM(code).
  closeStream: () => withServer((s) => {
    const a = s.request({':path': '/a', ':method': 'POST'});
    track('a', a);
    a.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    const b = s.request({':path': '/b'});
    track('b', b);
    b.on('close', () => s.close());
  }),
  // The session destroyed before it connects: ERR_HTTP2_STREAM_CANCEL, with its cause.
  destroySession: () => withServer((s) => {
    track('a', s.request({':path': '/a'}));
    track('b', s.request({':path': '/b'}));
    s.destroy(new Error('boom'));
  }),
  destroySessionWithoutError: () => withServer((s) => {
    track('a', s.request({':path': '/a'}));
    s.destroy();
  }),
  // The session closed before it connects: ERR_HTTP2_GOAWAY_SESSION at 'connect'.
  closeSession: () => withServer((s) => {
    track('a', s.request({':path': '/a'}));
    s.close();
  }),
  // Nothing listens on the port: cancelled, caused by the connection's error.
  refused: () => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = probe.address().port;
      probe.close(() => {
        const s = http2.connect(`http://127.0.0.1:${port}`);
        s.on('error', (e) => log(`session error ${code(e)}`));
        s.on('close', () => { log('session close'); finish(); });
        track('a', s.request({':path': '/a'}));
      });
    });
  },
};

if (!scenarios[scenario]) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
scenarios[scenario]();
