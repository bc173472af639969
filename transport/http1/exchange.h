// transport/http1/exchange.h — Http1Exchange: one HTTP/1.1 request and its response, as a
// CompatStream for Http2ServerRequest/Http2ServerResponse (see connection.h).
//
// Threading: the loop thread only. Lifetime: shared_ptr; the connection holds it until its
// response is complete; events are posted, never run inside a call.
#ifndef H2RPC_TRANSPORT_HTTP1_EXCHANGE_H_
#define H2RPC_TRANSPORT_HTTP1_EXCHANGE_H_

#include <memory>
#include <string>

#include "transport/compat/compat_stream.h"
#include "transport/fifo.h"
#include "transport/http1/request_parser.h"

namespace h2rpc::transport {

class Http1Connection;

class Http1Exchange : public CompatStream, public std::enable_shared_from_this<Http1Exchange> {
 public:
  Http1Exchange(Http1Connection* connection, const Http1RequestHead& head);

  bool headersSent() const override { return headers_sent_; }
  bool destroyed() const override { return destroyed_; }
  bool closed() const override { return closed_; }
  bool headRequest() const override { return head_request_; }
  bool writableEnded() const override { return ending_; }
  size_t bufferSize() const override;
  absl::Status respond(const Headers& headers, RespondOptions options) override;
  absl::Status additionalHeaders(const Headers& headers) override;
  bool write(std::string data, WriteCallback cb) override;
  void end() override;
  absl::Status sendTrailers(const Headers& trailers) override;
  void pause() override { flowing_ = false; }
  void resume() override;
  void destroy(absl::Status error) override;
  void setTimeout(uint64_t ms) override;
  EventLoop* loop() const override { return loop_; }
  std::string remoteAddress() const override;
  uint16_t remotePort() const override;
  bool encrypted() const override;
  std::string alpnProtocol() const override;
  std::string httpVersion() const override { return http_version_; }
  const Socket* socket() const override;

  ListenerId onData(std::function<void(std::string_view)> fn) override;
  ListenerId onEnd(std::function<void()> fn) override { return end_event_.on(std::move(fn)); }
  ListenerId onTrailers(std::function<void(const Headers&)> fn) override {
    return trailers_event_.on(std::move(fn));
  }
  ListenerId onAborted(std::function<void()> fn) override {
    return aborted_event_.on(std::move(fn));
  }
  ListenerId onTimeout(std::function<void()> fn) override {
    return timeout_event_.on(std::move(fn));
  }
  ListenerId onClose(std::function<void()> fn) override { return close_event_.on(std::move(fn)); }
  ListenerId onDrain(std::function<void()> fn) override { return drain_event_.on(std::move(fn)); }
  ListenerId onFinish(std::function<void()> fn) override {
    return finish_event_.on(std::move(fn));
  }
  ListenerId onWantTrailers(std::function<void()> fn) override {
    return want_trailers_event_.on(std::move(fn));
  }

  // --- from the connection ---
  void receiveBody(std::string_view chunk);
  void receiveComplete(Headers trailers);
  // The connection is gone (peer close, error, destroy): 'aborted' if the request had not
  // ended, then 'close'.
  void connectionClosed();
  // The connection is being torn down without a loop to run events (its server is destroyed):
  // lets go of the connection and drops every listener, emitting nothing.
  void detach();
  // Unread request-body bytes (the connection stops reading above its bound).
  size_t unreadBytes() const { return inbox_bytes_; }
  bool requestComplete() const { return request_complete_; }
  bool responseComplete() const { return finished_; }
  bool keepAlive() const { return keep_alive_; }
  void socketDrained();

 private:
  void deliver();  // request body/end to listeners while flowing
  void scheduleDeliver();
  // The last bytes of the response went to the socket.
  void finishResponse();
  void emitClose();
  void touch();  // activity: restarts setTimeout's timer
  bool writeRaw(std::string bytes);

  Http1Connection* connection_;  // null once the connection let go of the exchange
  EventLoop* loop_;
  std::string http_version_;
  bool head_request_;
  bool keep_alive_;
  bool request_complete_ = false;
  bool end_delivered_ = false;
  Headers request_trailers_;
  Fifo<std::string> inbox_;
  size_t inbox_bytes_ = 0;
  bool flowing_ = false;
  bool deliver_scheduled_ = false;

  bool headers_sent_ = false;
  bool chunked_ = false;
  bool no_body_ = false;
  bool wait_for_trailers_ = false;
  bool ending_ = false;
  bool finished_ = false;
  bool need_drain_ = false;
  bool closed_ = false;
  bool destroyed_ = false;
  bool aborted_ = false;
  std::unique_ptr<Timer> timer_;
  uint64_t timeout_ms_ = 0;

  Event<std::string_view> data_event_;
  Event<const Headers&> trailers_event_;
  Event<> end_event_, aborted_event_, timeout_event_, close_event_, drain_event_, finish_event_,
      want_trailers_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_HTTP1_EXCHANGE_H_
