// node_scenario_client.js — the scenario CLIENT on node:http2 (the oracle). scenario_client.cc
// does exactly the same on h2rpc's transport; keep the two in step. Usage:
//   node node_scenario_client.js --url=http://127.0.0.1:PORT [--ca=ca.pem] [--only=get,echo]
// Runs every scenario on its own connection, one after the other, then fetches the server's
// /report and prints one JSON document:
//   {"client": {scenario: {"session": [events], "stream": [events]}}, "server": <report>}
// Events are normalised strings (consecutive 'data' chunks merged, no dates, no timings).
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');

const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)=(.*)$/.exec(a);
  if (!m) throw new Error(`bad argument ${a}`);
  return [m[1], m[2]];
}));
const url = args.url;
const connectOptions = args.ca ? { ca: fs.readFileSync(args.ca) } : {};
const SCENARIO_TIMEOUT_MS = 5000;

function fnvUpdate(h, buf) {
  for (const b of buf) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}
const FNV_INIT = 0x811c9dc5;
const hex8 = (h) => h.toString(16).padStart(8, '0');
const SETTING_KEYS = ['headerTableSize', 'enablePush', 'initialWindowSize', 'maxFrameSize',
  'maxConcurrentStreams', 'maxHeaderListSize', 'enableConnectProtocol'];
const settingsString = (s) => SETTING_KEYS.map((k) => `${k}=${s[k]}`).join(' ');
const headersString = (headers) => Object.entries(headers).filter(([k]) => k !== 'date')
  .map(([k, v]) => `${k}=${v}`).join(' ');

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

// The 100 KiB request body of the echo scenario: byte i is i % 251.
const ECHO_BODY = Buffer.alloc(100 * 1024);
for (let i = 0; i < ECHO_BODY.length; ++i) ECHO_BODY[i] = i % 251;

function logStream(req, log) {
  req.on('response', (h) => log.add(`response ${headersString(h)}`));
  req.on('headers', (h) => log.add(`headers ${headersString(h)}`));
  req.on('data', (chunk) => log.addData(chunk));
  req.on('trailers', (h) => log.add(`trailers ${headersString(h)}`));
  req.on('end', () => log.add('end'));
  req.on('aborted', () => log.add('aborted'));
  req.on('error', (err) => log.add(`error ${err.code} ${err.message}`));
  req.on('frameError', (type, code) => log.add(`frameError type=${type} code=${code}`));
  req.on('close', () => log.add(`close rst=${req.rstCode}`));
}

// Each scenario: (session, streamLog, sessionLog, done) => void. The session closes itself
// (session.close() once the stream has closed); the scenario ends at the session's 'close'.
const scenarios = {
  get(session, log) {
    const req = session.request({ ':path': '/get' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  echo(session, log) {
    const req = session.request({ ':method': 'POST', ':path': '/echo',
      'content-type': 'application/octet-stream' });
    logStream(req, log);
    req.on('close', () => session.close());
    req.end(ECHO_BODY);
  },
  trailers(session, log) {
    const req = session.request({ ':path': '/trailers' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  info(session, log) {
    const req = session.request({ ':path': '/info' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  rst(session, log) {
    const req = session.request({ ':path': '/rst' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  rst_write(session, log) {
    const req = session.request({ ':path': '/rst_write' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  rst_post(session, log) {
    const req = session.request({ ':method': 'POST', ':path': '/rst_post' });
    logStream(req, log);
    req.on('close', () => session.close());
  },
  ping(session, log, sessionLog) {
    const req = session.request({ ':path': '/ping' });
    logStream(req, log);
    req.on('close', () => {
      const ok = session.ping(Buffer.from('abcdefgh'), (err, duration, payload) => {
        sessionLog.add(err ? `ping error ${err.code}`
          : `ping ok payload=${payload.toString('latin1')}`);
        session.close();
      });
      if (!ok) { sessionLog.add('ping refused'); session.close(); }
    });
  },
  goaway(session, log) {
    const req = session.request({ ':method': 'POST', ':path': '/goaway' });
    logStream(req, log);
    // The server sends GOAWAY and finishes the response once our body has ended.
    session.once('goaway', () => req.end('ack'));
    req.on('close', () => session.close());
  },
};

function runScenario(name) {
  return new Promise((resolve) => {
    const sessionLog = new Log();
    const streamLog = new Log();
    const session = http2.connect(url, connectOptions);
    let firstRemote = true;
    session.on('connect', () => sessionLog.add('connect'));
    session.on('remoteSettings', (s) => {
      sessionLog.add(firstRemote ? `remoteSettings ${settingsString(s)}` : 'remoteSettings');
      firstRemote = false;
    });
    session.on('localSettings', () => sessionLog.add('localSettings'));
    session.on('goaway', (code, last, data) => sessionLog.add(
      `goaway code=${code} last=${last} data=${data ? data.toString('latin1') : ''}`));
    session.on('frameError', (type, code, id) =>
      sessionLog.add(`frameError type=${type} code=${code} id=${id}`));
    session.on('error', (err) => sessionLog.add(`error ${err.code} ${err.message}`));
    const timer = setTimeout(() => {
      sessionLog.add('TIMEOUT');
      session.destroy();
    }, SCENARIO_TIMEOUT_MS);
    session.on('close', () => {
      sessionLog.add('close');
      clearTimeout(timer);
      resolve({ session: sessionLog.toJSON(), stream: streamLog.toJSON() });
    });
    scenarios[name](session, streamLog, sessionLog);
  });
}

function fetchReport() {
  return new Promise((resolve) => {
    const session = http2.connect(url, connectOptions);
    const timer = setTimeout(() => {
      resolve({ '!report_error': 'timeout' });
      session.destroy();
    }, 10000);
    session.on('close', () => clearTimeout(timer));
    session.on('error', (err) => resolve({ '!report_error': `${err.code} ${err.message}` }));
    const req = session.request({ ':path': '/report' });
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', (err) => resolve({ '!report_error': `${err.code} ${err.message}` }));
    req.on('end', () => {
      session.close();
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString()));
      } catch (e) {
        resolve({ '!report_error': String(e) });
      }
    });
  });
}

(async () => {
  const names = args.only ? args.only.split(',') : Object.keys(scenarios);
  const client = {};
  for (const name of names) client[name] = await runScenario(name);
  const server = await fetchReport();
  process.stdout.write(`${JSON.stringify({ client, server })}\n`);
})();
