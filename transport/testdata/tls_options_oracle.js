// Node 20 as the TLS peer of transport/tls_options_node_oracle_test.cc (TLS options checked
// against a real peer over loopback). Options come as JSON; a key ending in "File" is read from
// that file into the key without the suffix (certFile -> cert, pfxFile -> pfx, ...).
//
//   server <options> <n>  http2.createSecureServer(options) on 127.0.0.1, answering 200 "ok".
//                         Prints "port\t<port>", then one JSON line per connection: its TLS facts
//                         when it closes after a completed handshake, {"error": code} for a
//                         'tlsClientError'. Exits after <n> such lines.
//   client <port> <options>  tls.connect to 127.0.0.1:<port> (ALPN h2 unless given) and prints
//                         one JSON line: the handshake's facts and what followed (the server's
//                         first bytes, or the error). Option "identity": "default" | "accept"
//                         installs a checkServerIdentity that records its arguments and returns
//                         tls.checkServerIdentity()'s verdict, or accepts.
'use strict';
const fs = require('fs');
const http2 = require('http2');
const tls = require('tls');

function load(json) {
  const options = JSON.parse(json);
  for (const key of Object.keys(options)) {
    if (key.endsWith('File')) {
      options[key.slice(0, -4)] = fs.readFileSync(options[key]);
      delete options[key];
    }
  }
  return options;
}

function facts(socket) {
  const cipher = socket.getCipher();
  const peer = socket.getPeerCertificate();
  return {
    version: socket.getProtocol(),
    cipher: cipher ? cipher.name : '',
    sigalgs: socket.getSharedSigalgs().join(':'),
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : '',
    peer: peer && peer.serialNumber ? peer.serialNumber : '-',
  };
}

setTimeout(() => {
  console.error('tls_options_oracle.js: timed out');
  process.exit(2);
}, 30000);

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') {
  const options = load(args[0]);
  let left = Number(args[1]);
  const done = (line) => {
    console.log(JSON.stringify(line));
    if (--left === 0) process.exit(0);
  };
  const server = http2.createSecureServer(options, (req, res) => res.end('ok'));
  server.on('secureConnection', (socket) => {
    const line = facts(socket);
    socket.on('close', () => done(line));
  });
  server.on('tlsClientError', (err) => done({error: err.code || err.message}));
  server.listen(0, '127.0.0.1', () => console.log(`port\t${server.address().port}`));
} else if (mode === 'client') {
  const options = Object.assign({host: '127.0.0.1', port: Number(args[0]), ALPNProtocols: ['h2']},
                                load(args[1]));
  const identity = [];
  if (options.identity) {
    const accept = options.identity === 'accept';
    delete options.identity;
    options.checkServerIdentity = (hostname, cert) => {
      identity.push([hostname, cert.subject.CN, cert.subjectaltname, cert.serialNumber,
                     cert.fingerprint256, cert.valid_from, cert.valid_to].join('|'));
      return accept ? undefined : tls.checkServerIdentity(hostname, cert);
    };
  }
  const out = {handshake: false};
  const socket = tls.connect(options, () => {
    Object.assign(out, {handshake: true}, facts(socket));
  });
  socket.once('data', () => {
    out.data = true;  // the server's SETTINGS: it accepted the connection
    socket.destroy();
  });
  socket.on('error', (err) => {
    out.error = err.code || 'no code';
    out.message = err.message;
  });
  socket.on('close', () => {
    out.identity = identity;
    console.log(JSON.stringify(out));
    process.exit(0);
  });
} else {
  console.error('usage: tls_options_oracle.js server <options> <n> | client <port> <options>');
  process.exit(1);
}
