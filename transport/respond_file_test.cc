// respondWithFile() / respondWithFD() over an in-memory socket pair and a manual loop, with a
// small flow-control window so that the file goes out in many window-sized steps.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/manual_loop.h"
#include "transport/memory_socket.h"
#include "transport/testing/session_pair.h"
#include "transport/session.h"

namespace h2rpc::transport {
namespace {

using ::testing::ElementsAre;

constexpr uint32_t kSmallWindow = 16384;

SessionOptions smallWindow() {
  SessionOptions o;
  o.settings.initialWindowSize = kSmallWindow;
  return o;
}

struct Pair : SessionPair {
  Pair() : SessionPair({}, smallWindow()) {}
};

struct Recorder {
  explicit Recorder(ClientHttp2Stream& s) {
    s.onResponse([this](const Headers& h, uint8_t) {
      events.push_back("response " + h.get(":status").value_or("?"));
      response = h;
    });
    s.onData([this](std::string_view d) { body += d; });
    s.onTrailers([this](const Headers& h, uint8_t) {
      events.push_back("trailers");
      trailers = h;
    });
    s.onEnd([this] { events.push_back("end"); });
    s.onClose([this] { events.push_back("close"); });
  }
  std::vector<std::string> events;
  Headers response, trailers;
  std::string body;
};

// Options for bytes [offset, offset + length) of the file (negative length: to its end), the
// callbacks left unset (designated initializers would leave them unnamed: -Wextra warns).
RespondWithFileOptions fileOptions(int64_t offset, int64_t length = -1, bool trailers = false) {
  RespondWithFileOptions o;
  o.offset = offset, o.length = length, o.waitForTrailers = trailers;
  return o;
}

// A file of `size` pseudo-random bytes (a byte-exact comparison catches a lost, repeated or
// reordered chunk).
std::string makeFile(const std::string& name, size_t size, std::string* contents) {
  std::mt19937 rng(static_cast<uint32_t>(size));
  contents->resize(size);
  for (char& c : *contents) c = static_cast<char>(rng());
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << *contents;
  return path;
}

std::shared_ptr<ClientHttp2Stream> get(Pair& p, std::string path = "/") {
  auto req = p.client->request({{":path", path}});
  EXPECT_TRUE(req.ok()) << req.status();
  return *req;
}

TEST(RespondWithFileTest, LargeFileArrivesByteExactThroughASmallWindow) {
  std::string contents;
  const std::string path = makeFile("large.bin", (1 << 20) + 12345, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path, {{"content-type", "application/octet-stream"}}).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ(r.response.get("content-length"), std::to_string(contents.size()));
  EXPECT_EQ(r.response.get("content-type"), "application/octet-stream");
  EXPECT_TRUE(r.response.has("date"));
  ASSERT_EQ(r.body.size(), contents.size());
  EXPECT_TRUE(r.body == contents);
  EXPECT_EQ(req->rstCode(), 0u);
  EXPECT_EQ(p.server_socket->sendFileCalls(), 0u);  // MemorySocket says it cannot: copies
}

TEST(RespondWithFileTest, APausedReaderHoldsTheServerAtOneChunk) {
  std::string contents;
  const std::string path = makeFile("paused.bin", 4 << 20, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  req->pause();
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  // The client's window (16 KiB) stops the DATA; the server read one 64 KiB chunk, not 4 MiB.
  EXPECT_LE(req->readableLength(), kSmallWindow);
  EXPECT_GT(p.streams[0]->bufferSize(), 0u);
  EXPECT_LE(p.streams[0]->bufferSize(), 64u * 1024);
  EXPECT_LT(p.server->memoryInUse(), 1u << 20);
  req->resume();
  p.run();
  EXPECT_TRUE(r.body == contents);
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
}

TEST(RespondWithFileTest, OffsetAndLengthSendThatRange) {
  std::string contents;
  const std::string path = makeFile("range.bin", 200000, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    if (h.get(":path") == "/mid") {
      ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(1000, 100000)).ok());
    } else {  // the length runs past the end: clipped to the file, as Node
      ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(150000, 999999)).ok());
    }
  };
  auto mid = get(p, "/mid");
  auto tail = get(p, "/tail");
  Recorder rm(*mid), rt(*tail);
  p.run();
  EXPECT_EQ(rm.response.get("content-length"), "100000");
  EXPECT_TRUE(rm.body == contents.substr(1000, 100000));
  EXPECT_EQ(rt.response.get("content-length"), "50000");
  EXPECT_TRUE(rt.body == contents.substr(150000));
}

