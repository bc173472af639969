// scenario_client: the scenario CLIENT on h2rpc's transport, the twin of node_scenario_client.js
// (same scenarios, same requests, same normalised output). Usage:
//   scenario_client --url=http://127.0.0.1:PORT [--ca=ca.pem] [--only=get,echo]
// Runs every scenario on its own connection, one after the other, then fetches the server's
// /report and prints {"client": {scenario: {"session": [...], "stream": [...]}}, "server": ...}.
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/interop/http2/scenario_common.h"
#include "transport/connect.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, url, "", "http://127.0.0.1:PORT (h2c) or https://127.0.0.1:PORT (TLS)");
ABSL_FLAG(std::string, ca, "", "PEM CA file that verifies the server (https)");
ABSL_FLAG(std::string, only, "", "comma-separated scenarios to run (default: all)");

namespace h2rpc::interop {
namespace {

using transport::ClientHttp2Session;
using transport::ClientHttp2Stream;
using transport::Headers;

constexpr uint64_t kScenarioTimeoutMs = 5000;
constexpr uint64_t kReportTimeoutMs = 10000;

// One scenario run: its session, stream and logs. Listeners capture a raw Run*; runs live until
// the program ends.
struct Run {
  std::string name;
  std::shared_ptr<ClientHttp2Session> session;
  std::shared_ptr<ClientHttp2Stream> stream;
  Log session_log, stream_log;
  std::unique_ptr<transport::Timer> timer;
  bool first_remote = true;
  bool goaway_seen = false;
};

class ScenarioClient {
 public:
  ScenarioClient(transport::UvLoop* loop, std::string url, transport::ConnectOptions options)
      : loop_(loop), url_(std::move(url)), options_(std::move(options)) {}

  static const std::vector<std::string>& allScenarios() {
    static const std::vector<std::string> names = {"get",  "echo",     "trailers", "info",
                                                   "rst",  "rst_write", "rst_post", "ping",
                                                   "goaway"};
    return names;
  }

  void start(std::vector<std::string> names) {
    names_ = std::move(names);
    next_ = 0;
    runNext();
  }
  int exitCode() const { return exit_code_; }

 private:
  void runNext() {
    if (next_ == names_.size()) return fetchReport();
    auto run = std::make_unique<Run>();
    Run* r = run.get();
    r->name = names_[next_++];
    runs_.push_back(std::move(run));

    auto connected = transport::connect(loop_, url_, options_);
    if (!connected.ok()) {
      r->session_log.add(errorString(connected.status()));
      loop_->post([this] { runNext(); });
      return;
    }
    r->session = *connected;
    ClientHttp2Session* session = r->session.get();
    session->onConnect([r] { r->session_log.add("connect"); });
    session->onRemoteSettings([r](const transport::Settings& s) {
      r->session_log.add(r->first_remote ? "remoteSettings " + settingsString(s)
                                         : "remoteSettings");
      r->first_remote = false;
    });
    session->onLocalSettings([r](const transport::Settings&) { r->session_log.add("localSettings"); });
    session->onGoaway([r](uint32_t code, int32_t last, std::string_view data) {
      r->session_log.add(absl::StrCat("goaway code=", code, " last=", last, " data=", std::string(data)));
    });
    session->onFrameError([r](uint8_t type, int code, int32_t id) {
      r->session_log.add(
          absl::StrCat("frameError type=", static_cast<int>(type), " code=", code, " id=", id));
    });
    session->onError([r](const absl::Status& err) { r->session_log.add(errorString(err)); });
    r->timer = loop_->createTimer();
    r->timer->start(kScenarioTimeoutMs, [r] {
      r->session_log.add("TIMEOUT");
      r->session->destroy();
    });
    session->onClose([this, r] {
      r->session_log.add("close");
      r->timer->stop();
      loop_->post([this] { runNext(); });
    });
    startScenario(r);
  }

  std::shared_ptr<ClientHttp2Stream> request(Run* r, const Headers& headers) {
    auto req = r->session->request(headers);
    if (!req.ok()) {
      r->stream_log.add("request failed: " + errorString(req.status()));
      r->session->close();
      return nullptr;
    }
    r->stream = *req;
    ClientHttp2Stream* s = r->stream.get();
    Log* log = &r->stream_log;
    s->onResponse([log](const Headers& h, uint8_t) { log->add("response " + headersString(h, false)); });
    s->onHeaders([log](const Headers& h, uint8_t) { log->add("headers " + headersString(h, false)); });
    s->onData([log](std::string_view chunk) { log->addData(chunk); });
    s->onTrailers([log](const Headers& h, uint8_t) { log->add("trailers " + headersString(h, false)); });
    s->onEnd([log] { log->add("end"); });
    s->onAborted([log] { log->add("aborted"); });
    s->onError([log](const absl::Status& err) { log->add(errorString(err)); });
    s->onFrameError([log](uint8_t type, int code, int32_t) {
      log->add(absl::StrCat("frameError type=", static_cast<int>(type), " code=", code));
    });
    s->onClose([log, s] { log->add(rstString(s->rstCode())); });
    return r->stream;
  }

