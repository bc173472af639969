// Oracle for settings_node_oracle_test: runs Node's own http2.getDefaultSettings(),
// getPackedSettings() and getUnpackedSettings() on the cases the C++ test wrote, one per line:
//   pack <TAB> <settings as JSON>      -> OK <TAB> <hex of the Buffer> | UNDEF (Node returned undefined)
//   unpack[v] <TAB> <hex>              -> OK <TAB> <canonical settings>  (unpackv: {validate: true})
//   defaults <TAB> -                   -> OK <TAB> <canonical settings>
// Errors print ERR <TAB> err.code <TAB> err.message. One output line per input line.
'use strict';
const fs = require('fs');
const http2 = require('http2');

process.removeAllListeners('warning');  // maxHeaderSize vs maxHeaderListSize warns on stderr only

const ORDER = ['headerTableSize', 'enablePush', 'initialWindowSize', 'maxFrameSize',
               'maxConcurrentStreams', 'maxHeaderListSize', 'maxHeaderSize',
               'enableConnectProtocol'];

// "name=value,..." in ORDER, then any key Node added that we do not know, then custom.<id>=value.
function canonical(settings) {
  const keys = Object.keys(settings).filter((k) => k !== 'customSettings');
  keys.sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));
  const parts = keys.map((k) => `${k}=${settings[k]}`);
  const custom = settings.customSettings || {};
  for (const id of Object.keys(custom)) parts.push(`custom.${id}=${custom[id]}`);
  return parts.join(',');
}

function run(op, arg) {
  switch (op) {
    case 'pack': {
      const packed = http2.getPackedSettings(JSON.parse(arg));
      return packed === undefined ? 'UNDEF' : `OK\t${packed.toString('hex')}`;
    }
    case 'unpack':
    case 'unpackv':
      return `OK\t${canonical(http2.getUnpackedSettings(Buffer.from(arg, 'hex'),
                                                         { validate: op === 'unpackv' }))}`;
    case 'defaults':
      return `OK\t${canonical(http2.getDefaultSettings())}`;
    default:
      throw new Error(`unknown op ${op}`);
  }
}

const out = [];
for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
  if (line === '') continue;
  const [op, arg] = line.split('\t');
  try {
    out.push(run(op, arg));
  } catch (err) {
    if (err.code === undefined) throw err;  // a bug in this script, not an oracle answer
    out.push(`ERR\t${err.code}\t${err.message}`);
  }
}
process.stdout.write(out.join('\n') + '\n');
