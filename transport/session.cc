#include "transport/session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "transport/block_pool.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/internal/nv.h"
#include "transport/internal/thread_spare.h"

namespace h2rpc::transport {

namespace {

// Frames are coalesced into socket writes of about this size.
constexpr size_t kWriteBatch = 64 * 1024;
// The largest DATA payload we send in one frame (when the peer allows it): a 64 KiB gRPC
// message and its prefix fit.
constexpr int64_t kMaxDataFrame = 128 * 1024;
// The most padding nghttp2 adds to a DATA frame (NGHTTP2_MAX_PADLEN).
constexpr int64_t kMaxPadding = 256;

double msSince(EventLoop* loop, uint64_t start) {
  return static_cast<double>(loop->now() - start);
}

// Our Settings as SETTINGS entries, in the order Node packs them (settings.h).
absl::StatusOr<std::vector<nghttp2_settings_entry>> toEntries(const Settings& s) {
  auto entries = settingsEntries(s);
  if (!entries.ok()) return entries.status();
  std::vector<nghttp2_settings_entry> iv;
  iv.reserve(entries->size());
  for (const SettingsEntry& e : *entries) iv.push_back({e.id, e.value});
  return iv;
}

// The block a loop's server sessions share as nghttp2's frame buffer
// (internal/nghttp2_allocator.h): as large as the largest chunk nghttp2 asks for, a DATA frame
// of kMaxDataFrame (dataReadLength never answers more) with its 9-byte header and Pad Length
// byte.
std::shared_ptr<internal::SharedFrameBuffer> loopFrameBuffer(EventLoop* loop) {
  auto& slot = loop->frameBufferSlot();
  if (!slot) {
    slot = std::make_shared<internal::SharedFrameBuffer>(
        static_cast<size_t>(kMaxDataFrame) + 9 + 1);
  }
  return slot;
}

// The session's output segments and parsed events are kept per thread, not per session
// (internal/thread_spare.h): two vectors of frame segments and one of parsed events stayed with
// every connection after its handshake (~470 heap bytes).
using internal::ThreadSpare;

// The buffer a session copies nghttp2's own bytes into while it builds a batch (writeOut),
// kept per thread between batches, not per session: a batch's bytes are copied out of it into
// a buffer of their size (from the thread's BlockPool) when the batch goes to the socket, and
// the string's capacity stays for the next batch of any session of the thread. Moving the
// string out instead cost its growth from 15 inline bytes by doubling (~7 reallocations for
// 16 unary responses' HEADERS, DATA headers and trailers) and a control block, every batch.
// Kept up to kKeptOutputBytes (a larger one is freed); a nested use (a listener making another
// session write) finds none and builds its own, and the larger one is kept.
constexpr size_t kKeptOutputBytes = 16 * 1024;
std::string& threadOutputBytes() {
  static thread_local std::string bytes;
  return bytes;
}
void takeOutputBytes(std::string& out) {
  if (out.empty() && threadOutputBytes().capacity() > out.capacity()) out.swap(threadOutputBytes());
}
void giveOutputBytes(std::string& out) {
  out.clear();
  std::string& kept = threadOutputBytes();
  if (out.capacity() > kept.capacity() && out.capacity() <= kKeptOutputBytes) kept.swap(out);
  std::string().swap(out);  // out holds no memory after this
}

}  // namespace

// Static trampolines from nghttp2's C callbacks to the session's members.
struct Nghttp2Callbacks {
  static Http2Session* S(void* user_data) { return static_cast<Http2Session*>(user_data); }

