// node_interop_common.js — what the Node interop client and server share: flag parsing, the
// grpc.testing protos (loaded with @grpc/proto-loader), TLS files, and the interop constants.
'use strict';

const fs = require('fs');
const path = require('path');

// --name=value, --name value (when value does not start with --), --flag, --noflag.
function parseFlags(argv, defaults) {
  const flags = Object.assign({}, defaults);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else if (typeof defaults[name] === 'boolean') {
      value = 'true';
    } else if (name.startsWith('no') && typeof defaults[name.slice(2)] === 'boolean') {
      name = name.slice(2);
      value = 'false';
    } else {
      value = argv[++i];
    }
    if (!(name in defaults)) throw new Error(`unknown flag --${name}`);
    if (typeof defaults[name] === 'boolean') {
      flags[name] = value === 'true' || value === '1';
    } else if (typeof defaults[name] === 'number') {
      flags[name] = Number(value);
    } else {
      flags[name] = value;
    }
  }
  return flags;
}

// The directory holding grpc/testing/*.proto: this workspace's proto/ (through the runfiles tree,
// next to this script), else Debian's grpc-proto.
function protoRoot() {
  const candidates = [
    process.env.INTEROP_PROTO_ROOT,
    path.resolve(__dirname, '../../../proto'),
    '/usr/share/grpc-proto',
  ];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'grpc/testing/test.proto'))) return dir;
  }
  throw new Error('cannot find grpc/testing/test.proto');
}

// A file of this workspace (the test certificates), found next to this script in runfiles.
function workspaceFile(rel) {
  return path.resolve(__dirname, '../../..', rel);
}

function loadProtos() {
  const grpc = require('@grpc/grpc-js');
  const protoLoader = require('@grpc/proto-loader');
  const packageDefinition = protoLoader.loadSync('grpc/testing/test.proto', {
    includeDirs: [protoRoot()],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const proto = grpc.loadPackageDefinition(packageDefinition);
  return {grpc, packageDefinition, testing: proto.grpc.testing};
}

const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_TRAILING_BIN_KEY = 'x-grpc-test-echo-trailing-bin';

module.exports = {
  parseFlags,
  protoRoot,
  workspaceFile,
  loadProtos,
  ECHO_INITIAL_KEY,
  ECHO_TRAILING_BIN_KEY,
};
