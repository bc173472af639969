// Requests made while a client session connects (Node's requestOnConnect), compared with Node 20
// at test time: testdata/pending_request_oracle.js runs each scenario with Node's client and
// server on 127.0.0.1, this test with ours (connect() and Http2Server on a UvLoop), and the
// traces must be equal line for line — pending and id before and at 'ready', the ids in the
// order the requests were made, what was written meanwhile, the errors and close codes of a
// stream or session destroyed or closed before the connection, and what the server saw.
#include <algorithm>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/node_oracle.h"
#include "transport/server.h"
#include "transport/testing/run_until.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

// The trace pending_request_oracle.js prints (see there for its layout).
class Trace {
 public:
  explicit Trace(std::string scenario) : scenario_(std::move(scenario)) {}
  void session(std::string line) { session_.push_back(std::move(line)); }
  void stream(const std::string& name, const std::string& line) {
    if (!streams_.count(name)) order_.push_back(name);
    streams_[name].push_back(absl::StrCat(name, " ", line));
  }
  void server(int32_t id, std::string line) { server_.push_back({id, std::move(line)}); }
  std::string text() {
    std::vector<std::string> lines = {"# " + scenario_};
    lines.insert(lines.end(), session_.begin(), session_.end());
    for (const std::string& name : order_) {
      lines.insert(lines.end(), streams_[name].begin(), streams_[name].end());
    }
    lines.push_back("# server");
    std::stable_sort(server_.begin(), server_.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [id, line] : server_) lines.push_back(line);
    return absl::StrJoin(lines, "\n") + "\n";
  }

 private:
  std::string scenario_;
  std::vector<std::string> session_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::string>> streams_;
  std::vector<std::pair<int32_t, std::string>> server_;
};

// Node's `${e.code} ${e.message}`, ports replaced by PORT.
std::string describe(const absl::Status& e) {
  const std::string code = nodeErrorCode(e);
  std::string text = absl::StrCat(code.empty() ? "undefined" : code, " ", nodeErrorMessage(e));
  return std::regex_replace(text, std::regex(":[0-9]+\\b"), ":PORT");
}

void track(Trace& trace, const std::string& name,
           const absl::StatusOr<std::shared_ptr<ClientHttp2Stream>>& made) {
  ASSERT_TRUE(made.ok()) << made.status();
  std::shared_ptr<ClientHttp2Stream> req = *made;
  Http2Stream* s = req.get();
  auto l = [&trace, name](std::string line) { trace.stream(name, line); };
  l(absl::StrCat("request pending=", s->pending() ? "true" : "false", " id=", s->id()));
  s->onReady([l, s] {
    l(absl::StrCat("ready pending=", s->pending() ? "true" : "false", " id=", s->id()));
  });
  s->onAborted([l] { l("aborted"); });
  s->onError([l](const absl::Status& e) { l("error " + describe(e)); });
  req->onResponse([l](const Headers& h, uint8_t) {
    l("response status=" + h.get(":status").value_or(""));
  });
  s->onData([](std::string_view) {});
  s->onEnd([l] { l("end"); });
  s->onClose([l, s] { l(absl::StrCat("close rstCode=", s->rstCode().value_or(0))); });
}

// Our server: answers every request at its end with 200 "ok", and records it.
struct Fixture {
  explicit Fixture(Trace& trace) : trace(trace) {
    server = *Http2Server::createServer(&loop);
    server->onStream([this](std::shared_ptr<ServerHttp2Stream> stream, const Headers& h, uint8_t) {
      auto body = std::make_shared<std::string>();
      const std::string path = h.get(":path").value_or("");
      stream->onData([body](std::string_view d) { body->append(d); });
      stream->onEnd([this, stream, body, path] {
        this->trace.server(stream->id(), absl::StrCat("stream ", path, " id=", stream->id(),
                                                      " body=", *body));
        (void)stream->respond({{":status", "200"}});
        stream->end("ok");
      });
    });
    EXPECT_TRUE(server->listen(0, "127.0.0.1").ok());
    session = *connect(&loop, absl::StrCat("http://127.0.0.1:", server->port()));
    session->onError([this](const absl::Status& e) {
      this->trace.session("session error " + describe(e));
    });
    session->onClose([this] {
      this->trace.session("session close");
      closed = true;
    });
  }
  void run() {
    ASSERT_TRUE(RunUntil(loop, [&] { return closed; }));
    bool server_closed = false;
    server->close([&] { server_closed = true; });
    ASSERT_TRUE(RunUntil(loop, [&] { return server_closed; }));
  }
  Trace& trace;
  UvLoop loop;
  std::shared_ptr<Http2Server> server;
  std::shared_ptr<ClientHttp2Session> session;
  bool closed = false;
};

