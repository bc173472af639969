// Node 20 as the TLS client of transport/server_tls_options_test.cc: connects to 127.0.0.1:<port>
// (servername localhost, trusting <ca>, ALPN h2), optionally offering the session <hex>, and
// prints one line: <isSessionReused()>\t<server certificate serial>\t<session hex>
// A full handshake waits for the server's session ('session', TLS 1.3: its ticket); a resumed
// one prints at once with "-" (a server need not send a new ticket then; OpenSSL does not).
'use strict';
const fs = require('fs');
const tls = require('tls');
const [port, ca, sessionHex] = process.argv.slice(2);
const options = {
  host: '127.0.0.1', port: Number(port), servername: 'localhost',
  ca: fs.readFileSync(ca), ALPNProtocols: ['h2'],
};
if (sessionHex) options.session = Buffer.from(sessionHex, 'hex');
const socket = tls.connect(options, () => {
  if (!socket.isSessionReused()) return;
  console.log([true, socket.getPeerCertificate().serialNumber, '-'].join('\t'));
  socket.destroy();
});
socket.once('session', (session) => {
  if (socket.isSessionReused()) return;
  console.log([socket.isSessionReused(), socket.getPeerCertificate().serialNumber,
               session.toString('hex')].join('\t'));
  socket.destroy();
});
socket.on('error', (err) => { console.error(err); process.exit(1); });
