#include "transport/stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/internal/nv.h"
#include "transport/internal/thread_spare.h"
#include "transport/performance.h"
#include "transport/session.h"

namespace h2rpc::transport {

namespace {

absl::Status writeAfterEnd() {
  return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_STREAM_WRITE_AFTER_END",
                   "write after end");
}

absl::Status streamDestroyed() {
  return nodeError(absl::StatusCode::kCancelled, "ERR_STREAM_DESTROYED",
                   "Cannot call write after a stream was destroyed");
}

// RFC 9110 IMF-fixdate, what Node puts in `date`.
std::string httpDate() {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::Now(), absl::UTCTimeZone());
}

}  // namespace

struct Http2Stream::DeferredRequest {
  std::vector<std::string> names, values;
  std::vector<uint8_t> flags;  // nghttp2_nv flags (NO_INDEX for sensitive fields)
  bool end_stream = false;
  std::vector<PriorityOptions> priorities;  // priority() calls while pending, in order
};

Http2Stream::Http2Stream(Http2Session* session, int32_t id)
    : session_(session), loop_(session->loop()), id_(id) {}

Http2Stream::~Http2Stream() = default;

EventLoop* Http2Stream::loop() const { return loop_; }

void Http2Stream::post(LoopCallback fn) {
  // Through the session while it has us: in order with its events (Http2Session::post).
  if (session_) {
    session_->post(std::move(fn));
  } else {
    loop_->post(std::move(fn));
  }
}

absl::Status Http2Stream::invalidStream() const {
  return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_INVALID_STREAM",
                   "The stream has been destroyed");
}

void Http2Stream::setId(int32_t id) { id_ = id; }

StreamState Http2Stream::state() const {
  StreamState s;
  if (destroyed_ || id_ == 0 || session_ == nullptr || session_->nghttp2() == nullptr) return s;
  nghttp2_session* ng = session_->nghttp2();
  nghttp2_stream* st = nghttp2_session_find_stream(ng, id_);
  s.localWindowSize = nghttp2_session_get_stream_local_window_size(ng, id_);
  s.state = st ? static_cast<int>(nghttp2_stream_get_state(st)) : NGHTTP2_STREAM_STATE_CLOSED;
  s.localClose = writable_finished_;
  s.remoteClose = read_ended_;
  s.sumDependencyWeight = st ? nghttp2_stream_get_sum_dependency_weight(st) : 0;
  s.weight = st ? nghttp2_stream_get_weight(st) : 0;
  return s;
}

void Http2Stream::off(ListenerId id) {
  data_event_.off(id) || data_buffer_event_.off(id) || end_event_.off(id) || drain_event_.off(id) || close_event_.off(id) ||
      aborted_event_.off(id) || timeout_event_.off(id) || want_trailers_event_.off(id) ||
      ready_event_.off(id) || finish_event_.off(id) || error_event_.off(id) ||
      trailers_event_.off(id) || frame_error_event_.off(id);
}

void ClientHttp2Stream::off(ListenerId id) {
  if (response_event_.off(id) || headers_event_.off(id) || continue_event_.off(id) ||
      push_event_.off(id)) {
    return;
  }
  Http2Stream::off(id);
}

// ---------------------------------------------------------------------------------------------
// Writable side

absl::Status Http2Stream::submitHeaders(const Headers& headers, bool end_stream,
                                        bool wait_for_trailers) {
  const bool server = session_->type() == Http2Session::Type::kServer;
  auto fields = prepareOutgoingHeaders(headers, server ? HeadersKind::kResponse
                                                       : HeadersKind::kRequest);
  if (!fields.ok()) return fields.status();
  std::vector<nghttp2_nv> nva = internal::toNv(*fields);
  if (absl::Status st = submitNv(nva, end_stream, wait_for_trailers); !st.ok()) return st;
  Headers sent;
  sent.reserve(fields->size());
  // Names from a Headers, hence lower-case already.
  for (const OutgoingField& f : *fields) sent.addLowerCase(f.name, f.value);
  sent_headers_ = std::move(sent);
  return absl::OkStatus();
}

absl::Status Http2Stream::priority(const PriorityOptions& options) {
  if (destroyed_) return invalidStream();
  if (options.parent < 0) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_OUT_OF_RANGE",
                     absl::StrCat("The value of \"options.parent\" is out of range. It must be "
                                  ">= 0. Received ",
                                  options.parent));
  }
  updateTimer();
  if (deferred_request_) {  // pending: sent once the request is (Node: once('ready'))
    deferred_request_->priorities.push_back(options);
    return absl::OkStatus();
  }
  // Node: a stream cannot depend on itself; nothing is sent.
  if (options.parent == id_ || session_ == nullptr || session_->nghttp2() == nullptr) {
    return absl::OkStatus();
  }
  nghttp2_priority_spec spec;
  nghttp2_priority_spec_init(&spec, options.parent,
                             std::clamp<int32_t>(options.weight, NGHTTP2_MIN_WEIGHT,
                                                 NGHTTP2_MAX_WEIGHT),
                             options.exclusive ? 1 : 0);
  int rv = options.silent
               ? nghttp2_session_change_stream_priority(session_->nghttp2(), id_, &spec)
               : nghttp2_submit_priority(session_->nghttp2(), NGHTTP2_FLAG_NONE, id_, &spec);
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  session_->scheduleFlush();
  return absl::OkStatus();
}

nghttp2_data_provider Http2Stream::dataProvider(Http2Stream* stream) {
  nghttp2_data_provider provider;
  provider.source.ptr = stream;
  provider.read_callback = [](nghttp2_session* ng, int32_t id, uint8_t*, size_t length,
                              uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
    auto* stream = static_cast<Http2Stream*>(src->ptr);
    return stream->readForFramingIfLive(id, length, flags);
  };
  return provider;
}

ssize_t Http2Stream::readForFramingIfLive(int32_t id, size_t length, uint32_t* flags) {
  // The provider outlives nothing: the session looks the stream up to be safe.
  Http2Stream* live = session_ ? session_->findStream(id) : nullptr;
  if (live != this) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return readForFraming(length, flags);
}

