#include "transport/uv_socket.h"

#include <arpa/inet.h>

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace h2rpc::transport {

namespace {

absl::Status uvError(const char* syscall, int err, const std::string& where) {
  // Node's wording: "connect ECONNREFUSED 127.0.0.1:8080".
  std::string msg = absl::StrCat(syscall, " ", uv_err_name(err));
  if (!where.empty()) absl::StrAppend(&msg, " ", where);
  return absl::UnavailableError(msg);
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
  uv_tcp_t tcp;
  bool tcp_open = false;
  Handler* handler = nullptr;
  bool connecting = false;
  bool connect_pending = false;  // connected; the handler has not heard it yet
  bool paused = false;
  bool reading = false;
  bool ending = false;
  bool closed = false;
  // Lingering close (UvLoopOptions::lingerMillis): from end() on, input is read (and dropped
  // when nobody handles it) until the peer's FIN, at most lingerMaxBytes, until the timer fires.
  uv_timer_t linger_timer;
  bool timer_open = false;
  size_t lingered_bytes = 0;
  bool detached = false;  // the UvSocket is gone: the loop holds the close in progress
  int handles_closing = 0;
  size_t queued = 0;  // bytes corked or handed to libuv and not written yet
  std::vector<SharedBuffer> corked;
  size_t corked_bytes = 0;
  bool uncork_scheduled = false;
  std::string host;
  uint16_t port = 0;
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
    std::shared_ptr<State> state;
  };

  void open() {
    uv_tcp_init(loop->uv(), &tcp);
    tcp.data = this;
    tcp_open = true;
    self = shared_from_this();
  }

  void startReading() {
    // Ending without a handler: read only to drop the bytes (lingering close).
    const bool drain = ending && handler == nullptr;
    if (closed || connecting || reading || (!drain && (paused || handler == nullptr))) return;
    reading = true;
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&tcp),
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
          if (nread != 0) st->loop->noteIo();
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
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
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
    uv_tcp_nodelay(&tcp, 1);
    connect_pending = true;
    notifyConnect();
  }

  // Writes are corked until the loop is about to poll (UvLoop::beforePoll): everything the
  // connection's session wrote during a loop turn (response headers, DATA, then the trailers a
  // 'wantTrailers' listener sent) leaves in one writev, one syscall, and the peer reads it in one
  // read. They count in writeQueueSize() at once.
  void write(std::string data) {
    if (closed || ending || data.empty()) return;
    cork(SharedBuffer(std::move(data)));
  }

  void writev(std::vector<SharedBuffer> buffers) {
    if (closed || ending) return;
    for (SharedBuffer& b : buffers) {
      if (!b.empty()) cork(std::move(b));
    }
  }

  void cork(SharedBuffer b) {
    queued += b.size();
    corked_bytes += b.size();
    corked.push_back(std::move(b));
    if (uncork_scheduled) return;
    uncork_scheduled = true;
    loop->beforePoll([keep = shared_from_this()] {
      keep->uncork_scheduled = false;
      keep->uncork();
    });
  }

  std::vector<uv_buf_t> corkedBufs() const {
    std::vector<uv_buf_t> bufs;
    bufs.reserve(corked.size());
    for (const SharedBuffer& b : corked) {
      // libuv only reads through base; the const_cast never writes.
      bufs.push_back(uv_buf_init(const_cast<char*>(b.data()), static_cast<unsigned>(b.size())));
    }
    return bufs;
  }

  void uncork() {
    if (corked.empty() || closed) return;
    std::vector<uv_buf_t> bufs = corkedBufs();
    // Straight to the kernel when nothing is in flight (the common case): no write request, no
    // completion callback next turn, no POLLOUT watcher change (an epoll_ctl and a non-blocking
    // epoll_wait per write, measured with strace).
    size_t written = 0;
    if (queued == corked_bytes) {
      int rv = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp), bufs.data(),
                            static_cast<unsigned>(bufs.size()));
      if (rv < 0 && rv != UV_EAGAIN && rv != UV_ENOSYS) {
        forgetCorked();
        closeWith(uvError("write", rv, ""), /*notify=*/true);
        return;
      }
      written = rv > 0 ? static_cast<size_t>(rv) : 0;
    }
    if (written == corked_bytes) {
      forgetCorked();
      if (queued == 0 && ending) {
        shutdown();
      } else if (queued == 0 && handler) {
        handler->onSocketDrain();
      }
      return;
    }
    // The rest goes through uv_write, which keeps it until the socket is writable.
    queued -= written;
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
    req->bytes = corked_bytes - written;
    req->buffers = std::move(corked);  // the bytes bufs point into stay referenced
    corked.clear();
    corked_bytes = 0;
    // uv_write copies the uv_buf_t array it is given (not the bytes): `bufs` may go.
    submit(req, bufs.data() + first, static_cast<unsigned>(bufs.size() - first));
  }

  // Best effort when the socket closes with writes still corked (a GOAWAY written just before
  // destroy()): what the kernel takes now, as an uncorked uv_write would have sent at once.
  void writeCorkedNow() {
    if (corked.empty() || !tcp_open) return;
    std::vector<uv_buf_t> bufs = corkedBufs();
    (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp), bufs.data(),
                       static_cast<unsigned>(bufs.size()));
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
    int rv = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&tcp), bufs, nbufs,
                      [](uv_write_t* r, int status) {
                        auto* wr = reinterpret_cast<WriteReq*>(r);
                        std::shared_ptr<State> st = std::move(wr->state);
                        st->queued -= wr->bytes;
                        delete wr;
                        if (status < 0) {
                          if (status != UV_ECANCELED) {
                            st->closeWith(uvError("write", status, ""), /*notify=*/true);
                          }
                          return;
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
    int rv = uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&tcp), [](uv_shutdown_t* r, int) {
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
    if (ms > 0 && !timer_open && tcp_open) {
      uv_timer_init(loop->uv(), &linger_timer);
      linger_timer.data = this;
      timer_open = true;
      uv_timer_start(
          &linger_timer,
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
    Handler* h = handler;
    handler = nullptr;
    auto keep = shared_from_this();
    if (tcp_open) {
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp), &State::onHandleClosed);
    }
    if (timer_open) {
      uv_timer_stop(&linger_timer);
      ++handles_closing;
      uv_close(reinterpret_cast<uv_handle_t*>(&linger_timer), &State::onHandleClosed);
    }
    if (detached) loop->release(this);  // its guard finds us closed
    if (notify && h) h->onSocketClose(std::move(status));
  }

  static void onHandleClosed(uv_handle_t* hd) {
    auto* st = static_cast<State*>(hd->data);
    if (--st->handles_closing == 0) st->self.reset();  // may free the state
  }
};