TEST(RespondWithFileTest, NegativeLengthMeansToTheEndAndAnOffsetPastItAnEmptyBody) {
  std::string contents;
  const std::string path = makeFile("ends.bin", 3000, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    if (h.get(":path") == "/neg") {  // as Node: any negative length is "to the end"
      ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(100, -2)).ok());
    } else {  // Node announces content-length -2000 here and the peer resets; we send none
      ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(5000)).ok());
    }
  };
  auto neg = get(p, "/neg");
  auto past = get(p, "/past");
  Recorder rn(*neg), rp(*past);
  p.run();
  EXPECT_EQ(rn.response.get("content-length"), "2900");
  EXPECT_TRUE(rn.body == contents.substr(100));
  EXPECT_EQ(rp.response.get("content-length"), "0");
  EXPECT_EQ(rp.body, "");
  EXPECT_THAT(rp.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ(past->rstCode(), 0u);
}

TEST(RespondWithFileTest, StatCheckCanAnswer304Itself) {
  std::string contents;
  const std::string path = makeFile("cached.txt", 1000, &contents);
  Pair p;
  bool checked = false;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    RespondWithFileOptions o;
    o.statCheck = [&, s](const struct stat& st, Headers&, FileRange&) {
      checked = true;
      EXPECT_EQ(st.st_size, 1000);
      EXPECT_FALSE(s->headersSent());  // statCheck runs before anything is sent
      EXPECT_TRUE(s->respond({{":status", "304"}}).ok());
      return false;
    };
    ASSERT_TRUE(s->respondWithFile(path, {}, std::move(o)).ok());
    EXPECT_FALSE(checked);  // from the loop, not inside the call
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_TRUE(checked);
  EXPECT_THAT(r.events, ElementsAre("response 304", "end", "close"));
  EXPECT_EQ(r.body, "");
}

