#include "transport/uv_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "transport/fifo.h"

namespace h2rpc::transport {

namespace {

absl::Status uvError(const char* syscall, int err, const std::string& where) {
  // Node's wording: "connect ECONNREFUSED 127.0.0.1:8080".
  std::string msg = absl::StrCat(syscall, " ", uv_err_name(err));
  if (!where.empty()) absl::StrAppend(&msg, " ", where);
  return absl::UnavailableError(msg);
}

// sendfile(2) errors that are the socket's (the connection failed), not the file's.
bool socketErrno(int err) {
  switch (err) {
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case ECONNABORTED:
    case ESHUTDOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string formatAddress(const sockaddr* addr, uint16_t* port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, buf, sizeof(buf));
    if (port) *port = ntohs(in->sin_port);
    return buf;
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, buf, sizeof(buf));
    if (port) *port = ntohs(in6->sin6_port);
    return buf;
  }
  return "";
}

// Everything libuv points at. It lives until libuv's close callback, even when the UvSocket
// that owns it is gone (self_ keeps it alive while the handle is open).
struct UvSocket::State : std::enable_shared_from_this<State> {
  UvLoop* loop = nullptr;
  // The open handle: TCP, or a pipe for Unix domain sockets. On the heap, because a failed
  // connect attempt closes its handle (asynchronously) while the next attempt opens another.
  union Handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  Handle* h = nullptr;
  bool tcp_open = false;  // h is open (TCP or pipe)
  // Connecting: the addresses to try in order, the one being tried, and the last failure.
  std::vector<SocketAddress> addresses;
  size_t attempt = 0;
  absl::Status last_error;
  Handler* handler = nullptr;
  bool connecting = false;
  bool connect_pending = false;  // connected; the handler has not heard it yet
  bool paused = false;
  bool reading = false;
  bool ending = false;
  bool closed = false;
  // Lingering close (UvLoopOptions::lingerMillis): from end() on, input is read (and dropped
  // when nobody handles it) until the peer's FIN, at most lingerMaxBytes, until the timer fires.
  // Made by startLinger() and freed by its close callback: an idle connection holds none (a
  // uv_timer_t is 152 bytes, and 1000 idle connections would hold 1000 of them unused).
  uv_timer_t* linger_timer = nullptr;  // open while set
  size_t lingered_bytes = 0;
  bool detached = false;  // the UvSocket is gone: the loop holds the close in progress
  int handles_closing = 0;
  size_t queued = 0;  // bytes corked or handed to libuv and not written yet
  // A queued write: bytes, or (file.file set) a file region sent with sendfile(2); `sent`: how
  // much of the region went already.
  struct Item {
    SharedBuffer buf;
    FileRegion file{};
    size_t sent = 0;
  };
  // A Fifo, not a std::deque: a deque allocates its map and a 512-byte block as soon as it is
  // made, 568 heap bytes for every connection even while idle; a Fifo keeps one item in place.
  Fifo<Item> corked;
  size_t corked_bytes = 0;
  size_t inflight = 0;  // uv_write requests not completed
  // A gate write (gate()) is in flight: the corked items wait for its completion.
  bool gated = false;
  bool send_file = true;  // setSendFile()
  size_t sent_file_bytes = 0;  // sentFileBytes()
  size_t gates = 0;            // sendFileWaits()
  bool uncork_scheduled = false;
  std::string host;
  uint16_t port = 0;
  // net.connect()'s localAddress/localPort: bound before each TCP attempt (empty: none).
  std::string local_address;
  uint16_t local_port = 0;
  std::shared_ptr<State> self;