absl::Status Http2Stream::submitNv(std::span<const nghttp2_nv> nva, bool end_stream,
                                   bool wait_for_trailers) {
  const bool server = session_->type() == Http2Session::Type::kServer;
  nghttp2_data_provider provider = dataProvider(this);
  nghttp2_data_provider* p = end_stream ? nullptr : &provider;
  nghttp2_session* ng = session_->nghttp2();
  const bool defer = !server && session_->requestsWaitForConnect();
  // The outbound item and the copy of `nva` nghttp2 makes live until the frame is sent: from
  // the thread's BlockPool (internal/nghttp2_allocator.h). A request also opens nghttp2's
  // stream object here, which lives as long as the stream.
  internal::Nghttp2Allocator::ShortLived short_lived(session_->nghttp2_alloc_);
  if (server) {
    int rv = nghttp2_submit_response(ng, id_, nva.data(), nva.size(), p);
    if (rv != 0) {
      return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
    }
  } else if (defer) {
    // Node's requestOnConnect: no id before the connection is up; submitted at 'connect'.
    deferRequest(nva.data(), nva.size(), end_stream);
  } else {
    // As Node: always a priority spec; nghttp2 sets the PRIORITY flag unless it is the default.
    nghttp2_priority_spec pri_spec;
    nghttp2_priority_spec_init(&pri_spec, priority_parent_, priority_weight_, priority_exclusive_);
    int32_t id = nghttp2_submit_request(ng, &pri_spec, nva.data(), nva.size(), p, this);
    if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
      return nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_OUT_OF_STREAMS",
                       "No stream ID is available because maximum stream ID has been reached");
    }
    if (id < 0) {
      return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(id));
    }
    setId(id);
  }
  headers_sent_ = true;
  provider_attached_ = p != nullptr;
  wait_for_trailers_ = wait_for_trailers && !end_stream;
  if (end_stream) {
    writable_ending_ = true;
    writable_finished_ = true;
    // Node: a pending stream's writable side finishes once it is ready (_final waits).
    if (!defer) finishWithHeaders();
  }
  updateTimer();
  if (!defer) session_->scheduleFlush();
  return absl::OkStatus();
}

void Http2Stream::finishWithHeaders() {
  auto self = shared_from_this();
  post([self] {
    for (auto& cb : self->end_callbacks_) cb(absl::OkStatus());
    self->end_callbacks_.clear();
    self->finish_event_.emit();
  });
}

void Http2Stream::deferRequest(const nghttp2_nv* nva, size_t n, bool end_stream) {
  auto d = std::make_unique<DeferredRequest>();
  d->names.reserve(n);
  d->values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    d->names.emplace_back(reinterpret_cast<const char*>(nva[i].name), nva[i].namelen);
    d->values.emplace_back(reinterpret_cast<const char*>(nva[i].value), nva[i].valuelen);
    d->flags.push_back(nva[i].flags);
  }
  d->end_stream = end_stream;
  deferred_request_ = std::move(d);
}

void Http2Stream::submitDeferred() {
  std::unique_ptr<DeferredRequest> d = std::move(deferred_request_);
  if (!d || destroyed_ || session_ == nullptr || session_->nghttp2() == nullptr) return;
  auto self = shared_from_this();
  Http2Session* session = session_;
  std::vector<nghttp2_nv> nva(d->names.size());
  for (size_t i = 0; i < nva.size(); ++i) {
    // nghttp2 copies them (no NO_COPY flags).
    nva[i].name = reinterpret_cast<uint8_t*>(d->names[i].data());
    nva[i].namelen = d->names[i].size();
    nva[i].value = reinterpret_cast<uint8_t*>(d->values[i].data());
    nva[i].valuelen = d->values[i].size();
    nva[i].flags = d->flags[i];
  }
  nghttp2_priority_spec pri_spec;
  nghttp2_priority_spec_init(&pri_spec, priority_parent_, priority_weight_, priority_exclusive_);
  nghttp2_data_provider provider = dataProvider(this);
  int32_t id = nghttp2_submit_request(session->nghttp2(), &pri_spec, nva.data(), nva.size(),
                                      d->end_stream ? nullptr : &provider, this);
  if (id < 0) {
    // Node's requestOnConnect: these two fail the stream, anything else the session.
    if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
      destroy(nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_OUT_OF_STREAMS",
                        "No stream ID is available because maximum stream ID has been reached"));
    } else if (id == NGHTTP2_ERR_INVALID_ARGUMENT) {
      destroy(nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_STREAM_SELF_DEPENDENCY",
                        "A stream cannot depend on itself"));
    } else {
      session->destroy(nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                                 nghttp2_strerror(id)));
    }
    return;
  }
  setId(id);
  session->addStream(self);
  if (d->end_stream) finishWithHeaders();
  // What was called on the stream while it waited, in order (Node: once('ready', ...)).
  for (const PriorityOptions& p : d->priorities) (void)priority(p);
  if (closed_ && rst_code_) {
    // close(code) while pending: the HEADERS (and what was written) go out, then RST_STREAM.
    session->pending_rst_.push_back({id, *rst_code_});
  }
  post([self] {
    if (!self->destroyed()) self->ready_event_.emit();
  });
  session->scheduleFlush();
}

bool Http2Stream::write(std::string data, WriteCallback cb) {
  return write(SharedBuffer(std::move(data)), std::move(cb));
}

bool Http2Stream::write(SharedBuffer data, WriteCallback cb) {
  return enqueue({std::move(data), 0, std::move(cb)});
}

bool Http2Stream::canSendFile() const { return session_ != nullptr && session_->canSendFile(); }