  static int beginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* ud) {
    return S(ud)->onBeginFrame(hd);
  }
  static int beginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    return S(ud)->onBeginHeaders(frame);
  }
  static int header(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                    nghttp2_rcbuf* value, uint8_t flags, void* ud) {
    nghttp2_vec n = nghttp2_rcbuf_get_buf(name);
    nghttp2_vec v = nghttp2_rcbuf_get_buf(value);
    return S(ud)->onHeader(frame, {reinterpret_cast<const char*>(n.base), n.len},
                           {reinterpret_cast<const char*>(v.base), v.len}, flags);
  }
  static int frameRecv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    return S(ud)->onFrameRecv(frame);
  }
  static int dataChunk(nghttp2_session*, uint8_t flags, int32_t id, const uint8_t* data,
                       size_t len, void* ud) {
    return S(ud)->onDataChunk(flags, id, {reinterpret_cast<const char*>(data), len});
  }
  static int streamClose(nghttp2_session*, int32_t id, uint32_t code, void* ud) {
    return S(ud)->onStreamClose(id, code);
  }
  static int invalidFrame(nghttp2_session*, const nghttp2_frame* frame, int code, void* ud) {
    return S(ud)->onInvalidFrame(frame, code);
  }
  static int frameNotSent(nghttp2_session*, const nghttp2_frame* frame, int code, void* ud) {
    return S(ud)->onFrameNotSent(frame, code);
  }
  static int frameSent(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    return S(ud)->onFrameSent(frame);
  }
  // DATA frames as large as the peer and flow control allow, up to kMaxDataFrame (nghttp2
  // stops at 16 KiB otherwise, whatever SETTINGS_MAX_FRAME_SIZE the peer sent), and no larger
  // than what the stream has queued: nghttp2 1.52 grows its frame buffer (aob.framebufs) to
  // this length + 10 bytes before it asks for the data, and keeps it for the session's life,
  // though our payloads never go through it (NO_COPY). Without the last bound, one 5-byte gRPC
  // message to a peer allowing large frames left a 64 KiB buffer on the connection. The frames
  // are the same: readForFraming copies at most what is queued. Padding may add up to 256 bytes
  // (NGHTTP2_MAX_PADLEN) beyond the payload, within this length: that much more is allowed.
  static ssize_t dataReadLength(nghttp2_session*, uint8_t, int32_t id, int32_t session_window,
                                int32_t stream_window, uint32_t remote_max_frame_size, void* ud) {
    int64_t n = std::min<int64_t>({session_window, stream_window, remote_max_frame_size,
                                   kMaxDataFrame});
    if (const Http2Stream* stream = S(ud)->findStream(id)) {
      const int64_t padding = S(ud)->options_.paddingStrategy != constants::PADDING_STRATEGY_NONE
                                  ? kMaxPadding
                                  : 0;
      n = std::min<int64_t>(n, static_cast<int64_t>(stream->bufferSize()) + padding);
    }
    return static_cast<ssize_t>(std::max<int64_t>(n, 1));
  }
  // A DATA frame whose payload the stream did not copy (NGHTTP2_DATA_FLAG_NO_COPY).
  static int sendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                      size_t length, nghttp2_data_source*, void* ud) {
    return S(ud)->onSendData(frame, framehd, length);
  }
  // Node's PADDING_STRATEGY_ALIGNED pads frames to a multiple of 8 bytes; MAX pads fully.
  static ssize_t selectPadding(nghttp2_session*, const nghttp2_frame* frame, size_t max_payload,
                               void* ud) {
    const size_t len = frame->hd.length;
    switch (S(ud)->options_.paddingStrategy) {
      case constants::PADDING_STRATEGY_MAX:
        return static_cast<ssize_t>(max_payload);
      case constants::PADDING_STRATEGY_ALIGNED: {
        const size_t r = (len + 9) % 8;
        if (r == 0) return static_cast<ssize_t>(len);
        return static_cast<ssize_t>(std::min(max_payload, len + (8 - r)));
      }
      default:
        return static_cast<ssize_t>(len);
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Construction

Http2Session::Http2Session(Type type, EventLoop* loop, std::unique_ptr<Socket> socket,
                           SessionOptions options)
    : type_(type), loop_(loop), socket_(std::move(socket)), options_(std::move(options)) {}

Http2Session::~Http2Session() {
  leaveQuota();
  // Streams the application still holds must not count into a session that is gone.
  for (auto& [id, stream] : streams_) stream->leaveSessionCount();
  if (socket_) {
    socket_->setHandler(nullptr);
    socket_->destroy();
  }
  if (ng_) nghttp2_session_del(ng_);
}

absl::Status Http2Session::init() {
  if (absl::Status st = validateSettings(options_.settings); !st.ok()) return st;
  last_activity_ = idle_since_ = last_received_ = loop_->now();
  perf_.start = last_activity_;  // an entry's startTime, at no extra clock read

  frame_scanner_ = internal::FrameScanner(type_ == Type::kServer ? NGHTTP2_CLIENT_MAGIC_LEN : 0);
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) {
    return nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_NO_MEM", "Out of memory");
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, Nghttp2Callbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, Nghttp2Callbacks::beginFrame);
  nghttp2_session_callbacks_set_on_header_callback2(cb, Nghttp2Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, Nghttp2Callbacks::frameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, Nghttp2Callbacks::dataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, Nghttp2Callbacks::streamClose);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, Nghttp2Callbacks::invalidFrame);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cb, Nghttp2Callbacks::frameNotSent);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, Nghttp2Callbacks::frameSent);
  nghttp2_session_callbacks_set_send_data_callback(cb, Nghttp2Callbacks::sendData);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
                                                                 Nghttp2Callbacks::dataReadLength);
  if (options_.paddingStrategy != constants::PADDING_STRATEGY_NONE) {
    nghttp2_session_callbacks_set_select_padding_callback(cb, Nghttp2Callbacks::selectPadding);
  }

  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // We credit flow control only for data the application has been handed: a reader that stops
  // reading stops the peer (Node does the same).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt, options_.maxDeflateDynamicTableSize);
  nghttp2_option_set_max_reserved_remote_streams(opt, options_.maxReservedRemoteStreams);
  nghttp2_option_set_max_send_header_block_length(opt, options_.maxSendHeaderBlockLength);
  nghttp2_option_set_peer_max_concurrent_streams(opt, options_.peerMaxConcurrentStreams);
  nghttp2_option_set_max_settings(opt, options_.maxSettings);
  nghttp2_option_set_stream_reset_rate_limit(opt, options_.streamResetBurst,
                                             options_.streamResetRate);
  // nghttp2 1.52 keeps every closed stream for the (RFC 9113-deprecated) priority tree while the
  // local SETTINGS_MAX_CONCURRENT_STREAMS is unlimited, Node's default; that memory counts against
  // maxSessionMemory, so one long-lived connection refused every stream after ~40k. Node 20's
  // nghttp2 keeps none (its priority tree is gone): neither do we. What RFC 9113 §5.1 needs to
  // know about closed streams is kept by closed_streams_, bounded (internal/closed_streams.h).
  nghttp2_option_set_no_closed_streams(opt, 1);
  // ALTSVC and ORIGIN frames reach onFrameRecv, parsed by nghttp2 (altsvc_origin.cc).
  nghttp2_option_set_builtin_recv_extension_type(opt, NGHTTP2_ALTSVC);
  nghttp2_option_set_builtin_recv_extension_type(opt, NGHTTP2_ORIGIN);

  // Not a client's: nghttp2 writes its client magic into the frame buffer at creation.
  if (type_ == Type::kServer && internal::SharedFrameBuffer::supported()) {
    nghttp2_alloc_.shareFrameBuffer(loopFrameBuffer(loop_));
  }
  nghttp2_mem mem = nghttp2_alloc_.mem();
  int rv = type_ == Type::kServer ? nghttp2_session_server_new3(&ng_, cb, this, opt, &mem)
                                  : nghttp2_session_client_new3(&ng_, cb, this, opt, &mem);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    return nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_NO_MEM", "Out of memory");
  }

  auto iv = toEntries(options_.settings);
  if (!iv.ok()) return iv.status();
  rv = nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv->data(), iv->size());
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_INVALID_SETTING_VALUE",
                     nghttp2_strerror(rv));
  }
  // Our initial SETTINGS are acknowledged like any other: 'localSettings' follows the ACK.
  pending_settings_.push_back({loop_->now(), nullptr});
  // Node widens the connection window to the stream window it advertises, so that a single
  // stream is not throttled by the connection (its default local window is 65535 either way).
  if (options_.settings.initialWindowSize && *options_.settings.initialWindowSize > 65535) {
    nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<int32_t>(*options_.settings.initialWindowSize));
  }
  loop_->adopt(this, shared_from_this());  // alive while its connection is (see the header)
  socket_->setHandler(this);
  if (!socket_->connecting()) {
    // Already connected (an accepted socket, a finished TLS handshake): start from the loop.
    std::weak_ptr<Http2Session> weak = weak_from_this();
    post([weak] {
      if (auto self = weak.lock()) self->onSocketConnect();
    });
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Properties

bool Http2Session::encrypted() const { return socket_ && socket_->encrypted(); }

std::string Http2Session::alpnProtocol() const {
  return socket_ ? socket_->alpnProtocol() : std::string();
}

Settings Http2Session::readSettings(bool remote) const {
  Settings s;
  if (ng_ == nullptr) return s;
  auto get = [&](nghttp2_settings_id id) {
    return remote ? nghttp2_session_get_remote_settings(ng_, id)
                  : nghttp2_session_get_local_settings(ng_, id);
  };
  s.headerTableSize = get(NGHTTP2_SETTINGS_HEADER_TABLE_SIZE);
  s.enablePush = get(NGHTTP2_SETTINGS_ENABLE_PUSH) != 0;
  s.initialWindowSize = get(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE);
  s.maxFrameSize = get(NGHTTP2_SETTINGS_MAX_FRAME_SIZE);
  s.maxConcurrentStreams = get(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  s.maxHeaderListSize = get(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
  s.maxHeaderSize = s.maxHeaderListSize;
  s.enableConnectProtocol = get(NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 0;
  if (remote) {
    for (const auto& [id, value] : remote_custom_settings_) s.customSettings[id] = value;
  } else {
    for (const auto& [id, value] : options_.settings.customSettings) s.customSettings[id] = value;
  }
  return s;
}

Settings Http2Session::localSettings() const { return readSettings(false); }
Settings Http2Session::remoteSettings() const { return readSettings(true); }

SessionState Http2Session::state() const {
  SessionState s;
  if (ng_ == nullptr || destroyed_) return s;
  s.effectiveLocalWindowSize = nghttp2_session_get_effective_local_window_size(ng_);
  s.effectiveRecvDataLength = nghttp2_session_get_effective_recv_data_length(ng_);
  s.nextStreamID = static_cast<int32_t>(nghttp2_session_get_next_stream_id(ng_));
  s.localWindowSize = nghttp2_session_get_local_window_size(ng_);
  s.lastProcStreamID = nghttp2_session_get_last_proc_stream_id(ng_);
  s.remoteWindowSize = nghttp2_session_get_remote_window_size(ng_);
  s.outboundQueueSize = nghttp2_session_get_outbound_queue_size(ng_);
  s.deflateDynamicTableSize = nghttp2_session_get_hd_deflate_dynamic_table_size(ng_);
  s.inflateDynamicTableSize = nghttp2_session_get_hd_inflate_dynamic_table_size(ng_);
  return s;
}

absl::Status Http2Session::invalidSession() const {
  return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_INVALID_SESSION",
                   "The session has been destroyed");
}

void Http2Session::removeAllListeners() {
  connect_event_.removeAllListeners();
  close_event_.removeAllListeners();
  timeout_event_.removeAllListeners();
  error_event_.removeAllListeners();
  frame_error_event_.removeAllListeners();
  goaway_event_.removeAllListeners();
  local_settings_event_.removeAllListeners();
  remote_settings_event_.removeAllListeners();
  ping_event_.removeAllListeners();
}

void ServerHttp2Session::removeAllListeners() {
  Http2Session::removeAllListeners();
  stream_event_.removeAllListeners();
}

void Http2Session::off(ListenerId id) {
  connect_event_.off(id) || close_event_.off(id) || timeout_event_.off(id) ||
      error_event_.off(id) || frame_error_event_.off(id) || goaway_event_.off(id) ||
      local_settings_event_.off(id) || remote_settings_event_.off(id) || ping_event_.off(id);
}

// ---------------------------------------------------------------------------------------------
// Operations

absl::Status Http2Session::settings(const Settings& settings, SettingsCallback callback) {
  if (destroyed_) return invalidSession();
  if (absl::Status st = validateSettings(settings); !st.ok()) return st;
  if (pending_settings_.size() >= options_.maxOutstandingSettings) {
    absl::Status err = nodeError(absl::StatusCode::kResourceExhausted,
                                 "ERR_HTTP2_MAX_PENDING_SETTINGS_ACK",
                                 "Maximum number of pending settings acknowledgements");
    destroy(err);  // as Node: the session cannot go on
    return err;
  }
  auto iv = toEntries(settings);
  if (!iv.ok()) return iv.status();
  int rv = nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv->data(), iv->size());
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_INVALID_SETTING_VALUE",
                     nghttp2_strerror(rv));
  }
  for (const auto& [id, value] : settings.customSettings) {
    options_.settings.customSettings[id] = value;
  }
  pending_settings_.push_back({loop_->now(), std::move(callback)});
  updateTimer();
  scheduleFlush();
  return absl::OkStatus();
}

absl::Status Http2Session::ping(std::string_view payload, PingCallback callback) {
  if (destroyed_) return invalidSession();
  if (!payload.empty() && payload.size() != 8) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_PING_LENGTH",
                     "HTTP2 ping payload must be 8 bytes");
  }
  if (pending_pings_.size() >= options_.maxOutstandingPings) {
    // Node's AddPing: ping() returns false and the callback gets ERR_HTTP2_PING_CANCEL (here
    // from the loop, as every callback).
    if (callback) {
      post([callback = std::move(callback), payload = std::string(payload)] {
        callback(nodeError(absl::StatusCode::kCancelled, "ERR_HTTP2_PING_CANCEL",
                           "HTTP2 ping cancelled"),
                 0, payload);
      });
    }
    return nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_PING_CANCEL",
                     absl::StrCat("More than maxOutstandingPings (", options_.maxOutstandingPings,
                                  ") pings are unacknowledged"));
  }
  std::string data(payload);
  if (data.empty()) {
    // A distinct payload per ping, so that acknowledgements are easy to tell apart.
    uint64_t n = ++ping_counter_;
    data.assign(8, '\0');
    for (int i = 7; i >= 0; --i, n >>= 8) data[i] = static_cast<char>(n & 0xff);
  }
  if (closed_ || connecting_) {
    // Node answers a ping on a closed session with ERR_HTTP2_PING_CANCEL.
    auto self = shared_from_this();
    post([callback = std::move(callback), data] {
      if (callback) {
        callback(nodeError(absl::StatusCode::kCancelled, "ERR_HTTP2_PING_CANCEL",
                           "HTTP2 ping cancelled"),
                 0, data);
      }
    });
    return absl::OkStatus();
  }
  int rv = nghttp2_submit_ping(ng_, NGHTTP2_FLAG_NONE, reinterpret_cast<const uint8_t*>(data.data()));
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  pending_pings_.push_back({std::move(data), loop_->now(), std::move(callback)});
  updateTimer();
  scheduleFlush();
  return absl::OkStatus();
}

absl::Status Http2Session::goaway(uint32_t code, int32_t lastStreamID, std::string_view opaqueData) {
  if (destroyed_) return invalidSession();
  if (lastStreamID <= 0) lastStreamID = nghttp2_session_get_last_proc_stream_id(ng_);
  int rv = nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, lastStreamID, code,
                                 reinterpret_cast<const uint8_t*>(opaqueData.data()),
                                 opaqueData.size());
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  updateTimer();
  scheduleFlush();
  return absl::OkStatus();
}

absl::Status Http2Session::shutdownNotice() {
  if (destroyed_) return invalidSession();
  if (closed_) return absl::OkStatus();  // the final GOAWAY is out already
  int rv = nghttp2_submit_shutdown_notice(ng_);
  if (rv != 0) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  updateTimer();
  scheduleFlush();
  return absl::OkStatus();
}

void Http2Session::close(std::function<void()> callback) {
  if (closed_ || destroyed_) return;
  closed_ = true;
  if (callback) close_event_.once(std::move(callback));
  if (!connecting_) (void)goaway();  // as Node, even after one from goaway()
  maybeDestroy();
}