  static constexpr size_t kReadBuffer = 65536;
  // Fairness: at most kReadTurnBudget bytes per socket per loop turn. libuv would read up to 32
  // buffers (2 MiB) from a busy socket before looking at any other, and what a peer sends can
  // cost far more to process than to send (an HPACK bomb block: 1.7 ms per 64 KiB), so one
  // connection held everyone else's requests for a whole 32-read turn (bench/FLOODS.md). The
  // budget matches what a session writes per turn (its 256 KiB socket high-water mark). Once it
  // is spent, the next allocation this turn is refused (a zero-length buffer: libuv reports
  // UV_ENOBUFS and moves on; the socket stays readable, so the next poll comes back to it).
  static constexpr size_t kReadTurnBudget = 4 * kReadBuffer;
  size_t read_turn_bytes = 0;  // full reads this turn (partial ones end libuv's reading anyway)
  bool read_turn_spent = false;
  // One read buffer per thread, not per socket: an idle connection then holds none (1000 idle
  // connections would otherwise keep 1000 partly touched 64 KiB blocks). libuv calls the alloc
  // and read callbacks of one read back to back, so sockets never share it at the same time; a
  // buffer the session kept slices of is left to them and a new one made.
  static SharedBuffer& readBuffer() {
    static thread_local SharedBuffer buffer;
    return buffer;
  }

  struct WriteReq {
    uv_write_t req;
    // The buffers, referenced until libuv is done with them.
    std::vector<SharedBuffer> buffers;
    size_t bytes = 0;
    bool gate = false;  // its completion resumes the corked items (gate())
    std::shared_ptr<State> state;
  };

  uv_stream_t* stream() { return &h->stream; }

  // Opens a handle for `family` (a pipe for AF_UNIX). The state keeps itself alive until its
  // handles are closed.
  void open(int family) {
    h = new Handle;
    if (family == AF_UNIX) {
      uv_pipe_init(loop->uv(), &h->pipe, 0);
    } else {
      uv_tcp_init(loop->uv(), &h->tcp);
    }
    h->handle.data = this;
    tcp_open = true;
    self = shared_from_this();
  }

  // Closes the handle of a failed connect attempt; it is freed once libuv is done with it.
  void dropHandle() {
    if (!tcp_open) return;
    tcp_open = false;
    h->handle.data = nullptr;
    uv_close(&h->handle, [](uv_handle_t* hd) { delete reinterpret_cast<Handle*>(hd); });
    h = nullptr;
  }

  // Tries addresses[attempt], then the next ones when it fails (Node's net.connect() with
  // autoSelectFamily tries every address lookup gave; one after the other here, no 250 ms
  // race). Fails with the last attempt's error.
  void tryNext() {
    if (closed) return;
    if (attempt >= addresses.size()) {
      // A lookup that gave no address at all has nothing to blame but itself.
      closeWith(last_error.ok() ? absl::UnavailableError(absl::StrCat(
                                      "connect: no address to try for '", host, "'"))
                                : last_error,
                /*notify=*/true);
      return;
    }
    const SocketAddress& a = addresses[attempt];
    dropHandle();
    if (a.isUnix()) {
      connectUnix(a);
      return;
    }
    open(a.family());
    if (!local_address.empty()) {
      // As Node's internalConnect: bind, then connect; a failed bind fails the attempt.
      auto local = SocketAddress::fromIp(local_address, local_port);
      // Another family than the address tried: EINVAL at bind, as Node (its bind() parses the
      // local address in the destination's family).
      int brv = local.ok() && local->family() == a.family()
                    ? uv_tcp_bind(&h->tcp, local->sockaddrPtr(), 0)
                    : UV_EINVAL;
      if (brv < 0) {
        // Node's exceptionWithHostPort: the port only when one was asked for.
        attemptFailed(systemError("bind", brv,
                                  local_port > 0 ? absl::StrCat(local_address, ":", local_port)
                                                 : local_address));
        return;
      }
    }
    auto* creq = new uv_connect_t;
    creq->data = this;
    int rv = uv_tcp_connect(creq, &h->tcp, a.sockaddrPtr(), [](uv_connect_t* c, int status) {
      auto* s = static_cast<State*>(c->data);
      delete c;
      if (s->closed || status == UV_ECANCELED) return;
      auto keep = s->shared_from_this();
      if (status < 0) {
        s->attemptFailed(systemError("connect", status, s->addresses[s->attempt].toString()));
        return;
      }
      s->onConnected();
    });
    if (rv < 0) {
      delete creq;
      attemptFailed(systemError("connect", rv, a.toString()));
    }
  }