bool Http2Stream::enqueue(Chunk chunk) {
  WriteCallback& cb = chunk.cb;
  if (destroyed_ || writable_ending_ || (file_response_ && !writing_file_)) {
    absl::Status err = destroyed_ ? streamDestroyed() : writeAfterEnd();
    auto self = shared_from_this();
    post([self, err, cb = std::move(cb)] {
      if (cb) cb(err);
      self->error_event_.emit(err);
    });
    return false;
  }
  if (!headers_sent_) {
    if (absl::Status st = proceed(); !st.ok()) {
      auto self = shared_from_this();
      post([self, st, cb = std::move(cb)] {
        if (cb) cb(st);
        self->error_event_.emit(st);
      });
      return false;
    }
  }
  updateTimer();
  const size_t size = chunk.size();
  buffer_size_ += size;
  countBuffered(size, 0);
  outq_.push_back(std::move(chunk));
  resumeDataIfDeferred();
  if (counted_in_ != nullptr) {
    auto self = shared_from_this();
    counted_in_->checkMemory(this);  // may reset this very stream (its peer stopped reading)
    if (destroyed_) return false;
  }
  const bool ok = buffer_size_ < high_water_mark_;
  if (!ok) need_drain_ = true;
  return ok;
}

void Http2Stream::end(std::string data, WriteCallback cb) {
  if (file_response_ && !writing_file_ && !destroyed_) {
    // respondWithFile() ends the stream itself (Node closed the Duplex).
    if (cb) post([cb = std::move(cb)] { cb(writeAfterEnd()); });
    return;
  }
  if (destroyed_) {
    if (cb) {
      auto self = shared_from_this();
      post([cb = std::move(cb)] { cb(streamDestroyed()); });
    }
    return;
  }
  if (!data.empty()) {
    write(std::move(data));
    if (destroyed_) {  // the write itself ended the stream (memory budget): cb must still run
      if (cb) post([cb = std::move(cb)] { cb(streamDestroyed()); });
      return;
    }
  }
  if (writable_ending_) {
    if (cb) {
      if (writable_finished_) {
        post([cb = std::move(cb)] { cb(absl::OkStatus()); });
      } else {
        end_callbacks_.push_back(std::move(cb));
      }
    }
    return;
  }
  if (!headers_sent_) {
    if (absl::Status st = proceed(); !st.ok()) {
      if (cb) post([cb = std::move(cb), st] { cb(st); });
      return;
    }
  }
  writable_ending_ = true;
  if (cb) end_callbacks_.push_back(std::move(cb));
  if (writable_finished_) {
    // HEADERS already carried END_STREAM.
    auto self = shared_from_this();
    post([self] {
      for (auto& c : self->end_callbacks_) c(absl::OkStatus());
      self->end_callbacks_.clear();
    });
    return;
  }
  resumeDataIfDeferred();
}

void Http2Stream::resumeDataIfDeferred() {
  if (!provider_attached_ || !deferred_ || session_ == nullptr || id_ == 0) return;
  deferred_ = false;
  nghttp2_session_resume_data(session_->nghttp2(), id_);
  session_->scheduleFlush();
}

ssize_t Http2Stream::readForFraming(size_t length, uint32_t* data_flags) {
  // Node's first_byte_sent: the first time nghttp2 asks for DATA.
  if (perf_start_ != kNotTimed && perf_first_byte_sent_ == kNotTimed) {
    perf_first_byte_sent_ = loop_->now();
  }
  size_t copied = 0;
  std::vector<WriteCallback> done;
  // Slices of a frame nghttp2 did not send after all (its stream was closed in between).
  framed_.clear();
  // The vector's memory is the thread's between frames (internal/thread_spare.h): the session
  // gives it back once it has moved the pieces out (onSendData). Kept per stream, it cost a
  // malloc on every stream's first DATA frame (one per unary call each way) and stayed with
  // every waiting stream.
  internal::ThreadSpare<FramedPiece>::fill(framed_);
  // Consecutive small pieces are copied into one buffer; larger ones go out as slices of the
  // written buffers (no copy). One slice per piece made a frame of 5-byte gRPC messages
  // thousands of iovecs: libuv writes at most IOV_MAX (1024) per writev and waits a loop turn
  // for the rest, so a busy connection got 1024 messages out per turn; under CPU load a
  // bidirectional stream then sent nothing for seconds (bench_smoke_test's both_streaming).
  // A run's first small piece waits as a slice (`lone`): a run of one goes out as it is (a
  // ping-pong message, one per frame, costs no copy and no buffer); a second piece starts the
  // copy.
  std::string small;
  SharedBuffer lone;
  auto flushSmall = [&] {
    if (!lone.empty()) {
      framed_.push_back({std::move(lone)});
      lone = SharedBuffer();
    }
    if (small.empty()) return;
    framed_.push_back({SharedBuffer(std::move(small))});
    small = std::string();
  };
  while (copied < length && !outq_.empty()) {
    Chunk& chunk = outq_.front();
    const size_t n = std::min(length - copied, chunk.size() - chunk.offset);
    if (n > 0 && chunk.file.file) {
      flushSmall();
      framed_.push_back({SharedBuffer(),
                         {chunk.file.file, chunk.file.offset + static_cast<int64_t>(chunk.offset),
                          n}});
    } else if (n > 0 && n < kCopyBelow) {
      if (small.empty() && lone.empty()) {
        lone = chunk.data.slice(chunk.offset, n);
      } else {
        if (small.empty()) {
          small.reserve(std::min(length - copied + lone.size(), buffer_size_));
          small.append(lone.data(), lone.size());
          lone = SharedBuffer();
        }
        small.append(chunk.data.data() + chunk.offset, n);
      }
    } else if (n > 0) {
      flushSmall();
      framed_.push_back({chunk.data.slice(chunk.offset, n)});
    }
    copied += n;
    chunk.offset += n;
    if (chunk.offset == chunk.size()) {
      if (chunk.cb) done.push_back(std::move(chunk.cb));
      outq_.pop_front();
    }
  }
  flushSmall();
  if (framed_.empty()) internal::ThreadSpare<FramedPiece>::give(framed_);  // nothing to send
  buffer_size_ -= copied;
  countBuffered(0, copied);
  perf_bytes_written_ += copied;
  if (copied > 0) sent_data_ = true;
  // nghttp2 writes the frame header and calls the session's send_data callback, which queues
  // framed_ for the socket behind it.
  if (copied > 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  const bool drained = need_drain_ && buffer_size_ == 0;
  if (drained) need_drain_ = false;
  const bool eof = outq_.empty() && writable_ending_ && !no_end_stream_;
  if (eof) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    writable_finished_ = true;
    if (wait_for_trailers_) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  } else if (copied == 0) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (!done.empty() || drained || eof) {
    // Events never run on nghttp2's stack.
    auto self = shared_from_this();
    const bool want_trailers = eof && wait_for_trailers_;
    post([self, done = std::move(done), drained, eof, want_trailers]() mutable {
      for (auto& cb : done) cb(absl::OkStatus());
      if (drained && !self->destroyed_) self->drain_event_.emit();
      if (eof) {
        for (auto& cb : self->end_callbacks_) cb(absl::OkStatus());
        self->end_callbacks_.clear();
        self->finish_event_.emit();
      }
      if (want_trailers) {
        // Node's onStreamTrailers: with no listener, empty trailers end the stream.
        self->trailers_ready_ = true;
        if (self->destroyed_ || self->closed_) return;
        if (!self->want_trailers_event_.emit()) (void)self->sendTrailers(Headers());
      }
    });
  }
  return static_cast<ssize_t>(copied);
}

