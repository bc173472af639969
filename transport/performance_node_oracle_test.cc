// 'http2' performance entries against Node 20 (testdata/performance_oracle.js) over loopback,
// one scenario played both ways — our client against Node's server, Node's client against our
// server: what one side sent, the other read (frames and bytes, up to the GOAWAYs that cross
// at the close), the same stream ids, DATA bytes, streamCount and maxConcurrentStreams, and
// the same entry and detail keys in the same order (toJSON()). Node's quirks we fixed
// (README, "Deviations from Node 20") are checked to still be Node's.
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "transport/connect.h"
#include "transport/node_oracle.h"
#include "transport/performance.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {
namespace {

// One entry as flat JSON pairs, in order: name, entryType, startTime, duration, then the
// detail's fields (values as written: numbers, "strings", null).
struct Flat {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string get(const std::string& key) const {
    for (const auto& [k, v] : pairs) {
      if (k == key) return v;
    }
    return "";
  }
  double num(const std::string& key) const {
    double v = -1;
    EXPECT_TRUE(absl::SimpleAtod(get(key), &v)) << key << " = " << get(key);
    return v;
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : pairs) out.push_back(k);
    return out;
  }
};

Flat flatten(const std::string& json) {
  static const std::regex kPair(R"re("([A-Za-z]+)":("[^"]*"|null|-?[0-9][0-9.eE+-]*))re");
  Flat flat;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), kPair);
       it != std::sregex_iterator(); ++it) {
    std::string value = (*it)[2];
    if (value.front() == '"') value = value.substr(1, value.size() - 2);
    flat.pairs.emplace_back((*it)[1], value);
  }
  return flat;
}

struct Entries {
  std::vector<Flat> list;
  const Flat* session() const {
    for (const Flat& f : list) {
      if (f.get("name") == "Http2Session") return &f;
    }
    return nullptr;
  }
  std::map<int, const Flat*> streams() const {
    std::map<int, const Flat*> out;
    for (const Flat& f : list) {
      if (f.get("name") == "Http2Stream") out[static_cast<int>(f.num("id"))] = &f;
    }
    return out;
  }
};

Entries parseLines(const std::string& text) {
  Entries e;
  for (const std::string& line : testing::splitLines(text)) {
    if (line.rfind("{", 0) == 0) e.list.push_back(flatten(line));
  }
  return e;
}

// Node running the oracle script in the background, its stdout read by line.
class NodeProcess {
 public:
  explicit NodeProcess(const std::vector<std::string>& args) {
    const char* node =
        access(testing::kVendoredNodePath, X_OK) == 0 ? testing::kVendoredNodePath
                                                      : testing::kSystemNodePath;
    std::string command = absl::StrCat(node, " '", std::getenv("TEST_SRCDIR"), "/",
                                       std::getenv("TEST_WORKSPACE"),
                                       "/transport/testdata/performance_oracle.js'");
    for (const std::string& a : args) absl::StrAppend(&command, " ", a);
    pipe_ = popen(command.c_str(), "r");
  }
  ~NodeProcess() {
    if (pipe_ != nullptr) pclose(pipe_);
  }
  bool ok() const { return pipe_ != nullptr; }
  std::string readLine() {
    char buf[256];
    if (fgets(buf, sizeof buf, pipe_) == nullptr) return "";
    return buf;
  }
  // Everything up to its exit; its exit status in `status`.
  std::string readAll(int* status) {
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, pipe_)) > 0) out.append(buf, n);
    *status = pclose(pipe_);
    pipe_ = nullptr;
    return out;
  }

 private:
  FILE* pipe_ = nullptr;
};

// Our entries, as toJSON() writes them.
struct OurObserver {
  Entries entries;
  std::shared_ptr<PerformanceObserver> observer;
  explicit OurObserver(EventLoop* loop) {
    observer = PerformanceObserver::create(
        loop, [this](const std::vector<PerformanceEntry>& list, PerformanceObserver&) {
          for (const PerformanceEntry& e : list) entries.list.push_back(flatten(toJSON(e)));
        });
    EXPECT_TRUE(observer->observe({.entryTypes = {"http2"}}).ok());
  }
};