  void attemptFailed(absl::Status error) {
    last_error = std::move(error);
    ++attempt;
    auto keep = shared_from_this();
    loop->post([keep] { keep->tryNext(); });
  }

  // libuv 1.44's uv_pipe_connect() takes a C string, so it cannot name an abstract socket: the
  // socket is made and connected here (a Unix connect completes or fails at once) and handed to
  // a pipe handle.
  void connectUnix(const SocketAddress& a) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    if (fd < 0) {
      err = uv_translate_sys_error(errno);
    } else if (::connect(fd, a.sockaddrPtr(), a.length()) != 0) {
      // EAGAIN: the listener's backlog is full (Unix sockets do not connect asynchronously).
      err = uv_translate_sys_error(errno);
      ::close(fd);
    }
    if (err != 0) {
      attemptFailed(systemError("connect", err, a.toString()));
      return;
    }
    open(AF_UNIX);
    if (int rv = uv_pipe_open(&h->pipe, fd); rv != 0) {
      ::close(fd);
      attemptFailed(systemError("connect", rv, a.toString()));
      return;
    }
    auto keep = shared_from_this();
    loop->post([keep] {
      if (!keep->closed) keep->onConnected();
    });
  }

  void startReading() {
    // Ending without a handler: read only to drop the bytes (lingering close).
    const bool drain = ending && handler == nullptr;
    if (closed || connecting || reading || (!drain && (paused || handler == nullptr))) return;
    reading = true;
    uv_read_start(
        stream(),
        [](uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
          // 64 KiB per read, in a buffer the session may keep slices of (large DATA payloads,
          // see Http2Session::onDataChunk). Reused while nobody kept any of it.
          auto* st = static_cast<State*>(h->data);
          if (st->read_turn_spent) {
            buf->base = nullptr;
            buf->len = 0;
            return;
          }
          SharedBuffer& rb = readBuffer();
          if (!rb.unique()) rb = SharedBuffer::ForOverwrite(kReadBuffer);
          buf->base = rb.mutable_data();
          buf->len = kReadBuffer;
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          auto* st = static_cast<State*>(s->data);
          if (nread == UV_ENOBUFS) return;  // this turn's read is spent (see read_turn_spent)
          auto keep = st->shared_from_this();
          // A full buffer means more was waiting: a stream, not an answer (idle polling).
          if (nread != 0) st->loop->noteIo(static_cast<size_t>(nread) == kReadBuffer);
          if (static_cast<size_t>(nread) == kReadBuffer) {
            // More may be waiting: past the budget, leave it for the next turn, after the other
            // sockets.
            if (st->read_turn_bytes == 0) {
              st->loop->beforePoll([keep] {
                keep->read_turn_bytes = 0;
                keep->read_turn_spent = false;
              });
            }
            st->read_turn_bytes += kReadBuffer;
            if (st->read_turn_bytes >= kReadTurnBudget) st->read_turn_spent = true;
          }
          if (nread > 0) {
            if (st->ending) {
              st->lingered_bytes += static_cast<size_t>(nread);
              if (st->lingered_bytes > st->loop->options().lingerMaxBytes) {
                st->closeWith(absl::OkStatus(), /*notify=*/true);
                return;
              }
            }
            if (st->handler) {
              st->handler->onSocketBuffer(readBuffer().slice(0, static_cast<size_t>(nread)));
            }
          } else if (nread == UV_EOF) {
            st->closeWith(absl::OkStatus(), /*notify=*/true);
          } else if (nread < 0) {
            st->closeWith(uvError("read", static_cast<int>(nread), ""), /*notify=*/true);
          }
        });
  }

  void stopReading() {
    if (!reading || closed) return;
    reading = false;
    uv_read_stop(stream());
  }

  void notifyConnect() {
    if (!connect_pending || handler == nullptr) return;
    connect_pending = false;
    auto keep = shared_from_this();
    loop->post([keep] {
      if (keep->closed || keep->handler == nullptr) return;
      keep->handler->onSocketConnect();
      keep->startReading();
    });
  }

