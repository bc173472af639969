// transport/compat/compat_stream.h — CompatStream: what Http2ServerRequest/Http2ServerResponse
// need from one request/response exchange, so that the same objects serve an HTTP/2 stream
// (Http2CompatStream, over a ServerHttp2Stream) and an HTTP/1.1 exchange (transport/http1/,
// Node's allowHTTP1). The names and semantics are Http2Stream's.
//
// Threading: the loop thread only. Lifetime: shared_ptr, held by the request and response; the
// listeners given to on*() are dropped after 'close'.
#ifndef H2RPC_TRANSPORT_COMPAT_COMPAT_STREAM_H_
#define H2RPC_TRANSPORT_COMPAT_COMPAT_STREAM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/headers.h"
#include "transport/socket.h"
#include "transport/stream.h"

namespace h2rpc::transport {

class CompatStream {
 public:
  virtual ~CompatStream() = default;

  // --- state ---
  virtual bool headersSent() const = 0;
  virtual bool destroyed() const = 0;
  virtual bool closed() const = 0;
  virtual bool headRequest() const = 0;
  virtual bool writableEnded() const = 0;
  virtual size_t bufferSize() const = 0;

  // --- writable side ---
  // `headers` carries :status; RespondOptions as ServerHttp2Stream::respond().
  virtual absl::Status respond(const Headers& headers, RespondOptions options) = 0;
  // A 1xx response (100 Continue) before respond().
  virtual absl::Status additionalHeaders(const Headers& headers) = 0;
  virtual bool write(std::string data, WriteCallback cb) = 0;
  virtual void end() = 0;
  // After 'wantTrailers'.
  virtual absl::Status sendTrailers(const Headers& trailers) = 0;

  // --- readable side and the rest ---
  virtual void pause() = 0;
  virtual void resume() = 0;
  virtual void destroy(absl::Status error) = 0;
  virtual void setTimeout(uint64_t ms) = 0;

  // --- the connection ---
  // The loop events are posted to (nullptr once the connection is gone).
  virtual EventLoop* loop() const = 0;
  virtual std::string remoteAddress() const = 0;
  virtual uint16_t remotePort() const = 0;
  virtual bool encrypted() const = 0;
  virtual std::string alpnProtocol() const = 0;
  // "2.0" or "1.1" (Node's req.httpVersion).
  virtual std::string httpVersion() const = 0;
  // The HTTP/2 stream under it (Node's req.stream); nullptr for HTTP/1.
  virtual std::shared_ptr<ServerHttp2Stream> http2Stream() const { return nullptr; }
  // The connection's socket (ProxySocket's local address, TLS certificate); nullptr once the
  // connection is gone.
  virtual const Socket* socket() const { return nullptr; }

  // --- events (Http2Stream's) ---
  virtual ListenerId onData(std::function<void(std::string_view)> fn) = 0;
  virtual ListenerId onEnd(std::function<void()> fn) = 0;
  virtual ListenerId onTrailers(std::function<void(const Headers&)> fn) = 0;
  virtual ListenerId onAborted(std::function<void()> fn) = 0;
  virtual ListenerId onTimeout(std::function<void()> fn) = 0;
  virtual ListenerId onClose(std::function<void()> fn) = 0;
  virtual ListenerId onDrain(std::function<void()> fn) = 0;
  virtual ListenerId onFinish(std::function<void()> fn) = 0;
  virtual ListenerId onWantTrailers(std::function<void()> fn) = 0;
};

// The HTTP/2 exchange: a ServerHttp2Stream.
class Http2CompatStream : public CompatStream {
 public:
  explicit Http2CompatStream(std::shared_ptr<ServerHttp2Stream> stream);

  bool headersSent() const override { return stream_->headersSent(); }
  bool destroyed() const override { return stream_->destroyed(); }
  bool closed() const override { return stream_->closed(); }
  bool headRequest() const override { return stream_->headRequest(); }
  bool writableEnded() const override { return stream_->writableEnded(); }
  size_t bufferSize() const override { return stream_->bufferSize(); }
  absl::Status respond(const Headers& headers, RespondOptions options) override {
    return stream_->respond(headers, options);
  }
  absl::Status additionalHeaders(const Headers& headers) override {
    return stream_->additionalHeaders(headers);
  }
  bool write(std::string data, WriteCallback cb) override {
    return stream_->write(std::move(data), std::move(cb));
  }
  void end() override { stream_->end(); }
  absl::Status sendTrailers(const Headers& trailers) override {
    return stream_->sendTrailers(trailers);
  }
  void pause() override { stream_->pause(); }
  void resume() override { stream_->resume(); }
  void destroy(absl::Status error) override { stream_->destroy(std::move(error)); }
  void setTimeout(uint64_t ms) override { stream_->setTimeout(ms); }
  EventLoop* loop() const override { return loop_; }
  std::string remoteAddress() const override;
  uint16_t remotePort() const override;
  bool encrypted() const override;
  std::string alpnProtocol() const override;
  std::string httpVersion() const override { return "2.0"; }
  std::shared_ptr<ServerHttp2Stream> http2Stream() const override { return stream_; }
  const Socket* socket() const override;

  ListenerId onData(std::function<void(std::string_view)> fn) override {
    return stream_->onData(std::move(fn));
  }
  ListenerId onEnd(std::function<void()> fn) override { return stream_->onEnd(std::move(fn)); }
  ListenerId onTrailers(std::function<void(const Headers&)> fn) override {
    return stream_->onTrailers([fn = std::move(fn)](const Headers& h, uint8_t) { fn(h); });
  }
  ListenerId onAborted(std::function<void()> fn) override {
    return stream_->onAborted(std::move(fn));
  }
  ListenerId onTimeout(std::function<void()> fn) override {
    return stream_->onTimeout(std::move(fn));
  }
  ListenerId onClose(std::function<void()> fn) override { return stream_->onClose(std::move(fn)); }
  ListenerId onDrain(std::function<void()> fn) override { return stream_->onDrain(std::move(fn)); }
  ListenerId onFinish(std::function<void()> fn) override {
    return stream_->onFinish(std::move(fn));
  }
  ListenerId onWantTrailers(std::function<void()> fn) override {
    return stream_->onWantTrailers(std::move(fn));
  }

 private:
  std::shared_ptr<ServerHttp2Stream> stream_;
  EventLoop* loop_;  // the session's, kept: the stream forgets its session when destroyed
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_COMPAT_COMPAT_STREAM_H_
