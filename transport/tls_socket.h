// transport/tls_socket.h — TLS over any Socket: a TlsEngine (tls.h) between a lower byte stream
// (a UvSocket in programs, a MemorySocket in tests) and the socket's own Handler (a session).
//
//   lower ciphertext → TlsEngine::feedCiphertext → plaintext → Handler::onSocketData
//   write(plaintext) → TlsEngine::writePlaintext → ciphertext → lower->write
//
// Events (all from the loop, never inside a call into this socket):
//   - onSocketConnect once the TLS handshake is done (the lower socket's connect starts it: a
//     client then sends its ClientHello). alpnProtocol(), protocolVersion(), verifyResult() are
//     set from then on.
//   - onSocketData with the decrypted bytes, in order.
//   - onSocketDrain when the lower socket drained (after onSocketConnect only).
//   - onSocketClose(OK) when the peer sent close_notify or the lower socket closed after the
//     handshake, once all the plaintext received has been delivered (not while paused). We answer
//     the peer's close_notify with ours and end the lower socket (Node's allowHalfOpen = false).
//   - onSocketClose(error) on a TLS failure: the engine's Status (kUnauthenticated: the peer's
//     certificate failed verification; kUnavailable: any other TLS failure, e.g. garbage bytes or
//     an alert from the peer), after which the lower socket is destroyed (the alert the engine
//     produced is written first). A lower socket that closes before the handshake is done is a
//     kUnavailable error too (Node: "socket disconnected before secure TLS connection was
//     established"); an error from the lower socket is passed on as is.
//   - destroy() closes at once and, as UvSocket (socket.h), does not tell the handler.
//   - A handler that hands the socket over to another handler on onSocketConnect (a server
//     waiting for the ALPN result) should pauseReading() there until the new handler is set and
//     calls resumeReading(); plaintext received meanwhile is held. (Plaintext that arrived with
//     the end of the handshake is delivered on a later loop turn than onSocketConnect anyway.)
//
// Backpressure: pauseReading() pauses the lower socket. Plaintext that the engine still decrypts
// from the lower read in progress is held (at most what that read produced) and delivered, in
// order, from the loop after resumeReading(), before the lower socket is resumed.
//
// Threading: loop thread only. Lifetime: the handler may destroy the TlsSocket from inside any of
// its callbacks. The loop must outlive the socket.
#ifndef H2RPC_TRANSPORT_TLS_SOCKET_H_
#define H2RPC_TRANSPORT_TLS_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/event_loop.h"
#include "transport/socket.h"
#include "transport/tls.h"

namespace h2rpc::transport {

class TlsSocket : public Socket, private Socket::Handler {
 public:
  // Wraps `lower` (connected or connecting; it becomes this socket's and gets it as its handler).
  // `ctx` must have been made for the same role (TlsContext::createServer for isServer).
  // `servername` (client only): SNI and name to verify, instead of the context's servername.
  // Errors: kInvalidArgument for a null argument, a context of the other role or a bad servername.
  static absl::StatusOr<std::unique_ptr<TlsSocket>> create(EventLoop* loop,
                                                           std::unique_ptr<Socket> lower,
                                                           std::shared_ptr<TlsContext> ctx,
                                                           bool isServer,
                                                           std::string servername = "");
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;
  ~TlsSocket() override;

  // --- Socket ---
  void setHandler(Socket::Handler* handler) override;
  void write(std::string data) override;
  // Ciphertext queued in the lower socket plus ciphertext still inside the engine.
  size_t writeQueueSize() const override;
  void pauseReading() override;
  void resumeReading() override;
  // Sends close_notify (after the handshake and the data written before it), then ends the lower
  // socket. Reading continues until the peer's close_notify or the lower socket's close.
  void end() override;
  // Destroys the lower socket at once (no close_notify); no handler callback follows.
  void destroy() override;
  // True until onSocketConnect was delivered (the handshake is done then), even after a close:
  // a session created on a socket whose connect a previous handler got starts by itself.
  bool connecting() const override;
  bool encrypted() const override { return true; }
  // The negotiated ALPN protocol ("h2"), "" when none was negotiated (or before the handshake).
  std::string alpnProtocol() const override;
  std::string remoteAddress() const override;
  uint16_t remotePort() const override;
  std::string localAddress() const override;
  uint16_t localPort() const override;
  void ref() override;
  void unref() override;