  void onConnected() {
    connecting = false;
    if (h->handle.type == UV_TCP) uv_tcp_nodelay(&h->tcp, 1);
    addresses.clear();
    if (!corked.empty()) uncork();  // written while connecting
    connect_pending = true;
    notifyConnect();
  }

  // Writes are corked until the loop is about to poll (UvLoop::beforePoll): everything the
  // connection's session wrote during a loop turn (response headers, DATA, then the trailers a
  // 'wantTrailers' listener sent) leaves in one writev, one syscall, and the peer reads it in one
  // read. They count in writeQueueSize() at once.
  void write(std::string data) {
    if (closed || ending || data.empty()) return;
    cork({SharedBuffer(std::move(data))});
  }

  void writev(std::vector<SharedBuffer> buffers) {
    if (closed || ending) return;
    for (SharedBuffer& b : buffers) {
      if (!b.empty()) cork({std::move(b)});
    }
  }

  void sendFile(FileRegion region) {
    if (closed || ending) return;
    if (region.length == 0) {
      region.file->report(0, absl::OkStatus());
      return;
    }
    cork({SharedBuffer(), std::move(region)});
  }

  static size_t itemSize(const Item& it) { return it.file.file ? it.file.length : it.buf.size(); }

  void cork(Item item) {
    const size_t n = itemSize(item);
    queued += n;
    corked_bytes += n;
    corked.push_back(std::move(item));
    if (uncork_scheduled) return;
    uncork_scheduled = true;
    loop->beforePoll([keep = shared_from_this()] {
      keep->uncork_scheduled = false;
      keep->uncork();
    });
  }

  // The corked bytes up to the first file region, as libuv buffers; `count` items, `bytes`.
  // Inline up to kInlineBufs (a session's batch of 16 unary responses is ~50 pieces): a vector
  // from the heap here was a malloc per socket write.
  static constexpr size_t kInlineBufs = 64;
  using UvBufs = absl::InlinedVector<uv_buf_t, kInlineBufs>;
  UvBufs corkedBufs(size_t* count, size_t* bytes) const {
    UvBufs bufs;
    *count = 0;
    *bytes = 0;
    for (const Item& it : corked) {
      if (it.file.file) break;
      // libuv only reads through base; the const_cast never writes.
      bufs.push_back(
          uv_buf_init(const_cast<char*>(it.buf.data()), static_cast<unsigned>(it.buf.size())));
      ++*count;
      *bytes += it.buf.size();
    }
    return bufs;
  }

  // TCP_CORK while bytes and file regions alternate: a frame header written alone would
  // otherwise leave as its own 9-byte segment (TCP_NODELAY is on). Unset once the turn's
  // writes are done, which pushes out what is left.
  void setTcpCork(bool on) {
    uv_os_fd_t fd;
    if (uv_fileno(&h->handle, &fd) != 0) return;
    const int v = on ? 1 : 0;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
  }

  void uncork() {
    // While connecting there may be no handle yet (lookup) or only a failing one: the bytes wait
    // for onConnected(). While a gate write is in flight, they wait for it.
    if (corked.empty() || closed || connecting || gated) return;
    bool has_file = false;
    for (const Item& it : corked) has_file = has_file || it.file.file != nullptr;
    const bool tcp_cork = has_file && h->handle.type == UV_TCP;
    if (tcp_cork) setTcpCork(true);
    while (!corked.empty() && !closed && !gated) {
      if (corked.front().file.file) {
        sendCorkedFile();
      } else {
        writeCorkedBytes();
      }
    }
    if (closed) return;
    if (tcp_cork) setTcpCork(false);
    if (!corked.empty() || queued != 0) return;  // the write callbacks take it from here
    if (ending) {
      shutdown();
    } else if (handler) {
      handler->onSocketDrain();
    }
  }

