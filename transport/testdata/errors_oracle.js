// Oracle for errors_node_oracle_test: for each HTTP/2 error code given on the command line, a Node
// server resets a stream with it (stream.close(code)) and then ends a session with it
// (session.goaway(code)); prints what the Node client reports, one line each:
//   stream <TAB> code <TAB> err.code <TAB> err.message    (or "none" when Node emits no error)
//   session <TAB> code <TAB> err.code <TAB> err.message
'use strict';
const http2 = require('http2');

const codes = process.argv.slice(2).map(Number);
const server = http2.createServer();
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});  // closing with an error code also errors our own stream
  if (headers[':path'] === '/rst') return stream.close(Number(headers['x-code']));
  stream.session.goaway(Number(headers['x-code']));
  // A NO_ERROR goaway lets the stream finish; closing our side then lets the client's 'close' come.
  stream.respond({ ':status': 200 }, { endStream: true });
  stream.session.close();
});

function once(kind, code) {
  return new Promise((resolve) => {
    const client = http2.connect(`http://127.0.0.1:${server.address().port}`);
    let reported = false;
    const report = (err) => {
      if (reported) return;
      reported = true;
      console.log([kind, code, err ? err.code : 'none', err ? err.message : ''].join('\t'));
      client.destroy();
      resolve();
    };
    client.on('error', (err) => { if (kind === 'session') report(err); });
    client.on('close', () => report(null));
    const req = client.request({ ':path': kind === 'stream' ? '/rst' : '/goaway', 'x-code': code });
    req.on('error', (err) => { if (kind === 'stream') report(err); });
    req.on('close', () => { if (kind === 'stream') setImmediate(() => report(null)); });
    req.resume();
  });
}

server.listen(0, '127.0.0.1', async () => {
  for (const code of codes) {
    await once('stream', code);
    await once('session', code);
  }
  server.close();
});
