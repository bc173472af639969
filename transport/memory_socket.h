// transport/memory_socket.h — two Sockets joined back to back in memory, delivering through an
// EventLoop. Tests connect a client and a server session with it (no kernel, no ports, exact
// interleavings with ManualLoop), or keep one end to speak raw HTTP/2 bytes to a session.
//
// Threading: loop thread only. Lifetime: either end may be destroyed first; the other then sees
// onSocketClose. The loop must outlive both.
#ifndef H2RPC_TRANSPORT_MEMORY_SOCKET_H_
#define H2RPC_TRANSPORT_MEMORY_SOCKET_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "transport/event_loop.h"
#include "transport/socket.h"

namespace h2rpc::transport {

class MemorySocket : public Socket {
 public:
  static std::pair<std::unique_ptr<MemorySocket>, std::unique_ptr<MemorySocket>> pair(
      EventLoop* loop);
  ~MemorySocket() override;

  void setHandler(Handler* handler) override;
  void write(std::string data) override;
  // Delivered like write() (concatenated), and the buffers' addresses are recorded so that
  // tests can check that a payload reached the socket without being copied.
  void writev(std::vector<SharedBuffer> buffers) override;
  size_t writeQueueSize() const override;
  // As a kernel socket would with sendfile(2), when a test turns it on (setCanSendFile): the
  // region's bytes are read from the file and delivered in order with the writes around them.
  bool canSendFile() const override { return can_send_file_; }
  void sendFile(FileRegion region) override;
  void pauseReading() override;
  void resumeReading() override;
  void end() override;
  void destroy() override;
  bool connecting() const override { return holding_connect_; }
  // Test helpers: this end says it is still connecting (as a TCP socket before connect() or a
  // TLS socket before its handshake) and delivers nothing, 'connect' included, until
  // finishConnect(). Call holdConnect() before a session is made over it.
  void holdConnect() { holding_connect_ = true; }
  void finishConnect();
  std::string remoteAddress() const override { return "memory"; }

  // Test helpers: total bytes this end has received and sent.
  size_t bytesRead() const { return bytes_read_; }
  size_t bytesWritten() const { return bytes_written_; }
  // Test helpers for zero-copy files: say canSendFile(); how many of bytesWritten() came
  // through sendFile(), in how many calls.
  void setCanSendFile(bool can) { can_send_file_ = can; }
  // Runs before each sendFile() reads its region (a test may truncate the file there).
  void setBeforeSendFile(std::function<void(const FileRegion&)> hook) {
    before_send_file_ = std::move(hook);
  }
  size_t sendFileBytes() const { return send_file_bytes_; }
  size_t sendFileCalls() const { return send_file_calls_; }
  // (address, size) of every buffer given to writev(), in order. Addresses only identify the
  // buffers: the bytes may be gone.
  const std::vector<std::pair<uintptr_t, size_t>>& writevBuffers() const { return writev_; }
  // Deliver each read as UvSocket does: the bytes copied to the start of a block of
  // `block_size` bytes, handed over as a slice of it (0: the bytes as they were written).
  void setReadBlock(size_t block_size) { read_block_ = block_size; }
  // (address, size) of every buffer delivered to the handler (onSocketBuffer), in order.
  const std::vector<std::pair<uintptr_t, size_t>>& deliveredBuffers() const { return delivered_; }

 private:
  struct Shared;
  MemorySocket(EventLoop* loop, std::shared_ptr<Shared> shared, int side);
  void scheduleDelivery();
  void deliver();

  EventLoop* loop_;
  std::shared_ptr<Shared> shared_;
  int side_;
  Handler* handler_ = nullptr;
  bool paused_ = false;
  bool delivery_scheduled_ = false;
  bool connect_pending_ = true;
  bool holding_connect_ = false;
  size_t bytes_read_ = 0;
  size_t bytes_written_ = 0;
  size_t read_block_ = 0;
  bool can_send_file_ = false;
  size_t send_file_bytes_ = 0;
  size_t send_file_calls_ = 0;
  std::function<void(const FileRegion&)> before_send_file_;
  std::vector<std::pair<uintptr_t, size_t>> writev_;
  std::vector<std::pair<uintptr_t, size_t>> delivered_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_MEMORY_SOCKET_H_
