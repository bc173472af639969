// Server push as Node 20 does it (testdata/push_oracle.js, run at test time): the same scenario
// over a MemorySocket pair must log the same events, stream by stream — the server's pushStream
// callbacks and errors, the client session's 'stream', each pushed stream's 'push', body, 'end'
// and 'close', and a push refused by a client that disabled it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/node_oracle.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

// Lines grouped by their first word (who saw the event), order kept within a group: streams
// that run side by side may interleave differently between Node's sockets and ours.
std::map<std::string, std::vector<std::string>> byLabel(const std::vector<std::string>& lines) {
  std::map<std::string, std::vector<std::string>> groups;
  for (const std::string& line : lines) groups[line.substr(0, line.find(' '))].push_back(line);
  return groups;
}

const char* boolean(bool b) { return b ? "true" : "false"; }

std::vector<std::string> ours() {
  std::vector<std::string> out;
  auto log = [&out](std::string line) { out.push_back(std::move(line)); };
  ManualLoop loop;
  const std::string authority = "localhost:8080";
  auto onStream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h, uint8_t) {
    log(absl::StrCat("server pushAllowed ", boolean(s->pushAllowed())));
    if (h.get(":path") == "/nopush") {
      absl::Status st = s->pushStream({{":path", "/x"}}, {}, [&](auto&&...) {
        log("server pushed /x");
      });
      if (!st.ok()) log("server push " + nodeErrorCode(st));
      (void)s->respond({{":status", "200"}}, {.endStream = true});
      return;
    }
    for (auto [path, body] : {std::pair<std::string, std::string>{"/a.css", "body{}"},
                              {"/b.js", "alert(1)"}}) {
      (void)s->pushStream(
          {{":path", path}}, {},
          [&, body](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> ps,
                    const Headers& headers) {
            if (!err.ok()) return log("server push error " + nodeErrorCode(err));
            log(absl::StrCat("server pushed ", headers.get(":path").value_or(""), " ",
                             headers.get(":method").value_or(""), " ",
                             headers.get(":scheme").value_or(""),
                             " id-even=", boolean(ps->id() % 2 == 0)));
            log(absl::StrCat("server pushAllowed-on-pushed ", boolean(ps->pushAllowed())));
            absl::Status st = ps->pushStream({{":path", "/nested"}}, {}, [&](auto&&...) {
              log("server nested pushed");
            });
            if (!st.ok()) log("server nested " + nodeErrorCode(st));
            (void)ps->respond({{":status", "200"}, {"content-type", "text/css"}});
            ps->end(body);
          });
    }
    (void)s->respond({{":status", "200"}});
    s->end("<html>");
  };

  {  // A client that accepts pushes.
    auto [a, b] = MemorySocket::pair(&loop);
    auto server = *ServerHttp2Session::create(&loop, std::move(a));
    auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", authority);
    server->onStream(onStream);
    auto bodies = std::make_shared<std::map<std::string, std::string>>();
    client->onStream([&, bodies](std::shared_ptr<ClientHttp2Stream> ps, const Headers& h,
                                 uint8_t) {
      const std::string p = h.get(":path").value_or("");
      log(absl::StrCat("client stream ", p, " ", h.get(":method").value_or(""), " ",
                       h.get(":scheme").value_or(""), " ",
                       boolean(h.get(":authority") == authority)));
      ps->onPush([&, p](const Headers& r, uint8_t) {
        log(absl::StrCat(p, " push ", r.get(":status").value_or(""), " ",
                         r.get("content-type").value_or("")));
      });
      ps->onResponse([&, p](const Headers&, uint8_t) { log(p + " response"); });
      ps->onData([bodies, p](std::string_view d) { (*bodies)[p] += d; });
      ps->onEnd([&, bodies, p] { log(absl::StrCat(p, " end ", (*bodies)[p])); });
      ClientHttp2Stream* raw = ps.get();
      ps->onClose([&, p, raw] { log(absl::StrCat(p, " close ", raw->rstCode().value_or(99))); });
    });
    auto req = *client->request({{":path", "/index.html"}});
    req->onResponse([&](const Headers& h, uint8_t) {
      log("req response " + h.get(":status").value_or(""));
    });
    req->onPush([&](const Headers&, uint8_t) { log("req push"); });
    req->onData([bodies](std::string_view d) { (*bodies)["req"] += d; });
    req->onEnd([&, bodies] { log("req end " + (*bodies)["req"]); });
    ClientHttp2Stream* raw = req.get();
    req->onClose([&, raw] { log(absl::StrCat("req close ", raw->rstCode().value_or(99))); });
    loop.runUntilIdle();
    client->close();
    loop.runUntilIdle();
  }
  {  // A client with enablePush false.
    auto [a, b] = MemorySocket::pair(&loop);
    auto server = *ServerHttp2Session::create(&loop, std::move(a));
    SessionOptions options;
    options.settings.enablePush = false;
    auto client = *ClientHttp2Session::create(&loop, std::move(b), "http", authority, options);
    server->onStream(onStream);
    client->onStream([&](auto&&...) { log("client2 stream"); });
    auto req = *client->request({{":path", "/nopush"}});
    req->onResponse([&](const Headers& h, uint8_t) {
      log("client2 response " + h.get(":status").value_or(""));
    });
    req->resume();
    loop.runUntilIdle();
    client->close();
    loop.runUntilIdle();
  }
  return out;
}

TEST(PushNodeOracleTest, EventsMatchNode) {
  absl::StatusOr<std::string> node = testing::runNodeScript("transport/testdata/push_oracle.js");
  ASSERT_TRUE(node.ok()) << node.status();
  std::vector<std::string> node_lines = testing::splitLines(*node);
  ASSERT_GT(node_lines.size(), 10u) << *node;  // the scenario ran
  std::vector<std::string> our_lines = ours();
  auto expected = byLabel(node_lines);
  auto actual = byLabel(our_lines);
  for (const auto& [label, lines] : expected) {
    EXPECT_EQ(absl::StrJoin(actual[label], "\n"), absl::StrJoin(lines, "\n")) << label;
  }
  EXPECT_EQ(actual.size(), expected.size()) << absl::StrJoin(our_lines, "\n");
}

}  // namespace
}  // namespace h2rpc::transport