// Runs `loop` until `done()` (bounded by iterations and by 20 s).
template <typename F>
bool runUntil(UvLoop& loop, F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (int i = 0; i < 1000000 && !done() && absl::Now() < deadline; ++i) {
    uv_run(loop.uv(), UV_RUN_NOWAIT);
    if (!done()) absl::SleepFor(absl::Microseconds(200));  // Node works meanwhile
  }
  return done();
}

// What `sender` sent, `receiver` read, except the GOAWAYs the sender wrote after the closing
// side had stopped reading (17 bytes each: no debug data), at most two of them (close()'s,
// then the one Node's and our destroy() add).
void expectReadWhatWasSent(const Flat& sender, const Flat& receiver, const std::string& what) {
  SCOPED_TRACE(what);
  const double unread_frames = sender.num("framesSent") - receiver.num("framesReceived");
  EXPECT_GE(unread_frames, 0);
  EXPECT_LE(unread_frames, 2);
  EXPECT_EQ(sender.num("bytesWritten") - receiver.num("bytesRead"), 17 * unread_frames);
  EXPECT_GT(receiver.num("framesReceived"), 4);  // SETTINGS, its ACK, HEADERS x2, ...
}

// The checks common to both directions: `client` and `server` entries, one of them ours.
void compare(const Entries& client, const Entries& server, const Entries& ours) {
  ASSERT_EQ(client.list.size(), 3u);
  ASSERT_EQ(server.list.size(), 3u);
  const Flat* cs = client.session();
  const Flat* ss = server.session();
  ASSERT_NE(cs, nullptr);
  ASSERT_NE(ss, nullptr);
  EXPECT_EQ(cs->get("type"), "client");
  EXPECT_EQ(ss->get("type"), "server");
  expectReadWhatWasSent(*cs, *ss, "client to server");
  expectReadWhatWasSent(*ss, *cs, "server to client");
  for (const Flat* s : {cs, ss}) {
    EXPECT_EQ(s->num("streamCount"), 2);
    EXPECT_EQ(s->num("maxConcurrentStreams"), 2);  // the server answers once both are open
    EXPECT_EQ(s->get("entryType"), "http2");
  }
  // The same streams, each side's DATA the other's.
  auto cstreams = client.streams();
  auto sstreams = server.streams();
  ASSERT_EQ(cstreams.size(), 2u);
  ASSERT_EQ(sstreams.size(), 2u);
  for (int id : {1, 3}) {
    ASSERT_TRUE(cstreams.count(id) && sstreams.count(id)) << id;
    EXPECT_EQ(cstreams[id]->num("bytesWritten"), sstreams[id]->num("bytesRead")) << id;
    EXPECT_EQ(cstreams[id]->num("bytesRead"), sstreams[id]->num("bytesWritten")) << id;
  }
  EXPECT_EQ(cstreams[1]->num("bytesWritten"), 8);   // "question"
  EXPECT_EQ(cstreams[1]->num("bytesRead"), 13);     // "echo:question"
  EXPECT_EQ(cstreams[3]->num("bytesRead"), 5);      // "hello"
  // Our entries: Node's keys in Node's order; times that happened are set and within the
  // stream's life.
  const Entries& node = &ours == &client ? server : client;
  for (const Flat& f : ours.list) {
    const Flat* twin = f.get("name") == "Http2Session"
                           ? node.session()
                           : node.streams()[static_cast<int>(f.num("id"))];
    ASSERT_NE(twin, nullptr);
    EXPECT_EQ(f.keys(), twin->keys()) << f.get("name");
    if (f.get("name") == "Http2Stream" && f.num("bytesRead") > 0) {
      EXPECT_GE(f.num("timeToFirstByte"), 0);
      EXPECT_LE(f.num("timeToFirstByte"), f.num("duration"));
    }
  }
}

