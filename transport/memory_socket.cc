#include "transport/memory_socket.h"

#include <cstring>
#include <memory>
#include <string>
#include <utility>

namespace h2rpc::transport {

// State both ends share, so that either may go away first.
struct MemorySocket::Shared {
  std::string inbox[2];            // bytes waiting for side i to read
  bool write_closed[2] = {false, false};  // side i ended or was destroyed
  MemorySocket* end[2] = {nullptr, nullptr};
};

std::pair<std::unique_ptr<MemorySocket>, std::unique_ptr<MemorySocket>> MemorySocket::pair(
    EventLoop* loop) {
  auto shared = std::make_shared<Shared>();
  std::unique_ptr<MemorySocket> a(new MemorySocket(loop, shared, 0));
  std::unique_ptr<MemorySocket> b(new MemorySocket(loop, shared, 1));
  return {std::move(a), std::move(b)};
}

MemorySocket::MemorySocket(EventLoop* loop, std::shared_ptr<Shared> shared, int side)
    : loop_(loop), shared_(std::move(shared)), side_(side) {
  shared_->end[side_] = this;
}

MemorySocket::~MemorySocket() {
  handler_ = nullptr;
  destroy();
  shared_->end[side_] = nullptr;
}

void MemorySocket::setHandler(Handler* handler) {
  handler_ = handler;
  if (handler_ && connect_pending_) scheduleDelivery();
}

void MemorySocket::write(std::string data) {
  if (shared_->write_closed[side_] || data.empty()) return;
  bytes_written_ += data.size();
  shared_->inbox[1 - side_] += data;
  if (MemorySocket* peer = shared_->end[1 - side_]) peer->scheduleDelivery();
}

void MemorySocket::writev(std::vector<SharedBuffer> buffers) {
  for (const SharedBuffer& b : buffers) {
    writev_.emplace_back(reinterpret_cast<uintptr_t>(b.data()), b.size());
  }
  Socket::writev(std::move(buffers));
}

void MemorySocket::sendFile(FileRegion region) {
  if (!can_send_file_ || shared_->write_closed[side_]) {
    Socket::sendFile(std::move(region));
    return;
  }
  if (before_send_file_) before_send_file_(region);
  ++send_file_calls_;
  send_file_bytes_ += region.length;
  Socket::sendFile(std::move(region));  // the same bytes, read from the file
}

size_t MemorySocket::writeQueueSize() const { return shared_->inbox[1 - side_].size(); }

void MemorySocket::pauseReading() { paused_ = true; }

void MemorySocket::resumeReading() {
  paused_ = false;
  scheduleDelivery();
}

void MemorySocket::end() {
  if (shared_->write_closed[side_]) return;
  shared_->write_closed[side_] = true;
  if (MemorySocket* peer = shared_->end[1 - side_]) peer->scheduleDelivery();
}

void MemorySocket::destroy() {
  end();
  // What was not read yet is dropped, as the kernel does when a socket is closed.
  shared_->inbox[side_].clear();
  shared_->write_closed[1 - side_] = true;
  if (MemorySocket* peer = shared_->end[1 - side_]) peer->scheduleDelivery();
  if (handler_) {
    // Our own handler learns of the close too, from the loop.
    scheduleDelivery();
  }
}

void MemorySocket::scheduleDelivery() {
  if (delivery_scheduled_) return;
  delivery_scheduled_ = true;
  std::weak_ptr<Shared> weak = shared_;
  int side = side_;
  loop_->post([weak, side] {
    auto shared = weak.lock();
    if (!shared || !shared->end[side]) return;
    shared->end[side]->deliver();
  });
}

void MemorySocket::finishConnect() {
  holding_connect_ = false;
  scheduleDelivery();
}

void MemorySocket::deliver() {
  delivery_scheduled_ = false;
  if (!handler_ || holding_connect_) return;
  if (connect_pending_) {
    connect_pending_ = false;
    handler_->onSocketConnect();
    if (!handler_) return;
  }
  std::string& inbox = shared_->inbox[side_];
  if (!paused_ && !inbox.empty()) {
    std::string data;
    data.swap(inbox);
    bytes_read_ += data.size();
    // The writer's queue is now empty: tell it (after our handler ran, as a kernel would).
    MemorySocket* writer = shared_->end[1 - side_];
    // The delivered string is ours to give away: the handler may keep slices of it.
    SharedBuffer buffer(std::move(data));
    if (read_block_ >= buffer.size() && !buffer.empty()) {
      SharedBuffer block = SharedBuffer::ForOverwrite(read_block_);
      std::memcpy(block.mutable_data(), buffer.data(), buffer.size());
      buffer = block.slice(0, buffer.size());
    }
    delivered_.emplace_back(reinterpret_cast<uintptr_t>(buffer.data()), buffer.size());
    handler_->onSocketBuffer(buffer);
    if (writer && shared_->end[1 - side_] == writer && writer->handler_) {
      std::weak_ptr<Shared> weak = shared_;
      int wside = 1 - side_;
      loop_->post([weak, wside] {
        auto shared = weak.lock();
        if (!shared || !shared->end[wside]) return;
        MemorySocket* w = shared->end[wside];
        if (w->handler_ && shared->inbox[1 - wside].empty()) w->handler_->onSocketDrain();
      });
    }
    if (!handler_) return;
  }
  const bool peer_closed = shared_->write_closed[1 - side_] && shared_->inbox[side_].empty();
  if (peer_closed && !paused_) {
    Handler* h = handler_;
    handler_ = nullptr;
    h->onSocketClose(absl::OkStatus());
  } else if (shared_->write_closed[side_] && shared_->write_closed[1 - side_]) {
    Handler* h = handler_;
    handler_ = nullptr;
    h->onSocketClose(absl::OkStatus());
  }
}

}  // namespace h2rpc::transport
