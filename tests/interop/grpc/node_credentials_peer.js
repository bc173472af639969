// node_credentials_peer.js — grpc-js as the other side of h2rpc's credentials (rpc/README.md,
// "Credentials"), with helloworld.Greeter:
//   --mode=client: calls SayHello on --target over mTLS (--cert/--key, CA --ca) with a
//     per-call credentials plugin (createFromMetadataGenerator) adding
//     "authorization: Bearer <--token>" (none if empty); prints "reply: <message>" or
//     "error: <code> <details>", and "service_url: <what grpc-js gave the plugin>".
//   --mode=server: serves SayHello with TLS (--cert/--key) requiring a client certificate signed
//     by --ca (checkClientCertificate); replies "Hello <name> auth=<authorization>"; prints
//     "listening on <port>".
'use strict';

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const flags = {};
for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z_]+)=(.*)$/.exec(arg);
  if (!m) throw new Error(`bad argument ${arg}`);
  flags[m[1]] = m[2];
}
const def = protoLoader.loadSync(flags.proto, {keepCase: true});
const Greeter = grpc.loadPackageDefinition(def).helloworld.Greeter;
const read = (f) => fs.readFileSync(f);

if (flags.mode === 'server') {
  const server = new grpc.Server();
  server.addService(Greeter.service, {
    SayHello(call, callback) {
      const auth = call.metadata.get('authorization').join(',');
      callback(null, {message: `Hello ${call.request.name} auth=${auth}`});
    },
  });
  const creds = grpc.ServerCredentials.createSsl(
      read(flags.ca), [{private_key: read(flags.key), cert_chain: read(flags.cert)}], true);
  server.bindAsync('127.0.0.1:0', creds, (err, port) => {
    if (err) throw err;
    console.log(`listening on ${port}`);
  });
} else {
  let ssl = grpc.credentials.createSsl(read(flags.ca), read(flags.key), read(flags.cert));
  if (flags.token) {
    const plugin = grpc.credentials.createFromMetadataGenerator((params, cb) => {
      console.log(`service_url: ${params.service_url}`);
      const md = new grpc.Metadata();
      md.add('authorization', `Bearer ${flags.token}`);
      cb(null, md);
    });
    ssl = grpc.credentials.combineChannelCredentials(ssl, plugin);
  }
  const client = new Greeter(flags.target, ssl);
  client.SayHello({name: 'world'}, {deadline: Date.now() + 20000}, (err, reply) => {
    if (err) console.log(`error: ${err.code} ${err.details}`);
    else console.log(`reply: ${reply.message}`);
    client.close();
  });
}