void Http2Session::maybeDestroy() {
  if (destroyed_ || !closed_ || !streams_.empty() || !pending_requests_.empty()) return;
  if (ng_ && nghttp2_session_want_write(ng_) && socket_ && !connecting_) {
    scheduleFlush();  // let GOAWAY and the last frames out first; flush() calls us again
    return;
  }
  destroy();
}

void Http2Session::destroy(absl::Status error, std::optional<uint32_t> code) {
  if (destroyed_) return;
  if (in_nghttp2_) {
    // nghttp2 must not be torn down from inside its own callbacks.
    auto self = shared_from_this();
    post([self, error, code] { self->destroy(error, code); });
    return;
  }
  auto self = shared_from_this();
  const uint32_t c = code.value_or(error.ok() ? constants::NGHTTP2_NO_ERROR
                                              : constants::NGHTTP2_INTERNAL_ERROR);
  destroyed_ = true;
  closed_ = true;
  destroy_code_ = c;
  if (timer_) timer_->stop();

  // Streams go first (Node: each stream.destroy(error)); they report 'close' before we do, with
  // the GOAWAY code we received if any, else ours. Requests still waiting for the connection
  // first, with ERR_HTTP2_STREAM_CANCEL (caused by `error`) and, as Node, INTERNAL_ERROR
  // unless the session has a code.
  auto pending = std::move(pending_requests_);
  pending_requests_.clear();
  for (auto& stream : pending) {
    stream->detach(http2StreamCancelError(error),
                   goaway_code_ ? goaway_code_ : (c ? c : constants::NGHTTP2_INTERNAL_ERROR));
  }
  detachStreams(error, goaway_code_ ? goaway_code_ : c);

  if (ng_ && socket_ && !connecting_) {
    // GOAWAY with our code, unless one is out already (nghttp2 ignores a second one).
    nghttp2_session_terminate_session(ng_, c);
    writeOut();
  }
  failPending(nodeError(absl::StatusCode::kCancelled, "ERR_HTTP2_PING_CANCEL",
                        "HTTP2 ping cancelled"));
  leaveQuota();
  if (socket_) {
    socket_->setHandler(nullptr);
    socket_->end();
  }
  finishClose(error);
}

void Http2Session::detachStreams(const absl::Status& error, uint32_t code) {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, stream] : streams) {
    stream->leaveSessionCount();
    if (stream->nghttp2_closed_) {
      // nghttp2 closed it before the connection went: what it received, and its close code, are
      // still delivered.
      stream->keep_session_ = shared_from_this();
      continue;
    }
    stream->detach(error, code);
  }
}

void Http2Session::failPending(const absl::Status& error) {
  auto pings = std::move(pending_pings_);
  pending_pings_.clear();
  auto settings = std::move(pending_settings_);
  pending_settings_.clear();
  if (pings.empty() && settings.empty()) return;
  post([pings = std::move(pings), settings = std::move(settings), error]() mutable {
    for (auto& p : pings) {
      if (p.callback) p.callback(error, 0, p.payload);
    }
    for (auto& s : settings) {
      if (s.callback) {
        s.callback(nodeError(absl::StatusCode::kCancelled, "ERR_HTTP2_SETTINGS_CANCEL",
                             "HTTP2 session settings canceled"),
                   Settings{}, 0);
      }
    }
  });
}

void Http2Session::finishClose(absl::Status error) {
  if (finished_) return;
  finished_ = true;
  reportPerformance();
  auto self = shared_from_this();
  post([self, error] {
    if (!error.ok()) self->error_event_.emit(error);
    self->close_event_.emit();
    self->removeAllListeners();  // nothing follows 'close'; breaks listener→session cycles
    self->loop_->release(self.get());  // the connection is over: the session may go now
  });
}

absl::Status Http2Session::setLocalWindowSize(int32_t windowSize) {
  if (destroyed_) return invalidSession();
  if (windowSize < 0) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_OUT_OF_RANGE",
                     "The value of \"windowSize\" is out of range");
  }
  int rv = nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0, windowSize);
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  scheduleFlush();
  return absl::OkStatus();
}

void Http2Session::setTimeout(uint64_t ms, std::function<void()> callback) {
  if (destroyed_) return;
  timeout_ms_ = ms;
  // Node's setStreamTimeout: `callback` is a once('timeout') listener, and setTimeout(0, cb)
  // removes cb. A std::function has no identity: 0 with a callback removes every callback an
  // earlier setTimeout() added that has not run yet (README, "Deviations from Node 20").
  std::erase_if(timeout_callbacks_, [this](ListenerId id) { return !timeout_event_.has(id); });
  if (ms == 0) {
    if (timer_) timer_->stop();
    if (callback) {
      for (ListenerId id : timeout_callbacks_) timeout_event_.off(id);
      timeout_callbacks_.clear();
    }
    return;
  }
  if (callback) timeout_callbacks_.push_back(timeout_event_.once(std::move(callback)));
  // Made on first use: most sessions never set a timeout, and a timer is ~150 bytes of heap per
  // connection (bench/PROFILE.md, "RSS per connection, stop 28").
  if (!timer_) timer_ = loop_->createTimer();
  updateTimer();
}

void Http2Session::updateTimer() {
  last_activity_ = loop_->now();
  if (timeout_ms_ == 0 || destroyed_ || !timer_) return;
  std::weak_ptr<Http2Session> weak = weak_from_this();
  timer_->start(timeout_ms_, [weak] {
    auto self = weak.lock();
    if (!self || self->destroyed_) return;
    // Node: 'timeout' with no listener... the application decides; with none, nothing happens.
    self->timeout_event_.emit();
  });
}

void Http2Session::ref() {
  socket_referenced_ = true;
  if (socket_) socket_->ref();
}

void Http2Session::unref() {
  socket_referenced_ = false;
  if (socket_) socket_->unref();
}

void Http2Session::post(LoopCallback fn) {
  if (in_nghttp2_ && parsing_) {
    ThreadSpare<LoopCallback>::fill(parsed_events_);
    parsed_events_.push_back(std::move(fn));  // runParsedEvents(), after this frame
  } else {
    loop_->post(std::move(fn));
  }
}

Http2SessionPerformanceDetail Http2Session::performanceDetail() const {
  Http2SessionPerformanceDetail d;
  d.bytesRead = perf_.bytes_read;
  d.bytesWritten = perf_.bytes_written;
  d.framesReceived = perf_.frames_received;
  d.framesSent = perf_.frames_sent;
  d.maxConcurrentStreams = perf_.max_concurrent_streams;
  d.pingRTT = perf_.ping_rtt;
  if (perf_.timed_streams > 0) {
    d.streamAverageDuration = perf_.stream_durations / static_cast<double>(perf_.timed_streams);
  }
  d.streamCount = perf_.stream_count;
  d.type = type_ == Type::kServer ? "server" : "client";
  return d;
}

void Http2Session::reportPerformance() {
  internal::PerformanceRegistry* registry = http2Observed(loop_);
  if (registry == nullptr) return;  // no clock read, nothing built
  PerformanceEntry entry;
  entry.name = "Http2Session";
  entry.startTime = static_cast<double>(perf_.start);
  entry.duration = msSince(loop_, perf_.start);
  entry.detail = performanceDetail();
  registry->enqueue(std::move(entry));
}

// ---------------------------------------------------------------------------------------------
// Streams

Http2Stream* Http2Session::findStream(int32_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Session::addStream(std::shared_ptr<Http2Stream> stream) {
  std::shared_ptr<Http2Stream>& slot = streams_[stream->id()];
  if (slot) slot->leaveSessionCount();
  slot = std::move(stream);
  slot->joinSessionCount();
  // Node's AddStream: every stream counts, the most at once is kept.
  ++perf_.stream_count;
  perf_.max_concurrent_streams = std::max<uint64_t>(perf_.max_concurrent_streams, streams_.size());
  slot->startPerformanceTiming();
}

bool Http2Session::requestsWaitForConnect() const {
  return connecting_ && socket_ && socket_->connecting();
}

void Http2Session::addPendingRequest(std::shared_ptr<Http2Stream> stream) {
  if (pending_requests_.empty()) {
    std::weak_ptr<Http2Session> weak = weak_from_this();
    connect_event_.once([weak] {
      if (auto self = weak.lock()) self->requestOnConnect();
    });
  }
  pending_requests_.push_back(std::move(stream));
}

void Http2Session::requestOnConnect() {
  auto self = shared_from_this();
  auto pending = std::move(pending_requests_);
  pending_requests_.clear();
  for (auto& stream : pending) {
    if (stream->destroyed() || destroyed_) continue;  // destroy() detached them already
    if (closed_) {
      // Node: the session was closed while the request waited: it fails, nothing is sent.
      stream->detach(nodeError(absl::StatusCode::kUnavailable, "ERR_HTTP2_GOAWAY_SESSION",
                               "New streams cannot be created after receiving a GOAWAY"),
                     constants::NGHTTP2_INTERNAL_ERROR);
      continue;
    }
    stream->submitDeferred();
  }
}

void Http2Session::removeStream(int32_t id, const Http2Stream* stream) {
  if (id == 0 && stream != nullptr) {
    auto it = std::find_if(pending_requests_.begin(), pending_requests_.end(),
                           [stream](const auto& s) { return s.get() == stream; });
    if (it != pending_requests_.end()) pending_requests_.erase(it);
  }
  auto it = streams_.find(id);
  if (it != streams_.end()) {
    it->second->leaveSessionCount();
    streams_.erase(it);
    if (streams_.empty()) idle_since_ = loop_->now();
  }
  if (closed_) {
    // Node defers this (setImmediate) so that the stream's own events run first.
    auto self = shared_from_this();
    post([self] { self->maybeDestroy(); });
  }
}

void Http2Session::submitRstStream(int32_t stream_id, uint32_t code) {
  if (ng_ == nullptr || destroyed_) return;
  if (code == constants::NGHTTP2_CANCEL) {
    // Cancelling: at once, whatever was queued for the stream is moot.
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, stream_id, code);
  } else {
    // As Node: other codes wait until what is queued (the final HEADERS, trailers) has gone
    // out; nghttp2 would drop a stream's queued frames when its RST_STREAM is submitted.
    pending_rst_.push_back({stream_id, code});
  }
  scheduleFlush();
}