namespace {

absl::Status checkTrailersReady(bool sent, bool ready) {
  if (sent) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_TRAILERS_ALREADY_SENT",
                     "Trailing headers have already been sent");
  }
  if (!ready) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_TRAILERS_NOT_READY",
                     "Trailing headers cannot be sent until after the wantTrailers event is "
                     "emitted");
  }
  return absl::OkStatus();
}

// Fields as nghttp2 fields, with nghttp2's `flags`; returns how many.
template <typename Field>
size_t fieldsToNv(std::span<const Field> fields, nghttp2_nv* nva, uint8_t flags) {
  size_t n = 0;
  for (const Field& f : fields) {
    nva[n++] = {reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                f.value.size(), flags};
  }
  return n;
}

// A static block as nghttp2 fields. NO_COPY: the strings outlive the frame (static storage),
// so nghttp2 need not copy them into its own buffer.
size_t staticNv(std::span<const StaticHeaderField> fields, nghttp2_nv* nva) {
  return fieldsToNv(fields, nva, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE);
}
constexpr size_t kMaxStaticFields = 16;

template <typename Field>
Headers headersOf(std::span<const Field> fields) {
  Headers h;
  h.reserve(fields.size());
  for (const Field& f : fields) h.add(f.name, f.value);
  return h;
}

#ifndef NDEBUG
// Debug builds: a static block must be exactly what Node's checks would have sent.
template <typename Field>
void checkStaticBlock(std::span<const Field> fields, HeadersKind kind, const nghttp2_nv* nva,
                      size_t n) {
  Headers h = headersOf(fields);
  auto checked = prepareOutgoingHeaders(h, kind);
  auto str = [](const uint8_t* p, size_t len) {
    return std::string_view(reinterpret_cast<const char*>(p), len);
  };
  bool same = checked.ok() && checked->size() == n;
  for (size_t i = 0; same && i < n; ++i) {
    same = (*checked)[i].name == str(nva[i].name, nva[i].namelen) &&
           (*checked)[i].value == str(nva[i].value, nva[i].valuelen) && !(*checked)[i].neverIndex;
  }
  if (!same) {
    std::fprintf(stderr, "h2rpc: invalid static header block %s: %s\n", h.toString().c_str(),
                 checked.ok() ? "reordered or defaulted" : checked.status().ToString().c_str());
    std::abort();
  }
}
#endif

// sent_block_: per field, the name and value lengths (uint32_t each), then the name and value.
std::string encodeBlock(std::span<const HeaderFieldView> fields) {
  size_t size = 0;
  for (const HeaderFieldView& f : fields) {
    size += 2 * sizeof(uint32_t) + f.name.size() + f.value.size();
  }
  std::string block;
  block.reserve(size);
  for (const HeaderFieldView& f : fields) {
    const uint32_t lengths[2] = {static_cast<uint32_t>(f.name.size()),
                                 static_cast<uint32_t>(f.value.size())};
    block.append(reinterpret_cast<const char*>(lengths), sizeof(lengths));
    block.append(f.name);
    block.append(f.value);
  }
  return block;
}

Headers headersOfBlock(std::string_view block) {
  Headers h;
  while (block.size() >= 2 * sizeof(uint32_t)) {
    uint32_t lengths[2];
    std::memcpy(lengths, block.data(), sizeof(lengths));
    block.remove_prefix(sizeof(lengths));
    h.add(block.substr(0, lengths[0]), block.substr(lengths[0], lengths[1]));
    block.remove_prefix(lengths[0] + lengths[1]);
  }
  return h;
}

}  // namespace

const std::optional<Headers>& Http2Stream::sentHeaders() const {
  if (!sent_headers_ && !static_sent_headers_.empty()) {
    sent_headers_ = headersOf(static_sent_headers_);
  }
  if (!sent_headers_ && !sent_block_.empty()) sent_headers_ = headersOfBlock(sent_block_);
  return sent_headers_;
}

absl::Status Http2Stream::submitPrevalidated(std::span<const HeaderFieldView> fields,
                                             bool end_stream, bool wait_for_trailers) {
  constexpr size_t kMaxFields = 32;
  if (fields.size() > kMaxFields) {  // not rpc/'s block: the general path
    return submitHeaders(headersOf(fields), end_stream, wait_for_trailers);
  }
  nghttp2_nv nva[kMaxFields];
  const size_t n = fieldsToNv(fields, nva, NGHTTP2_NV_FLAG_NONE);  // nghttp2 copies them
#ifndef NDEBUG
  checkStaticBlock(fields, HeadersKind::kRequest, nva, n);
#endif
  if (absl::Status st = submitNv({nva, n}, end_stream, wait_for_trailers); !st.ok()) return st;
  sent_block_ = encodeBlock(fields);
  return absl::OkStatus();
}