  // --- TLS state (see TlsEngine) ---
  bool isServer() const { return is_server_; }
  bool handshakeDone() const;
  // Server: the ALPN protocols the client offered (empty: none).
  std::vector<std::string> clientAlpnProtocols() const;
  // "TLSv1.2" / "TLSv1.3"; "" before the handshake is done.
  std::string protocolVersion() const;
  std::string cipherName() const;
  // Server: the SNI the client sent. Client: the name it sent/checks.
  std::string servername() const override;
  // OkStatus if the peer's certificate verified; kUnauthenticated with the reason otherwise;
  // kFailedPrecondition before the handshake.
  absl::Status verifyResult() const;
  // Node's tlsSocket.getPeerCertificate(), .authorized and .authorizationError (see TlsEngine).
  std::optional<PeerCertificate> getPeerCertificate() const;
  bool authorized() const;
  std::string authorizationError() const;
  // Node's tlsSocket.isSessionReused() and getSession() (see TlsEngine). For Node's 'session'
  // event set engine()->onSession (the one engine callback this class leaves to the caller).
  bool isSessionReused() const;
  std::string getSession() const;
  // The error that closed the socket (OkStatus while healthy or after a clean close).
  absl::Status error() const { return error_; }

  // The engine, for what this class does not expose. Do not set its callbacks, except onSession.
  TlsEngine* engine() const { return engine_.get(); }

 private:
  TlsSocket(EventLoop* loop, std::unique_ptr<Socket> lower, bool is_server);

  // Socket::Handler of the lower socket.
  void onSocketConnect() override;
  void onSocketData(std::string_view data) override;
  void onSocketDrain() override;
  void onSocketClose(absl::Status status) override;

  // Engine callbacks.
  void onEnginePlaintext(std::string_view data);
  void onEngineCiphertext(std::string data);

  // Ends the TLS layer with `status`: the lower socket is detached (destroyed on an error, ended
  // on a clean close) and onSocketClose(status) becomes due.
  void finish(absl::Status status);
  // After an engine call: handles its error, a close_notify received, a deferred lower end().
  void afterEngineCall(const absl::Status& status);
  // Delivers what is due to the handler (connect, held plaintext, close) and resumes the lower
  // socket when appropriate. Loop context only: never inside a call into this socket. The handler
  // is called from here only (never from inside an engine call).
  void pump();
  void schedulePump();
  // Detaches the lower socket's handler and closes it (destroy, or end to flush).
  void releaseLower(bool destroy);

  EventLoop* const loop_;
  std::unique_ptr<Socket> lower_;
  std::unique_ptr<TlsEngine> engine_;
  const bool is_server_;
  Socket::Handler* handler_ = nullptr;

  std::string outbox_;                  // ciphertext produced before the lower socket connected
  std::string held_;                    // plaintext not yet delivered to the handler
  std::optional<absl::Status> close_;   // onSocketClose due with this status
  absl::Status error_;
  bool lower_attached_ = false;         // we are lower_'s handler
  bool lower_connected_ = false;        // lower_ reported onSocketConnect
  bool discard_ = false;                // destroy() or an error: drop what is still decrypted
  bool connect_delivered_ = false;
  bool close_delivered_ = false;
  bool paused_ = false;
  bool lower_paused_ = false;
  bool ended_ = false;                  // end() called
  bool lower_end_pending_ = false;      // end() before the handshake: end lower after close_notify
  bool peer_closed_ = false;            // close_notify received
  bool pump_scheduled_ = false;
  int in_lower_callback_ = 0;           // depth of lower_ → this callbacks on the stack
  // Set to false by the destructor: callbacks notice that the handler destroyed us.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_TLS_SOCKET_H_