TEST(RespondWithFileTest, StatCheckAddsHeadersAndChangesTheRange) {
  std::string contents;
  const std::string path = makeFile("statcheck.txt", 5000, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    RespondWithFileOptions o;
    o.statCheck = [](const struct stat& st, Headers& h, FileRange& range) {
      h.set(":status", "206");
      h.set("content-range", "bytes 10-19/" + std::to_string(st.st_size));
      range.offset = 10;
      range.length = 10;
      return true;
    };
    ASSERT_TRUE(s->respondWithFile(path, {}, std::move(o)).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(r.response.get(":status"), "206");
  EXPECT_EQ(r.response.get("content-range"), "bytes 10-19/5000");
  EXPECT_EQ(r.response.get("content-length"), "10");
  EXPECT_EQ(r.body, contents.substr(10, 10));
}

TEST(RespondWithFileTest, MissingFileGoesToOnErrorAndTheStreamStaysUsable) {
  Pair p;
  absl::Status error;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    RespondWithFileOptions o;
    o.onError = [&, s](const absl::Status& e) {
      error = e;
      EXPECT_TRUE(s->respond({{":status", "404"}}).ok());
      s->end("not found");
    };
    ASSERT_TRUE(s->respondWithFile(::testing::TempDir() + "/no-such-file", {}, std::move(o)).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(nodeErrorCode(error), "ENOENT");
  EXPECT_EQ(error.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(error.message()), ::testing::HasSubstr("open '"));
  EXPECT_THAT(r.events, ElementsAre("response 404", "end", "close"));
  EXPECT_EQ(r.body, "not found");
}

TEST(RespondWithFileTest, ErrorWithoutOnErrorDestroysTheStream) {
  Pair p;
  absl::Status stream_error;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->onError([&](const absl::Status& e) { stream_error = e; });
    // A directory is refused (ERR_HTTP2_SEND_FILE).
    ASSERT_TRUE(s->respondWithFile(::testing::TempDir()).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(nodeErrorCode(stream_error), "ERR_HTTP2_SEND_FILE");
  EXPECT_EQ(req->rstCode(), uint32_t{NGHTTP2_INTERNAL_ERROR});
}

TEST(RespondWithFileTest, TrailersAfterTheFileWithWaitForTrailers) {
  std::string contents;
  const std::string path = makeFile("trailers.bin", 100000, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->onWantTrailers([s] { EXPECT_TRUE(s->sendTrailers({{"x-sum", "ok"}}).ok()); });
    ASSERT_TRUE(s->respondWithFile(path, {}, fileOptions(0, -1, /*trailers=*/true)).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_TRUE(r.body == contents);
  EXPECT_EQ(r.trailers.get("x-sum"), "ok");
  EXPECT_THAT(r.events, ElementsAre("response 200", "trailers", "end", "close"));
}

TEST(RespondWithFileTest, RespondWithFDLeavesTheDescriptorOpenAndItsPositionAlone) {
  std::string contents;
  const std::string path = makeFile("fd.bin", 70000, &contents);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFD(fd, {}, fileOptions(5)).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_TRUE(r.body == contents.substr(5));
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD), 0);  // still open
  ::close(fd);
}

TEST(RespondWithFileTest, RespondWithFDOnAPipeReadsToEndOfFile) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string data(30000, 'p');
  ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fds[1]);
  Pair p;
  absl::Status noseek;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    if (h.get(":path") == "/ranged") {
      RespondWithFileOptions o = fileOptions(1);
      o.onError = [&, s](const absl::Status& e) {
        noseek = e;
        s->close();
      };
      ASSERT_TRUE(s->respondWithFD(fds[0], {}, std::move(o)).ok());
    } else {
      ASSERT_TRUE(s->respondWithFD(fds[0]).ok());
    }
  };
  auto ranged = get(p, "/ranged");
  p.run();
  EXPECT_EQ(nodeErrorCode(noseek), "ERR_HTTP2_SEND_FILE_NOSEEK");
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_FALSE(r.response.has("content-length"));
  EXPECT_EQ(r.body, data);
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
  ::close(fds[0]);
}

TEST(RespondWithFileTest, RefusedAtOnce) {
  std::string contents;
  const std::string path = makeFile("refused.txt", 10, &contents);
  Pair p;
  std::vector<std::string> codes;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    codes.push_back(nodeErrorCode(s->respondWithFile(path, {{":status", "304"}})));
    codes.push_back(nodeErrorCode(s->respondWithFile(path, {}, fileOptions(-1))));
    ASSERT_TRUE(s->respondWithFile(path).ok());
    codes.push_back(nodeErrorCode(s->respondWithFile(path)));
    // The Duplex is closed: the application's writes and end() are refused.
    EXPECT_FALSE(s->write("x"));
    s->end("y", [&](absl::Status st) { codes.push_back(nodeErrorCode(st)); });
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_THAT(codes, ElementsAre("ERR_HTTP2_PAYLOAD_FORBIDDEN", "ERR_OUT_OF_RANGE",
                                 "ERR_HTTP2_HEADERS_SENT", "ERR_STREAM_WRITE_AFTER_END"));
  EXPECT_EQ(r.body, contents);
}

int openFds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd) n += ::fcntl(fd, F_GETFD) != -1;
  return n;
}

TEST(RespondWithFileTest, AClientResetMidFileClosesTheFile) {
  std::string contents;
  const std::string path = makeFile("reset.bin", 2 << 20, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  const int before = openFds();
  auto req = get(p);
  std::string body;
  req->onData([&](std::string_view d) {
    body += d;
    if (body.size() >= 50000) req->close(NGHTTP2_CANCEL);
  });
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_TRUE(p.streams[0]->destroyed());
  EXPECT_EQ(p.streams[0]->rstCode(), uint32_t{NGHTTP2_CANCEL});
  EXPECT_LT(body.size(), contents.size());
  EXPECT_EQ(openFds(), before);  // the server closed the file it opened
}

TEST(RespondWithFileTest, HeadRequestGetsTheHeadersOnly) {
  std::string contents;
  const std::string path = makeFile("head.txt", 1234, &contents);
  Pair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  auto req = p.client->request({{":path", "/"}, {":method", "HEAD"}});
  ASSERT_TRUE(req.ok());
  Recorder r(**req);
  p.run();
  EXPECT_EQ(r.response.get("content-length"), "1234");
  EXPECT_EQ(r.body, "");
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
}


// --- Zero-copy: on a socket that can send files (a MemorySocket standing in for sendfile(2),
// counting what comes through sendFile() and what through write()), the body goes as file
// regions, never through memory. ---

struct ZeroCopyPair : Pair {
  ZeroCopyPair() { server_socket->setCanSendFile(true); }
  size_t memoryBytes() const {
    return server_socket->bytesWritten() - server_socket->sendFileBytes();
  }
};

std::shared_ptr<ClientHttp2Stream> get(ZeroCopyPair& p, std::string path = "/") {
  return get(static_cast<Pair&>(p), std::move(path));
}

TEST(RespondWithFileZeroCopyTest, TheBodyGoesThroughSendFileOnly) {
  std::string contents;
  const std::string path = makeFile("zc-large.bin", (1 << 20) + 12345, &contents);
  ZeroCopyPair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path, {{"content-type", "application/octet-stream"}}).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ(r.response.get("content-length"), std::to_string(contents.size()));
  ASSERT_EQ(r.body.size(), contents.size());
  EXPECT_TRUE(r.body == contents);
  EXPECT_EQ(req->rstCode(), 0u);
  // Every body byte came through sendFile(), one region per DATA frame (16 KiB at most: the
  // client's SETTINGS_MAX_FRAME_SIZE); what went through memory is HTTP/2's own bytes (frame
  // headers, HEADERS, SETTINGS, WINDOW_UPDATE acks): under 1 % of the body.
  EXPECT_EQ(p.server_socket->sendFileBytes(), contents.size());
  EXPECT_GE(p.server_socket->sendFileCalls(), contents.size() / 16384);
  EXPECT_LT(p.memoryBytes(), contents.size() / 100);
}