const std::optional<Headers>& Http2Stream::sentTrailers() const {
  if (!sent_trailers_ && trailers_sent_) sent_trailers_ = headersOf(static_sent_trailers_);
  return sent_trailers_;
}

absl::Status Http2Stream::sendTrailers(const Headers& trailers) {
  if (destroyed_ || closed_) return invalidStream();
  if (absl::Status st = checkTrailersReady(trailers_sent_, trailers_ready_); !st.ok()) return st;
  auto fields = prepareOutgoingHeaders(trailers, HeadersKind::kTrailers);
  if (!fields.ok()) return fields.status();
  std::vector<nghttp2_nv> nva = internal::toNv(*fields);
  if (absl::Status st = submitTrailerNv(nva.data(), nva.size()); !st.ok()) return st;
  Headers sent;
  for (const OutgoingField& f : *fields) sent.add(f.name, f.value);
  sent_trailers_ = std::move(sent);
  return absl::OkStatus();
}

absl::Status Http2Stream::sendStaticTrailers(std::span<const StaticHeaderField> trailers) {
  if (destroyed_ || closed_) return invalidStream();
  if (absl::Status st = checkTrailersReady(trailers_sent_, trailers_ready_); !st.ok()) return st;
  if (trailers.empty() || trailers.size() > kMaxStaticFields) {
    return sendTrailers(headersOf(trailers));  // the general path handles these
  }
  nghttp2_nv nva[kMaxStaticFields];
  const size_t n = staticNv(trailers, nva);
#ifndef NDEBUG
  checkStaticBlock(trailers, HeadersKind::kTrailers, nva, n);
#endif
  if (absl::Status st = submitTrailerNv(nva, n); !st.ok()) return st;
  static_sent_trailers_ = trailers;
  return absl::OkStatus();
}

absl::Status Http2Stream::submitTrailerNv(const nghttp2_nv* nva, size_t n) {
  nghttp2_session* ng = session_->nghttp2();
  // The item (and the trailers' copy) live until the frame is sent (see submitNv).
  internal::Nghttp2Allocator::ShortLived short_lived(session_->nghttp2_alloc_);
  int rv;
  if (n == 0) {
    nghttp2_data_provider eof;
    eof.source.ptr = nullptr;
    eof.read_callback = [](nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t* flags,
                           nghttp2_data_source*, void*) -> ssize_t {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    };
    rv = nghttp2_submit_data(ng, NGHTTP2_FLAG_END_STREAM, id_, &eof);
  } else {
    rv = nghttp2_submit_trailer(ng, id_, nva, n);
  }
  if (rv != 0) {
    absl::Status err = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                                 nghttp2_strerror(rv));
    destroy(err);
    return err;
  }
  trailers_sent_ = true;
  wait_for_trailers_ = false;
  updateTimer();
  session_->scheduleFlush();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Readable side

ListenerId Http2Stream::onData(std::function<void(std::string_view)> fn) {
  ListenerId id = data_event_.on(std::move(fn));
  // Node: attaching a 'data' listener switches a stream that was not explicitly paused to
  // flowing mode.
  if (!explicitly_paused_) resume();
  return id;
}

ListenerId Http2Stream::onDataBuffer(std::function<void(const SharedBuffer&)> fn) {
  ListenerId id = data_buffer_event_.on(std::move(fn));
  if (!explicitly_paused_) resume();
  return id;
}

void Http2Stream::pause() {
  flowing_ = false;
  explicitly_paused_ = true;
}

void Http2Stream::resume() {
  explicitly_paused_ = false;
  if (flowing_) return;
  flowing_ = true;
  did_read_ = true;
  scheduleInbox();
}

void Http2Stream::receiveData(SharedBuffer data) {
  if (data.empty()) return;
  const size_t size = data.size();
  perf_bytes_read_ += size;
  if (perf_start_ != kNotTimed && perf_first_byte_ == kNotTimed) perf_first_byte_ = loop_->now();
  inbox_.push_back(std::move(data));
  inbox_bytes_ += size;
  countBuffered(size, 0);
  updateTimer();
  if (flowing_) scheduleInbox();
  if (counted_in_ != nullptr) counted_in_->checkMemory(this);
}

void Http2Stream::dropUnread() {
  countBuffered(0, inbox_bytes_);
  inbox_.clear();
  inbox_bytes_ = 0;
}

void Http2Stream::receiveEnd() {
  read_ended_ = true;
  scheduleInbox();
}

void Http2Stream::scheduleInbox() {
  if (inbox_scheduled_) return;
  inbox_scheduled_ = true;
  auto self = shared_from_this();
  post([self] {
    self->inbox_scheduled_ = false;
    self->processInbox();
  });
}

void Http2Stream::scheduleAborted() {
  aborted_ = true;
  aborted_pending_ = true;
  auto self = shared_from_this();
  post([self] { self->emitAbortedIfPending(); });
}

void Http2Stream::emitAbortedIfPending() {
  // Node emits 'aborted' inside close(); we post it, but it still comes before a later 'end'.
  if (!aborted_pending_) return;
  aborted_pending_ = false;
  aborted_event_.emit();
}

void Http2Stream::processInbox() {
  emitAbortedIfPending();
  while (flowing_ && !inbox_.empty()) {
    SharedBuffer chunk = std::move(inbox_.front());
    inbox_.pop_front();
    inbox_bytes_ -= chunk.size();
    countBuffered(0, chunk.size());
    // Credit the peer's window only now that the application has the bytes.
    if (session_) session_->consume(id_, chunk.size());
    data_event_.emit(chunk.view());
    data_buffer_event_.emit(chunk);
  }
  // 'end' once everything was read — or, once the stream has closed, when nothing is left to
  // read even if nobody reads (Node's read(0) in onStreamClose), so that 'close' follows.
  // Never for a stream destroyed with an error, or cut off with its session: Node's errored
  // stream emits no 'end', and one whose peer never ended it has nothing to end.
  if (inbox_.empty() && read_ended_ && !end_emitted_ && !no_end_ &&
      (flowing_ || destroyed_ || destroy_on_end_)) {
    end_emitted_ = true;
    end_event_.emit();
    if (destroy_on_end_) finishDestroy(absl::OkStatus());
  }
}

