// Node twin of unread_body_server.cc: answers at once, never reads the request body.
'use strict';
const http2 = require('node:http2');
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' });
  stream.end('answered without reading\n');
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
