// unread_body_server: answers every request with 200 "answered without reading\n" at once,
// never reading the request body (the case of RFC 9113 §8.1's early response). Prints
// "listening PORT". Used by unread_body_test.sh, beside its Node twin
// (node_unread_body_server.js). Usage: unread_body_server [PORT]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "transport/server.h"
#include "transport/uv_loop.h"

using h2rpc::transport::Headers;
using h2rpc::transport::Http2Server;
using h2rpc::transport::ServerHttp2Stream;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  h2rpc::transport::UvLoop loop;
  auto server = Http2Server::createServer(&loop);
  if (!server.ok()) return 1;
  (*server)->onStream([](std::shared_ptr<ServerHttp2Stream> stream, const Headers&, uint8_t) {
    (void)stream->respond({{":status", "200"}, {"content-type", "text/plain"}});
    stream->end("answered without reading\n");
  });
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (!(*server)->listen(static_cast<uint16_t>(port), "127.0.0.1").ok()) return 1;
  std::printf("listening %u\n", (*server)->port());
  std::fflush(stdout);
  loop.run();
  return 0;
}
