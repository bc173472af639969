// Oracle for performance_node_oracle_test: Node 20's 'http2' performance entries for one
// scenario over loopback, played against our transport/ by the test.
//   node performance_oracle.js server       → prints "PORT <n>", serves one client session
//   node performance_oracle.js client <port> → plays the client
// The scenario: the client opens POST /echo (body "question") and GET /hello at once; the
// server answers both only once both are open (so both sides see 2 streams at once): /echo
// with "echo:" + the body, /hello with "hello"; when both streams have closed the client
// pings, and on the ACK closes the session. Each side prints, once its session has closed
// and its entries have arrived, one line per entry: JSON of {name, entryType, startTime,
// duration, detail}, keys in Node's order (what toJSON() in performance.h writes).
'use strict';
const http2 = require('http2');
const { PerformanceObserver } = require('perf_hooks');

const entries = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    entries.push({
      name: e.name,
      entryType: e.entryType,
      startTime: e.startTime,
      duration: e.duration,
      detail: e.detail,
    });
  }
});
obs.observe({ entryTypes: ['http2'] });

// Entries come from setImmediate after the close: give them a few turns, then print.
function dumpAndExit(done) {
  setTimeout(() => {
    obs.disconnect();
    process.stdout.write(entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    if (done) done();
  }, 100);
}

const mode = process.argv[2];
if (mode === 'server') {
  const server = http2.createServer();
  const waiting = [];
  server.on('session', (session) => {
    session.on('close', () => dumpAndExit(() => server.close()));
  });
  server.on('stream', (stream, headers) => {
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => { body += d; });
    const answer = () => {
      stream.respond({ ':status': 200 });
      stream.end(headers[':path'] === '/echo' ? 'echo:' + body : 'hello');
    };
    stream.on('end', () => {
      waiting.push(answer);
      if (waiting.length === 2) waiting.forEach((f) => f());
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PORT ${server.address().port}\n`);
  });
} else if (mode === 'client') {
  const client = http2.connect(`http://127.0.0.1:${process.argv[3]}`);
  let open = 2;
  const closed = () => {
    if (--open > 0) return;
    client.ping((err) => {
      if (err) throw err;
      client.close();
    });
  };
  client.on('close', () => dumpAndExit());
  const echo = client.request({ ':method': 'POST', ':path': '/echo' });
  echo.end('question');
  const hello = client.request({ ':path': '/hello' });
  for (const req of [echo, hello]) {
    req.resume();
    req.on('close', closed);
  }
} else {
  throw new Error(`usage: ${process.argv[1]} server | client <port>`);
}
