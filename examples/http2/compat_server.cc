// compat_server: the compatibility-API examples of Node's http2 docs in C++ (transport/compat/):
// one 'request' listener answers every stream with (req, res) shaped like HTTP/1's. HTTP/1.1 is
// allowed (Node's allowHTTP1, transport/http1/): on the TLS port through ALPN http/1.1 (or no
// ALPN), on the cleartext port for any connection that does not start with the HTTP/2 preface;
// the same listener serves it, with req->httpVersion() "1.1".
//
//   bazel run //examples/http2:compat_server -- --port=8080
//   bazel run //examples/http2:compat_server -- --port=8443 --tls_cert=cert.pem --tls_key=key.pem
//
// Routes:
//   /          the docs' setHeader() + writeHead() example: writeHead's content-type wins,
//              x-foo from setHeader stays; body "ok"
//   /trailers  a body, then trailers (res.addTrailers, the docs' Content-MD5 example)
//   /alpn      the docs' ALPN example: {"alpnProtocol":"h2","httpVersion":"2.0"} as JSON
//              (alpnProtocol false for cleartext HTTP/1, as Node's)
//   POST /echo the body echoed, with backpressure (req.pause() until 'drain');
//              `expect: 100-continue` is answered by the compat layer (no checkContinue listener)
//   /page      a page using /page.css: first a 103 Early Hints with its link (writeEarlyHints),
//              then, over HTTP/2 when the client allows push, the stylesheet pushed
//              (createPushResponse; `nghttp -ans URL/page` marks it '*'), then the page
//   /page.css  the stylesheet, for a client that refused the push
//   /socket    req.socket's view as JSON: remote and local address and port, encrypted, ALPN
//   other      404
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "transport/compat/compat_server.h"
#include "transport/http1/http1_server.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

ABSL_FLAG(int, port, 8080, "TCP port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (127.0.0.1, ::1, 0.0.0.0, ...)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");

namespace {

using h2rpc::transport::Http2ServerRequest;
using h2rpc::transport::Http2ServerResponse;

constexpr char kPage[] =
    "<!DOCTYPE html><html><head><title>h2rpc compat</title>"
    "<link rel=\"stylesheet\" href=\"/page.css\"></head>"
    "<body><h1>A page whose stylesheet came early</h1></body></html>\n";
constexpr char kPageCss[] = "h1 { color: green }\n";

void onRequest(std::shared_ptr<Http2ServerRequest> req, std::shared_ptr<Http2ServerResponse> res) {
  const std::string url = req->url();
  if (url == "/") {
    (void)res->setHeader("Content-Type", "text/html");
    (void)res->setHeader("X-Foo", "bar");
    (void)res->writeHead(200, {{"Content-Type", "text/plain; charset=utf-8"}});
    res->end("ok");
  } else if (url == "/trailers") {
    (void)res->setHeader("content-type", "text/plain");
    res->write("body before trailers\n");
    (void)res->addTrailers({{"Content-MD5", "7895bf4b8828b55ceaf47747b4bca667"}});
    res->end();
  } else if (url == "/alpn") {
    (void)res->writeHead(200, {{"content-type", "application/json"}});
    const std::string alpn = req->alpnProtocol();
    res->end("{\"alpnProtocol\":" + (alpn.empty() ? "false" : "\"" + alpn + "\"") +
             ",\"httpVersion\":\"" + req->httpVersion() + "\"}\n");
  } else if (url == "/echo" && req->method() == "POST") {
    if (auto type = req->headers().get("content-type")) (void)res->setHeader("content-type", *type);
    req->onData([req, res](std::string_view chunk) {
      if (!res->write(std::string(chunk))) {
        req->pause();
        res->onDrain([req] { req->resume(); });
      }
    });
    req->onEnd([res] { res->end(); });
  } else if (url == "/page") {
    (void)res->writeEarlyHints({{"link", "</page.css>; rel=preload; as=style"}});
    // Refused at once over HTTP/1 or when the client disabled push: it then asks for the file.
    (void)res->createPushResponse(
        {{":path", "/page.css"}},
        [](const absl::Status& error, std::shared_ptr<Http2ServerResponse> pushed) {
          if (!error.ok()) return;  // the request went away first
          (void)pushed->setHeader("content-type", "text/css");
          pushed->end(kPageCss);
        });
    (void)res->setHeader("content-type", "text/html; charset=utf-8");
    res->end(kPage);
  } else if (url == "/page.css") {
    (void)res->setHeader("content-type", "text/css");
    res->end(kPageCss);
  } else if (url == "/socket") {
    const h2rpc::transport::ProxySocket socket = req->socket();
    (void)res->writeHead(200, {{"content-type", "application/json"}});
    res->end(absl::StrCat("{\"remoteAddress\":\"", socket.remoteAddress(), "\",\"localAddress\":\"",
                          socket.localAddress(), "\",\"localPort\":", socket.localPort(),
                          ",\"encrypted\":", socket.encrypted() ? "true" : "false", "}\n"));
  } else {
    (void)res->setStatusCode(404);
    res->end("not found\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  h2rpc::transport::UvLoop loop;

  absl::StatusOr<std::unique_ptr<h2rpc::transport::Http2Server>> server;
  h2rpc::transport::ServerOptions options;
  options.allowHTTP1 = true;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    std::fprintf(stderr, "compat_server: --tls_cert and --tls_key go together\n");
    return 2;
  }
  if (!cert.empty()) {
    h2rpc::transport::TlsOptions tls;
    tls.certFile = cert;
    tls.keyFile = key;
    server = h2rpc::transport::Http2Server::createSecureServer(&loop, tls, options);
  } else {
    server = h2rpc::transport::Http2Server::createServer(&loop, options);
  }
  if (!server.ok()) {
    std::fprintf(stderr, "compat_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  auto events = h2rpc::transport::RequestEvents::attach(**server);
  events->onRequest(onRequest);
  auto http1 = h2rpc::transport::Http1Server::attach(**server, events);

  const std::string host = absl::GetFlag(FLAGS_host);
  if (absl::Status st = (*server)->listen(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)), host);
      !st.ok()) {
    std::fprintf(stderr, "compat_server: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("compat_server: listening on %s://%s:%u\n", cert.empty() ? "http" : "https",
              host.c_str(), (*server)->port());
  std::fflush(stdout);

  // SIGTERM/SIGINT: stop listening, GOAWAY to every session, exit once they have closed.
  struct Ctx {
    h2rpc::transport::Http2Server* server;
    h2rpc::transport::Http1Server* http1;
    uv_signal_t signals[2];
  };
  auto* ctx = new Ctx{server->get(), http1.get(), {}};
  const int signums[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; ++i) {
    uv_signal_init(loop.uv(), &ctx->signals[i]);
    ctx->signals[i].data = ctx;
    uv_signal_start(
        &ctx->signals[i],
        [](uv_signal_t* sig, int) {
          auto* c = static_cast<Ctx*>(sig->data);
          for (uv_signal_t& s : c->signals) {
            uv_signal_stop(&s);
            uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
          }
          c->server->close();
          c->server->closeAllSessions();
          c->http1->closeAll();
        },
        signums[i]);
  }
  loop.run();
  delete ctx;
  std::printf("compat_server: closed\n");
  return 0;
}