  // The corked bytes up to the first file region: straight to the kernel when nothing is in
  // flight (the common case: no write request, no completion callback next turn, no POLLOUT
  // watcher change, i.e. an epoll_ctl and a non-blocking epoll_wait per write, measured with
  // strace); what the kernel did not take goes through uv_write, which keeps it until the
  // socket is writable.
  void writeCorkedBytes() {
    size_t count = 0;
    size_t bytes = 0;
    UvBufs bufs = corkedBufs(&count, &bytes);
    if (bytes > 0) loop->noteWrite();  // the loop may now wait for an answer (idle polling)
    size_t written = 0;
    if (inflight == 0) {
      int rv = uv_try_write(stream(), bufs.data(), static_cast<unsigned>(bufs.size()));
      if (rv < 0 && rv != UV_EAGAIN && rv != UV_ENOSYS) {
        forgetCorked();
        closeWith(uvError("write", rv, ""), /*notify=*/true);
        return;
      }
      written = rv > 0 ? static_cast<size_t>(rv) : 0;
    }
    queued -= written;
    corked_bytes -= bytes;
    if (written == bytes) {
      for (size_t i = 0; i < count; ++i) corked.pop_front();
      return;
    }
    size_t first = 0;
    for (size_t skip = written; skip > 0;) {
      const size_t n = bufs[first].len;
      if (skip < n) {
        bufs[first].base += skip;
        bufs[first].len -= static_cast<unsigned>(skip);
        break;
      }
      skip -= n;
      ++first;
    }
    auto* req = new WriteReq;
    req->bytes = bytes - written;
    // The bytes bufs point into stay referenced.
    req->buffers.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      req->buffers.push_back(std::move(corked.front().buf));
      corked.pop_front();
    }
    // uv_write copies the uv_buf_t array it is given (not the bytes): `bufs` may go.
    submit(req, bufs.data() + first, static_cast<unsigned>(count - first));
  }

  // The file region at the front: sendfile(2) while the kernel takes it, after every write in
  // flight (they come first).
  void sendCorkedFile() {
    if (inflight > 0) {
      gate();
      return;
    }
    loop->noteWrite();
    uv_os_fd_t sock;
    if (uv_fileno(&h->handle, &sock) != 0) {
      fallBackToCopy();
      return;
    }
    Item& it = corked.front();
    while (it.file.length > 0) {
      off_t off = static_cast<off_t>(it.file.offset);
      ssize_t n = ::sendfile(sock, it.file.file->fd(), &off, it.file.length);
      if (n > 0) {
        advance(it, static_cast<size_t>(n));
        sent_file_bytes += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        gate();
        return;
      }
      if (n < 0 && socketErrno(errno)) {
        const int err = uv_translate_sys_error(errno);
        forgetCorked();
        closeWith(uvError("write", err, ""), /*notify=*/true);
        return;
      }
      // End of file (it shrank), a read error, or a file sendfile cannot send (EINVAL): read
      // it instead; zeros for what the file cannot give, and the report says why.
      fallBackToCopy();
      return;
    }
    it.file.file->report(it.sent, absl::OkStatus());
    corked.pop_front();
  }

  void advance(Item& it, size_t n) {
    it.file.offset += static_cast<int64_t>(n);
    it.file.length -= n;
    it.sent += n;
    queued -= n;
    corked_bytes -= n;
  }

  // The front region becomes the bytes pread gives (same size: the accounting is unchanged).
  void fallBackToCopy() {
    Item it = std::move(corked.front());
    std::string data;
    absl::Status st = readRegion(it.file, &data);
    corked.front() = Item{SharedBuffer(std::move(data))};
    const size_t sent = st.ok() ? it.sent + it.file.length : it.sent;  // before st is moved
    it.file.file->report(sent, std::move(st));
  }

  // sendfile cannot wait for the socket to become writable, and libuv owns the socket's poll
  // watcher: so one byte of the region goes through uv_write, which libuv sends after the
  // writes before it, once the socket is writable; its completion resumes the corked items.
  // One byte copied each time the socket fills up.
  void gate() {
    Item& it = corked.front();
    char byte = 0;
    ssize_t n;
    do {
      n = ::pread(it.file.file->fd(), &byte, 1, static_cast<off_t>(it.file.offset));
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      fallBackToCopy();
      return;
    }
    advance(it, 1);
    queued += 1;  // still queued: in the gate write now
    if (it.file.length == 0) {
      it.file.file->report(it.sent, absl::OkStatus());
      corked.pop_front();
    }
    auto* req = new WriteReq;
    req->bytes = 1;
    req->gate = true;
    req->buffers.push_back(SharedBuffer(std::string(1, byte)));
    gated = true;
    ++gates;
    uv_buf_t buf = uv_buf_init(const_cast<char*>(req->buffers[0].data()), 1);
    submit(req, &buf, 1);
  }

  // Best effort when the socket closes with writes still corked (a GOAWAY written just before
  // destroy()): what the kernel takes now, as an uncorked uv_write would have sent at once.
  void writeCorkedNow() {
    if (corked.empty() || !tcp_open) return;
    size_t count = 0;
    size_t bytes = 0;
    UvBufs bufs = corkedBufs(&count, &bytes);
    if (!bufs.empty()) {
      (void)uv_try_write(stream(), bufs.data(), static_cast<unsigned>(bufs.size()));
    }
    forgetCorked();
  }

  // The corked bytes are written (or given up on): they no longer count as queued.
  void forgetCorked() {
    queued -= corked_bytes;
    corked.clear();
    corked_bytes = 0;
  }

  void submit(WriteReq* req, const uv_buf_t* bufs, unsigned nbufs) {
    req->state = shared_from_this();
    // While writes wait for the socket, the loop does not idle-poll (UvLoop::noteWriteWaiting).
    if (inflight++ == 0) loop->noteWriteWaiting(true);
    int rv = uv_write(&req->req, stream(), bufs, nbufs,
                      [](uv_write_t* r, int status) {
                        auto* wr = reinterpret_cast<WriteReq*>(r);
                        std::shared_ptr<State> st = std::move(wr->state);
                        st->queued -= wr->bytes;
                        if (--st->inflight == 0) st->loop->noteWriteWaiting(false);
                        const bool gate = wr->gate;
                        delete wr;
                        if (status < 0) {
                          if (status != UV_ECANCELED) {
                            st->closeWith(uvError("write", status, ""), /*notify=*/true);
                          }
                          return;
                        }
                        if (gate) {
                          st->gated = false;
                          if (!st->corked.empty()) {
                            st->uncork();
                            return;
                          }
                        }
                        if (st->queued == 0) {
                          if (st->ending) {
                            st->shutdown();
                          } else if (st->handler) {
                            st->handler->onSocketDrain();
                          }
                        }
                      });
    if (rv < 0) {
      if (--inflight == 0) loop->noteWriteWaiting(false);
      queued -= req->bytes;
      req->state.reset();
      delete req;
      auto keep = shared_from_this();
      loop->post([keep, rv] { keep->closeWith(uvError("write", rv, ""), /*notify=*/true); });
    }
  }

  void shutdown() {
    if (closed) return;
    auto* req = new uv_shutdown_t;
    req->data = this;
    int rv = uv_shutdown(req, stream(), [](uv_shutdown_t* r, int) {
      auto* st = static_cast<State*>(r->data);
      delete r;
      // Our FIN is out. The socket closes at the peer's FIN (read as EOF), past lingerMaxBytes
      // or when the linger timer fires, whichever comes first: never with unread input.
      if (st->closed) return;
      if (st->loop->options().lingerMillis == 0 && st->handler == nullptr) {
        st->closeWith(absl::OkStatus(), /*notify=*/false);
      }
    });
    if (rv < 0) {
      delete req;
      closeWith(absl::OkStatus(), /*notify=*/false);
    }
  }

  // end(): the lingering close starts; bounded in time from here.
  void startLinger() {
    const uint32_t ms = loop->options().lingerMillis;
    if (ms > 0 && linger_timer == nullptr && tcp_open) {
      linger_timer = new uv_timer_t;
      uv_timer_init(loop->uv(), linger_timer);
      linger_timer->data = this;
      uv_timer_start(
          linger_timer,
          [](uv_timer_t* t) {
            auto* st = static_cast<State*>(t->data);
            auto keep = st->shared_from_this();
            st->closeWith(absl::OkStatus(), /*notify=*/true);
          },
          ms, 0);
    }
    if (handler == nullptr) startReading();
  }

  // The UvSocket was destroyed while ending: the close in progress goes on without it (bounded
  // by the linger timer). The loop keeps a guard that cuts it short if the loop goes first.
  void detach() {
    handler = nullptr;
    if (detached || closed) return;
    detached = true;
    std::weak_ptr<State> weak = shared_from_this();
    loop->adopt(this, std::shared_ptr<void>(new char, [weak](void* p) {
                  delete static_cast<char*>(p);
                  if (auto st = weak.lock()) st->closeWith(absl::OkStatus(), false);
                }));
    startReading();
  }

  // Closes the handle; tells the handler (from the loop) when `notify`.
  void closeWith(absl::Status status, bool notify) {
    if (closed) return;
    writeCorkedNow();
    closed = true;
    reading = false;
    Handler* handler_was = handler;
    handler = nullptr;
    auto keep = shared_from_this();
    if (tcp_open) {
      ++handles_closing;
      uv_close(&h->handle, &State::onHandleClosed);
    }
    if (linger_timer != nullptr) {
      uv_timer_stop(linger_timer);
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(linger_timer), &State::onHandleClosed);
      linger_timer = nullptr;  // freed by onHandleClosed
    }
    if (detached) loop->release(this);  // its guard finds us closed
    if (handles_closing == 0) self.reset();  // nothing open (every connect attempt failed)
    if (notify && handler_was) handler_was->onSocketClose(std::move(status));
  }

  static void onHandleClosed(uv_handle_t* hd) {
    auto* st = static_cast<State*>(hd->data);
    if (hd->type == UV_TIMER) {
      delete reinterpret_cast<uv_timer_t*>(hd);
    } else {
      delete reinterpret_cast<Handle*>(hd);
    }
    if (--st->handles_closing == 0) st->self.reset();  // may free the state
  }
};