// ---------------------------------------------------------------------------------------------
// Closing

void Http2Stream::close(uint32_t code, std::function<void()> callback) {
  if (closed_ || destroyed_) return;
  if (callback) close_event_.once(std::move(callback));
  closed_ = true;
  rst_code_ = code;
  if (timer_) timer_->stop();
  timeout_event_.removeAllListeners();
  const bool was_ending = writable_ending_;
  if (!was_ending) {
    writable_ending_ = true;
    scheduleAborted();
  }
  // Node's closeStream() ends the writable side, but its END_STREAM would only be framed on a
  // later tick, after the RST_STREAM: queued data still goes out, never END_STREAM. Framing
  // END_STREAM here closed a half-closed stream cleanly and nghttp2 then dropped our
  // RST_STREAM: the peer saw an aborted response as complete. Only a NO_ERROR close after
  // end() waits for 'finish' (END_STREAM sent) before its RST_STREAM, as in Node.
  if (!writable_finished_ && (!was_ending || code != constants::NGHTTP2_NO_ERROR)) {
    no_end_stream_ = true;
  }
  if (session_ != nullptr && deferred_request_) {
    // Node's finishCloseStream on a pending stream: the readable side ends now (push(null));
    // the RST_STREAM follows the HEADERS once the request is submitted (submitDeferred).
    read_ended_ = true;
    scheduleInbox();
    return;
  }
  if (session_ == nullptr || id_ == 0) return;
  auto submitRst = [self = shared_from_this(), code] {
    if (self->session_ == nullptr || self->destroyed_) return;
    self->session_->submitRstStream(self->id_, code);
  };
  // Node: a NO_ERROR close after end() lets queued data go out first.
  if (!was_ending || writable_finished_ || code != constants::NGHTTP2_NO_ERROR) {
    submitRst();
  } else {
    finish_event_.once(submitRst);
  }
}

void Http2Stream::destroy(absl::Status error) {
  if (destroyed_) return;
  uint32_t code = closed_ ? rst_code_.value_or(0) : 0;
  if (session_ && (session_->goawayCode() || session_->destroy_code_)) {
    if (!closed_ || !error.ok()) {
      code = session_->goawayCode() ? session_->goawayCode() : session_->destroy_code_;
    }
  }
  if (!error.ok() && !(session_ && (session_->goawayCode() || session_->destroy_code_))) {
    // Node: an AbortError (a request's signal) cancels; any other error is INTERNAL_ERROR.
    code = isAbortError(error) ? constants::NGHTTP2_CANCEL : constants::NGHTTP2_INTERNAL_ERROR;
  }
  if (!closed_) {
    closed_ = true;
    rst_code_ = code;
    if (!writable_ending_) {
      writable_ending_ = true;
      scheduleAborted();
    }
    if (session_ && id_ != 0 && session_->nghttp2()) {
      session_->submitRstStream(id_, code);
    }
  }
  finishDestroy(error);
}

void Http2Stream::onNghttp2Close(uint32_t code) {
  if (destroyed_) return;
  if (session_ && session_->destroyed() && !keep_session_) return;
  if (!closed_) {
    closed_ = true;
    rst_code_ = code;
    if (!writable_ending_) {
      writable_ending_ = true;
      scheduleAborted();
    }
  }
  emitAbortedIfPending();
  if (timer_) timer_->stop();
  read_ended_ = true;
  if (end_emitted_ || code != constants::NGHTTP2_NO_ERROR) {
    finishDestroy(absl::OkStatus());
    return;
  }
  // Wait for 'end' to destroy, so that buffered data is not lost.
  destroy_on_end_ = true;
  const bool server = session_ && session_->type() == Http2Session::Type::kServer;
  if (server && !did_read_ && !explicitly_paused_) {
    // Node: a server that never read the request body has it dumped so the stream can go.
    resume();
  }
  scheduleInbox();
}

void Http2Stream::joinSessionCount() {
  counted_in_ = session_;
  countBuffered(countedBytes(), 0);
}

void Http2Stream::leaveSessionCount() {
  countBuffered(0, countedBytes());
  counted_in_ = nullptr;
}

void Http2Stream::setRetainedBytes(size_t bytes) {
  const size_t old = retained_bytes_;
  retained_bytes_ = bytes;
  countBuffered(bytes, old);
  if (bytes > old && counted_in_ != nullptr) counted_in_->checkMemory(this);
}

void Http2Stream::resetForMemory() {
  if (destroyed_ || session_ == nullptr) return;
  constexpr uint32_t kCode = constants::NGHTTP2_ENHANCE_YOUR_CALM;
  if (!closed_) {
    closed_ = true;
    rst_code_ = kCode;
    if (timer_) timer_->stop();
    if (!writable_ending_) {
      writable_ending_ = true;
      scheduleAborted();
    }
  }
  if (id_ != 0 && session_->nghttp2() != nullptr && !nghttp2_closed_) {
    // At once, not behind the stream's queued frames (submitRstStream waits for those): they
    // are what we want to drop. (A stream nghttp2 has closed, whose unread data is still
    // here, is not reset: its id is closed on the wire.)
    nghttp2_submit_rst_stream(session_->nghttp2(), NGHTTP2_FLAG_NONE, id_, kCode);
    session_->scheduleFlush();
  }
  finishDestroy(http2StreamError(kCode));
}

void Http2Stream::countBuffered(size_t added, size_t removed) {
  if (counted_in_ == nullptr) return;
  counted_in_->stream_bytes_ += added;
  counted_in_->stream_bytes_ -= removed;
}