  void closeSessionOnStreamClose(Run* r) {
    if (r->stream) r->stream->onClose([r] { r->session->close(); });
  }

  void startScenario(Run* r) {
    const std::string& name = r->name;
    if (name == "get") {
      request(r, {{":path", "/get"}});
      closeSessionOnStreamClose(r);
    } else if (name == "echo") {
      auto s = request(r, {{":method", "POST"},
                           {":path", "/echo"},
                           {"content-type", "application/octet-stream"}});
      closeSessionOnStreamClose(r);
      if (s) {
        std::string body(100 * 1024, '\0');
        for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
        s->end(std::move(body));
      }
    } else if (name == "trailers" || name == "info" || name == "rst" || name == "rst_write") {
      request(r, {{":path", "/" + name}});
      closeSessionOnStreamClose(r);
    } else if (name == "rst_post") {
      request(r, {{":method", "POST"}, {":path", "/rst_post"}});
      closeSessionOnStreamClose(r);
    } else if (name == "ping") {
      auto s = request(r, {{":path", "/ping"}});
      if (s) {
        s->onClose([r] {
          absl::Status st = r->session->ping(
              "abcdefgh", [r](const absl::Status& err, double, std::string_view payload) {
                r->session_log.add(err.ok() ? absl::StrCat("ping ok payload=", std::string(payload))
                                            : "ping " + errorString(err));
                r->session->close();
              });
          if (!st.ok()) {
            r->session_log.add("ping refused " + errorString(st));
            r->session->close();
          }
        });
      }
    } else if (name == "goaway") {
      auto s = request(r, {{":method", "POST"}, {":path", "/goaway"}});
      // The server sends GOAWAY and finishes the response once our body has ended.
      r->session->onGoaway([r](uint32_t, int32_t, std::string_view) {
        if (r->goaway_seen) return;
        r->goaway_seen = true;
        if (r->stream) r->stream->end("ack");
      });
      closeSessionOnStreamClose(r);
    } else {
      r->session_log.add("unknown scenario");
      r->session->close();
    }
  }

  void fetchReport() {
    auto connected = transport::connect(loop_, url_, options_);
    if (!connected.ok()) return finish("{\"!report_error\":" + jsonString(connected.status().ToString()) + "}");
    report_session_ = *connected;
    report_timer_ = loop_->createTimer();
    report_timer_->start(kReportTimeoutMs, [this] {
      finish("{\"!report_error\":\"timeout\"}");
      report_session_->destroy();
    });
    report_session_->onError([this](const absl::Status& err) {
      finish("{\"!report_error\":" + jsonString(errorString(err)) + "}");
    });
    report_session_->onClose([this] { report_timer_->stop(); });
    auto req = report_session_->request({{":path", "/report"}});
    if (!req.ok()) return finish("{\"!report_error\":" + jsonString(errorString(req.status())) + "}");
    report_stream_ = *req;
    report_stream_->onData([this](std::string_view chunk) { report_body_ += chunk; });
    report_stream_->onError([this](const absl::Status& err) {
      finish("{\"!report_error\":" + jsonString(errorString(err)) + "}");
    });
    report_stream_->onEnd([this] {
      finish(report_body_);
      report_session_->close();
    });
  }

  void finish(const std::string& server_json) {
    if (finished_) return;
    finished_ = true;
    std::string out = "{\"client\":{";
    for (size_t i = 0; i < runs_.size(); ++i) {
      const Run& r = *runs_[i];
      absl::StrAppend(&out, i ? "," : "", jsonString(r.name), ":{\"session\":",
                      jsonArray(r.session_log.events()),
                      ",\"stream\":", jsonArray(r.stream_log.events()), "}");
    }
    absl::StrAppend(&out, "},\"server\":", server_json.empty() ? "null" : server_json, "}\n");
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    exit_code_ = 0;
  }

  transport::UvLoop* loop_;
  std::string url_;
  transport::ConnectOptions options_;
  std::vector<std::string> names_;
  size_t next_ = 0;
  std::vector<std::unique_ptr<Run>> runs_;
  std::shared_ptr<ClientHttp2Session> report_session_;
  std::shared_ptr<ClientHttp2Stream> report_stream_;
  std::unique_ptr<transport::Timer> report_timer_;
  std::string report_body_;
  bool finished_ = false;
  int exit_code_ = 1;
};

}  // namespace
}  // namespace h2rpc::interop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  h2rpc::transport::UvLoop loop;
  h2rpc::transport::ConnectOptions options;
  options.tls.caFile = absl::GetFlag(FLAGS_ca);
  std::vector<std::string> names;
  if (absl::GetFlag(FLAGS_only).empty()) {
    names = h2rpc::interop::ScenarioClient::allScenarios();
  } else {
    names = absl::StrSplit(absl::GetFlag(FLAGS_only), ',');
  }
  int code;
  {
    h2rpc::interop::ScenarioClient client(&loop, absl::GetFlag(FLAGS_url), options);
    client.start(names);
    loop.run();
    code = client.exitCode();
  }
  return code;
}
