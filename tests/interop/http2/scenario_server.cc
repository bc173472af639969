// scenario_server: the scenario SERVER on h2rpc's transport, the twin of node_scenario_server.js
// (same paths, same behaviour, same report). Usage:
//   scenario_server [--tls_cert=server.pem --tls_key=server.key]
// Prints "listening PORT" (127.0.0.1, port 0). Each connection runs one scenario, picked by the
// :path of its first request; GET /report answers what the server observed, as JSON, once every
// other session has closed (bounded wait).
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "tests/interop/http2/scenario_common.h"
#include "transport/constants.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, tls_cert, "", "PEM certificate: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");

namespace h2rpc::interop {
namespace {

using transport::Headers;
using transport::Http2Server;
using transport::Http2Session;
using transport::ServerHttp2Session;
using transport::ServerHttp2Stream;

struct SessionRecord {
  Log log;
  std::vector<std::shared_ptr<Log>> streams;
  std::string scenario;
  bool first_remote = true;
};

class ScenarioServer {
 public:
  explicit ScenarioServer(transport::UvLoop* loop) : loop_(loop) {}

  void onSession(const std::shared_ptr<ServerHttp2Session>& session) {
    auto record = std::make_shared<SessionRecord>();
    Http2Session* key = session.get();
    records_[key] = record;
    open_.insert(key);
    Log* log = &record->log;
    SessionRecord* rec = record.get();
    session->onRemoteSettings([log, rec](const transport::Settings& s) {
      log->add(rec->first_remote ? "remoteSettings " + settingsString(s) : "remoteSettings");
      rec->first_remote = false;
    });
    session->onLocalSettings([log](const transport::Settings&) { log->add("localSettings"); });
    session->onPing([log](std::string_view payload) { log->add(absl::StrCat("ping ", std::string(payload))); });
    session->onGoaway([log](uint32_t code, int32_t last, std::string_view data) {
      log->add(absl::StrCat("goaway code=", code, " last=", last, " data=", std::string(data)));
    });
    session->onFrameError([log](uint8_t type, int code, int32_t id) {
      log->add(absl::StrCat("frameError type=", static_cast<int>(type), " code=", code, " id=", id));
    });
    session->onError([log](const absl::Status& err) { log->add(errorString(err)); });
    session->onClose([this, log, key] {
      log->add("close");
      open_.erase(key);
      records_.erase(key);  // the report keeps the record (shared)
    });
  }