UvSocket::UvSocket(UvLoop* loop) : state_(std::make_shared<State>()) { state_->loop = loop; }

UvSocket::~UvSocket() { destroy(); }

std::unique_ptr<UvSocket> UvSocket::connect(UvLoop* loop, std::string host, uint16_t port) {
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  std::shared_ptr<State> st = sock->state_;
  st->open();
  st->connecting = true;
  st->host = host;
  st->port = port;
  // Strip the brackets of an IPv6 literal.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // RFC 6761 §6.3: "localhost" is loopback, without asking DNS (a minimal system may have no
  // /etc/hosts entry for it).
  if (absl::AsciiStrToLower(host) == "localhost") host = "127.0.0.1";
  struct Gai {
    uv_getaddrinfo_t req;
    std::shared_ptr<State> state;
  };
  auto* gai = new Gai;
  gai->state = st;
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string service = std::to_string(port);
  int rv = uv_getaddrinfo(
      loop->uv(), &gai->req,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* g = reinterpret_cast<Gai*>(req);
        std::shared_ptr<State> st = std::move(g->state);
        delete g;
        if (st->closed) {
          if (res) uv_freeaddrinfo(res);
          return;
        }
        const std::string where = absl::StrCat(st->host, ":", st->port);
        if (status < 0 || res == nullptr) {
          st->closeWith(uvError("getaddrinfo", status < 0 ? status : UV_EAI_NONAME, st->host),
                        true);
          return;
        }
        auto* creq = new uv_connect_t;
        creq->data = st.get();
        int crv = uv_tcp_connect(creq, &st->tcp, res->ai_addr, [](uv_connect_t* c, int cstatus) {
          auto* s = static_cast<State*>(c->data);
          delete c;
          if (s->closed) return;
          auto keep = s->shared_from_this();
          if (cstatus < 0) {
            s->closeWith(uvError("connect", cstatus, absl::StrCat(s->host, ":", s->port)), true);
            return;
          }
          s->onConnected();
        });
        uv_freeaddrinfo(res);
        if (crv < 0) {
          delete creq;
          st->closeWith(uvError("connect", crv, where), true);
        }
      },
      host.c_str(), service.c_str(), &hints);
  if (rv < 0) {
    delete gai;
    loop->post([st, rv] { st->closeWith(uvError("getaddrinfo", rv, st->host), true); });
  }
  return sock;
}

absl::StatusOr<std::unique_ptr<UvSocket>> UvSocket::accept(UvLoop* loop, uv_stream_t* server) {
  std::unique_ptr<UvSocket> sock(new UvSocket(loop));
  sock->state_->open();
  int rv = uv_accept(server, reinterpret_cast<uv_stream_t*>(&sock->state_->tcp));
  if (rv < 0) return uvError("accept", rv, "");
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

std::string UvSocket::remoteAddress() const {
  if (!state_->tcp_open || state_->closed) return "";
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&state_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  return formatAddress(reinterpret_cast<sockaddr*>(&ss));
}

uint16_t UvSocket::remotePort() const {
  if (!state_->tcp_open || state_->closed) return 0;
  sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&state_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  uint16_t port = 0;
  formatAddress(reinterpret_cast<sockaddr*>(&ss), &port);
  return port;
}

void UvSocket::ref() {
  if (state_->tcp_open && !state_->closed) uv_ref(reinterpret_cast<uv_handle_t*>(&state_->tcp));
}

void UvSocket::unref() {
  if (state_->tcp_open && !state_->closed) uv_unref(reinterpret_cast<uv_handle_t*>(&state_->tcp));
}

}  // namespace h2rpc::transport