// Node's quirks we do not copy: still Node's (else the README's deviation rows are stale).
void expectNodeQuirks(const Entries& node_client) {
  const Flat* s = node_client.session();
  ASSERT_NE(s, nullptr);
  // pingRTT in nanoseconds: more than the session lasted in milliseconds.
  EXPECT_GT(s->num("pingRTT"), s->num("duration"));
  // timeToFirstByte is never set: (0 - start) in uint64 nanoseconds, over 10^12 ms.
  for (const auto& [id, f] : node_client.streams()) EXPECT_GT(f->num("timeToFirstByte"), 1e12);
  // streamAverageDuration: the last stream's duration over streamCount (2).
  double last_end = -1, last_duration = 0;
  for (const auto& [id, f] : node_client.streams()) {
    if (f->num("startTime") + f->num("duration") > last_end) {
      last_end = f->num("startTime") + f->num("duration");
      last_duration = f->num("duration");
    }
  }
  EXPECT_NEAR(s->num("streamAverageDuration"), last_duration / 2, 0.2);
}

TEST(PerformanceNodeOracleTest, OurClientAgainstNodeServer) {
  NodeProcess node({"server"});
  ASSERT_TRUE(node.ok());
  const std::string first = node.readLine();
  ASSERT_EQ(first.rfind("PORT ", 0), 0u) << first;
  const std::string port = first.substr(5, first.find_first_of("\r\n") - 5);

  UvLoop loop;
  OurObserver ours(&loop);
  auto client = connect(&loop, absl::StrCat("http://127.0.0.1:", port));
  ASSERT_TRUE(client.ok()) << client.status();
  auto session = *client;
  auto echo = *session->request({{":method", "POST"}, {":path", "/echo"}});
  echo->end("question");
  auto hello = *session->request({{":path", "/hello"}});
  int open = 2;
  for (const auto& req : {echo, hello}) {
    req->resume();
    req->onClose([&open, session] {
      if (--open > 0) return;
      (void)session->ping({}, [session](const absl::Status& st, double, std::string_view) {
        EXPECT_TRUE(st.ok()) << st;
        session->close();
      });
    });
  }
  ASSERT_TRUE(runUntil(loop, [&] { return ours.entries.session() != nullptr; }));
  int status = 0;
  const std::string out = node.readAll(&status);
  ASSERT_EQ(status, 0) << out;
  Entries theirs = parseLines(out);
  compare(ours.entries, theirs, ours.entries);
}

TEST(PerformanceNodeOracleTest, NodeClientAgainstOurServer) {
  UvLoop loop;
  OurObserver ours(&loop);
  auto server = *Http2Server::createServer(&loop);
  std::vector<std::function<void()>> waiting;
  server->onStream([&waiting](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                              uint8_t) {
    auto body = std::make_shared<std::string>();
    const bool echo = headers.get(":path") == "/echo";
    stream->onData([body](std::string_view d) { body->append(d); });
    stream->onEnd([&waiting, stream, body, echo] {
      waiting.push_back([stream, body, echo] {
        (void)stream->respond({{":status", "200"}});
        stream->end(echo ? "echo:" + *body : "hello");
      });
      if (waiting.size() == 2) {
        for (auto& answer : waiting) answer();
      }
    });
  });
  ASSERT_TRUE(server->listen(0, "127.0.0.1").ok());
  NodeProcess node({"client", std::to_string(server->port())});
  ASSERT_TRUE(node.ok());
  ASSERT_TRUE(runUntil(loop, [&] { return ours.entries.session() != nullptr; }));
  server->close();
  int status = 0;
  const std::string out = node.readAll(&status);
  ASSERT_EQ(status, 0) << out;
  Entries theirs = parseLines(out);
  compare(theirs, ours.entries, ours.entries);
  expectNodeQuirks(theirs);
}

}  // namespace
}  // namespace h2rpc::transport
