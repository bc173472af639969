// transport/internal/prefixed_socket.h — PrefixedSocket: a Socket whose first bytes were already
// read (by the server telling HTTP/2 from HTTP/1, server.cc) and are given to the handler again,
// before anything else the socket reads.
//
// Threading: the loop thread. Lifetime: owns the inner socket; its handler rules are Socket's.
#ifndef H2RPC_TRANSPORT_INTERNAL_PREFIXED_SOCKET_H_
#define H2RPC_TRANSPORT_INTERNAL_PREFIXED_SOCKET_H_

#include <memory>
#include <string>
#include <utility>

#include "transport/event_loop.h"
#include "transport/socket.h"

namespace h2rpc::transport {

class PrefixedSocket : public Socket, private Socket::Handler {
 public:
  // `inner` should have its reading paused; it resumes once the prefix has been delivered.
  PrefixedSocket(EventLoop* loop, std::unique_ptr<Socket> inner, std::string prefix)
      : loop_(loop), inner_(std::move(inner)), prefix_(std::move(prefix)) {
    inner_->setHandler(this);
  }
  ~PrefixedSocket() override {
    *alive_ = false;
    inner_->setHandler(nullptr);
  }

  void setHandler(Socket::Handler* handler) override {
    handler_ = handler;
    if (handler_ && !prefix_.empty() && !scheduled_) {
      // From the loop, never inside the caller's setHandler().
      scheduled_ = true;
      std::weak_ptr<bool> alive = alive_;
      loop_->post([this, alive] {
        if (alive.expired()) return;
        std::string bytes = std::move(prefix_);
        prefix_.clear();
        if (!paused_) inner_->resumeReading();
        if (handler_) handler_->onSocketData(bytes);
      });
    }
  }
  void write(std::string data) override { inner_->write(std::move(data)); }
  void writev(std::vector<SharedBuffer> buffers) override { inner_->writev(std::move(buffers)); }
  size_t writeQueueSize() const override { return inner_->writeQueueSize(); }
  bool canSendFile() const override { return inner_->canSendFile(); }
  void sendFile(FileRegion region) override { inner_->sendFile(std::move(region)); }
  void pauseReading() override {
    paused_ = true;
    inner_->pauseReading();
  }
  void resumeReading() override {
    paused_ = false;
    if (prefix_.empty()) inner_->resumeReading();  // else once the prefix is delivered
  }
  void end() override { inner_->end(); }
  void destroy() override { inner_->destroy(); }
  bool connecting() const override { return inner_->connecting(); }
  bool encrypted() const override { return inner_->encrypted(); }
  std::string alpnProtocol() const override { return inner_->alpnProtocol(); }
  std::string remoteAddress() const override { return inner_->remoteAddress(); }
  uint16_t remotePort() const override { return inner_->remotePort(); }
  std::string localAddress() const override { return inner_->localAddress(); }
  uint16_t localPort() const override { return inner_->localPort(); }
  std::string servername() const override { return inner_->servername(); }
  void ref() override { inner_->ref(); }
  void unref() override { inner_->unref(); }

 private:
  void onSocketConnect() override {
    if (handler_) handler_->onSocketConnect();
  }
  void onSocketData(std::string_view data) override {
    if (handler_) handler_->onSocketData(data);
  }
  void onSocketBuffer(const SharedBuffer& data) override {
    if (handler_) handler_->onSocketBuffer(data);
  }
  void onSocketDrain() override {
    if (handler_) handler_->onSocketDrain();
  }
  void onSocketClose(absl::Status status) override {
    if (handler_) handler_->onSocketClose(std::move(status));
  }

  EventLoop* loop_;
  std::unique_ptr<Socket> inner_;
  std::string prefix_;
  Socket::Handler* handler_ = nullptr;
  bool paused_ = false;
  bool scheduled_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_INTERNAL_PREFIXED_SOCKET_H_