void Http2Session::consume(int32_t stream_id, size_t bytes) {
  // Stream-level credit for bytes the application was handed (the connection's was given
  // when they arrived).
  if (ng_ == nullptr || destroyed_ || bytes == 0 || stream_id <= 0) return;
  nghttp2_session_consume_stream(ng_, stream_id, bytes);
  scheduleFlush();
}

size_t Http2Session::memoryInUse() const {
  // What Node counts: nghttp2's own memory (header tables, queued frames), data queued to be
  // sent or waiting to be read, each stream, unacknowledged PINGs and SETTINGS; and what the
  // application retains for streams and their request headers (setRetainedBytes).
  size_t total = nghttp2_alloc_.bytes() + (socket_ ? socket_->writeQueueSize() : 0);
  total += streams_.size() * sizeof(Http2Stream) + stream_bytes_;
  total += pending_pings_.size() * sizeof(PendingPing);
  total += pending_settings_.size() * sizeof(PendingSettings);
  return total;
}

bool Http2Session::hasAvailableMemory() const {
#ifndef NDEBUG
  // Debug builds (and so every test) check the running total against a walk of the streams,
  // once per new stream.
  size_t walked = 0;
  for (const auto& [id, stream] : streams_) walked += stream->countedBytes();
  if (walked != stream_bytes_) {
    std::fprintf(stderr, "h2rpc: stream byte total %zu, streams hold %zu\n", stream_bytes_, walked);
    std::abort();
  }
#endif
  return memoryInUse() + sizeof(Http2Stream) <=
         static_cast<size_t>(options_.maxSessionMemory) * 1000000;
}

// ---------------------------------------------------------------------------------------------
// I/O

void Http2Session::receive(std::string_view data) {
  if (destroyed_ || ng_ == nullptr || data.empty()) return;
  perf_.bytes_read += data.size();
  auto self = shared_from_this();
  // Bytes from a socket that is up can come before the 'connect' init() posted (a TLS socket
  // delivers what came with its handshake): connect first, since what these frames' listeners
  // do (close() on a GOAWAY) now runs before the loop gets to it (see post()).
  if (connecting_ && socket_ && !socket_->connecting()) {
    onSocketConnect();
    if (destroyed_) return;
  }
  updateTimer();
  in_nghttp2_ = true;
  parsing_ = true;
  ssize_t rv = memRecv(data);
  parsing_ = false;
  in_nghttp2_ = false;
  runParsedEvents();  // none are left unless memRecv returned early; never lose one
  if (rv < 0) {
    absl::Status err;
    if (!recv_error_.ok()) {
      err = recv_error_;
    } else if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      err = nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR",
                      "Received bad client magic byte string");
    } else if (rv == NGHTTP2_ERR_FLOODED) {
      err = nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_ERROR",
                      "Flooding was detected in this HTTP/2 session, and it must be closed");
    } else {
      err = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
    }
    if (recv_error_destroys_) {
      // Node's session.destroy(err) (onSessionInternalError): streams get the error and
      // INTERNAL_ERROR, and so does the GOAWAY.
      destroy(err, constants::NGHTTP2_INTERNAL_ERROR);
      return;
    }
    // What the application answered before the error goes out before the GOAWAY (see
    // onInvalidFrame).
    if (recv_error_flushes_first_ && (!writeOut() || destroyed_)) return;
    // The peer broke the protocol: tell it (GOAWAY PROTOCOL_ERROR) and hang up. Its streams are
    // cut off (CANCEL, as when Node's socket closes under them).
    detachStreams(absl::OkStatus(), constants::NGHTTP2_CANCEL);
    destroy(err, constants::NGHTTP2_PROTOCOL_ERROR);
    return;
  }
  flush();
}

ssize_t Http2Session::memRecv(std::string_view data) {
  size_t pos = 0;
  while (pos < data.size()) {
    internal::FrameScanner::Frame frame;
    bool found = false;
    const size_t n = frame_scanner_.scan(data.substr(pos), &frame, &found);
    if (n > 0) {
      ssize_t rv = nghttp2_session_mem_recv(
          ng_, reinterpret_cast<const uint8_t*>(data.data()) + pos, n);
      // The frames just read are complete: their events run now, off nghttp2's stack (see
      // post()), even when a frame failed.
      runParsedEvents();
      if (rv < 0) return rv;
      if (destroyed_) return static_cast<ssize_t>(data.size());  // a listener ended it
      pos += n;
    }
    if (found) {
      if (int rv = checkClosedStream(frame); rv != 0) return rv;
      // The next byte fed is the header's last: the payload starts right after it.
      if (input_ != nullptr) noteDataRun(frame, data.data() + pos + 1);
    }
  }
  return static_cast<ssize_t>(data.size());
}

int Http2Session::checkClosedStream(const internal::FrameScanner::Frame& frame) {
  // Only streams nghttp2 has forgotten (no_closed_streams): RFC 9113 §5.1 says what to do from
  // how they closed. A stream we reset first is not recorded: frames on it are ignored (nghttp2
  // skips them), as §5.1 requires, since they may have crossed our RST_STREAM.
  if (frame.stream_id <= 0 || closed_streams_.size() == 0 ||
      nghttp2_session_find_stream(ng_, frame.stream_id) != nullptr) {
    return 0;
  }
  switch (closed_streams_.find(frame.stream_id)) {
    case internal::ClosedStreams::How::kPeerEnded:
      // "any frames after receiving a frame with the END_STREAM flag set MUST [be treated] as a
      // connection error of type STREAM_CLOSED". This GOAWAY is the one sent: nghttp2 keeps the
      // first.
      nghttp2_session_terminate_session(ng_, NGHTTP2_STREAM_CLOSED);
      recv_error_ = nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR",
                              nghttp2_strerror(NGHTTP2_ERR_STREAM_CLOSED));
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    case internal::ClosedStreams::How::kPeerReset:
      // "any frame other than PRIORITY after receiving a RST_STREAM MUST [be treated] as a stream
      // error of type STREAM_CLOSED". nghttp2 then skips the frame (crediting the connection
      // window for DATA); a peer that keeps doing it is cut off like any source of invalid frames.
      if (!countInvalidFrame()) return NGHTTP2_ERR_CALLBACK_FAILURE;
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, frame.stream_id, NGHTTP2_STREAM_CLOSED);
      return 0;
    case internal::ClosedStreams::How::kUnknown:
      break;
  }
  return 0;
}

void Http2Session::runParsedEvents() {
  // nghttp2 has returned (memRecv is between two of its calls): listeners may call anything,
  // even destroy(), which then runs at once instead of being posted.
  if (parsed_events_.empty()) return;  // the usual case (and then it holds no memory either)
  const bool was_in_nghttp2 = in_nghttp2_;
  in_nghttp2_ = false;
  // The events run from a vector of their own: a listener may post more (a nested parse).
  std::vector<LoopCallback> events;
  while (!parsed_events_.empty()) {
    events.swap(parsed_events_);
    for (LoopCallback& fn : events) fn();
    events.clear();
  }
  // Both are empty now: their memory goes back to the thread (ThreadSpare), none stays here.
  ThreadSpare<LoopCallback>::give(events);
  ThreadSpare<LoopCallback>::give(parsed_events_);
  in_nghttp2_ = was_in_nghttp2;
}

void Http2Session::scheduleFlush() {
  if (flush_scheduled_ || destroyed_) return;
  flush_scheduled_ = true;
  std::weak_ptr<Http2Session> weak = weak_from_this();
  // Last: what the other callbacks of this loop turn produce goes out in the same write.
  loop_->postLast([weak] {
    if (auto self = weak.lock()) {
      self->flush_scheduled_ = false;
      self->flush();
    }
  });
}

void Http2Session::flush() {
  if (destroyed_ || ng_ == nullptr || !socket_ || connecting_ || in_nghttp2_) return;
  auto self = shared_from_this();
  if (!writeOut()) return;
  if (destroyed_) return;
  if (!pending_rst_.empty() && socket_->writeQueueSize() < kSocketHighWater) {
    for (const auto& [id, code] : pending_rst_) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, code);
    }
    pending_rst_.clear();
    if (!writeOut() || destroyed_) return;
  }
  // nghttp2 is done with this connection (GOAWAY sent after a protocol error, or both sides
  // finished): close it.
  if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) {
    detachStreams(absl::OkStatus(), constants::NGHTTP2_CANCEL);
    destroy();
    return;
  }
  if (closed_) maybeDestroy();
}

