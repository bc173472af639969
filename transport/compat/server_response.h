// transport/compat/server_response.h — Http2ServerResponse: node:http2's compatibility-API
// response (lib/internal/http2/compat.js), the `res` of a 'request' event, over one exchange (an
// HTTP/2 stream, or an HTTP/1.1 request: see server_request.h). It renders the HTTP/1
// ServerResponse shape: statusCode, setHeader(), writeHead(), write()/end(), addTrailers().
//
// Threading: the stream's loop thread only. Lifetime: shared_ptr; the stream's listeners keep
// the response alive until the stream's 'close'; afterwards it stays valid while you hold it and
// refuses writes (ERR_HTTP2_INVALID_STREAM).
//
// Node throws from setHeader(), writeHead() and the statusCode setter; here they return the
// Status. write() and end() report errors to their callback, as Node does.
#ifndef H2RPC_TRANSPORT_COMPAT_SERVER_RESPONSE_H_
#define H2RPC_TRANSPORT_COMPAT_SERVER_RESPONSE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/compat/compat_stream.h"
#include "transport/compat/proxy_socket.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/headers.h"
#include "transport/stream.h"

namespace h2rpc::transport {

class Http2ServerRequest;

class Http2ServerResponse : public std::enable_shared_from_this<Http2ServerResponse> {
 public:
  // createPushResponse()'s callback: an error, or the response of the pushed stream.
  using PushResponseCallback =
      std::function<void(const absl::Status&, std::shared_ptr<Http2ServerResponse>)>;

  // Wraps `stream`; `req` is the request of the same stream (res.req), may be null.
  static std::shared_ptr<Http2ServerResponse> create(std::shared_ptr<CompatStream> stream,
                                                     std::shared_ptr<Http2ServerRequest> req);

  // --- status ---
  int statusCode() const { return status_code_; }
  // ERR_HTTP2_INFO_STATUS_NOT_ALLOWED for 1xx, ERR_HTTP2_STATUS_INVALID outside 100-599.
  absl::Status setStatusCode(int code);
  // HTTP/2 has no reason phrase: always "" (Node warns and ignores a set).
  std::string statusMessage() const { return ""; }
  void setStatusMessage(std::string_view) {}

  // --- headers (before they are sent) ---
  // Names are trimmed and lower-cased. Errors: ERR_HTTP2_HEADERS_SENT, ERR_INVALID_HTTP_TOKEN
  // (empty name, a space, not a token), ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED (:status, :path...),
  // ERR_HTTP2_INVALID_PSEUDOHEADER (another ':' name), ERR_INVALID_CHAR (the value; Node finds it
  // at writeHead). `connection` (unless "trailers") is dropped silently, as Node (with a warning).
  absl::Status setHeader(std::string_view name, std::string_view value);
  // Several values (Node's array value): one field each.
  absl::Status setHeader(std::string_view name, const std::vector<std::string>& values);
  // Adds a value after those already set (Node's appendHeader).
  absl::Status appendHeader(std::string_view name, std::string_view value);
  // The value set for `name` (several joined with ", "), nullopt if none.
  std::optional<std::string> getHeader(std::string_view name) const;
  // A copy of the headers set (Node's getHeaders()); after writeHead it includes :status, as Node.
  Headers getHeaders() const { return headers_; }
  std::vector<std::string> getHeaderNames() const;
  bool hasHeader(std::string_view name) const;
  // ERR_HTTP2_HEADERS_SENT after writeHead. Removing `date` turns sendDate off (as Node).
  absl::Status removeHeader(std::string_view name);
  // Node's sendDate (default true): a `date` header is added unless one is set.
  bool sendDate() const { return send_date_; }
  void setSendDate(bool send) { send_date_ = send; }
  bool headersSent() const { return stream_->headersSent(); }

  // Sends the response HEADERS: each name in `headers` replaces what setHeader() set for it
  // (several values of one name all kept, Node's array form); then :status `statusCode`.
  // No-op (OK) once the stream is closed or destroyed. Errors: ERR_HTTP2_HEADERS_SENT,
  // setHeader()'s, respond()'s (ERR_HTTP2_STATUS_INVALID for a status outside 200-599).
  absl::Status writeHead(int statusCode, const Headers& headers = {});

  // --- body ---
  // Sends the headers first if needed (writeHead(statusCode)). Returns false when the stream's
  // buffer reached its high-water mark: wait for 'drain'. After end(): `cb` gets
  // ERR_STREAM_WRITE_AFTER_END and the stream is destroyed with it; once closed:
  // ERR_HTTP2_INVALID_STREAM. Both return false.
  bool write(std::string data, WriteCallback cb = nullptr);
  // Ends the response after `data`: trailers (addTrailers) go out with the end. `cb` runs on
  // 'finish' (everything handed to framing). Again after end(): `cb` runs soon, nothing is sent.
  void end(std::string data = {}, std::function<void()> cb = nullptr);
  // Node's finished / writableEnded: end() was called.
  bool finished() const { return ending_; }
  bool writableEnded() const { return ending_; }
  // The stream's 'finish' has been emitted (everything handed to framing).
  bool writableFinished() const { return stream_finished_; }
  size_t writableLength() const { return stream_->bufferSize(); }

