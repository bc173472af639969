// core_api_tour: the Core API examples of node:http2's documentation, in C++, run one after
// the other by a server and a client in one process over loopback.
//
//   bazel run //examples/http2:core_api_tour
//
// Each step prints what it did and what came back; the last line is "tour: ok".
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/server.h"
#include "transport/settings.h"
#include "transport/uv_loop.h"

using namespace h2rpc::transport;

namespace {

// Runs `steps` in order; each calls next() when it is done.
struct Tour {
  std::vector<std::function<void(std::function<void()> next)>> steps;
  size_t at = 0;
  void next() {
    if (at < steps.size()) steps[at++]([this] { next(); });
  }
};

}  // namespace

int main() {
  UvLoop loop;
  bool ok = true;
  auto check = [&ok](bool cond, const char* what) {
    if (!cond) {
      std::printf("  FAILED: %s\n", what);
      ok = false;
    }
  };

  // http2.getPackedSettings(): the payload of a SETTINGS frame.
  Settings packed_from;
  packed_from.enablePush = false;
  packed_from.initialWindowSize = 1 << 20;
  std::string packed = *getPackedSettings(packed_from);
  std::printf("getPackedSettings({enablePush:false, initialWindowSize:1048576}) = %s\n",
              absl::BytesToHexString(packed).c_str());
  check(getUnpackedSettings(packed)->initialWindowSize == (1u << 20), "unpack round trip");

  // The server of the docs' 'stream' example, plus trailers and informational headers.
  auto server = Http2Server::createServer(&loop);
  (*server)->onStream([](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                         uint8_t) {
    const std::string path = headers.get(":path").value_or("/");
    if (path == "/trailers") {
      // http2stream.sendTrailers(): respond with waitForTrailers, send them on 'wantTrailers'.
      (void)stream->respond({{":status", "200"}}, {.waitForTrailers = true});
      stream->onWantTrailers([stream] { (void)stream->sendTrailers({{"abc", "some value"}}); });
      stream->end("some data");
    } else if (path == "/early-hints") {
      (void)stream->additionalHeaders({{":status", "103"}, {"link", "</style.css>; rel=preload"}});
      (void)stream->respond({{":status", "200"}}, {.endStream = true});
    } else if (path == "/slow") {
      // Never answers: the client's stream timeout fires.
    } else {
      (void)stream->respond({{"content-type", "text/html; charset=utf-8"}, {":status", "200"}});
      stream->end("<h1>Hello World</h1>");
    }
  });
  (void)(*server)->listen(0, "127.0.0.1");
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto client = *connect(&loop, url);
  std::printf("connect(%s)\n", url.c_str());

  Tour tour;
  tour.steps.push_back([&](auto next) {
    // The client example: request, 'response', 'data', 'end'.
    auto req = *client->request({{":path", "/"}});
    auto body = std::make_shared<std::string>();
    req->onResponse([](const Headers& h, uint8_t) {
      std::printf("request /: response %s content-type=%s\n", h.get(":status")->c_str(),
                  h.get("content-type").value_or("").c_str());
    });
    req->onData([body](std::string_view d) { body->append(d); });
    req->onEnd([body, next, &check] {
      std::printf("request /: body %s\n", body->c_str());
      check(*body == "<h1>Hello World</h1>", "body");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // http2session.ping(): the payload comes back with the round-trip time.
    (void)client->ping("abcdefgh", [next, &check](const absl::Status& err, double ms,
                                                  std::string_view payload) {
      std::printf("ping: %s after %.0f ms, payload '%s'\n", err.ok() ? "acknowledged" : "failed",
                  ms, std::string(payload).c_str());
      check(err.ok() && payload == "abcdefgh", "ping");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // http2session.settings(): 'localSettings' once the peer acknowledges.
    Settings s;
    s.enablePush = false;
    s.maxConcurrentStreams = 50;
    (void)client->settings(s, [next, &check](const absl::Status& err, const Settings& acked,
                                             double) {
      std::printf("settings: acknowledged, localSettings.maxConcurrentStreams=%u\n",
                  acked.maxConcurrentStreams.value_or(0));
      check(err.ok() && acked.maxConcurrentStreams == 50u, "settings");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // http2session.setLocalWindowSize(): a larger connection window.
    (void)client->setLocalWindowSize(1 << 20);
    // effectiveLocalWindowSize is the window we advertise; localWindowSize what is left of it.
    std::printf("setLocalWindowSize(1048576): state.effectiveLocalWindowSize=%d\n",
                client->state().effectiveLocalWindowSize);
    check(client->state().effectiveLocalWindowSize == (1 << 20), "window");
    next();
  });
  tour.steps.push_back([&](auto next) {
    // 'trailers' on the client.
    auto req = *client->request({{":path", "/trailers"}});
    req->onData([](std::string_view) {});
    req->onTrailers([next, &check](const Headers& t, uint8_t) {
      std::printf("request /trailers: trailers abc=%s\n", t.get("abc").value_or("").c_str());
      check(t.get("abc") == "some value", "trailers");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // 'headers' (1xx) before 'response'.
    auto req = *client->request({{":path", "/early-hints"}});
    req->onHeaders([](const Headers& h, uint8_t) {
      std::printf("request /early-hints: informational %s link=%s\n", h.get(":status")->c_str(),
                  h.get("link").value_or("").c_str());
    });
    req->onResponse([next](const Headers& h, uint8_t) {
      std::printf("request /early-hints: response %s\n", h.get(":status")->c_str());
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // Sensitive headers are sent never-indexed by HPACK.
    Headers h{{":path", "/"}, {"cookie", "some-cookie"}, {"other-sensitive-header", "very secret"}};
    h.setSensitive("other-sensitive-header");
    auto req = *client->request(h);
    req->onData([](std::string_view) {});
    req->onEnd([next] {
      std::printf("request with sensitiveHeaders [other-sensitive-header]: done\n");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // http2stream.setTimeout(): cancel a request that takes too long.
    auto req = *client->request({{":path", "/slow"}});
    req->setTimeout(200, [req] { req->close(constants::NGHTTP2_CANCEL); });
    req->onClose([req, next, &check] {
      std::printf("request /slow: timed out, closed with rstCode %u (NGHTTP2_CANCEL)\n",
                  req->rstCode().value_or(99));
      check(req->rstCode() == constants::NGHTTP2_CANCEL, "timeout");
      next();
    });
  });
  tour.steps.push_back([&](auto next) {
    // http2session.goaway() from the server, then close(): the client sees 'goaway'.
    client->onGoaway([](uint32_t code, int32_t last, std::string_view) {
      std::printf("client: 'goaway' code %u, lastStreamID %d\n", code, last);
    });
    client->onClose([&] {
      std::printf("client: 'close'\n");
      (*server)->close();
    });
    (*server)->closeAllSessions();
    next();
  });
  tour.next();
  loop.run();
  std::printf("%s\n", ok ? "tour: ok" : "tour: FAILED");
  return ok ? 0 : 1;
}