bool Http2Session::writeOut() {
  // One batch: nghttp2's own bytes (copied into out_bytes_: mem_send's pointer is only valid
  // until its next call) and, in order between them, DATA payloads as references to the
  // written buffers (onSendData). They go to the socket as one writev.
  bool wrote = false;
  auto flushBatch = [&] {
    if (out_pending_ == 0) return;
    SharedBuffer bytes = SharedBuffer::ForOverwrite(out_bytes_.size());
    if (!out_bytes_.empty()) {
      std::memcpy(bytes.mutable_data(), out_bytes_.data(), out_bytes_.size());
    }
    giveOutputBytes(out_bytes_);
    std::vector<SharedBuffer> buffers;
    buffers.reserve(out_segments_.size());
    // The batch's segments leave out_segments_ empty while they are written (the socket may
    // call back into us); its capacity comes back to out_segments_ after, for the next batch,
    // and to the thread once, after the loop (ThreadSpare).
    std::vector<OutSegment> segments;
    segments.swap(out_segments_);
    perf_.bytes_written += out_pending_;
    out_pending_ = 0;
    for (OutSegment& seg : segments) {
      if (seg.file.file) {  // the memory before it, then the region: the socket keeps the order
        if (!buffers.empty()) socket_->writev(std::move(buffers));
        buffers.clear();
        socket_->sendFile(std::move(seg.file));
        continue;
      }
      buffers.push_back(seg.payload.empty() ? bytes.slice(seg.offset, seg.length)
                                            : std::move(seg.payload));
    }
    if (!buffers.empty()) socket_->writev(std::move(buffers));
    segments.clear();
    // Unless a callback queued segments meanwhile (then this vector is freed: rare).
    if (out_segments_.empty()) out_segments_.swap(segments);
    wrote = true;
  };
  while (socket_->writeQueueSize() + out_pending_ < kSocketHighWater) {
    // A server's frames are packed into its loop's shared block: ours from mem_send until
    // appendOutput has copied them (internal/nghttp2_allocator.h).
    internal::SharedFrameBuffer* shared = nghttp2_alloc_.shared();
    if (shared != nullptr && shared->user != nullptr) {
      // Inside another session's mem_send, which nghttp2's callbacks never lead to (they
      // post): a bug. Going on would overwrite that session's frame; go later.
#ifndef NDEBUG
      std::fprintf(stderr, "h2rpc: a session wrote inside another's nghttp2_session_mem_send\n");
      std::abort();
#endif
      scheduleFlush();
      break;
    }
    if (shared != nullptr) shared->user = this;
    const uint8_t* data = nullptr;
    in_nghttp2_ = true;
    ssize_t n = nghttp2_session_mem_send(ng_, &data);
    in_nghttp2_ = false;
    if (n > 0) appendOutput(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    if (shared != nullptr) shared->user = nullptr;
    if (n < 0) {
      out_segments_.clear();
      out_bytes_.clear();
      out_pending_ = 0;
      if (!destroyed_) {
        destroy(nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(n)));
      }
      return false;
    }
    if (out_pending_ >= kWriteBatch) flushBatch();
    if (n == 0) break;
  }
  flushBatch();
  // Its memory is the thread's between two writeOut() calls (ThreadSpare).
  if (out_segments_.empty()) ThreadSpare<OutSegment>::give(out_segments_);
  if (wrote) updateTimer();
  return true;
}

void Http2Session::appendOutput(const char* data, size_t length) {
  // Consecutive bytes of nghttp2's extend the last segment.
  if (!out_segments_.empty() && out_segments_.back().payload.empty() &&
      !out_segments_.back().file.file && out_segments_.back().offset + out_segments_.back().length == out_bytes_.size()) {
    out_segments_.back().length += length;
  } else {
    ThreadSpare<OutSegment>::fill(out_segments_);
    out_segments_.push_back({SharedBuffer(), out_bytes_.size(), length});
  }
  takeOutputBytes(out_bytes_);
  out_bytes_.append(data, length);
  out_pending_ += length;
}

int Http2Session::onSendData(nghttp2_frame* frame, const uint8_t* framehd, size_t length) {
  Http2Stream* stream = findStream(frame->hd.stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  // The stream's vector, emptied below: its memory goes back to the thread (ThreadSpare).
  std::vector<Http2Stream::FramedPiece>& payload = stream->framed();
  size_t total = 0;
  for (const Http2Stream::FramedPiece& piece : payload) total += piece.size();
  // What readForFraming took is what nghttp2 framed; anything else would corrupt the stream.
  if (total != length) return NGHTTP2_ERR_CALLBACK_FAILURE;
  appendOutput(reinterpret_cast<const char*>(framehd), 9);
  const size_t padlen = frame->data.padlen;  // includes the Pad Length byte itself
  if (padlen > 0) {
    const char pad_length = static_cast<char>(padlen - 1);
    appendOutput(&pad_length, 1);
  }
  for (Http2Stream::FramedPiece& piece : payload) {
    out_pending_ += piece.size();
    out_segments_.push_back({std::move(piece.data), 0, 0, std::move(piece.file)});
  }
  ThreadSpare<Http2Stream::FramedPiece>::give(payload);
  if (padlen > 1) {
    static constexpr char kZeros[256] = {};
    appendOutput(kZeros, padlen - 1);
  }
  // nghttp2 turns every DATA frame the windows allow into output in one mem_send call: stop it
  // at the socket's high-water mark, or a peer with wide windows that does not read its socket
  // would have everything the streams hold moved to the socket queue, held by no stream.
  if (socket_->writeQueueSize() + out_pending_ >= kSocketHighWater) return NGHTTP2_ERR_PAUSE;
  return 0;
}

void Http2Session::onSocketConnect() {
  if (destroyed_ || !connecting_) return;
  connecting_ = false;
  auto self = shared_from_this();
  connect_event_.emit();
  // The pending requests' listener (addPendingRequest) went with removeAllListeners(): they
  // still go.
  if (!pending_requests_.empty() && !destroyed_) requestOnConnect();
  if (closed_ && !destroyed_) {
    // close() came before the connection: as Node's requestOnConnect, the requests made
    // meanwhile fail with ERR_HTTP2_GOAWAY_SESSION and their HEADERS never go out; then the
    // GOAWAY close() held back.
    failRequestsMadeBeforeConnect();
    (void)goaway();
    maybeDestroy();
  }
  flush();
}

void Http2Session::failRequestsMadeBeforeConnect() {
  auto streams = std::move(streams_);
  streams_.clear();
  idle_since_ = loop_->now();
  const absl::Status err =
      nodeError(absl::StatusCode::kUnavailable, "ERR_HTTP2_GOAWAY_SESSION",
                "New streams cannot be created after receiving a GOAWAY");
  for (auto& [id, stream] : streams) {
    stream->leaveSessionCount();
    // RST_STREAM on a stream whose HEADERS are still queued makes nghttp2 drop the HEADERS
    // and send nothing (the stream never existed on the wire).
    if (id > 0) nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    stream->detach(err, constants::NGHTTP2_INTERNAL_ERROR);  // Node's code for an error
  }
}

void Http2Session::onSocketData(std::string_view data) { receive(data); }

void Http2Session::onSocketBuffer(const SharedBuffer& data) {
  input_ = &data;
  data_run_ = DataRun();
  receive(data.view());
  input_ = nullptr;
  data_run_ = DataRun();
}

void Http2Session::onSocketDrain() { flush(); }

void Http2Session::onSocketClose(absl::Status status) {
  auto self = shared_from_this();
  socket_->setHandler(nullptr);
  if (destroyed_) return;
  // Node (socketOnClose): every stream is closed with CANCEL, then the session goes; an error
  // only if we never connected.
  absl::Status err = status;
  if (err.ok() && connecting_) {
    err = nodeError(absl::StatusCode::kUnavailable, "ERR_SOCKET_CLOSED", "Socket is closed");
  }
  connecting_ = true;  // nothing can be sent any more
  // A socket error (ECONNREFUSED, a TLS failure) destroys the streams with it, as Node's
  // socketOnError does: each request's 'error' says why it failed.
  detachStreams(status, constants::NGHTTP2_CANCEL);
  destroy(err, constants::NGHTTP2_NO_ERROR);
}

// ---------------------------------------------------------------------------------------------
// nghttp2 callbacks. User code never runs in here: events are posted to the loop.

int Http2Session::onBeginFrame(const nghttp2_frame_hd* hd) {
  last_received_ = loop_->now();
  if (type_ != Type::kServer || hd->type != NGHTTP2_HEADERS || (hd->stream_id & 1) == 0) {
    return 0;
  }
  const int32_t id = hd->stream_id;
  if (id > max_request_stream_id_) {
    const int32_t next = max_request_stream_id_ == 0 ? 1 : max_request_stream_id_ + 2;
    if (id > next) {
      if (skipped_stream_ids_.size() == kMaxSkippedRanges) {
        skipped_stream_ids_.erase(skipped_stream_ids_.begin());
      }
      skipped_stream_ids_.emplace_back(next, id - 2);
    }
    max_request_stream_id_ = id;
    return 0;
  }
  if (nghttp2_session_find_stream(ng_, id) != nullptr) return 0;  // trailers: nghttp2's to check
  // A lower id nghttp2 does not know. If the client skipped it, it was never opened: "MUST
  // respond with a connection error of type PROTOCOL_ERROR" (RFC 9113 §5.1.1); nghttp2 would
  // silently drop it and leave the client waiting. Otherwise the stream was opened and is closed
  // (nghttp2 keeps no closed streams, see init()): if the peer ended or reset it,
  // checkClosedStream() has answered; else we reset it first, or it is too old to be remembered,
  // and HEADERS after our RST_STREAM "MUST" be ignored (§5.1; trailers may be in flight).
  for (const auto& [first, last] : skipped_stream_ids_) {
    if (id >= first && id <= last) {
      recv_error_ = nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR",
                              "Stream id lower than one the client already used");
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
  }
  return 0;
}

int Http2Session::onBeginHeaders(const nghttp2_frame* frame) {
  const int32_t id = frame->hd.stream_id;
  if (type_ == Type::kServer && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    const uint32_t max_streams =
        nghttp2_session_get_local_settings(ng_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    // A refused block is still decoded (HPACK state), so it is refused the way onHeader
    // refuses one: counted field by field against headerBlockHardLimit() and dropped, never
    // decoded without bound behind TEMPORAL_CALLBACK_FAILURE.
    auto refuse = [&](uint32_t code) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, code);
      beginHeaderBlock(id);
      incoming_.refused = true;
      return 0;
    };
    if (closed_) {
      if (!countInvalidFrame()) return NGHTTP2_ERR_CALLBACK_FAILURE;  // streams after GOAWAY
      return refuse(NGHTTP2_REFUSED_STREAM);
    }
    if (streams_.size() >= max_streams || !hasAvailableMemory()) {
      // Node: too many streams at once; refuse with ENHANCE_YOUR_CALM, and give up on a peer
      // that keeps doing it.
      if (rejected_streams_++ > options_.maxSessionRejectedStreams) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      return refuse(NGHTTP2_ENHANCE_YOUR_CALM);
    }
    rejected_streams_ = 0;
    if (!quotaAdmitsStream()) {
      // The server as a whole is over its memory quota and nothing could be reclaimed: refuse
      // (the client may retry it elsewhere). Not held against this peer as a rejected stream,
      // but counted as an invalid frame, so that a peer cannot make us decode refused blocks
      // for ever.
      if (!countInvalidFrame()) return NGHTTP2_ERR_CALLBACK_FAILURE;
      return refuse(NGHTTP2_REFUSED_STREAM);
    }
  }
  // One block at a time: HTTP/2 sends a header block as HEADERS (or PUSH_PROMISE) and its
  // CONTINUATIONs with no other frame in between, so a new block replaces any leftover (one
  // nghttp2 stopped delivering after a stream error).
  beginHeaderBlock(id);
  // A request block is usually 6-10 fields: grow once, not field by field. The block is the
  // thread's BlockPool's (headers.h), usually a dropped stream's request headers'.
  incoming_.headers.reserve(8);
  return 0;
}

