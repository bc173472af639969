// transport/http1/request_parser.h — Http1RequestParser: HTTP/1.x requests from bytes (Debian's
// libhttp-parser, the parser Node used before llhttp), with the limits an HTTP/1 server needs to
// stay within bounded memory. Sans-I/O: feed() bytes, get callbacks.
//
// Threading: one thread at a time. Lifetime: the Sink must outlive the parser; callbacks run
// inside feed() only.
#ifndef H2RPC_TRANSPORT_HTTP1_REQUEST_PARSER_H_
#define H2RPC_TRANSPORT_HTTP1_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "transport/headers.h"

namespace h2rpc::transport {

struct Http1ParserOptions {
  // Bytes of request line + headers (Node's maxHeaderSize: 16 KiB). Over it: 431.
  size_t maxHeaderSize = 16384;
  // Header fields per request (the HTTP/2 side's maxHeaderListPairs). Over it: 431.
  size_t maxHeadersCount = 128;
  // Bytes of request body; 0 = no limit (the body streams with backpressure). Over it: 413.
  uint64_t maxBodySize = 0;
};

// The request line and headers of one request.
struct Http1RequestHead {
  std::string method;
  std::string url;
  int versionMajor = 1;
  int versionMinor = 1;
  Headers headers;  // names lower-cased, in order
  bool keepAlive = true;
  bool chunked = false;
  bool upgrade = false;  // Upgrade / CONNECT: not served (the connection closes after the answer)
};

class Http1RequestParser {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void onRequestHead(Http1RequestHead head) = 0;
    virtual void onRequestBody(std::string_view chunk) = 0;
    // Chunked trailers (may be empty), then the end of the request.
    virtual void onRequestComplete(Headers trailers) = 0;
  };

  Http1RequestParser(Sink* sink, Http1ParserOptions options = {});
  ~Http1RequestParser();

  // Parses as much of `data` as belongs to the current request and returns how many bytes it
  // used: it stops right after a complete request (the next one, pipelined, waits for reset()).
  // A malformed request is an error whose HTTP answer is httpStatusFor(): kInvalidArgument (400),
  // kResourceExhausted with "431" or "413" in the message (headers / body too large).
  absl::StatusOr<size_t> feed(std::string_view data);
  // After a complete request: ready for the next one on the same connection.
  void reset();
  bool messageComplete() const { return complete_; }
  // Whether a request has started (any byte of it parsed).
  bool inMessage() const { return started_ && !complete_; }

  // 400, 413 or 431 for an error from feed().
  static int httpStatusFor(const absl::Status& error);

 private:
  struct Impl;
  friend struct Impl;
  std::unique_ptr<Impl> impl_;
  Sink* sink_;
  Http1ParserOptions options_;
  bool complete_ = false;
  bool started_ = false;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_HTTP1_REQUEST_PARSER_H_