TEST(RespondWithFileZeroCopyTest, TwoFilesInterleaveOnOneSession) {
  std::string a, b;
  const std::string path_a = makeFile("zc-a.bin", 300000, &a);
  const std::string path_b = makeFile("zc-b.bin", 300001, &b);
  ZeroCopyPair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers& h) {
    ASSERT_TRUE(s->respondWithFile(h.get(":path") == "/a" ? path_a : path_b).ok());
  };
  auto ra = get(p, "/a");
  auto rb = get(p, "/b");
  std::string body_a, body_b, order;
  ra->onData([&](std::string_view d) {
    body_a += d;
    order += 'a';
  });
  rb->onData([&](std::string_view d) {
    body_b += d;
    order += 'b';
  });
  p.run();
  EXPECT_TRUE(body_a == a);
  EXPECT_TRUE(body_b == b);
  // Interleaved: b's data began before a's ended (the frames of both share the connection).
  EXPECT_LT(order.find('b'), order.rfind('a'));
  EXPECT_EQ(p.server_socket->sendFileBytes(), a.size() + b.size());
}

TEST(RespondWithFileZeroCopyTest, OffsetAndLengthAndTrailers) {
  std::string contents;
  const std::string path = makeFile("zc-range.bin", 200000, &contents);
  ZeroCopyPair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->onWantTrailers([s] { EXPECT_TRUE(s->sendTrailers({{"x-sum", "ok"}}).ok()); });
    ASSERT_TRUE(
        s->respondWithFile(path, {}, fileOptions(1001, 100000, /*trailers=*/true))
            .ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(r.response.get("content-length"), "100000");
  EXPECT_TRUE(r.body == contents.substr(1001, 100000));
  EXPECT_EQ(r.trailers.get("x-sum"), "ok");
  EXPECT_THAT(r.events, ElementsAre("response 200", "trailers", "end", "close"));
  EXPECT_EQ(p.server_socket->sendFileBytes(), 100000u);
}

TEST(RespondWithFileZeroCopyTest, RespondWithFDSendsADuplicateAndLeavesTheDescriptorAlone) {
  std::string contents;
  const std::string path = makeFile("zc-fd.bin", 70000, &contents);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ZeroCopyPair p;
  const int before = openFds();
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFD(fd, {}, fileOptions(5)).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_TRUE(r.body == contents.substr(5));
  EXPECT_EQ(p.server_socket->sendFileBytes(), contents.size() - 5);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
  EXPECT_EQ(::fcntl(fd, F_GETFD), 0);  // still open
  EXPECT_EQ(openFds(), before);        // and the duplicate is closed
  ::close(fd);
}

TEST(RespondWithFileZeroCopyTest, APipeIsStillCopied) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string data(30000, 'p');
  ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fds[1]);
  ZeroCopyPair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFD(fds[0]).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(r.body, data);
  EXPECT_THAT(r.events, ElementsAre("response 200", "end", "close"));
  EXPECT_EQ(p.server_socket->sendFileCalls(), 0u);  // sendfile(2) needs a file it can map
  ::close(fds[0]);
}