UvSocket::UvSocket(UvLoop* loop) : state_(std::make_shared<State>()) { state_->loop = loop; }

UvSocket::~UvSocket() { destroy(); }

std::unique_ptr<UvSocket> UvSocket::connect(UvLoop* loop, std::string host, uint16_t port,
                                            LookupFunction lookup) {
  return connect(loop, std::move(host), port, {.lookup = std::move(lookup)});
}

std::unique_ptr<UvSocket> UvSocket::connect(UvLoop* loop, std::string host, uint16_t port,
                                            TcpConnectOptions options) {
  LookupFunction lookup = std::move(options.lookup);
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  std::shared_ptr<State> st = sock->state_;
  st->local_address = std::move(options.localAddress);
  st->local_port = options.localPort;
  st->self = st;  // until closed
  st->connecting = true;
  // Strip the brackets of an IPv6 literal.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  st->host = host;
  st->port = port;
  auto done = [weak = std::weak_ptr<State>(st)](
                  absl::StatusOr<std::vector<SocketAddress>> addresses) {
    auto st = weak.lock();
    if (!st || st->closed) return;
    if (!addresses.ok()) {
      st->closeWith(addresses.status(), /*notify=*/true);
      return;
    }
    st->addresses = std::move(*addresses);
    st->tryNext();
  };
  if (lookup) {
    lookup(host, port, std::move(done));
  } else {
    dnsLookup(loop, host, port, std::move(done));
  }
  return sock;
}