void Http2Session::beginHeaderBlock(int32_t id) {
  incoming_ = IncomingHeaders{id, Headers(), 0, true};
  incoming_.hard_limit = headerBlockHardLimit();
  const uint32_t min_pairs = type_ == Type::kServer ? 4 : 1;
  incoming_.max_pairs = std::max(options_.maxHeaderListPairs, min_pairs);
  // The SETTINGS_MAX_HEADER_LIST_SIZE our peer has acknowledged (until then nghttp2's
  // "unlimited"), capped at 16 MiB, and each field counted as RFC 9113 §6.5.2 does (name +
  // value + 32): Node's Http2Stream::AddHeader exactly.
  constexpr size_t kMaxMaxHeaderListSize = 16777215;  // Node's MAX_MAX_HEADER_LIST_SIZE
  incoming_.max_length = std::min<size_t>(
      nghttp2_session_get_local_settings(ng_, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
      kMaxMaxHeaderListSize);
}

int Http2Session::onHeader(const nghttp2_frame* frame, std::string_view name,
                           std::string_view value, uint8_t flags) {
  const int32_t id = frame->hd.stream_id;
  if (!incoming_.active || incoming_.id != id) return 0;
  // HPACK must decode a block to its end to keep its table in step with the peer's, however
  // large the block decodes: one byte can name a 4 KB table entry, so 64 KB of wire can decode
  // to 262 MB (an "HPACK bomb"). Refusing the stream with TEMPORAL_CALLBACK_FAILURE made nghttp2
  // decode the rest of such a block without us (~25 ns a field: 1.7 ms per 64 KiB request, for
  // as long as the peer liked). So a refused block is still counted here, field by field, and
  // a block decoding to more than twice our limit ends the connection (RFC 9113 §10.5.1 allows
  // closing instead of decoding): the work a block costs is bounded by our limit.
  // session_header_bomb_test.cc; bench/FLOODS.md.
  incoming_.decoded += name.size() + value.size() + 32;
  if (incoming_.decoded > incoming_.hard_limit) {
    recv_error_ = nodeError(absl::StatusCode::kResourceExhausted,
                            "ERR_HTTP2_HEADER_BLOCK_TOO_LARGE",
                            "A header block decoded to more than twice maxHeaderListSize");
    nghttp2_session_terminate_session(ng_, NGHTTP2_ENHANCE_YOUR_CALM);
    return NGHTTP2_ERR_CALLBACK_FAILURE;  // nghttp2 stops decoding at once
  }
  if (incoming_.refused) return 0;
  const size_t max_pairs = incoming_.max_pairs;
  const size_t max_length = incoming_.max_length;
  const size_t length = name.size() + value.size() + 32;
  Headers& headers = incoming_.headers;
  size_t& bytes = incoming_.bytes;
  if (headers.size() >= max_pairs || bytes + length > max_length) {
    // Node: more header fields than maxHeaderListPairs (or bytes than maxHeaderListSize).
    // A PUSH_PROMISE's block is the promised stream's, not the request's it came on.
    const int32_t target =
        frame->hd.type == NGHTTP2_PUSH_PROMISE ? frame->push_promise.promised_stream_id : id;
    nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, target, NGHTTP2_ENHANCE_YOUR_CALM);
    incoming_.refused = true;
    incoming_.headers = Headers();
    return 0;  // see above: the rest of the block is counted, then dropped
  }
  bytes += length;
  // nghttp2 resets a stream whose header names are not lower-case (HTTP/2 requires it): no
  // need to check or lower-case again.
  headers.addLowerCase(name, value);
  if (flags & NGHTTP2_NV_FLAG_NO_INDEX) headers.setSensitive(name);
  return 0;
}

uint64_t Http2Session::headerBlockHardLimit() const {
  // Our limit as acknowledged by the peer, else as we advertise it (nghttp2 reports "unlimited"
  // until the peer acknowledges our SETTINGS, and a bomb may come first).
  uint64_t limit = nghttp2_session_get_local_settings(ng_, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
  if (limit == UINT32_MAX) {
    const Settings& s = options_.settings;
    limit = s.maxHeaderSize       ? *s.maxHeaderSize
            : s.maxHeaderListSize ? *s.maxHeaderListSize
                                  : constants::DEFAULT_SETTINGS_MAX_HEADER_LIST_SIZE;
  }
  return 2 * std::max<uint64_t>(limit, 16 * 1024);
}

int Http2Session::onFrameRecv(const nghttp2_frame* frame) {
  ++perf_.frames_received;  // every frame nghttp2 delivers, as Node's framesReceived
  auto self = shared_from_this();
  const int32_t id = frame->hd.stream_id;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      if (!incoming_.active || incoming_.id != id) return 0;
      if (incoming_.refused) {  // reset in onHeader: nothing to deliver
        incoming_ = IncomingHeaders();
        return 0;
      }
      Headers headers = std::move(incoming_.headers);
      incoming_ = IncomingHeaders();
      const uint8_t flags = frame->hd.flags;
      const int cat = frame->headers.cat;
      if (type_ == Type::kServer && cat == NGHTTP2_HCAT_REQUEST) {
        onNewStream(id, std::move(headers), flags);
      } else if (Http2Stream* stream = findStream(id)) {
        onStreamHeaders(stream, std::move(headers), flags, cat);
      }
      break;
    }
    case NGHTTP2_PUSH_PROMISE: {
      if (!incoming_.active || incoming_.id != id) return 0;
      const bool refused = incoming_.refused;
      Headers headers = std::move(incoming_.headers);
      incoming_ = IncomingHeaders();
      if (!refused) {
        onPushPromise(id, frame->push_promise.promised_stream_id, std::move(headers),
                      frame->hd.flags);
      }
      break;
    }
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        if (Http2Stream* stream = findStream(id)) stream->receiveEnd();
      } else if (frame->hd.length == 0 && !countInvalidFrame()) {
        // Empty DATA frames cost us work and carry nothing (CVE-2019-9518): Node counts them
        // as invalid frames.
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      break;
    case NGHTTP2_SETTINGS:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
        if (pending_settings_.empty()) break;
        PendingSettings pending = std::move(pending_settings_.front());
        pending_settings_.pop_front();
        const double duration = msSince(loop_, pending.sent_at);
        post([self, pending = std::move(pending), duration] {
          // Delivered even if the connection closed right after the ACK (as Node).
          Settings local = self->localSettings();
          if (pending.callback) pending.callback(absl::OkStatus(), local, duration);
          self->local_settings_event_.emit(local);
        });
      } else {
        for (size_t i = 0; i < frame->settings.niv; ++i) {
          const nghttp2_settings_entry& e = frame->settings.iv[i];
          const auto& wanted = options_.remoteCustomSettings;
          if (std::find(wanted.begin(), wanted.end(), e.settings_id) != wanted.end()) {
            std::erase_if(remote_custom_settings_,
                          [&e](const auto& kv) { return kv.first == e.settings_id; });
            remote_custom_settings_.push_back({static_cast<uint16_t>(e.settings_id), e.value});
          }
        }
        post([self] { self->remote_settings_event_.emit(self->remoteSettings()); });
      }
      break;
    case NGHTTP2_PING: {
      std::string payload(reinterpret_cast<const char*>(frame->ping.opaque_data), 8);
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
        if (pending_pings_.empty()) {
          // A PING ACK we never asked for. RFC 9113 §6.7 does not make it an error, but Node
          // 20 (HandlePingFrame: "either the peer is buggy or malicious") destroys the session
          // with NGHTTP2_ERR_PROTO: 'error' ERR_HTTP2_ERROR "Protocol error", GOAWAY
          // INTERNAL_ERROR. We do the same, for fidelity (README: a peer that answers one PING
          // twice loses its connection, with Node as with us).
          recv_error_ = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                                  nghttp2_strerror(NGHTTP2_ERR_PROTO));
          recv_error_destroys_ = true;
          return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        PendingPing pending = std::move(pending_pings_.front());
        pending_pings_.pop_front();
        const double duration = msSince(loop_, pending.sent_at);
        perf_.ping_rtt = duration;
        post([pending = std::move(pending), duration, payload] {
          if (pending.callback) pending.callback(absl::OkStatus(), duration, payload);
        });
      } else {
        post([self, payload] { self->ping_event_.emit(payload); });
      }
      break;
    }
    case NGHTTP2_WINDOW_UPDATE: {
      // The peer reads: whatever waited for this credit is no longer stalled (memory budget).
      // A trickle (less than 16 KiB, or than what waits) does not count as reading: a peer
      // crediting a byte a second must not keep megabytes waiting for ever.
      constexpr size_t kMinUnstallCredit = 16 * 1024;
      const auto credit = static_cast<size_t>(frame->window_update.window_size_increment);
      if (id == 0) {
        if (credit >= kMinUnstallCredit) connection_stalled_since_ = Http2Stream::kNotStalled;
      } else if (Http2Stream* stream = findStream(id)) {
        if (credit >= std::min(kMinUnstallCredit, stream->buffer_size_)) {
          stream->stalled_since_ = Http2Stream::kNotStalled;
        }
      }
      break;
    }
    case NGHTTP2_RST_STREAM:
      closed_streams_.peerReset(id);  // the stream closes right after this callback
      break;
    case NGHTTP2_GOAWAY: {
      const uint32_t code = frame->goaway.error_code;
      const int32_t last = frame->goaway.last_stream_id;
      std::string opaque(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                         frame->goaway.opaque_data_len);
      goaway_code_ = code;
      goaway_received_ = true;
      goaway_last_stream_id_ = last;
      // Run before the next frame is read (post() while parsing; Node emits 'goaway' and
      // closes as it parses): a request after the peer's GOAWAY in the same read is refused.
      post([self, code, last, opaque] {
        // Reported even if the connection closed right after the GOAWAY (as it usually does).
        self->goaway_event_.emit(code, last, opaque);
        if (self->destroyed_) return;
        if (code == constants::NGHTTP2_NO_ERROR) {
          self->close();  // no new streams; open ones finish on their own
        } else {
          self->destroy(http2SessionError(code), constants::NGHTTP2_NO_ERROR);
        }
      });
      break;
    }
    case NGHTTP2_ALTSVC:
    case NGHTTP2_ORIGIN:
      onExtensionFrame(frame);
      break;
    default:
      break;
  }
  return 0;
}

