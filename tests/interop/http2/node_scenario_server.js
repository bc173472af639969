// node_scenario_server.js — the scenario SERVER on node:http2 (the oracle). scenario_server.cc
// does exactly the same on h2rpc's transport; keep the two in step (see scenarios.md-style list in
// README.md). Usage:
//   node node_scenario_server.js [--tls_cert=server.pem --tls_key=server.key]
// Prints "listening PORT" (127.0.0.1, port 0). Each connection runs one scenario, picked by the
// :path of its first request. The server records what it observes on each session and stream
// (normalised strings, see below) and GET /report answers them as JSON, keyed by scenario, once
// every other session has closed (bounded wait).
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (!m) throw new Error(`bad argument ${a}`);
  return [m[1], m[2]];
}));

// FNV-1a 32-bit over bytes, as 8 hex digits (scenario_server.cc has the same function).
function fnvUpdate(h, buf) {
  for (const b of buf) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}
const FNV_INIT = 0x811c9dc5;
const hex8 = (h) => h.toString(16).padStart(8, '0');

// Settings as a stable string: the standard fields in this fixed order.
const SETTING_KEYS = ['headerTableSize', 'enablePush', 'initialWindowSize', 'maxFrameSize',
  'maxConcurrentStreams', 'maxHeaderListSize', 'enableConnectProtocol'];
function settingsString(s) {
  return SETTING_KEYS.map((k) => `${k}=${s[k]}`).join(' ');
}
// Headers in received order as "name=value" joined by spaces, without the volatile parts: the
// `date` field is dropped and the port of :authority (a fresh one per run) becomes PORT.
function headersString(headers) {
  return Object.entries(headers).filter(([k]) => k !== 'date')
    .map(([k, v]) => `${k}=${k === ':authority' ? String(v).replace(/:\d+$/, ':PORT') : v}`)
    .join(' ');
}

// An event log in which consecutive 'data' chunks are merged into one "data N bytes fnv=X" entry
// (chunk boundaries depend on framing and timing, the total does not).
class Log {
  constructor() { this.events = []; this.data = null; }
  add(e) { this.data = null; this.events.push(e); }
  addData(chunk) {
    if (!this.data) { this.data = { n: 0, h: FNV_INIT }; this.events.push(this.data); }
    this.data.n += chunk.length;
    this.data.h = fnvUpdate(this.data.h, chunk);
  }
  toJSON() {
    return this.events.map((e) => (typeof e === 'string' ? e : `data ${e.n} bytes fnv=${hex8(e.h)}`));
  }
}

const report = {};      // scenario -> { session: [...], stream: [...] }
const open = new Set(); // sessions not closed yet
let untagged = 0;

function logStream(stream, log) {
  stream.on('data', (chunk) => log.addData(chunk));
  stream.on('end', () => log.add('end'));
  stream.on('aborted', () => log.add('aborted'));
  stream.on('error', (err) => log.add(`error ${err.code} ${err.message}`));
  stream.on('frameError', (type, code) => log.add(`frameError type=${type} code=${code}`));
  stream.on('close', () => log.add(`close rst=${stream.rstCode}`));
}

function onStream(stream, headers) {
  const session = stream.session;
  const path = headers[':path'];
  const method = headers[':method'];
  if (path === '/report') return sendReport(stream, session);
  if (!session.scenario) session.scenario = path.slice(1);
  const log = new Log();
  report[session.scenario].stream.push(log);
  log.add(`stream ${headersString(headers)}`);
  logStream(stream, log);

  switch (path) {
    case '/get':        // (a) GET with a response body
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-scenario': 'get' });
      stream.end('hello from the scenario server\n');
      break;
    case '/echo':       // (b) POST echo: the body is streamed back as it arrives
      stream.respond({ ':status': 200, 'content-type': headers['content-type'] });
      stream.pipe(stream);
      break;
    case '/trailers': { // (c) response with trailers sent on 'wantTrailers'
      const body = 'body before trailers\n';
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => {
        log.add('wantTrailers');
        stream.sendTrailers({ 'x-checksum': hex8(fnvUpdate(FNV_INIT, Buffer.from(body))),
          'x-trailer': 'done' });
      });
      stream.end(body);
      break;
    }
    case '/info':       // (d) 103 Early Hints, then 200
      stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload; as=style' });
      stream.respond({ ':status': 200 });
      stream.end('after early hints\n');
      break;
    case '/rst':        // (e) RST_STREAM ENHANCE_YOUR_CALM on a GET
    case '/rst_post':   // (e') same on a POST whose request body is still open
      stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      break;
    case '/rst_write':  // (e'') RST_STREAM INTERNAL_ERROR right after a write: data, then the
                        // reset, never END_STREAM (issue 16)
      stream.respond({ ':status': 200 });
      stream.write('partial\n');
      stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      break;
    case '/ping':       // (f) a plain GET; the client pings afterwards on the same session
      stream.respond({ ':status': 200 });
      stream.end('pong\n');
      break;
    case '/goaway':     // (g) GOAWAY while the POST is open; finish it when its body ends
      stream.respond({ ':status': 200 });
      stream.write('before goaway\n');
      session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0, Buffer.from('bye'));
      stream.on('end', () => stream.end('after goaway\n'));
      stream.resume();
      break;
    default:
      stream.respond({ ':status': 404 });
      stream.end();
  }
}

function sendReport(stream, session) {
  const deadline = Date.now() + 5000;
  const poll = () => {
    const others = [...open].filter((s) => s !== session).length;
    if (others > 0 && Date.now() < deadline) return setTimeout(poll, 10);
    const body = {};
    for (const name of Object.keys(report).sort()) {
      body[name] = {
        session: report[name].session.toJSON(),
        stream: report[name].stream.map((l) => l.toJSON()),
      };
    }
    if (others > 0) body['!unclosed_sessions'] = others;
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify(body));
  };
  poll();
}

function onSession(session) {
  open.add(session);
  const log = new Log();
  // The report entry is created when the first stream names the scenario; until then the
  // session logs into `log` and the entry takes it over.
  let tagged = null;
  Object.defineProperty(session, 'scenario', {
    get() { return tagged; },
    set(name) {
      tagged = name;
      if (report[name]) name = tagged = `${name}#${++untagged}`;
      report[name] = { session: log, stream: [] };
    },
  });
  let firstRemote = true;
  session.on('remoteSettings', (s) => {
    if (firstRemote) log.add(`remoteSettings ${settingsString(s)}`);
    else log.add('remoteSettings');
    firstRemote = false;
  });
  session.on('localSettings', () => log.add('localSettings'));
  session.on('ping', (payload) => log.add(`ping ${payload.toString('latin1')}`));
  session.on('goaway', (code, last, data) =>
    log.add(`goaway code=${code} last=${last} data=${data ? data.toString('latin1') : ''}`));
  session.on('frameError', (type, code, id) => log.add(`frameError type=${type} code=${code} id=${id}`));
  session.on('error', (err) => log.add(`error ${err.code} ${err.message}`));
  session.on('close', () => { log.add('close'); open.delete(session); });
}

const options = {};
let server;
if (args.tls_cert) {
  server = http2.createSecureServer({ cert: fs.readFileSync(args.tls_cert),
    key: fs.readFileSync(args.tls_key) });
} else {
  server = http2.createServer(options);
}
server.on('session', onSession);
server.on('stream', onStream);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