  // --- trailers ---
  // Sent after the body (the response always waits for trailers, as Node's). Errors:
  // setHeader()'s name and value checks.
  absl::Status setTrailer(std::string_view name, std::string_view value);
  absl::Status addTrailers(const Headers& trailers);

  // --- other ---
  // Sends 100 Continue; false if the headers were sent or the stream closed.
  bool writeContinue();
  // Node's writeEarlyHints(hints): a 103 Early Hints before the response, with every `link`
  // field of `hints` (Node's string or array: several joined with ", ") and the other fields as
  // they are. HTTP/2: an informational HEADERS; HTTP/1.1: an interim "HTTP/1.1 103 Early Hints"
  // response. Returns true if it was sent; false once the headers were sent or the stream
  // closed, and for an HTTP/1.0 client (RFC 9110 §15.2: no 1xx to HTTP/1.0). Errors, sending
  // nothing: ERR_INVALID_ARG_VALUE for a link that is not `<uri-reference>` followed by
  // `;param` / `;param=value` / `;param="value"` parts (Node's format check), or for no link at
  // all on HTTP/2 (Node's HTTP/1 ignores that: false there); the header checks of
  // additionalHeaders() for the other fields.
  absl::StatusOr<bool> writeEarlyHints(const Headers& hints);
  // Node's createPushResponse(headers, callback): pushes a stream with the promised request
  // `headers` (ServerHttp2Stream::pushStream()'s defaults and checks) and gives `callback` (from
  // the loop) a new Http2ServerResponse over it, whose req() is null; or pushStream()'s
  // asynchronous error. Once this response is closed: `callback` gets ERR_HTTP2_INVALID_STREAM.
  // Returned at once, callback not run (Node throws them): ERR_INVALID_ARG_TYPE without a
  // callback; pushStream()'s immediate errors (ERR_HTTP2_PUSH_DISABLED when the client disabled
  // push, ERR_HTTP2_NESTED_PUSH from a pushed response, header errors); ERR_HTTP2_PUSH_DISABLED
  // too for an HTTP/1 exchange, which has no push (Node's HTTP/1 response has no such method).
  absl::Status createPushResponse(const Headers& headers, PushResponseCallback callback);
  // Destroys the stream (RST_STREAM; INTERNAL_ERROR with an error).
  void destroy(absl::Status error = absl::OkStatus());
  // The stream's timeout; `callback` joins 'timeout'. No-op once closed.
  void setTimeout(uint64_t ms, std::function<void()> callback = nullptr);
  // Node's res.stream: the HTTP/2 stream; nullptr for HTTP/1.
  std::shared_ptr<ServerHttp2Stream> stream() const { return stream_->http2Stream(); }
  // The request of the same exchange; null for a pushed response (createPushResponse()).
  const std::shared_ptr<Http2ServerRequest>& req() const { return req_; }
  // Node's res.socket and res.connection (see proxy_socket.h); nullopt once the response is
  // closed (Node: undefined, as HTTP/1's ServerResponse drops its socket).
  std::optional<ProxySocket> socket() const {
    if (closed_) return std::nullopt;
    return ProxySocket(stream_);
  }
  std::optional<ProxySocket> connection() const { return socket(); }

  // --- events ---
  // 'finish' then 'close' when the stream closes (whether or not the response completed: Node's
  // compat layer emits both in any case).
  ListenerId onFinish(std::function<void()> fn) { return finish_event_.on(std::move(fn)); }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  ListenerId onDrain(std::function<void()> fn) { return drain_event_.on(std::move(fn)); }
  ListenerId onTimeout(std::function<void()> fn) { return timeout_event_.on(std::move(fn)); }
  void off(ListenerId id);

 private:
  Http2ServerResponse(std::shared_ptr<CompatStream> stream,
                      std::shared_ptr<Http2ServerRequest> req);
  void attach();
  // Node's kSetHeader / kAppendHeader after the headersSent check.
  absl::Status putHeader(std::string_view name, const std::vector<std::string>& values,
                         bool append);
  absl::Status beginSend();
  void onStreamClose();

  std::shared_ptr<CompatStream> stream_;
  std::shared_ptr<Http2ServerRequest> req_;
  EventLoop* loop_;
  Headers headers_;
  Headers trailers_;
  int status_code_ = 200;
  bool send_date_ = true;
  bool closed_ = false;
  bool ending_ = false;
  bool destroyed_ = false;
  bool stream_finished_ = false;
  bool head_request_ = false;  // Node's state.headRequest: set by end()

  Event<> finish_event_, close_event_, drain_event_, timeout_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_COMPAT_SERVER_RESPONSE_H_
