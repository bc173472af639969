#include "transport/internal/frame_scanner.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace h2rpc::transport::internal {
namespace {

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, size_t length) {
  std::string f;
  f += static_cast<char>(length >> 16);
  f += static_cast<char>(length >> 8);
  f += static_cast<char>(length);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  f += static_cast<char>(stream >> 24);
  f += static_cast<char>(stream >> 16);
  f += static_cast<char>(stream >> 8);
  f += static_cast<char>(stream);
  f += std::string(length, static_cast<char>(0x01));  // payload bytes that look like headers
  return f;
}

struct Report {
  size_t offset;  // of the header's last byte, in the whole input
  uint8_t type;
  uint8_t flags;
  int32_t stream_id;
  uint32_t length;
  bool operator==(const Report& o) const {
    return offset == o.offset && type == o.type && flags == o.flags &&
           stream_id == o.stream_id && length == o.length;
  }
};

// Feeds `input` in pieces of `piece` bytes, as a session does: what scan() read, then a check.
std::vector<Report> ScanAll(const std::string& input, size_t preface, size_t piece) {
  FrameScanner s(preface);
  std::vector<Report> out;
  size_t consumed = 0;
  for (size_t start = 0; start < input.size(); start += piece) {
    std::string_view chunk = std::string_view(input).substr(start, piece);
    size_t pos = 0;
    int guard = 0;
    while (pos < chunk.size()) {
      EXPECT_LT(++guard, 1000) << "no progress";
      if (guard >= 1000) return out;
      FrameScanner::Frame f;
      bool found = false;
      size_t n = s.scan(chunk.substr(pos), &f, &found);
      pos += n;
      consumed += n;
      if (found) out.push_back({consumed, f.type, f.flags, f.stream_id, f.length});
    }
  }
  EXPECT_EQ(consumed, input.size());
  return out;
}

TEST(FrameScannerTest, ReportsEachDataAndHeadersFrameOnceWhateverTheSplit) {
  const std::string preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  std::string input = preface;
  std::vector<Report> expected;
  auto add = [&](uint8_t type, uint8_t flags, uint32_t stream, size_t length, bool reported) {
    if (reported) expected.push_back({input.size() + 8, type, flags,
                                      static_cast<int32_t>(stream & 0x7fffffff),
                                      static_cast<uint32_t>(length)});
    input += Frame(type, flags, stream, length);
  };
  add(0x4, 0, 0, 12, false);                 // SETTINGS
  add(0x1, 0x5, 1, 20, true);                // HEADERS END_STREAM|END_HEADERS
  add(0x0, 0x1, 1, 4, true);                 // DATA END_STREAM
  add(0x3, 0, 1, 4, false);                  // RST_STREAM
  add(0x0, 0, 3, 0, true);                   // empty DATA
  add(0x9, 0x4, 3, 7, false);                // CONTINUATION
  add(0x0, 0x8, 0x80000005u, 70000, true);   // padded DATA, reserved bit set, > 64 KiB
  add(0x6, 0, 0, 8, false);                  // PING
  add(0x1, 0x4, 0x7fffffff, 3, true);        // HEADERS on the highest stream id
  for (size_t piece : {size_t{1}, size_t{2}, size_t{8}, size_t{9}, size_t{10}, size_t{17},
                       size_t{4096}, input.size()}) {
    SCOPED_TRACE("pieces of " + std::to_string(piece));
    EXPECT_EQ(ScanAll(input, preface.size(), piece), expected);
  }
}

TEST(FrameScannerTest, ClientSideHasNoPreface) {
  const std::string input = Frame(0x4, 0, 0, 0) + Frame(0x0, 0x1, 2, 3);
  std::vector<Report> expected = {{9 + 8, 0x0, 0x1, 2, 3}};
  EXPECT_EQ(ScanAll(input, 0, 1), expected);
  EXPECT_EQ(ScanAll(input, 0, input.size()), expected);
}

}  // namespace
}  // namespace h2rpc::transport::internal