void Http2Stream::detach(const absl::Status& error, uint32_t code) {
  if (destroyed_) return;
  if (!read_ended_ || !error.ok()) no_end_ = true;  // the readable side is cut, not ended
  if (!closed_) {
    closed_ = true;
    rst_code_ = code;
    if (!writable_ending_) {
      writable_ending_ = true;
      scheduleAborted();
    }
  }
  read_ended_ = true;
  reportPerformance(session_);  // while it is still ours: its average counts the stream
  session_ = nullptr;  // the session no longer has a live nghttp2 stream for us
  finishDestroy(error);
}

void Http2Stream::finishDestroy(absl::Status error) {
  if (destroyed_) return;
  destroyed_ = true;
  reportPerformance(session_);
  if (!error.ok()) no_end_ = true;
  if (timer_) timer_->stop();
  const uint32_t code = rst_code_.value_or(0);
  if (!rst_code_) rst_code_ = code;
  if (error.ok() && code != constants::NGHTTP2_NO_ERROR && code != constants::NGHTTP2_CANCEL) {
    error = http2StreamError(code);
  }
  // Unread data is dropped (its connection-level credit was given when it arrived).
  Http2Session* session = session_;
  deferred_request_.reset();  // a pending request that is never sent
  if (session) session->removeStream(id_, this);  // which takes our bytes out of its total
  inbox_.clear();
  inbox_bytes_ = 0;
  // Queued writes will never be sent.
  std::vector<WriteCallback> dropped;
  for (Chunk& c : outq_) {
    if (c.cb) dropped.push_back(std::move(c.cb));
  }
  outq_.clear();
  framed_.clear();
  buffer_size_ = 0;
  for (auto& cb : end_callbacks_) dropped.push_back(std::move(cb));
  end_callbacks_.clear();
  session_ = nullptr;
  auto self = shared_from_this();
  auto emit_close = [self, error, dropped = std::move(dropped)]() mutable {
    self->keep_session_.reset();
    self->emitAbortedIfPending();
    for (auto& cb : dropped) cb(streamDestroyed());
    if (!self->end_emitted_ && self->read_ended_ && self->flowing_) {
      // Nothing more will arrive; a reader still learns that the stream ended.
    }
    if (!error.ok()) self->error_event_.emit(error);
    self->close_event_.emit();
    // Nothing follows 'close'. Dropping the listeners also breaks the cycles of listeners that
    // hold the stream they listen to, the natural way to write them with shared_ptr.
    self->removeAllListeners();
  };
  // In order with the session's other events (see Http2Session::post).
  if (session) {
    session->post(std::move(emit_close));
  } else {
    loop_->post(std::move(emit_close));
  }
}

void Http2Stream::startPerformanceTiming() {
  if (http2Observed(loop_) != nullptr) perf_start_ = loop_->now();
}

void Http2Stream::reportPerformance(Http2Session* session) {
  if (perf_start_ == kNotTimed) return;  // not timed (or reported already)
  const uint64_t start = std::exchange(perf_start_, kNotTimed);
  const double duration = static_cast<double>(loop_->now() - start);
  if (session != nullptr) {
    session->perf_.stream_durations += duration;
    ++session->perf_.timed_streams;
  }
  internal::PerformanceRegistry* registry = http2Observed(loop_);
  if (registry == nullptr) return;
  auto since = [start](uint64_t t) -> std::optional<double> {
    if (t == kNotTimed) return std::nullopt;
    return static_cast<double>(t - start);
  };
  Http2StreamPerformanceDetail d;
  d.id = id_;
  d.bytesRead = perf_bytes_read_;
  d.bytesWritten = perf_bytes_written_;
  d.timeToFirstByte = since(perf_first_byte_);
  d.timeToFirstByteSent = since(perf_first_byte_sent_);
  d.timeToFirstHeader = since(perf_first_header_);
  PerformanceEntry entry;
  entry.name = "Http2Stream";
  entry.startTime = static_cast<double>(start);
  entry.duration = duration;
  entry.detail = std::move(d);
  registry->enqueue(std::move(entry));
}

void Http2Stream::removeAllListeners() {
  data_event_.removeAllListeners();
  data_buffer_event_.removeAllListeners();
  end_event_.removeAllListeners();
  drain_event_.removeAllListeners();
  close_event_.removeAllListeners();
  aborted_event_.removeAllListeners();
  timeout_event_.removeAllListeners();
  want_trailers_event_.removeAllListeners();
  ready_event_.removeAllListeners();
  finish_event_.removeAllListeners();
  error_event_.removeAllListeners();
  trailers_event_.removeAllListeners();
  frame_error_event_.removeAllListeners();
}

void ClientHttp2Stream::removeAllListeners() {
  Http2Stream::removeAllListeners();
  response_event_.removeAllListeners();
  headers_event_.removeAllListeners();
  continue_event_.removeAllListeners();
  push_event_.removeAllListeners();
}

void Http2Stream::setTimeout(uint64_t ms, std::function<void()> callback) {
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
  if (!timer_) timer_ = loop_->createTimer();
  updateTimer();
}

void Http2Stream::updateTimer() {
  if (session_) session_->updateTimer();
  if (timeout_ms_ == 0 || destroyed_ || !timer_) return;
  std::weak_ptr<Http2Stream> weak = weak_from_this();
  timer_->start(timeout_ms_, [weak] {
    auto self = weak.lock();
    if (self && !self->destroyed_) self->timeout_event_.emit();
  });
}

// ---------------------------------------------------------------------------------------------
// Events from the session

void Http2Stream::emitFrameError(uint8_t type, int code) {
  frame_error_event_.emit(type, code, id_);
}