void Http2Session::onStreamHeaders(Http2Stream* stream, Headers headers, uint8_t flags,
                                   int cat) {
  stream->noteHeaderReceived();
  stream->emitHeadersEvent(std::move(headers), flags, cat);  // also ends the readable side on END_STREAM
}

int Http2Session::onDataChunk(uint8_t flags, int32_t stream_id, std::string_view data) {
  // Connection-level credit at once (as Node): one stream that is not read must not block the
  // others. Each stream's own window still holds its sender back until the data is read, so
  // memory stays bounded by the stream windows (and maxSessionMemory).
  nghttp2_session_consume_connection(ng_, data.size());
  Http2Stream* stream = findStream(stream_id);
  if (stream == nullptr || stream->destroyed()) return 0;
  if (keepAsSlice(stream_id, data)) {
    stream->receiveData(
        input_->slice(static_cast<size_t>(data.data() - input_->data()), data.size()));
  } else {
    SharedBuffer copy = SharedBuffer::ForOverwrite(data.size());
    std::memcpy(copy.mutable_data(), data.data(), data.size());
    stream->receiveData(std::move(copy));
  }
  return 0;
}

// nghttp2 points into the bytes we fed it. A payload that fills at least half of the socket's
// buffer is kept as a slice of it (no copy); so are the payloads of DATA frames of one stream
// that follow each other in it and together fill half of it (a message sent in 16 KiB frames,
// as grpc-go and gRPC C++ do: each would be copied otherwise, ~16k instructions per frame
// under callgrind). Smaller ones are copied, so that what a stream holds is never more than
// twice what it counts (readableLength, maxSessionMemory) — or, for a run cut short (the
// stream reset before its later frames were read), 8 times: a payload below an eighth of the
// buffer is never kept as a slice.
bool Http2Session::keepAsSlice(int32_t stream_id, std::string_view data) const {
  if (input_ == nullptr || data.data() < input_->data() ||
      data.data() + data.size() > input_->data() + input_->size()) {
    return false;
  }
  // The buffer is the whole block the bytes read are in (block_size(): a short read is a
  // slice of the socket's 64 KiB read block, which a kept slice holds whole), not what was read.
  const size_t block = input_->block_size();
  if (data.size() * 2 >= block) return true;
  return stream_id == data_run_.stream_id && data.data() >= data_run_.begin &&
         data.data() + data.size() <= data_run_.end && data.size() * 8 >= block;
}

// The frame scanner found a frame header whose payload starts at `payload` in input_: for a
// DATA frame not in the current run, find the DATA frames of its stream that follow it in
// input_ (unpadded: their headers are where the previous payload ends).
void Http2Session::noteDataRun(const internal::FrameScanner::Frame& frame, const char* payload) {
  if (frame.type != NGHTTP2_DATA || (frame.flags & NGHTTP2_FLAG_PADDED) != 0) return;
  if (frame.stream_id == data_run_.stream_id && payload >= data_run_.begin &&
      payload < data_run_.end) {
    return;  // one of the run's later frames
  }
  const char* const limit = input_->data() + input_->size();
  if (payload > limit) return;
  // The last frame may be cut off by the end of the buffer: its bytes here are one payload.
  const char* end = payload + std::min<size_t>(frame.length, limit - payload);
  constexpr size_t kHeader = 9;
  while (static_cast<size_t>(limit - end) >= kHeader) {
    const auto* h = reinterpret_cast<const uint8_t*>(end);
    const size_t length = (size_t{h[0]} << 16) | (size_t{h[1]} << 8) | h[2];
    const int32_t id = static_cast<int32_t>(((uint32_t{h[5]} << 24) | (uint32_t{h[6]} << 16) |
                                             (uint32_t{h[7]} << 8) | h[8]) & 0x7fffffffu);
    if (h[3] != NGHTTP2_DATA || (h[4] & NGHTTP2_FLAG_PADDED) != 0 || id != frame.stream_id) {
      break;
    }
    end += kHeader + std::min<size_t>(length, limit - end - kHeader);
  }
  // Too little to keep the buffer for: copied, as single small payloads are.
  if (static_cast<size_t>(end - payload) * 2 < input_->block_size()) return;
  data_run_ = DataRun{frame.stream_id, payload, end};
}

int Http2Session::onStreamClose(int32_t stream_id, uint32_t error_code) {
  closed_streams_.closed(stream_id, error_code);  // nghttp2 forgets it right after this
  if (incoming_.active && incoming_.id == stream_id) incoming_ = IncomingHeaders();
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  std::shared_ptr<Http2Stream> stream = it->second;
  // Its fate is known now (ended, or RST_STREAM / refused above a GOAWAY's last stream id): if
  // the connection drops before the posted close runs, that code is what the stream reports.
  stream->nghttp2_closed_ = true;
  if (!parsing_ && error_code != NGHTTP2_NO_ERROR) {
    // Our RST_STREAM went out (a protocol error of the peer's, or the application's close):
    // what the stream has not handed over yet is dropped now, before a read posted earlier
    // hands it over. Since 'stream' listeners run as the request is parsed (see post()), a
    // reader may already be waiting, and nghttp2 passes on the payload of a DATA frame beyond
    // the stream window before it resets the stream (HostileInput.DataBeyondStreamWindow).
    stream->dropUnread();
  }
  post([stream, error_code] { stream->onNghttp2Close(error_code); });
  return 0;
}

int Http2Session::onInvalidFrame(const nghttp2_frame* frame, int lib_error_code) {
  if (!countInvalidFrame()) return NGHTTP2_ERR_CALLBACK_FAILURE;
  if (lib_error_code == NGHTTP2_ERR_PROTO && type_ == Type::kServer &&
      frame->hd.type == NGHTTP2_HEADERS &&
      nghttp2_session_find_stream(ng_, frame->hd.stream_id) == nullptr &&
      streams_.size() >= nghttp2_session_get_local_settings(
                             ng_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)) {
    // A request over the concurrent-stream limit the peer acknowledged: nghttp2 would queue
    // GOAWAY(PROTOCOL_ERROR) now, ahead of the answers the 'stream' listeners just gave to
    // the streams before it (nghttp2 sends nothing after that GOAWAY). Node 20 answers them,
    // then ends the session ('error' ERR_HTTP2_ERROR "Protocol error"): we stop here, send the
    // answers, then the GOAWAY (see receive()).
    recv_error_ = nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ERROR",
                            nghttp2_strerror(NGHTTP2_ERR_PROTO));
    recv_error_flushes_first_ = true;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  // Node reports these on the session: a frame on a closed stream, or a fatal error.
  if (nghttp2_is_fatal(lib_error_code) || lib_error_code == NGHTTP2_ERR_STREAM_CLOSED) {
    auto self = shared_from_this();
    absl::Status err = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                                 nghttp2_strerror(lib_error_code));
    post([self, err] { self->error_event_.emit(err); });
  }
  return 0;
}

bool Http2Session::countInvalidFrame() {
  // Node: a peer that keeps sending invalid frames is cut off.
  if (invalid_frames_++ > options_.maxSessionInvalidFrames) {
    recv_error_ = nodeError(absl::StatusCode::kResourceExhausted,
                            "ERR_HTTP2_TOO_MANY_INVALID_FRAMES", "Too many invalid HTTP/2 frames");
    return false;
  }
  return true;
}

uint32_t Http2Session::http2CodeOfLibError(int lib_error_code) {
  // The table of Node 20's node_http2.cc (checked there: 'frameError' for a HEADERS over
  // maxSendHeaderBlockLength reports 6, FRAME_SIZE_ERROR); anything else is INTERNAL_ERROR.
  switch (lib_error_code) {
    case NGHTTP2_ERR_STREAM_CLOSED:
      return NGHTTP2_STREAM_CLOSED;
    case NGHTTP2_ERR_HEADER_COMP:
      return NGHTTP2_COMPRESSION_ERROR;
    case NGHTTP2_ERR_FRAME_SIZE_ERROR:
      return NGHTTP2_FRAME_SIZE_ERROR;
    case NGHTTP2_ERR_FLOW_CONTROL:
      return NGHTTP2_FLOW_CONTROL_ERROR;
    case NGHTTP2_ERR_REFUSED_STREAM:
      return NGHTTP2_REFUSED_STREAM;
    case NGHTTP2_ERR_PROTO:
    case NGHTTP2_ERR_HTTP_HEADER:
    case NGHTTP2_ERR_HTTP_MESSAGING:
      return NGHTTP2_PROTOCOL_ERROR;
    default:
      return NGHTTP2_INTERNAL_ERROR;
  }
}

int Http2Session::onFrameNotSent(const nghttp2_frame* frame, int lib_error_code) {
  // Frames dropped because the session or stream is closing are not worth reporting (Node).
  if (lib_error_code == NGHTTP2_ERR_SESSION_CLOSING ||
      lib_error_code == NGHTTP2_ERR_STREAM_CLOSED ||
      lib_error_code == NGHTTP2_ERR_STREAM_CLOSING) {
    return 0;
  }
  auto self = shared_from_this();
  const int32_t id = frame->hd.stream_id;
  const uint8_t type = frame->hd.type;
  auto it = streams_.find(id);
  std::shared_ptr<Http2Stream> stream = it == streams_.end() ? nullptr : it->second;
  // Node 20 reports the HTTP/2 error code the library error stands for, not nghttp2's own.
  const int code = static_cast<int>(http2CodeOfLibError(lib_error_code));
  post([self, stream, type, code, id] {
    if (stream) {
      stream->emitFrameError(type, code);
    } else {
      self->frame_error_event_.emit(type, code, id);
    }
    // Node: give a pending GOAWAY a chance to arrive, then close the stream and the session.
    self->post([self, stream] {
      if (stream) stream->close(static_cast<uint32_t>(constants::NGHTTP2_INTERNAL_ERROR));
      self->close();
    });
  });
  return 0;
}