std::unique_ptr<UvSocket> UvSocket::connect(UvLoop* loop, std::vector<SocketAddress> addresses) {
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  std::shared_ptr<State> st = sock->state_;
  st->self = st;
  st->connecting = true;
  if (!addresses.empty()) st->host = addresses.front().toString();
  st->addresses = std::move(addresses);
  // From the loop, as every connect outcome is.
  loop->post([st] { st->tryNext(); });
  return sock;
}

absl::StatusOr<std::unique_ptr<UvSocket>> UvSocket::accept(UvLoop* loop, uv_stream_t* server) {
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  sock->state_->open(server->type == UV_NAMED_PIPE ? AF_UNIX : AF_INET);
  int rv = uv_accept(server, sock->state_->stream());
  if (rv < 0) return uvError("accept", rv, "");
  sock->state_->onConnected();
  return sock;
}

absl::StatusOr<std::unique_ptr<UvSocket>> UvSocket::adopt(UvLoop* loop, int fd, int family) {
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  sock->state_->open(family);
  int rv = family == AF_UNIX ? uv_pipe_open(&sock->state_->h->pipe, fd)
                             : uv_tcp_open(&sock->state_->h->tcp, fd);
  if (rv < 0) {
    ::close(fd);
    return uvError("accept", rv, "");
  }
  sock->state_->onConnected();
  return sock;
}