std::string ours(const std::string& scenario) {
  Trace trace(scenario);
  if (scenario == "refused") {
    UvLoop loop;
    auto probe = *Http2Server::createServer(&loop);
    EXPECT_TRUE(probe->listen(0, "127.0.0.1").ok());
    const uint16_t port = probe->port();
    probe->close();
    auto s = *connect(&loop, absl::StrCat("http://127.0.0.1:", port));
    bool closed = false;
    s->onError([&](const absl::Status& e) { trace.session("session error " + describe(e)); });
    s->onClose([&] {
      trace.session("session close");
      closed = true;
    });
    track(trace, "a", s->request({{":path", "/a"}}));
    EXPECT_TRUE(RunUntil(loop, [&] { return closed; }));
    return trace.text();
  }
  Fixture f(trace);
  auto& s = f.session;
  if (scenario == "order") {
    s->onConnect([&] {
      trace.session(absl::StrCat("connect connecting=", s->connecting() ? "true" : "false"));
    });
    auto a = s->request({{":path", "/a"}});
    track(trace, "a", a);
    auto b = s->request({{":path", "/b"}, {":method", "POST"}});
    track(trace, "b", b);
    (*b)->write("xy");
    (*b)->end("z");
    auto c = s->request({{":path", "/c"}});
    track(trace, "c", c);
    EXPECT_TRUE((*c)->priority({.weight = 42}).ok());
    auto ended = std::make_shared<int>(0);
    for (auto* r : {&a, &b, &c}) {
      (**r)->onClose([ended, s] {
        if (++*ended == 3) s->close();
      });
    }
  } else if (scenario == "destroyStream") {
    auto a = s->request({{":path", "/a"}});
    track(trace, "a", a);
    (*a)->destroy();
    auto b = s->request({{":path", "/b"}});
    track(trace, "b", b);
    (*b)->onClose([s] { s->close(); });
  } else if (scenario == "closeStream") {
    auto a = s->request({{":path", "/a"}, {":method", "POST"}});
    track(trace, "a", a);
    (*a)->close(constants::NGHTTP2_REFUSED_STREAM);
    auto b = s->request({{":path", "/b"}});
    track(trace, "b", b);
    (*b)->onClose([s] { s->close(); });
  } else if (scenario == "destroySession") {
    track(trace, "a", s->request({{":path", "/a"}}));
    track(trace, "b", s->request({{":path", "/b"}}));
    s->destroy(absl::UnknownError("boom"));
  } else if (scenario == "destroySessionWithoutError") {
    track(trace, "a", s->request({{":path", "/a"}}));
    s->destroy();
  } else if (scenario == "closeSession") {
    track(trace, "a", s->request({{":path", "/a"}}));
    s->close();
  } else {
    ADD_FAILURE() << "unknown scenario " << scenario;
  }
  f.run();
  return trace.text();
}

class PendingRequestNodeOracleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PendingRequestNodeOracleTest, SameTraceAsNode) {
  absl::StatusOr<std::string> node =
      testing::runNodeScript("transport/testdata/pending_request_oracle.js", {GetParam()});
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(ours(GetParam()), *node);
}

INSTANTIATE_TEST_SUITE_P(Scenarios, PendingRequestNodeOracleTest,
                         ::testing::Values("order", "destroyStream", "closeStream",
                                           "destroySession", "destroySessionWithoutError",
                                           "closeSession", "refused"));

}  // namespace
}  // namespace h2rpc::transport
