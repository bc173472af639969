#include "transport/tls_socket.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace h2rpc::transport {
namespace {

// Counts the lower socket's callbacks on the stack (the handler may destroy us inside them: then
// the lower socket, whose callback is still running, must not be deleted before it returns).
class LowerCallbackScope {
 public:
  LowerCallbackScope(int* depth, std::shared_ptr<bool> alive)
      : depth_(depth), alive_(std::move(alive)) {
    ++*depth_;
  }
  ~LowerCallbackScope() {
    if (*alive_) --*depth_;
  }
  LowerCallbackScope(const LowerCallbackScope&) = delete;
  LowerCallbackScope& operator=(const LowerCallbackScope&) = delete;
  bool alive() const { return *alive_; }

 private:
  int* depth_;
  std::shared_ptr<bool> alive_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TlsSocket>> TlsSocket::create(EventLoop* loop,
                                                             std::unique_ptr<Socket> lower,
                                                             std::shared_ptr<TlsContext> ctx,
                                                             bool isServer,
                                                             std::string servername) {
  if (loop == nullptr) return absl::InvalidArgumentError("TlsSocket: no event loop");
  if (!lower) return absl::InvalidArgumentError("TlsSocket: no lower socket");
  if (!ctx) return absl::InvalidArgumentError("TlsSocket: no TLS context");
  if (ctx->isServer() != isServer) {
    return absl::InvalidArgumentError(
        isServer ? "TlsSocket: a server socket needs a context from TlsContext::createServer()"
                 : "TlsSocket: a client socket needs a context from TlsContext::createClient()");
  }
  if (isServer && !servername.empty()) {
    return absl::InvalidArgumentError("TlsSocket: servername is for client sockets only");
  }
  std::unique_ptr<TlsEngine> engine = TlsEngine::create(std::move(ctx), isServer);
  if (!engine) return absl::ResourceExhaustedError("TlsSocket: cannot create the TLS engine");
  if (!servername.empty()) {
    if (absl::Status s = engine->setServername(std::move(servername)); !s.ok()) return s;
  }

  std::unique_ptr<TlsSocket> socket(new TlsSocket(loop, std::move(lower), isServer));
  TlsSocket* self = socket.get();
  engine->onPlaintext = [self](std::string_view data) { self->onEnginePlaintext(data); };
  engine->onCiphertext = [self](std::string data) { self->onEngineCiphertext(std::move(data)); };
  engine->onCloseNotify = [self] { self->peer_closed_ = true; };
  // An SNICallback answered later: go on with the handshake from the loop.
  engine->onResume = [self] {
    std::weak_ptr<bool> weak = self->alive_;
    self->loop_->post([self, weak] {
      std::shared_ptr<bool> alive = weak.lock();
      if (!alive || !*alive || self->close_) return;
      self->afterEngineCall(self->engine_->resume());
      if (*alive) self->pump();
    });
  };
  socket->engine_ = std::move(engine);
  // A client queues its ClientHello now (sent when the lower socket connects); this also checks
  // the servername.
  if (absl::Status s = socket->engine_->start(); !s.ok()) return s;
  socket->lower_attached_ = true;
  socket->lower_->setHandler(self);
  return socket;
}

TlsSocket::TlsSocket(EventLoop* loop, std::unique_ptr<Socket> lower, bool is_server)
    : loop_(loop), lower_(std::move(lower)), is_server_(is_server) {}

TlsSocket::~TlsSocket() {
  *alive_ = false;
  handler_ = nullptr;
  if (lower_) {
    if (lower_attached_) lower_->setHandler(nullptr);
    lower_attached_ = false;
    if (in_lower_callback_ > 0) {
      // We are being destroyed from inside one of lower_'s callbacks: it is still on the stack,
      // so close it now and delete it once that callback has returned.
      lower_->destroy();
      std::shared_ptr<Socket> keep(std::move(lower_));
      loop_->post([keep] {});
    }
  }
  // The engine never has a call in progress here: the handler is only called from pump(), outside
  // engine calls.
  engine_.reset();
  lower_.reset();
}

// ------------------------------------------------------------------------------------------------
// Socket

void TlsSocket::setHandler(Socket::Handler* handler) {
  handler_ = handler;
  if (handler_ != nullptr) schedulePump();
}

void TlsSocket::write(std::string data) {
  if (ended_ || close_ || data.empty()) return;
  absl::Status s = engine_->writePlaintext(data);
  if (!s.ok()) {
    finish(std::move(s));
    schedulePump();
  }
}

size_t TlsSocket::writeQueueSize() const {
  size_t n = outbox_.size() + engine_->pendingCiphertextBytes();
  if (lower_ && lower_attached_) n += lower_->writeQueueSize();
  return n;
}

void TlsSocket::pauseReading() {
  paused_ = true;
  if (!lower_paused_ && lower_attached_) {
    lower_paused_ = true;
    lower_->pauseReading();
  }
}

void TlsSocket::resumeReading() {
  if (!paused_) return;
  paused_ = false;
  // The plaintext held while paused goes first, from the loop; pump() then resumes lower_.
  schedulePump();
}

void TlsSocket::end() {
  if (ended_ || close_) return;
  ended_ = true;
  engine_->shutdown();
  if (engine_->closeNotifySent() && lower_connected_) {
    lower_->end();
  } else {
    // Before the handshake is done, close_notify follows it (and the data written meanwhile).
    lower_end_pending_ = true;
  }
  if (!engine_->error().ok()) {
    finish(engine_->error());
    schedulePump();
  }
}

void TlsSocket::destroy() {
  // As UvSocket (socket.h): the owner asked for it, its handler is not told.
  discard_ = true;
  held_.clear();
  if (!close_) close_ = absl::OkStatus();
  close_delivered_ = true;
  handler_ = nullptr;
  releaseLower(/*destroy=*/true);
}

bool TlsSocket::connecting() const { return !connect_delivered_; }

std::string TlsSocket::alpnProtocol() const { return engine_->alpnProtocol(); }

std::string TlsSocket::remoteAddress() const { return lower_ ? lower_->remoteAddress() : ""; }

uint16_t TlsSocket::remotePort() const { return lower_ ? lower_->remotePort() : 0; }

std::string TlsSocket::localAddress() const { return lower_ ? lower_->localAddress() : ""; }

uint16_t TlsSocket::localPort() const { return lower_ ? lower_->localPort() : 0; }

void TlsSocket::ref() {
  if (lower_) lower_->ref();
}

void TlsSocket::unref() {
  if (lower_) lower_->unref();
}

bool TlsSocket::handshakeDone() const { return engine_->handshakeDone(); }

std::vector<std::string> TlsSocket::clientAlpnProtocols() const {
  return engine_->clientAlpnProtocols();
}

std::string TlsSocket::protocolVersion() const { return engine_->protocolVersion(); }

std::string TlsSocket::cipherName() const { return engine_->cipherName(); }

std::string TlsSocket::servername() const { return engine_->servername(); }

absl::Status TlsSocket::verifyResult() const { return engine_->verifyResult(); }

std::optional<PeerCertificate> TlsSocket::getPeerCertificate() const {
  return engine_->peerCertificate();
}

bool TlsSocket::authorized() const { return engine_->authorized(); }

std::string TlsSocket::authorizationError() const { return engine_->authorizationError(); }
bool TlsSocket::isSessionReused() const { return engine_->isSessionReused(); }
std::string TlsSocket::getSession() const { return engine_->getSession(); }

// ------------------------------------------------------------------------------------------------
// The lower socket's events

void TlsSocket::onSocketConnect() {
  LowerCallbackScope scope(&in_lower_callback_, alive_);
  if (close_) return;
  lower_connected_ = true;
  if (!outbox_.empty()) {
    std::string hello = std::move(outbox_);
    outbox_ = std::string();
    lower_->write(std::move(hello));
  }
  afterEngineCall(engine_->start());
  pump();
}

void TlsSocket::onSocketData(std::string_view data) {
  LowerCallbackScope scope(&in_lower_callback_, alive_);
  if (close_ && (discard_ || !close_->ok())) return;
  if (!lower_connected_) {
    // A lower socket that delivers data before its connect event: treat it as connected.
    lower_connected_ = true;
    if (!outbox_.empty()) {
      std::string hello = std::move(outbox_);
      outbox_ = std::string();
      lower_->write(std::move(hello));
    }
  }
  // Never calls the handler: plaintext goes to held_, delivered by pump() below.
  absl::Status s = engine_->feedCiphertext(data);
  afterEngineCall(s);
  pump();
}

void TlsSocket::onSocketDrain() {
  LowerCallbackScope scope(&in_lower_callback_, alive_);
  if (handler_ != nullptr && connect_delivered_ && !close_) handler_->onSocketDrain();
}

void TlsSocket::onSocketClose(absl::Status status) {
  LowerCallbackScope scope(&in_lower_callback_, alive_);
  lower_attached_ = false;  // a socket calls no one after onSocketClose
  if (!close_) {
    if (!status.ok()) {
      finish(std::move(status));
    } else if (!engine_->handshakeDone()) {
      std::string message = "TLS: the connection closed before the handshake completed";
      if (!is_server_ && !engine_->servername().empty()) {
        message += " (servername '" + engine_->servername() + "')";
      }
      finish(absl::UnavailableError(message));
    } else {
      finish(absl::OkStatus());
    }
  }
  pump();
}

// ------------------------------------------------------------------------------------------------
// Engine callbacks (never call the handler from these)

void TlsSocket::onEnginePlaintext(std::string_view data) {
  if (discard_) return;
  held_.append(data.data(), data.size());
}

void TlsSocket::onEngineCiphertext(std::string data) {
  if (!lower_connected_) {
    outbox_ += data;
    return;
  }
  if (lower_ && lower_attached_) lower_->write(std::move(data));
}

// ------------------------------------------------------------------------------------------------

void TlsSocket::afterEngineCall(const absl::Status& status) {
  if (close_) return;
  if (!status.ok()) {
    finish(status);
    return;
  }
  if (lower_end_pending_ && engine_->closeNotifySent() && lower_connected_) {
    lower_end_pending_ = false;
    lower_->end();
  }
  if (peer_closed_) {
    // Node's allowHalfOpen = false: answer close_notify with ours and end the connection.
    if (!ended_) {
      ended_ = true;
      engine_->shutdown();
    }
    finish(absl::OkStatus());
  }
}

void TlsSocket::finish(absl::Status status) {
  if (close_) return;
  const bool failed = !status.ok();
  if (failed) {
    error_ = status;
    discard_ = true;
    held_.clear();
  }
  close_ = std::move(status);
  // On an error, the engine has already handed its alert to lower_->write().
  releaseLower(/*destroy=*/failed);
}

void TlsSocket::releaseLower(bool destroy) {
  if (!lower_) return;
  if (lower_attached_) {
    lower_->setHandler(nullptr);
    lower_attached_ = false;
    if (destroy) {
      lower_->destroy();
    } else {
      lower_->end();
    }
  } else if (destroy) {
    lower_->destroy();
  }
}

void TlsSocket::schedulePump() {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  std::weak_ptr<bool> weak = alive_;
  loop_->post([this, weak] {
    std::shared_ptr<bool> alive = weak.lock();
    if (!alive || !*alive) return;
    pump_scheduled_ = false;
    pump();
  });
}

void TlsSocket::pump() {
  if (close_delivered_ || handler_ == nullptr) return;
  std::shared_ptr<bool> alive = alive_;
  const bool failed = close_ && !close_->ok();
  if (!connect_delivered_ && engine_->handshakeDone() && !failed && !discard_) {
    connect_delivered_ = true;
    handler_->onSocketConnect();
    if (!*alive || close_delivered_ || handler_ == nullptr) return;
    if (!held_.empty() || close_) {
      // What follows goes out on a later turn of the loop: a handler that hands the socket over
      // to another one on onSocketConnect (a server waiting for ALPN) gets the chance to do so.
      schedulePump();
      return;
    }
  }
  if (connect_delivered_ && !paused_ && !held_.empty() && !discard_) {
    std::string data = std::move(held_);
    held_ = std::string();
    handler_->onSocketData(data);
    if (!*alive || close_delivered_ || handler_ == nullptr) return;
  }
  if (close_ && (!close_->ok() || discard_ || (held_.empty() && !paused_))) {
    close_delivered_ = true;
    Socket::Handler* handler = handler_;
    handler_ = nullptr;
    handler->onSocketClose(*close_);
    return;
  }
  if (!close_ && !paused_ && lower_paused_ && held_.empty() && lower_attached_) {
    lower_paused_ = false;
    lower_->resumeReading();
  }
}

}  // namespace h2rpc::transport