void Http2Stream::emitHeadersEvent(Headers headers, uint8_t flags, int cat) {
  // Node's onSessionHeaders: which event a HEADERS frame on an existing stream is.
  const bool end_of_stream = flags & NGHTTP2_FLAG_END_STREAM;
  std::optional<int> status;
  std::string joined;
  if (auto s = headers.get(constants::HTTP2_HEADER_STATUS, joined)) {
    int v;
    if (absl::SimpleAtoi(absl::string_view(s->data(), s->size()), &v)) status = v;
  }
  enum class Kind { kResponse, kHeaders, kTrailers, kPush } kind;
  if (cat == NGHTTP2_HCAT_RESPONSE) {
    kind = (!end_of_stream && status && *status >= 100 && *status < 200) ? Kind::kHeaders
                                                                          : Kind::kResponse;
  } else if (cat == NGHTTP2_HCAT_PUSH_RESPONSE) {
    kind = Kind::kPush;  // the response of a stream the server pushed (Node: 'push')
  } else if (status && *status >= 200) {
    kind = Kind::kResponse;
  } else {
    kind = end_of_stream ? Kind::kTrailers : Kind::kHeaders;
  }
  auto self = shared_from_this();
  post([self, headers = std::move(headers), flags, kind, status] {
    auto* client = dynamic_cast<ClientHttp2Stream*>(self.get());
    if (client && status == 100) client->continue_event_.emit();
    switch (kind) {
      case Kind::kResponse:
        if (client) client->response_event_.emit(headers, flags);
        break;
      case Kind::kHeaders:
        if (client) client->headers_event_.emit(headers, flags);
        break;
      case Kind::kTrailers:
        self->trailers_event_.emit(headers, flags);
        break;
      case Kind::kPush:
        if (client) client->push_event_.emit(headers, flags);
        break;
    }
    // The end of the readable side comes after the HEADERS that carried END_STREAM, even when
    // DATA and trailers arrived together (Node: 'trailers' then 'end').
    if (flags & NGHTTP2_FLAG_END_STREAM) self->receiveEnd();
  });
}

// ---------------------------------------------------------------------------------------------
// Server streams

absl::Status ServerHttp2Stream::respond(const Headers& headers_in, RespondOptions options) {
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                     "Response has already been initiated.");
  }
  Headers headers = headers_in;
  if (!headers.has(constants::HTTP2_HEADER_STATUS)) headers.add(constants::HTTP2_HEADER_STATUS, "200");
  if (options.sendDate && !headers.has(constants::HTTP2_HEADER_DATE)) {
    headers.add(constants::HTTP2_HEADER_DATE, httpDate());
  }
  int status = 0;
  (void)absl::SimpleAtoi(headers.get(constants::HTTP2_HEADER_STATUS).value_or(""), &status);
  bool end_stream = options.endStream || status == 204 || status == 205 || status == 304 ||
                    head_request_;
  return submitHeaders(headers, end_stream, options.waitForTrailers);
}

absl::Status ServerHttp2Stream::respondStatic(std::span<const StaticHeaderField> headers,
                                              RespondOptions options) {
  if (options.sendDate || headers.size() > kMaxStaticFields) {
    return respond(headersOf(headers), options);  // a date is not static: the general path
  }
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                     "Response has already been initiated.");
  }
  static constexpr StaticHeaderField kStatus200[] = {{constants::HTTP2_HEADER_STATUS, "200"}};
  nghttp2_nv nva[kMaxStaticFields + 1];
  size_t n = 0;
  int status = 200;
  const bool has_status = !headers.empty() && headers[0].name == constants::HTTP2_HEADER_STATUS;
  if (has_status) {
    (void)absl::SimpleAtoi(absl::string_view(headers[0].value.data(), headers[0].value.size()),
                           &status);
  } else {
    n = staticNv(kStatus200, nva);  // respond()'s default, first as pseudo-headers go
  }
  n += staticNv(headers, nva + n);
#ifndef NDEBUG
  checkStaticBlock(headers, HeadersKind::kResponse, nva, n);
#endif
  const bool end_stream = options.endStream || status == 204 || status == 205 ||
                          status == 304 || head_request_;
  if (absl::Status st = submitNv({nva, n}, end_stream, options.waitForTrailers); !st.ok()) {
    return st;
  }
  if (has_status) {
    static_sent_headers_ = headers;
  } else {
    Headers sent;
    sent.add(constants::HTTP2_HEADER_STATUS, "200");
    for (const StaticHeaderField& f : headers) sent.add(f.name, f.value);
    sent_headers_ = std::move(sent);
  }
  return absl::OkStatus();
}

absl::Status ServerHttp2Stream::proceed() { return respond(); }

void ServerHttp2Stream::onEndStreamSent() {
  // RFC 9113 §8.1: a server may answer before the request is complete and then ask the client
  // to stop sending with RST_STREAM(NO_ERROR). Node 20 does this right after the frame that
  // ends its response goes out, whenever the client has not ended its side yet (whether or
  // not the application read what came): otherwise a client uploading a body nobody reads
  // waits at the flow-control window forever. A request already ended closes normally.
  if (read_ended_ || closed_ || destroyed_ || session_ == nullptr) return;
  close(constants::NGHTTP2_NO_ERROR);
}

absl::Status ServerHttp2Stream::additionalHeaders(const Headers& headers) {
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_AFTER_RESPOND",
                     "Cannot specify additional headers after response initiated");
  }
  auto fields = prepareOutgoingHeaders(headers, HeadersKind::kInfo);
  if (!fields.ok()) return fields.status();
  std::vector<nghttp2_nv> nva = internal::toNv(*fields);
  int rv = nghttp2_submit_headers(session_->nghttp2(), NGHTTP2_FLAG_NONE, id_, nullptr,
                                  nva.data(), nva.size(), nullptr);
  if (rv != 0) {
    absl::Status err = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                                 nghttp2_strerror(rv));
    destroy(err);
    return err;
  }
  Headers sent;
  for (const OutgoingField& f : *fields) sent.add(f.name, f.value);
  sent_info_headers_.push_back(std::move(sent));
  updateTimer();
  session_->scheduleFlush();
  return absl::OkStatus();
}

}  // namespace h2rpc::transport