void UvSocket::setHandler(Handler* handler) {
  state_->handler = handler;
  if (handler == nullptr) {
    if (!state_->ending) state_->stopReading();  // else the lingering close goes on reading
    return;
  }
  state_->notifyConnect();
  if (!state_->connect_pending) state_->startReading();
}

void UvSocket::write(std::string data) { state_->write(std::move(data)); }

void UvSocket::writev(std::vector<SharedBuffer> buffers) { state_->writev(std::move(buffers)); }

bool UvSocket::canSendFile() const {
  return state_->send_file && state_->tcp_open && !state_->closed;
}

void UvSocket::sendFile(FileRegion region) {
  if (!state_->send_file) return Socket::sendFile(std::move(region));
  state_->sendFile(std::move(region));
}

void UvSocket::setSendFile(bool on) { state_->send_file = on; }

size_t UvSocket::sentFileBytes() const { return state_->sent_file_bytes; }

size_t UvSocket::sendFileWaits() const { return state_->gates; }

size_t UvSocket::writeQueueSize() const { return state_->queued; }

void UvSocket::pauseReading() {
  state_->paused = true;
  state_->stopReading();
}

void UvSocket::resumeReading() {
  state_->paused = false;
  state_->startReading();
}

void UvSocket::end() {
  if (state_->closed || state_->ending) return;
  state_->ending = true;
  if (state_->connecting) {
    state_->closeWith(absl::OkStatus(), false);
    return;
  }
  state_->startLinger();
  if (state_->queued == 0) state_->shutdown();
}

void UvSocket::destroy() {
  // The owner asked for it: its handler is not called back. After end(), the close in progress
  // (queued bytes, FIN, lingering) goes on, bounded by lingerMillis; else the socket closes now.
  if (state_->ending && !state_->closed) {
    state_->detach();
    return;
  }
  state_->handler = nullptr;
  state_->closeWith(absl::OkStatus(), /*notify=*/false);
}

bool UvSocket::connecting() const { return state_->connecting; }

bool UvSocket::destroyed() const { return state_->closed || state_->detached; }

std::string UvSocket::remoteAddress() const {
  if (!state_->tcp_open || state_->closed || state_->h->handle.type != UV_TCP) return "";
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&state_->h->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return formatAddress(reinterpret_cast<sockaddr*>(&ss));
}

uint16_t UvSocket::remotePort() const {
  if (!state_->tcp_open || state_->closed || state_->h->handle.type != UV_TCP) return 0;
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&state_->h->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  uint16_t port = 0;
  formatAddress(reinterpret_cast<sockaddr*>(&ss), &port);
  return port;
}

std::string UvSocket::localAddress() const {
  if (!state_->tcp_open || state_->closed || state_->h->handle.type != UV_TCP) return "";
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&state_->h->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return formatAddress(reinterpret_cast<sockaddr*>(&ss));
}

uint16_t UvSocket::localPort() const {
  if (!state_->tcp_open || state_->closed || state_->h->handle.type != UV_TCP) return 0;
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getsockname(&state_->h->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  uint16_t port = 0;
  formatAddress(reinterpret_cast<sockaddr*>(&ss), &port);
  return port;
}

void UvSocket::ref() {
  if (state_->tcp_open && !state_->closed) uv_ref(&state_->h->handle);
}

void UvSocket::unref() {
  if (state_->tcp_open && !state_->closed) uv_unref(&state_->h->handle);
}

}  // namespace h2rpc::transport
