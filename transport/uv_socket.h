// transport/uv_socket.h — a TCP or Unix domain Socket on a libuv loop (TCP_NODELAY on, as
// Node's http2 does). connect() tries every address of the host in order (Node's net.connect()
// with autoSelectFamily, sequentially): a refused first address falls to the next one.
//
// end() is a lingering close: the queued bytes, then our FIN (shutdown of the write side; TLS
// sends close_notify before it), then input is read — and dropped once nobody handles it — until
// the peer's FIN, for at most UvLoopOptions::lingerMillis (2 s) from end() and lingerMaxBytes
// (1 MiB); only then is the socket closed. A socket closed with unread input makes the kernel
// send a TCP RST, and a peer that gets one may never read our last frames (the GOAWAY). The
// lingering socket outlives the UvSocket object (destroy() after end() does not cut it short)
// and keeps the loop running until it closes; a loop destroyed first closes it.
//
// Threading: the loop's thread only. Lifetime: the object may be destroyed at any time, even from
// inside its own handler's callbacks; libuv memory is released after libuv is done with it.
#ifndef H2RPC_TRANSPORT_UV_SOCKET_H_
#define H2RPC_TRANSPORT_UV_SOCKET_H_

#include <uv.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "transport/socket.h"
#include "transport/socket_address.h"
#include "transport/uv_loop.h"

namespace h2rpc::transport {

class UvSocket : public Socket {
 public:
  // Resolves `host` (with `lookup`, Node's option, or dnsLookup()) and connects to the addresses
  // in order; connecting() until onSocketConnect, or onSocketClose with the error: the lookup's
  // (getaddrinfo ENOTFOUND host) or the last address's (connect ECONNREFUSED 127.0.0.1:1), a
  // systemError() (socket_address.h). A lookup may give Unix addresses too.
  static std::unique_ptr<UvSocket> connect(UvLoop* loop, std::string host, uint16_t port,
                                           LookupFunction lookup = nullptr);
  // net.connect()'s options beyond host and port.
  struct TcpConnectOptions {
    LookupFunction lookup{};
    // Bind each attempt's socket to this IP (and localPort; 0: any) before connecting. An
    // address the system cannot bind, or of the other family than the address tried, fails
    // that attempt with Node's "bind EADDRNOTAVAIL 10.9.9.9" error (EINVAL for the other family). Checked by the
    // caller to be an IP (connect() returns ERR_INVALID_IP_ADDRESS otherwise).
    std::string localAddress{};
    uint16_t localPort = 0;
  };
  static std::unique_ptr<UvSocket> connect(UvLoop* loop, std::string host, uint16_t port,
                                           TcpConnectOptions options);
  // Connects to resolved addresses (IP or Unix, abstract included), tried in order.
  static std::unique_ptr<UvSocket> connect(UvLoop* loop, std::vector<SocketAddress> addresses);
  // Accepts a pending connection on a listening libuv TCP or pipe handle.
  static absl::StatusOr<std::unique_ptr<UvSocket>> accept(UvLoop* loop, uv_stream_t* server);
  // Takes a connected socket accepted outside libuv (Http2Server::close() drains its listener's
  // accept queue with accept4(2)): a pipe for AF_UNIX, else TCP. The fd is closed on error.
  static absl::StatusOr<std::unique_ptr<UvSocket>> adopt(UvLoop* loop, int fd, int family);
  ~UvSocket() override;

  void setHandler(Handler* handler) override;
  void write(std::string data) override;
  void writev(std::vector<SharedBuffer> buffers) override;
  size_t writeQueueSize() const override;
  // sendfile(2), in order with the writes around it (uv_socket.cc). A region the kernel does
  // not take at once waits behind a one-byte uv_write of its own, since libuv owns the socket's
  // poll watcher; a file sendfile refuses (EINVAL) is read into memory instead.
  bool canSendFile() const override;
  void sendFile(FileRegion region) override;
  // Off: canSendFile() is false and sendFile() copies (for comparisons; on by default).
  void setSendFile(bool on);
  // Bytes sendfile(2) sent, and how many times a region waited for the socket to be writable
  // (behind a write in flight, or after EAGAIN): what tests and benchmarks look at.
  size_t sentFileBytes() const;
  size_t sendFileWaits() const;
  void pauseReading() override;
  void resumeReading() override;
  void end() override;
  void destroy() override;
  bool connecting() const override;
  // True once closed or destroyed (Node's socket.destroyed).
  bool destroyed() const;
  std::string remoteAddress() const override;
  uint16_t remotePort() const override;
  std::string localAddress() const override;
  uint16_t localPort() const override;
  void ref() override;
  void unref() override;

 private:
  struct State;
  explicit UvSocket(UvLoop* loop);
  std::shared_ptr<State> state_;
};

// "host:port" text of a sockaddr (IPv6 in brackets); empty if unknown.
std::string formatAddress(const sockaddr* addr, uint16_t* port = nullptr);

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_UV_SOCKET_H_
