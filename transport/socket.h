// transport/socket.h — a connected byte stream under an Http2Session: TCP (UvSocket), TLS over any
// Socket (TlsSocket), or an in-memory pipe in tests (MemorySocket). The session never sees
// sockets directly, only this interface: that is what keeps its core sans-I/O.
//
// Threading: loop thread only. Lifetime: owned by the session (or test) that uses it; the Handler
// must outlive the socket or call setHandler(nullptr) first. Handler callbacks never run inside
// a call into the socket (write/end/...); they always come from the loop.
#ifndef H2RPC_TRANSPORT_SOCKET_H_
#define H2RPC_TRANSPORT_SOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "transport/buffer.h"
#include "transport/file_region.h"

namespace h2rpc::transport {

class Socket {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // The socket is connected (and for TLS, the handshake is done). Sockets created already
    // connected (accepted ones, memory pipes) call it too, once, from the loop.
    virtual void onSocketConnect() = 0;
    virtual void onSocketData(std::string_view data) = 0;
    // The same bytes in a buffer the handler may keep slices of instead of copying them.
    // Sockets that read into buffers they can give away (UvSocket, MemorySocket) call this;
    // the default hands the bytes to onSocketData.
    virtual void onSocketBuffer(const SharedBuffer& data) { onSocketData(data.view()); }
    // The write queue became empty after having been non-empty.
    virtual void onSocketDrain() = 0;
    // The peer closed (OK status) or the socket failed. No callback follows.
    virtual void onSocketClose(absl::Status status) = 0;
  };

  virtual ~Socket() = default;
  virtual void setHandler(Handler* handler) = 0;

  // Queues bytes for the peer. Never blocks; writeQueueSize() tells how much is still queued so
  // that the writer can stop producing (backpressure).
  virtual void write(std::string data) = 0;
  // Queues several buffers as one write, in order. A socket that can send them as they are
  // (UvSocket: one uv_write of N buffers, i.e. writev) keeps references until the kernel has
  // them, so payloads reach it without a copy; the default concatenates into write() (TLS
  // encrypts into records anyway, and fewer, larger records are cheaper).
  virtual void writev(std::vector<SharedBuffer> buffers) {
    size_t total = 0;
    for (const SharedBuffer& b : buffers) total += b.size();
    if (total == 0) return;
    std::string data;
    data.reserve(total);
    for (const SharedBuffer& b : buffers) data.append(b.data(), b.size());
    write(std::move(data));
  }
  virtual size_t writeQueueSize() const = 0;

  // Zero-copy files: whether sendFile() hands file bytes to the kernel without copying them
  // through user space (UvSocket over TCP or a Unix socket: sendfile(2)). A TLS socket must
  // encrypt in user space, so it says no and the session reads files into memory instead.
  virtual bool canSendFile() const { return false; }
  // Queues region.length bytes of the file, after everything queued before and before
  // everything queued after; they count in writeQueueSize() until sent. Once the region is
  // handed to the kernel, region.file->report() says so; bytes the file cannot give (a read
  // error, the file shrank) are sent as zeros, since the framing around them is committed, and
  // the report carries the error. The default reads the region into memory and write()s it.
  virtual void sendFile(FileRegion region) {
    std::string data;
    absl::Status st = readRegion(region, &data);
    write(std::move(data));
    const size_t sent = st.ok() ? region.length : 0;  // before st is moved
    region.file->report(sent, std::move(st));
  }

  // Stop / restart delivering onSocketData (the peer is then held back by TCP flow control).
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;

  // Flushes queued bytes, then closes. destroy() closes at once, dropping queued bytes; the
  // handler is not told (MemorySocket, a test tool, does tell it: a simulated connection drop).
  // After end(), destroy() lets the close in progress finish: UvSocket's lingering close (the
  // queued bytes, FIN, then input read and dropped until the peer's FIN, bounded; uv_loop.h).
  virtual void end() = 0;
  virtual void destroy() = 0;

  virtual bool connecting() const = 0;
  virtual bool encrypted() const { return false; }
  // The ALPN protocol negotiated by TLS ("h2"), or "h2c" for a cleartext socket (as Node).
  virtual std::string alpnProtocol() const { return "h2c"; }
  virtual std::string remoteAddress() const { return ""; }
  virtual uint16_t remotePort() const { return 0; }
  // Node's socket.localAddress / localPort ("" and 0 when unknown or closed).
  virtual std::string localAddress() const { return ""; }
  virtual uint16_t localPort() const { return 0; }
  // TLS: the SNI name (sent by a client, received by a server); "" otherwise. The first origin
  // of a session's originSet (session.h).
  virtual std::string servername() const { return ""; }
  // Whether the socket keeps its loop alive (Node's socket.ref()/unref()).
  virtual void ref() {}
  virtual void unref() {}
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SOCKET_H_