TEST(RespondWithFileZeroCopyTest, AClientResetMidFileClosesTheFileOnceTheSocketIsDone) {
  std::string contents;
  const std::string path = makeFile("zc-reset.bin", 2 << 20, &contents);
  ZeroCopyPair p;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  const int before = openFds();
  auto req = get(p);
  std::string body;
  req->onData([&](std::string_view d) {
    body += d;
    if (body.size() >= 50000) req->close(NGHTTP2_CANCEL);
  });
  p.run();
  ASSERT_EQ(p.streams.size(), 1u);
  EXPECT_TRUE(p.streams[0]->destroyed());
  EXPECT_EQ(p.streams[0]->rstCode(), uint32_t{NGHTTP2_CANCEL});
  EXPECT_LT(body.size(), contents.size());
  EXPECT_TRUE(body == contents.substr(0, body.size()));
  EXPECT_EQ(openFds(), before);
  // The session's framing is intact: the next file on it arrives whole.
  std::string second;
  const std::string path2 = makeFile("zc-after-reset.bin", 100000, &second);
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path2).ok());
  };
  auto req2 = get(p);
  Recorder r2(*req2);
  p.run();
  EXPECT_TRUE(r2.body == second);
  EXPECT_THAT(r2.events, ElementsAre("response 200", "end", "close"));
}

TEST(RespondWithFileZeroCopyTest, AFileThatShrinksMidResponseResetsTheStreamNotTheSession) {
  std::string contents;
  const std::string path = makeFile("zc-shrink.bin", 2 << 20, &contents);
  ZeroCopyPair p;
  absl::Status stream_error;
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    s->onError([&](const absl::Status& e) { stream_error = e; });
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  bool truncated = false;
  req->onData([&](std::string_view) {
    if (!truncated && r.body.size() >= 100000) {
      truncated = true;
      ASSERT_EQ(::truncate(path.c_str(), 120000), 0);
    }
  });
  p.run();
  ASSERT_TRUE(truncated);
  EXPECT_EQ(nodeErrorCode(stream_error), "ERR_HTTP2_SEND_FILE");
  EXPECT_EQ(req->rstCode(), uint32_t{NGHTTP2_INTERNAL_ERROR});
  EXPECT_THAT(r.events, ::testing::Not(::testing::Contains("end")));
  EXPECT_LT(r.body.size(), contents.size());
  EXPECT_TRUE(r.body.substr(0, 100000) == contents.substr(0, 100000));
  // Frames already committed were completed (with zeros past the new end), so the connection
  // is still in step: the next request on it is answered.
  std::string next;
  const std::string path2 = makeFile("zc-after-shrink.bin", 50000, &next);
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path2).ok());
  };
  auto req2 = get(p);
  Recorder r2(*req2);
  p.run();
  EXPECT_TRUE(r2.body == next);
  EXPECT_THAT(r2.events, ElementsAre("response 200", "end", "close"));
}

TEST(RespondWithFileZeroCopyTest, AShortReadInTheSocketIsNeverEndedCleanly) {
  // The file shrinks after its only region was framed (with what would be END_STREAM on a
  // copied body): the socket sends zeros for the missing half; the stream must end in
  // RST_STREAM, not in END_STREAM on a body the file did not give.
  std::string contents;
  const std::string path = makeFile("zc-short.bin", 10000, &contents);
  ZeroCopyPair p;
  int hooked = 0;
  p.server_socket->setBeforeSendFile([&](const FileRegion&) {
    if (hooked++ == 0) {
      ASSERT_EQ(::truncate(path.c_str(), 5000), 0);
    }
  });
  p.on_stream = [&](std::shared_ptr<ServerHttp2Stream> s, const Headers&) {
    ASSERT_TRUE(s->respondWithFile(path).ok());
  };
  auto req = get(p);
  Recorder r(*req);
  p.run();
  EXPECT_EQ(hooked, 1);
  EXPECT_EQ(req->rstCode(), uint32_t{NGHTTP2_INTERNAL_ERROR});
  EXPECT_THAT(r.events, ::testing::Not(::testing::Contains("end")));
  EXPECT_TRUE(r.body.substr(0, 5000) == contents.substr(0, 5000));
}

}  // namespace
}  // namespace h2rpc::transport
