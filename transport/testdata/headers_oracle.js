// Oracle for headers_node_oracle_test: sends each header case through real Node http2 (a server
// and a client on 127.0.0.1) and prints what happened. Input, one case per line:
//   <kind> <TAB> <limit> <TAB> <sensitive names, hex, comma-separated> <TAB> <fields>
// with <fields> = hex(name):hex(value) pairs, comma-separated, in order. Kinds:
//   request  client.request(headers)               respond   stream.respond(headers)
//   trailers stream.sendTrailers(headers)          info      stream.additionalHeaders(headers)
//   bound    request() on a client with maxSendHeaderBlockLength = <limit>
//   listsize request() to a server whose settings say maxHeaderListSize = <limit>
// Output, one line per case:
//   THROW <TAB> err.code <TAB> err.message      the call threw
//   ASYNC <TAB> err.code <TAB> err.message      an 'error' event on the session or stream
//   SENT <TAB> <fields received> <TAB> <sensitive names received, comma-separated>
'use strict';
const fs = require('fs');
const http2 = require('http2');

const hex = (s) => Buffer.from(s, 'latin1').toString('hex');
const unhex = (h) => Buffer.from(h, 'hex').toString('latin1');

// Node's headers object for our ordered fields: a repeated name becomes an array value.
function toObject(fieldsText, sensitiveText) {
  const obj = {};
  for (const pair of fieldsText ? fieldsText.split(',') : []) {
    const [name, value] = pair.split(':').map(unhex);
    if (!(name in obj)) obj[name] = value;
    else if (Array.isArray(obj[name])) obj[name].push(value);
    else obj[name] = [obj[name], value];
  }
  if (sensitiveText) obj[http2.sensitiveHeaders] = sensitiveText.split(',').map(unhex);
  return obj;
}

const sent = (raw, headers) => {
  const pairs = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push(`${hex(raw[i])}:${hex(raw[i + 1])}`);
  return `SENT\t${pairs.join(',')}\t${(headers[http2.sensitiveHeaders] || []).join(',')}`;
};
const failed = (how, err) => `${how}\t${err.code}\t${err.message}`;

function runCase(kind, limit, headers) {
  return new Promise((resolve) => {
    const settings = kind === 'listsize' ? { maxHeaderListSize: limit } : {};
    const server = http2.createServer({ settings });
    let client;
    let done = false;
    const finish = (line) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (client) client.destroy();
      server.close();
      resolve(line);
    };
    // A safety net only: every case ends with an event well before this.
    const timer = setTimeout(() => finish('TIMEOUT'), 5000);
    const attempt = (fn) => {
      try { fn(); return true; } catch (err) { finish(failed('THROW', err)); return false; }
    };
    server.on('stream', (stream, reqHeaders, flags, raw) => {
      stream.on('error', () => {});
      if (kind === 'request' || kind === 'bound' || kind === 'listsize') {
        finish(sent(raw, reqHeaders));
      } else if (kind === 'respond') {
        if (!attempt(() => stream.respond(headers, { endStream: true, sendDate: false }))) stream.close();
      } else if (kind === 'info') {
        if (attempt(() => stream.additionalHeaders(headers))) {
          stream.respond({ ':status': 200 }, { endStream: true, sendDate: false });
        } else {
          stream.close();
        }
      } else if (kind === 'trailers') {
        stream.respond({ ':status': 200 }, { waitForTrailers: true, sendDate: false });
        stream.on('wantTrailers', () => {
          if (!attempt(() => stream.sendTrailers(headers))) stream.close();
        });
        stream.end('body');
      }
    });
    server.listen(0, '127.0.0.1', () => {
      const options = kind === 'bound' ? { maxSendHeaderBlockLength: limit } : {};
      client = http2.connect(`http://127.0.0.1:${server.address().port}`, options);
      client.on('error', (err) => finish(failed('ASYNC', err)));
      const own = kind === 'request' || kind === 'bound' || kind === 'listsize';
      const request = () => {
        let req;
        if (!attempt(() => { req = client.request(own ? headers : { ':path': '/' }); })) return;
        req.on('error', (err) => finish(failed('ASYNC', err)));
        req.on('headers', (h, f, raw) => { if (kind === 'info') finish(sent(raw, h)); });
        req.on('trailers', (h, f, raw) => { if (kind === 'trailers') finish(sent(raw, h)); });
        req.on('response', (h, f, raw) => { if (kind === 'respond') finish(sent(raw, h)); });
        req.on('close', () => setImmediate(() => finish(`CLOSED\t${req.rstCode}`)));
        req.resume();
      };
      // The server's maxHeaderListSize applies once the client has acknowledged its SETTINGS.
      if (kind === 'listsize') client.once('remoteSettings', request);
      else request();
    });
  });
}

(async () => {
  const out = [];
  for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
    if (line === '') continue;
    const [kind, limit, sensitive, fields] = line.split('\t');
    out.push(await runCase(kind, Number(limit), toObject(fields, sensitive)));
  }
  process.stdout.write(out.join('\n') + '\n');
})();
