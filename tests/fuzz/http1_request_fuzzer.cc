// Fuzz target: the HTTP/1 request parser wrapper (transport/http1/request_parser.h), what an
// allowHTTP1 server runs on every byte a client sends. The first 2 bytes choose the read split
// and the limits; the rest are client bytes, fed as a connection would: each complete request
// is followed by reset() and the rest of the buffer (pipelining), until an error or the end.
// Checks: the limits hold (head fields, body bytes), errors map to 400/413/431, no request is
// reported twice, nothing is consumed past what was given.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "transport/http1/request_parser.h"

namespace {

using h2rpc::transport::Headers;
using h2rpc::transport::Http1ParserOptions;
using h2rpc::transport::Http1RequestHead;
using h2rpc::transport::Http1RequestParser;

struct Sink : Http1RequestParser::Sink {
  void onRequestHead(Http1RequestHead head) override {
    H2RPC_FUZZ_CHECK(!in_request);
    H2RPC_FUZZ_CHECK(head.headers.size() <= options.maxHeadersCount);
    size_t head_bytes = head.url.size();
    for (const auto& f : head.headers.raw()) head_bytes += f.name.size() + f.value.size();
    H2RPC_FUZZ_CHECK(head_bytes <= options.maxHeaderSize);
    in_request = true;
    body = 0;
    ++heads;
  }
  void onRequestBody(std::string_view chunk) override {
    H2RPC_FUZZ_CHECK(in_request);
    body += chunk.size();
    if (options.maxBodySize > 0) H2RPC_FUZZ_CHECK(body <= options.maxBodySize);
  }
  void onRequestComplete(Headers trailers) override {
    H2RPC_FUZZ_CHECK(in_request);
    H2RPC_FUZZ_CHECK(trailers.size() <= options.maxHeadersCount);
    in_request = false;
    ++complete;
  }
  Http1ParserOptions options;
  bool in_request = false;
  uint64_t body = 0;
  int heads = 0, complete = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 16384) return 0;
  Sink sink;
  sink.options.maxHeaderSize = 64 + (data[0] & 0x0f) * 256;  // 64 B .. ~3.9 KB
  sink.options.maxHeadersCount = 1 + (data[0] >> 4) * 4;
  sink.options.maxBodySize = (data[1] & 0x80) ? (data[1] & 0x7f) * 16 : 0;
  const uint16_t split_seed = data[1];
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  Http1RequestParser parser(&sink, sink.options);
  std::string buffer;
  for (std::string_view read : h2rpc::fuzz::SplitReads(input, split_seed)) {
    buffer.append(read);
    // Bounded: each round either consumes bytes or stops.
    for (int round = 0; round < 10000 && !buffer.empty(); ++round) {
      auto used = parser.feed(buffer);
      if (!used.ok()) {
        const int status = Http1RequestParser::httpStatusFor(used.status());
        H2RPC_FUZZ_CHECK(status == 400 || status == 413 || status == 431);
        return 0;  // the connection would answer and close
      }
      H2RPC_FUZZ_CHECK(*used <= buffer.size());
      buffer.erase(0, *used);
      if (parser.messageComplete()) {
        H2RPC_FUZZ_CHECK(!sink.in_request && sink.complete == sink.heads);
        parser.reset();
      } else if (*used == 0) {
        break;
      }
    }
  }
  H2RPC_FUZZ_CHECK(sink.complete <= sink.heads && sink.heads <= sink.complete + 1);
  return 0;
}
