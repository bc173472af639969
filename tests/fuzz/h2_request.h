// tests/fuzz/h2_request.h — what the rpc server fuzzers share: "name value" header lines read
// from the fuzz input, and those fields HPACK-encoded (nghttp2's deflater) into a client's
// HEADERS (+ CONTINUATION) and DATA frames, so that a fuzzer spends its time on header values
// and bodies, not on HPACK and frame syntax.
//
// Threading: plain functions, one thread. Lifetime: field views point into the fuzz input.
#ifndef H2RPC_TESTS_FUZZ_H2_REQUEST_H_
#define H2RPC_TESTS_FUZZ_H2_REQUEST_H_

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/session_harness.h"

namespace h2rpc::fuzz {

using FieldLines = std::vector<std::pair<std::string_view, std::string_view>>;

// Lines "name value" ('\n'-separated) up to an empty line (consumed) or the end.
inline FieldLines ReadFieldLines(Input& in) {
  FieldLines fields;
  for (;;) {
    std::string_view line = in.Until('\n');
    if (line.empty()) break;
    const size_t space = line.find(' ');
    fields.emplace_back(line.substr(0, space), space == std::string_view::npos
                                                   ? std::string_view()
                                                   : line.substr(space + 1));
  }
  return fields;
}

struct RequestShape {
  bool keep_open = false;    // no END_STREAM after the body (a client still sending)
  bool reset = false;        // RST_STREAM(CANCEL) after the body
  bool tiny_frames = false;  // the body in 7-byte DATA frames
};

inline std::string FrameHeader(size_t length, uint8_t type, uint8_t flags, uint32_t stream) {
  return {static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length),       static_cast<char>(type),
          static_cast<char>(flags),        static_cast<char>(stream >> 24),
          static_cast<char>(stream >> 16), static_cast<char>(stream >> 8),
          static_cast<char>(stream)};
}

// HEADERS (+ CONTINUATION) of `fields`, HPACK-encoded by `deflater`, then DATA of `body`.
inline std::string EncodeRequest(nghttp2_hd_deflater* deflater, const FieldLines& fields,
                                 std::string_view body, uint32_t stream, RequestShape shape) {
  std::vector<nghttp2_nv> nva;
  for (const auto& [name, value] : fields) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  std::string block(nghttp2_hd_deflate_bound(deflater, nva.data(), nva.size()), '\0');
  const ssize_t n = nghttp2_hd_deflate_hd(deflater, reinterpret_cast<uint8_t*>(block.data()),
                                          block.size(), nva.data(), nva.size());
  H2RPC_FUZZ_CHECK(n >= 0);
  block.resize(static_cast<size_t>(n));

  const bool end = !shape.keep_open;
  std::string out;
  constexpr size_t kFrame = 16384;
  for (size_t at = 0; at == 0 || at < block.size(); at += kFrame) {
    const std::string_view piece = std::string_view(block).substr(at, kFrame);
    const bool last = at + kFrame >= block.size();
    uint8_t flags = last ? NGHTTP2_FLAG_END_HEADERS : 0;
    if (at == 0 && end && body.empty()) flags |= NGHTTP2_FLAG_END_STREAM;
    out += FrameHeader(piece.size(), at == 0 ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, flags,
                       stream);
    out += piece;
  }
  const size_t data_frame = shape.tiny_frames ? 7 : kFrame;
  for (size_t at = 0; at < body.size(); at += data_frame) {
    const std::string_view piece = body.substr(at, data_frame);
    const bool last = at + data_frame >= body.size();
    out += FrameHeader(piece.size(), NGHTTP2_DATA, last && end ? NGHTTP2_FLAG_END_STREAM : 0,
                       stream);
    out += piece;
  }
  if (shape.reset) {
    out += FrameHeader(4, NGHTTP2_RST_STREAM, 0, stream);
    out += std::string("\0\0\0\x08", 4);
  }
  return out;
}

// A client connection's bytes: preface, SETTINGS, the request on stream 1 (and again on stream 3
// when `twice`, with the same HPACK context).
inline std::string ClientConnection(const FieldLines& fields, std::string_view body, bool twice,
                                    RequestShape shape) {
  nghttp2_hd_deflater* deflater = nullptr;
  H2RPC_FUZZ_CHECK(nghttp2_hd_deflate_new(&deflater, 4096) == 0);
  std::string bytes;
  bytes.append(kClientPreface).append(kEmptySettings);
  bytes += EncodeRequest(deflater, fields, body, 1, shape);
  if (twice) bytes += EncodeRequest(deflater, fields, body, 3, shape);
  nghttp2_hd_deflate_del(deflater);
  return bytes;
}

}  // namespace h2rpc::fuzz

#endif  // H2RPC_TESTS_FUZZ_H2_REQUEST_H_
