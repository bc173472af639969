// hello_server: the HTTP/2 server example of h2rpc's transport (node:http2's server example).
//
//   bazel run //examples/http2:hello_server -- --port=8080
//   bazel run //examples/http2:hello_server -- --port=8443 --tls_cert=cert.pem --tls_key=key.pem
//
// GET (any path) answers 200 with a small HTML page; POST echoes the request body; other methods
// get 405. It advertises SETTINGS_MAX_CONCURRENT_STREAMS 100 and, on SIGINT/SIGTERM, sends
// GOAWAY to every client, lets open streams finish, and exits.
//
// With --push, GET / answers a page that uses /style.css and /app.js and pushes both with it
// (server push, RFC 9113 §8.4) when the client allows push: `nghttp -ans http://127.0.0.1:8080/`
// lists them as pushed (examples/http2/push_test.sh).
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 8080, "TCP port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (127.0.0.1, ::1, 0.0.0.0, ...)");
ABSL_FLAG(std::string, unix_socket, "",
          "listen on this Unix domain socket path instead of --host/--port (Node's "
          "server.listen(path))");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");
ABSL_FLAG(bool, push, false, "GET / pushes the page's assets (/style.css, /app.js)");

namespace {

using h2rpc::transport::Headers;
using h2rpc::transport::Http2Server;
using h2rpc::transport::ServerHttp2Stream;

constexpr char kPage[] =
    "<!DOCTYPE html><html><head><title>h2rpc</title></head>"
    "<body><h1>Hello from h2rpc over HTTP/2</h1></body></html>\n";

constexpr char kPushPage[] =
    "<!DOCTYPE html><html><head><title>h2rpc push</title>"
    "<link rel=\"stylesheet\" href=\"/style.css\"><script src=\"/app.js\"></script></head>"
    "<body><h1>Hello from h2rpc, with its assets pushed</h1></body></html>\n";

struct Asset {
  const char* path;
  const char* type;
  const char* body;
};
constexpr Asset kAssets[] = {
    {"/style.css", "text/css", "h1 { color: teal; }\n"},
    {"/app.js", "text/javascript", "console.log('pushed');\n"},
};

// GET / with --push: the assets go out as pushed streams before the page that uses them, so
// that the client has them when it parses the page.
bool handlePush(const std::shared_ptr<ServerHttp2Stream>& stream, const Headers& headers) {
  if (headers.get(":method") != "GET") return false;
  const std::string path = headers.get(":path").value_or("");
  for (const Asset& asset : kAssets) {
    if (path == asset.path) {  // asked for directly (a client that refused the push)
      (void)stream->respond({{":status", "200"}, {"content-type", asset.type}});
      stream->end(asset.body);
      return true;
    }
  }
  if (path != "/") return false;
  if (stream->pushAllowed()) {
    for (const Asset& asset : kAssets) {
      absl::Status st = stream->pushStream(
          {{":path", asset.path}}, {},
          [asset](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> pushed,
                  const Headers&) {
            if (!err.ok()) return;  // the request went away first: nothing to push
            (void)pushed->respond({{":status", "200"}, {"content-type", asset.type}});
            pushed->end(asset.body);
          });
      if (!st.ok()) std::fprintf(stderr, "hello_server: push %s: %s\n", asset.path,
                                 st.ToString().c_str());
    }
  }
  (void)stream->respond({{":status", "200"}, {"content-type", "text/html; charset=utf-8"}});
  stream->end(kPushPage);
  return true;
}

void handle(std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers) {
  if (absl::GetFlag(FLAGS_push) && handlePush(stream, headers)) return;
  const std::string method = headers.get(":method").value_or("");
  if (method == "GET" || method == "HEAD") {
    (void)stream->respond({{":status", "200"}, {"content-type", "text/html; charset=utf-8"}});
    stream->end(kPage);
    return;
  }
  if (method == "POST" || method == "PUT") {
    // Echo: answer as soon as the body starts, stream it back as it comes.
    Headers response{{":status", "200"}};
    if (auto type = headers.get("content-type")) response.add("content-type", *type);
    (void)stream->respond(response);
    std::weak_ptr<ServerHttp2Stream> weak = stream;
    stream->onData([weak](std::string_view chunk) {
      if (auto s = weak.lock()) {
        // Backpressure: stop reading while the echo waits to be sent.
        if (!s->write(std::string(chunk))) {
          s->pause();
          s->onDrain([weak] {
            if (auto again = weak.lock()) again->resume();
          });
        }
      }
    });
    stream->onEnd([weak] {
      if (auto s = weak.lock()) s->end();
    });
    return;
  }
  (void)stream->respond({{":status", "405"}, {"allow", "GET, HEAD, POST, PUT"}});
  stream->end();
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  h2rpc::transport::UvLoop loop;

  h2rpc::transport::ServerOptions options;
  options.settings.maxConcurrentStreams = 100;
  absl::StatusOr<std::unique_ptr<Http2Server>> server;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    std::fprintf(stderr, "hello_server: --tls_cert and --tls_key go together\n");
    return 2;
  }
  if (!cert.empty()) {
    h2rpc::transport::TlsOptions tls;
    tls.certFile = cert;
    tls.keyFile = key;
    server = Http2Server::createSecureServer(&loop, tls, options);
  } else {
    server = Http2Server::createServer(&loop, options);
  }
  if (!server.ok()) {
    std::fprintf(stderr, "hello_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->onStream([](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                         uint8_t) { handle(std::move(stream), headers); });
  const std::string host = absl::GetFlag(FLAGS_host);
  const std::string unix_socket = absl::GetFlag(FLAGS_unix_socket);
  absl::Status st =
      unix_socket.empty()
          ? (*server)->listen(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)), host)
          : (*server)->listenPath(unix_socket);
  if (!st.ok()) {
    std::fprintf(stderr, "hello_server: %s\n", st.ToString().c_str());
    return 1;
  }
  if (unix_socket.empty()) {
    std::printf("hello_server: listening on %s://%s:%u\n", cert.empty() ? "http" : "https",
                host.c_str(), (*server)->port());
  } else {
    std::printf("hello_server: listening on unix:%s\n", unix_socket.c_str());
  }
  std::fflush(stdout);

  // Graceful stop: GOAWAY to every session, then exit once they have closed.
  auto* stop = new uv_signal_t;
  auto* stop2 = new uv_signal_t;
  struct Ctx {
    Http2Server* server;
    uv_signal_t* signals[2];
  } ctx{server->get(), {stop, stop2}};
  for (int i = 0; i < 2; ++i) {
    uv_signal_init(loop.uv(), ctx.signals[i]);
    ctx.signals[i]->data = &ctx;
    uv_signal_start(
        ctx.signals[i],
        [](uv_signal_t* sig, int signum) {
          auto* c = static_cast<Ctx*>(sig->data);
          std::printf("hello_server: signal %d, sending GOAWAY and closing\n", signum);
          std::fflush(stdout);
          for (uv_signal_t* s : c->signals) {
            uv_signal_stop(s);
            uv_close(reinterpret_cast<uv_handle_t*>(s),
                     [](uv_handle_t* h) { delete reinterpret_cast<uv_signal_t*>(h); });
          }
          c->server->close();
          c->server->closeAllSessions();
        },
        i == 0 ? SIGINT : SIGTERM);
  }
  loop.run();
  std::printf("hello_server: closed\n");
  return 0;
}