  void onStream(const std::shared_ptr<ServerHttp2Stream>& stream, const Headers& headers) {
    Http2Session* session = stream->session();
    auto it = records_.find(session);
    if (it == records_.end()) {
      (void)stream->respond({{":status", "500"}});
      stream->end();
      return;
    }
    const std::string path = headers.get(":path").value_or("");
    if (path == "/report") return sendReport(stream, session);
    std::shared_ptr<SessionRecord> record = it->second;
    if (record->scenario.empty()) {
      std::string name = path.substr(1);
      if (report_.count(name)) name = absl::StrCat(name, "#", ++untagged_);
      record->scenario = name;
      report_[name] = record;
    }
    auto log = std::make_shared<Log>();
    record->streams.push_back(log);
    log->add("stream " + headersString(headers, /*portless_authority=*/true));
    ServerHttp2Stream* s = stream.get();
    // Listeners capture raw pointers: the stream owns its listeners.
    s->onData([log](std::string_view chunk) { log->addData(chunk); });
    s->onEnd([log] { log->add("end"); });
    s->onAborted([log] { log->add("aborted"); });
    s->onError([log](const absl::Status& err) { log->add(errorString(err)); });
    s->onFrameError([log](uint8_t type, int code, int32_t) {
      log->add(absl::StrCat("frameError type=", static_cast<int>(type), " code=", code));
    });
    s->onClose([log, s] { log->add(rstString(s->rstCode())); });

    if (path == "/get") {  // (a)
      (void)s->respond({{":status", "200"}, {"content-type", "text/plain"}, {"x-scenario", "get"}});
      s->end("hello from the scenario server\n");
    } else if (path == "/echo") {  // (b) streamed back as it arrives, with backpressure
      Headers response{{":status", "200"}};
      response.add("content-type", headers.get("content-type").value_or(""));
      (void)s->respond(response);
      s->onData([s](std::string_view chunk) {
        if (!s->write(std::string(chunk))) s->pause();
      });
      s->onDrain([s] { s->resume(); });
      s->onEnd([s] { s->end(); });
    } else if (path == "/trailers") {  // (c)
      const std::string body = "body before trailers\n";
      (void)s->respond({{":status", "200"}}, {.waitForTrailers = true});
      s->onWantTrailers([s, log, body] {
        log->add("wantTrailers");
        absl::Status st = s->sendTrailers(
            {{"x-checksum", hex8(fnvUpdate(kFnvInit, body))}, {"x-trailer", "done"}});
        if (!st.ok()) log->add("sendTrailers failed: " + st.ToString());
      });
      s->end(body);
    } else if (path == "/info") {  // (d)
      (void)s->additionalHeaders({{":status", "103"}, {"link", "</style.css>; rel=preload; as=style"}});
      (void)s->respond({{":status", "200"}});
      s->end("after early hints\n");
    } else if (path == "/rst" || path == "/rst_post") {  // (e)
      s->close(transport::constants::NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (path == "/rst_write") {  // (e''): data, then RST_STREAM, never END_STREAM
      (void)s->respond({{":status", "200"}});
      s->write("partial\n");
      s->close(transport::constants::NGHTTP2_INTERNAL_ERROR);
    } else if (path == "/ping") {  // (f)
      (void)s->respond({{":status", "200"}});
      s->end("pong\n");
    } else if (path == "/goaway") {  // (g)
      (void)s->respond({{":status", "200"}});
      s->write("before goaway\n");
      absl::Status st = session->goaway(transport::constants::NGHTTP2_NO_ERROR, 0, "bye");
      if (!st.ok()) log->add("goaway failed: " + st.ToString());
      s->onEnd([s] { s->end("after goaway\n"); });
    } else {
      (void)s->respond({{":status", "404"}});
      s->end();
    }
  }

 private:
  void sendReport(const std::shared_ptr<ServerHttp2Stream>& stream, Http2Session* self) {
    struct Waiter {
      std::unique_ptr<transport::Timer> timer;
      uint64_t deadline;
    };
    auto waiter = std::make_shared<Waiter>();
    waiter->timer = loop_->createTimer();
    waiter->deadline = loop_->now() + 5000;
    std::weak_ptr<ServerHttp2Stream> weak = stream;
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, waiter, weak, self, poll_weak = std::weak_ptr<std::function<void()>>(poll)] {
      size_t others = open_.size() - open_.count(self);
      if (others > 0 && loop_->now() < waiter->deadline) {
        auto p = poll_weak.lock();
        if (p) waiter->timer->start(10, [p] { (*p)(); });
        return;
      }
      auto s = weak.lock();
      if (!s) return;
      std::string body = "{";
      bool first = true;
      for (const auto& [name, record] : report_) {
        absl::StrAppend(&body, first ? "" : ",", jsonString(name), ":{\"session\":",
                        jsonArray(record->log.events()), ",\"stream\":[");
        for (size_t i = 0; i < record->streams.size(); ++i) {
          absl::StrAppend(&body, i ? "," : "", jsonArray(record->streams[i]->events()));
        }
        body += "]}";
        first = false;
      }
      if (others > 0) absl::StrAppend(&body, first ? "" : ",", "\"!unclosed_sessions\":", others);
      body += "}";
      (void)s->respond({{":status", "200"}, {"content-type", "application/json"}});
      s->end(body);
    };
    // The function keeps itself alive through the timer callback it re-arms; the first call
    // holds it here.
    pending_polls_.push_back(poll);
    (*poll)();
  }

  transport::UvLoop* loop_;
  std::map<Http2Session*, std::shared_ptr<SessionRecord>> records_;
  std::set<Http2Session*> open_;
  std::map<std::string, std::shared_ptr<SessionRecord>> report_;
  std::vector<std::shared_ptr<std::function<void()>>> pending_polls_;
  int untagged_ = 0;
};

}  // namespace
}  // namespace h2rpc::interop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  using namespace h2rpc::transport;
  UvLoop loop;
  absl::StatusOr<std::unique_ptr<Http2Server>> server;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key);
  if (!cert.empty()) {
    TlsOptions tls;
    tls.certFile = cert;
    tls.keyFile = key;
    server = Http2Server::createSecureServer(&loop, tls);
  } else {
    server = Http2Server::createServer(&loop);
  }
  if (!server.ok()) {
    std::fprintf(stderr, "scenario_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  h2rpc::interop::ScenarioServer scenarios(&loop);
  (*server)->onSession(
      [&](std::shared_ptr<ServerHttp2Session> session) { scenarios.onSession(session); });
  (*server)->onStream([&](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                          uint8_t) { scenarios.onStream(stream, headers); });
  if (absl::Status st = (*server)->listen(0, "127.0.0.1"); !st.ok()) {
    std::fprintf(stderr, "scenario_server: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("listening %u\n", (*server)->port());
  std::fflush(stdout);
  loop.run();  // until killed
  return 0;
}