int Http2Session::onFrameSent(const nghttp2_frame* frame) {
  ++perf_.frames_sent;
  if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) ++stream_frames_sent_;
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    closed_streams_.localReset(frame->hd.stream_id);  // nghttp2 closes the stream next
  }
  // The end of our side of a stream went out (ServerHttp2Stream resets a request still open).
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)) {
    if (Http2Stream* stream = findStream(frame->hd.stream_id)) stream->onEndStreamSent();
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Server and client

absl::StatusOr<std::shared_ptr<ServerHttp2Session>> ServerHttp2Session::create(
    EventLoop* loop, std::unique_ptr<Socket> socket, SessionOptions options) {
  std::shared_ptr<ServerHttp2Session> session(
      new ServerHttp2Session(Type::kServer, loop, std::move(socket), std::move(options)));
  if (absl::Status st = session->init(); !st.ok()) return st;
  // Node's `origins` option: an ORIGIN frame right after our SETTINGS (altsvc_origin.cc).
  if (absl::Status st = session->origin(session->options().origins); !st.ok()) {
    session->destroy();
    return st;
  }
  return session;
}

void ServerHttp2Session::off(ListenerId id) {
  if (!stream_event_.off(id)) Http2Session::off(id);
}

void ServerHttp2Session::onNewStream(int32_t id, Headers headers, uint8_t flags) {
  // From the thread's BlockPool: one per request, too large for glibc's per-thread cache.
  auto stream = MakePooledShared<ServerHttp2Stream>(this, id);
  const bool end_stream = flags & NGHTTP2_FLAG_END_STREAM;
  if (end_stream) {
    stream->end_after_headers_ = true;
    stream->read_ended_ = true;
  }
  std::string joined;
  if (headers.get(constants::HTTP2_HEADER_METHOD, joined) == "HEAD") {
    // No body may follow a HEAD response: the writable side is done before it starts.
    stream->head_request_ = true;
  }
  // The request headers live as long as the stream: they count against the session's memory.
  for (const HeaderField& f : headers) stream->header_bytes_ += f.name.size() + f.value.size() + 32;
  stream->request_headers_ = std::move(headers);
  addStream(stream);
  stream->noteHeaderReceived();  // its request headers created it
  nghttp2_session_set_stream_user_data(nghttp2(), id, stream.get());
  auto self = std::static_pointer_cast<ServerHttp2Session>(shared_from_this());
  // Run before the next frame is read (post() while parsing), as Node: the application answers
  // (or refuses) each request before the next one counts against the concurrent-stream limit
  // or meets a connection error.
  post([self, stream, flags] {
    if (stream->destroyed()) return;
    if (!self->stream_event_.emit(stream, stream->requestHeaders(), flags)) {
      // Nobody listens: Node's server would leave it hanging; we refuse it cleanly.
      stream->close(constants::NGHTTP2_REFUSED_STREAM);
    }
    stream->scheduleInbox();
  });
}

absl::StatusOr<std::shared_ptr<ClientHttp2Session>> ClientHttp2Session::create(
    EventLoop* loop, std::unique_ptr<Socket> socket, std::string scheme, std::string authority,
    SessionOptions options) {
  std::shared_ptr<ClientHttp2Session> session(new ClientHttp2Session(
      loop, std::move(socket), std::move(options), std::move(scheme), std::move(authority)));
  if (absl::Status st = session->init(); !st.ok()) return st;
  return session;
}

ClientHttp2Session::ClientHttp2Session(EventLoop* loop, std::unique_ptr<Socket> socket,
                                       SessionOptions options, std::string scheme,
                                       std::string authority)
    : Http2Session(Type::kClient, loop, std::move(socket), std::move(options)),
      scheme_(std::move(scheme)),
      authority_(std::move(authority)) {}

absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> ClientHttp2Session::request(
    const Headers& headers_in, RequestOptions options) {
  if (absl::Status st = canRequest(); !st.ok()) return st;
  Headers headers = headers_in;
  if (!headers.has(constants::HTTP2_HEADER_METHOD)) {
    headers.add(constants::HTTP2_HEADER_METHOD, "GET");
  }
  const std::string method = headers.get(constants::HTTP2_HEADER_METHOD).value_or("");
  const bool connect = method == "CONNECT";
  if (!connect || headers.has(constants::HTTP2_HEADER_PROTOCOL)) {
    if (!headers.has(constants::HTTP2_HEADER_AUTHORITY) && !headers.has("host")) {
      headers.add(constants::HTTP2_HEADER_AUTHORITY, authority_);
    }
    if (!headers.has(constants::HTTP2_HEADER_SCHEME)) {
      headers.add(constants::HTTP2_HEADER_SCHEME, scheme_);
    }
    if (!headers.has(constants::HTTP2_HEADER_PATH)) headers.add(constants::HTTP2_HEADER_PATH, "/");
  } else {
    if (!headers.has(constants::HTTP2_HEADER_AUTHORITY)) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_CONNECT_AUTHORITY",
                       ":authority header is required for CONNECT requests");
    }
    if (headers.has(constants::HTTP2_HEADER_SCHEME)) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_CONNECT_SCHEME",
                       "The :scheme header is forbidden for CONNECT requests");
    }
    if (headers.has(constants::HTTP2_HEADER_PATH)) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_CONNECT_PATH",
                       "The :path header is forbidden for CONNECT requests");
    }
  }
  const bool end_stream = options.endStream.value_or(endsWithHeaders(method));
  if (absl::Status st = checkRequestOptions(options); !st.ok()) return st;
  if (options.signal && options.signal->aborted()) return abortedRequest(*options.signal);

  auto stream = MakePooledShared<ClientHttp2Stream>(this, 0);
  setPriority(*stream, options);
  absl::Status submitted = stream->submitHeaders(headers, end_stream, options.waitForTrailers);
  return startRequest(std::move(stream), std::move(submitted), options.signal);
}

absl::Status ClientHttp2Session::checkRequestOptions(const RequestOptions& options) {
  if (options.parent < 0) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_OUT_OF_RANGE",
                     absl::StrCat("The value of \"options.parent\" is out of range. It must be "
                                  ">= 0. Received ",
                                  options.parent));
  }
  return absl::OkStatus();
}

void ClientHttp2Session::setPriority(ClientHttp2Stream& stream, const RequestOptions& options) {
  stream.priority_parent_ = options.parent;
  // Node clamps (node_http2.cc Http2Priority).
  stream.priority_weight_ =
      std::clamp<int32_t>(options.weight, NGHTTP2_MIN_WEIGHT, NGHTTP2_MAX_WEIGHT);
  stream.priority_exclusive_ = options.exclusive;
}

absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> ClientHttp2Session::requestPrevalidated(
    std::span<const HeaderFieldView> headers, RequestOptions options) {
  if (absl::Status st = canRequest(); !st.ok()) return st;
  const std::string_view method = headers.empty() ? std::string_view() : headers[0].value;
  const bool end_stream = options.endStream.value_or(endsWithHeaders(method));
  if (absl::Status st = checkRequestOptions(options); !st.ok()) return st;
  if (options.signal && options.signal->aborted()) return abortedRequest(*options.signal);
  auto stream = MakePooledShared<ClientHttp2Stream>(this, 0);
  setPriority(*stream, options);
  absl::Status submitted =
      stream->submitPrevalidated(headers, end_stream, options.waitForTrailers);
  return startRequest(std::move(stream), std::move(submitted), options.signal);
}

absl::Status ClientHttp2Session::canRequest() const {
  if (destroyed()) return invalidSession();
  if (closed()) {
    return nodeError(absl::StatusCode::kUnavailable, "ERR_HTTP2_GOAWAY_SESSION",
                     "New streams cannot be created after receiving a GOAWAY");
  }
  return absl::OkStatus();
}

bool ClientHttp2Session::endsWithHeaders(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "DELETE";
}

absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> ClientHttp2Session::startRequest(
    std::shared_ptr<ClientHttp2Stream> stream, absl::Status submitted,
    const std::shared_ptr<AbortSignal>& signal) {
  if (!submitted.ok()) {
    stream->destroyed_ = true;
    stream->session_ = nullptr;
    return submitted;
  }
  if (stream->pending()) {
    addPendingRequest(stream);  // 'ready' when it is submitted, at 'connect'
  } else {
    addStream(stream);
    std::shared_ptr<Http2Stream> ready = stream;
    post([ready] {
      if (!ready->destroyed()) ready->ready_event_.emit();
    });
  }
  updateTimer();
  if (signal) {
    std::weak_ptr<ClientHttp2Stream> weak = stream;
    ListenerId id = signal->onAbort([weak, signal_weak = std::weak_ptr<AbortSignal>(signal)] {
      auto s = weak.lock();
      auto sig = signal_weak.lock();
      if (s) s->destroy(abortError(sig ? sig->reason() : absl::OkStatus()));
    });
    // Node: the listener goes at 'close' (the signal may outlive many requests).
    stream->onClose([signal_weak = std::weak_ptr<AbortSignal>(signal), id] {
      if (auto sig = signal_weak.lock()) sig->off(id);
    });
  }
  return stream;
}

std::shared_ptr<ClientHttp2Stream> ClientHttp2Session::abortedRequest(const AbortSignal& signal) {
  // Node 20: the stream object exists but is destroyed inside request(), before its HEADERS are
  // submitted: no stream id is used, nothing reaches the peer, no 'ready'; 'error' (AbortError)
  // and 'close' follow on the loop.
  auto stream = MakePooledShared<ClientHttp2Stream>(this, 0);
  stream->destroy(abortError(signal.reason()));
  return stream;
}

}  // namespace h2rpc::transport
