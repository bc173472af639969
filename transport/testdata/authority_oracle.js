// Oracle for connect_node_oracle_test: for each line of the cases file (a URL, hex-encoded),
// what Node's http2.connect() makes of it, without connecting anywhere:
//   OK <TAB> <protocol> <TAB> <the session's default :authority>   |   ERR <TAB> err.code
// One output line per input line.
'use strict';
const fs = require('fs');
const http2 = require('http2');
const { Duplex } = require('stream');

const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l !== '');
const out = [];
for (const hex of lines) {
  const url = Buffer.from(hex, 'hex').toString('utf8');
  let session;
  try {
    // http(s): a socket of our own (createConnection) so that nothing touches DNS or the
    // network; any other scheme: connect() throws ERR_HTTP2_UNSUPPORTED_PROTOCOL before it
    // would connect (createConnection would skip that check).
    const special = /^(http|https):$/.test(new URL(url).protocol);
    session = special ? http2.connect(url, {createConnection: () => new Duplex({
      read() {},
      write(chunk, encoding, cb) { cb(); },
    })}) : http2.connect(url);
  } catch (e) {
    out.push(`ERR\t${e.code}`);
    continue;
  }
  session.on('error', () => {});
  const symbols = Object.getOwnPropertySymbols(session);
  const authority = symbols.find((s) => s.toString() === 'Symbol(authority)');
  const protocol = symbols.find((s) => s.toString() === 'Symbol(protocol)');
  out.push(`OK\t${session[protocol]}\t${session[authority]}`);
  session.destroy();
}
process.stdout.write(out.map((l) => l + '\n').join(''));
