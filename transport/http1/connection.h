// transport/http1/connection.h — Http1Connection: one HTTP/1.1 connection served through the
// compatibility API (Node's allowHTTP1): each request becomes an Http2ServerRequest /
// Http2ServerResponse pair with httpVersion "1.1", over an Http1Exchange (a CompatStream).
//
// Sans-I/O: bytes come from a Socket and time from an EventLoop (MemorySocket and ManualLoop in
// tests). Keep-alive; pipelined requests are read one at a time (the next waits for the current
// response); chunked request bodies; chunked responses when no content-length is set (with
// trailers); Expect: 100-continue; HEAD, 204 and 304 without a body.
//
// Bounded memory: the request head is limited (Http1ParserOptions: 431), so is the body when
// maxBodySize is set (413); an unread body stops the socket reading at maxBufferedBody bytes, and
// bytes of pipelined requests at the same bound. Malformed input gets 400 and the connection
// closes. A connection waiting for a request head is closed after idleTimeout (408 if part of a
// head came).
//
// Threading: the loop thread only. Lifetime: shared_ptr; it keeps itself alive until its socket
// closes ('close') or abandon() (what Http1Server's destructor does), whoever holds it. The
// request and response of an exchange and the exchange keep each other until its 'close'.
#ifndef H2RPC_TRANSPORT_HTTP1_CONNECTION_H_
#define H2RPC_TRANSPORT_HTTP1_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "transport/compat/server_request.h"
#include "transport/compat/server_response.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/http1/request_parser.h"
#include "transport/socket.h"

namespace h2rpc::transport {

struct Http1Options {
  Http1ParserOptions parser;
  // ms a connection may wait for (the rest of) a request head: Node's keepAliveTimeout (5 s)
  // between requests, and its headersTimeout for the first; 0 = none.
  uint64_t idleTimeout = 5000;
  // Unread request-body bytes (and pipelined bytes) held before the socket stops reading.
  size_t maxBufferedBody = 65536;
  // Node's writableHighWaterMark: write() returns false above this many queued bytes.
  size_t highWaterMark = 16384;
};

class Http1Exchange;

class Http1Connection : public Socket::Handler,
                        private Http1RequestParser::Sink,
                        public std::enable_shared_from_this<Http1Connection> {
 public:
  using RequestHandler = std::function<void(std::shared_ptr<Http2ServerRequest>,
                                            std::shared_ptr<Http2ServerResponse>)>;

  // Serves `socket` (connected; reading may be paused); `prefix`: bytes already read from it
  // (what the server read to tell HTTP/1 from HTTP/2).
  static std::shared_ptr<Http1Connection> create(EventLoop* loop, std::unique_ptr<Socket> socket,
                                                 RequestHandler handler,
                                                 Http1Options options = {},
                                                 std::string prefix = "");
  ~Http1Connection() override;

  // Closes after the response in progress (or at once when idle).
  void close();
  // Closes at once; an exchange in progress gets 'aborted' (if its request had not ended) and
  // 'close'.
  void destroy();
  // Tears down at once without events (the owning server is destroyed, maybe with its loop):
  // the socket is destroyed, the exchange in progress drops its listeners.
  void abandon();
  bool closed() const { return closed_; }
  // close() was called while an exchange was in progress: the connection goes after it.
  bool closing() const { return closing_; }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  Socket* socket() const { return socket_.get(); }
  EventLoop* loop() const { return loop_; }
  uint64_t requestsServed() const { return requests_; }

  // Socket::Handler
  void onSocketConnect() override {}
  void onSocketData(std::string_view data) override;
  void onSocketDrain() override;
  void onSocketClose(absl::Status status) override;

 private:
  friend class Http1Exchange;
  Http1Connection(EventLoop* loop, std::unique_ptr<Socket> socket, RequestHandler handler,
                  Http1Options options);
  void start(std::string prefix);
  // Feeds buffered bytes to the parser while no exchange is waiting for its response.
  void process();
  // A bad request: `status` with connection: close, then close.
  void reject(int status);
  // The exchange's response is complete: next request, or close.
  void exchangeDone(bool keepAlive);
  void updateReading();
  bool exchange_busy() const;
  void armIdleTimer();
  void finishClose();

  // Http1RequestParser::Sink
  void onRequestHead(Http1RequestHead head) override;
  void onRequestBody(std::string_view chunk) override;
  void onRequestComplete(Headers trailers) override;

  EventLoop* loop_;
  std::unique_ptr<Socket> socket_;
  RequestHandler handler_;
  Http1Options options_;
  Http1RequestParser parser_;
  std::string inbuf_;  // received, not parsed yet
  std::shared_ptr<Http1Exchange> exchange_;
  std::shared_ptr<Http1Connection> self_;  // alive until closed
  std::unique_ptr<Timer> idle_timer_;
  bool reading_paused_ = false;
  bool closing_ = false;  // close after the current response
  bool closed_ = false;
  bool processing_ = false;
  uint64_t requests_ = 0;
  Event<> close_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_HTTP1_CONNECTION_H_
