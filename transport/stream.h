// transport/stream.h — Http2Stream, ServerHttp2Stream, ClientHttp2Stream: one HTTP/2 stream,
// modelled on node:http2's classes of the same names. A stream is a duplex: the readable side
// delivers the peer's DATA ('data', 'end'; pause()/resume() hold the peer back through HTTP/2
// flow control), the writable side sends ours (write()/end() with backpressure and 'drain').
//
// Threading: every method must be called on the owning session's loop thread.
// Lifetime: streams are shared_ptr. The session keeps each stream alive until its 'close' event
// has run; after that the object stays valid as long as you hold it, reports destroyed() and
// refuses every operation with ERR_HTTP2_INVALID_STREAM. After 'close' the stream drops its
// listeners, so a listener may hold the stream's shared_ptr without a leak. Events never run
// inside a call you make: like Node's process.nextTick, they are delivered from the loop, or,
// for those raised by received frames, between two frames of that read (Http2Session::post).
#ifndef H2RPC_TRANSPORT_STREAM_H_
#define H2RPC_TRANSPORT_STREAM_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/stat.h>

#include "absl/status/status.h"
#include "transport/abort.h"
#include "transport/buffer.h"
#include "transport/file_region.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/fifo.h"
#include "transport/headers.h"

namespace h2rpc::transport {

class Http2Session;
struct Nghttp2Callbacks;

// Node's http2stream.state.
struct StreamState {
  int32_t localWindowSize = 0;
  int state = 0;  // constants::NGHTTP2_STREAM_STATE_*
  bool localClose = false;
  bool remoteClose = false;
  int32_t sumDependencyWeight = 0;
  int32_t weight = 0;
};

// A header field of a fixed block for respondStatic() / sendStaticTrailers(): both strings have
// static storage (string literals, or strings that live as long as the program), because
// nghttp2 keeps pointing at them until the frame is written instead of copying them.
struct StaticHeaderField {
  std::string_view name;
  std::string_view value;
};

// A header field for ClientHttp2Session::requestPrevalidated(): views that need to live only
// during the call (nghttp2 copies them).
struct HeaderFieldView {
  std::string_view name;
  std::string_view value;
};

// Called once the chunk is handed to HTTP/2 framing (OK), or with the error that dropped it.
using WriteCallback = std::function<void(absl::Status)>;

// Http2Stream::priority()'s options (Node's names; weight clamped to 1..256 as Node).
struct PriorityOptions {
  int32_t parent = 0;
  int32_t weight = 16;
  bool exclusive = false;
  bool silent = false;
};

class Http2Stream : public std::enable_shared_from_this<Http2Stream> {
 public:
  // Node's writableHighWaterMark: write() returns false once this many bytes are buffered.
  static constexpr size_t kDefaultHighWaterMark = 16384;

  Http2Stream(const Http2Stream&) = delete;
  Http2Stream& operator=(const Http2Stream&) = delete;
  virtual ~Http2Stream();

  // --- properties (Node's names) ---
  int32_t id() const { return id_; }
  // The session, or nullptr once the stream is destroyed.
  Http2Session* session() const { return session_; }
  // True while the stream has no id: a request made while its session connects waits for the
  // 'connect' to be submitted (Node's requestOnConnect); 'ready' comes with its id.
  bool pending() const { return id_ == 0; }
  bool aborted() const { return aborted_; }
  bool closed() const { return closed_; }
  bool destroyed() const { return destroyed_; }
  bool endAfterHeaders() const { return end_after_headers_; }
  bool headersSent() const { return headers_sent_; }
  // Bytes written but not yet handed to HTTP/2 framing.
  size_t bufferSize() const { return buffer_size_; }
  // The RST_STREAM code once the stream has closed (NGHTTP2_NO_ERROR after a normal end).
  std::optional<uint32_t> rstCode() const { return rst_code_; }
  const std::optional<Headers>& sentHeaders() const;
  const std::vector<Headers>& sentInfoHeaders() const { return sent_info_headers_; }
  const std::optional<Headers>& sentTrailers() const;
  // Empty state (all zero) when pending or destroyed, as Node returns {}.
  StreamState state() const;

  // --- writable side ---
  // Queues `data`. Returns false when bufferSize() reached the high-water mark: wait for
  // 'drain' before writing more. After end(), the chunk is refused (ERR_STREAM_WRITE_AFTER_END
  // to `cb` and 'error'). On a server stream, the first write() responds with :status 200 if
  // respond() was not called yet (as Node).
  bool write(std::string data, WriteCallback cb = nullptr);
  // The same for bytes the caller shares: the stream keeps a reference and DATA frames go to
  // the socket straight from them (no copy), so they must not change after this call.
  bool write(SharedBuffer data, WriteCallback cb = nullptr);
  // Ends the writable side after `data` (if any): END_STREAM, or 'wantTrailers' when the stream
  // was opened with waitForTrailers.
  void end(std::string data = {}, WriteCallback cb = nullptr);
  bool writableEnded() const { return writable_ending_; }
  void setHighWaterMark(size_t bytes) { high_water_mark_ = bytes; }

  // Sends trailing HEADERS; only after 'wantTrailers' (ERR_HTTP2_TRAILERS_NOT_READY before,
  // ERR_HTTP2_TRAILERS_ALREADY_SENT twice). Empty trailers end the stream with an empty DATA.
  absl::Status sendTrailers(const Headers& trailers);
  // sendTrailers() of a fixed, non-empty block that the caller vouches for, without Node's
  // checks (prepareOutgoingHeaders): what rpc/ sends on every call (grpc-status: 0). The caller
  // guarantees what those checks would find: lower-case token names, no pseudo-header, values
  // without CR/LF/NUL, no connection-specific or repeated single-value field. Debug builds
  // verify it. The stream-state errors are sendTrailers()'.
  absl::Status sendStaticTrailers(std::span<const StaticHeaderField> trailers);

  // --- readable side ---
  // A stream starts paused: DATA is buffered (never beyond the flow-control window, since we
  // send WINDOW_UPDATE only for data handed to you). The first onData() listener or resume()
  // starts the flow.
  void pause();
  void resume();
  bool isPaused() const { return !flowing_; }
  bool readableEnded() const { return end_emitted_; }
  size_t readableLength() const { return inbox_bytes_; }

  // --- memory (not in Node) ---
  // Bytes the application holds for this stream beyond the stream's own buffers: a partial
  // message it is assembling, messages it has queued (rpc/ reports its message buffers here).
  // They count, like bufferSize(), readableLength() and the request headers, against the
  // session's maxSessionMemory and the server's memory quota. When a server session goes over
  // either, the stream holding the most bytes the peer makes us hold (unread, retained, or
  // unsent because the peer keeps its window shut) is reset with ENHANCE_YOUR_CALM ('error',
  // then 'close'). Client sessions only count.
  void setRetainedBytes(size_t bytes);
  size_t retainedBytes() const { return retained_bytes_; }

  // --- closing ---
  // Sends RST_STREAM with `code` (default NGHTTP2_NO_ERROR) and closes both sides.
  void close(uint32_t code = 0, std::function<void()> callback = nullptr);
  // Node's stream.destroy([error]): closes at once; with an error the RST code is
  // NGHTTP2_INTERNAL_ERROR and 'error' is emitted before 'close'.
  void destroy(absl::Status error = absl::OkStatus());
  // 'timeout' after `ms` without activity on this stream; 0 disables.
  // `callback` runs once, at the next 'timeout' (Node: once('timeout')); with 0 it is not added,
  // and the callbacks earlier calls added that have not run are removed (Node removes that one).
  void setTimeout(uint64_t ms, std::function<void()> callback = nullptr);
  // Node's http2stream.priority(options): as Node 20, a PRIORITY frame for this stream (RFC
  // 7540 §6.3; RFC 9113 deprecates the scheme and peers may ignore it), or with `silent` only
  // nghttp2's local priority tree changes. A `parent` equal to the stream's own id does nothing
  // (as Node). Errors: ERR_HTTP2_INVALID_STREAM (destroyed), ERR_OUT_OF_RANGE (parent < 0).
  absl::Status priority(const PriorityOptions& options = {});

  // --- events (each returns an id for off()) ---
  ListenerId onData(std::function<void(std::string_view)> fn);
  // Not in Node: 'data' for a listener that keeps the bytes. Each chunk arrives as a
  // SharedBuffer that owns them (the received chunk, adopted without a copy), after the onData
  // listeners of the same chunk (often a slice of the socket's read buffer: keeping it keeps
  // that buffer). Starts the flow like onData.
  ListenerId onDataBuffer(std::function<void(const SharedBuffer&)> fn);
  ListenerId onEnd(std::function<void()> fn) { return end_event_.on(std::move(fn)); }
  ListenerId onDrain(std::function<void()> fn) { return drain_event_.on(std::move(fn)); }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  ListenerId onError(std::function<void(const absl::Status&)> fn) {
    return error_event_.on(std::move(fn));
  }
  ListenerId onAborted(std::function<void()> fn) { return aborted_event_.on(std::move(fn)); }
  ListenerId onTimeout(std::function<void()> fn) { return timeout_event_.on(std::move(fn)); }
  ListenerId onTrailers(std::function<void(const Headers&, uint8_t flags)> fn) {
    return trailers_event_.on(std::move(fn));
  }
  ListenerId onWantTrailers(std::function<void()> fn) {
    return want_trailers_event_.on(std::move(fn));
  }
  ListenerId onReady(std::function<void()> fn) { return ready_event_.on(std::move(fn)); }
  // (frame type, HTTP/2 error code, stream id): a frame for this stream could not be sent (the
  // code nghttp2's library error stands for, as Node 20; see Http2Session::onFrameError).
  ListenerId onFrameError(std::function<void(uint8_t, int, int32_t)> fn) {
    return frame_error_event_.on(std::move(fn));
  }
  // 'finish': everything written, END_STREAM (or trailers) handed to framing.
  ListenerId onFinish(std::function<void()> fn) { return finish_event_.on(std::move(fn)); }
  virtual void off(ListenerId id);
  // Drops every listener (done automatically after 'close').
  virtual void removeAllListeners();

 protected:
  Http2Stream(Http2Session* session, int32_t id);

  // Hooks for ServerHttp2Stream (respond on first write).
  virtual absl::Status proceed() { return absl::OkStatus(); }
  // The frame carrying our END_STREAM (HEADERS, DATA or trailers) was handed to the socket.
  virtual void onEndStreamSent() {}

  // --- called by Http2Session (the nghttp2 glue) ---
  friend class Http2Session;
struct Nghttp2Callbacks;
  friend class ServerHttp2Session;
  friend class ClientHttp2Session;
  friend struct Nghttp2Callbacks;
  void setId(int32_t id);
  // submitHeaders() for a block the caller vouches for (requestPrevalidated).
  absl::Status submitPrevalidated(std::span<const HeaderFieldView> fields, bool end_stream,
                                  bool wait_for_trailers);
  // A DATA payload arrived (buffered until read; flow control credited when delivered).
  void receiveData(SharedBuffer data);
  // END_STREAM arrived from the peer.
  void receiveEnd();
  // nghttp2 closed the stream (after RST_STREAM either way, or both sides ended).
  void onNghttp2Close(uint32_t code);
  // Takes up to `length` bytes for nghttp2's next DATA frame; returns their count or an nghttp2
  // error code (DEFERRED). The bytes are not copied (NGHTTP2_DATA_FLAG_NO_COPY): they wait in
  // framed_ as slices of the written buffers until nghttp2 sends the frame and the session
  // collects them with framed(); only runs of two or more pieces under kCopyBelow bytes are
  // copied, into one buffer (a lone small piece goes as a slice too: copying it saves nothing).
  // File regions (writeFile) are taken as sub-regions: the socket sends them from the file.
  ssize_t readForFraming(size_t length, uint32_t* data_flags);
  // The stream's body source for nghttp2 (readForFramingIfLive).
  static nghttp2_data_provider dataProvider(Http2Stream* stream);
  // readForFraming() if the session still has this stream as `id` (else a callback failure).
  ssize_t readForFramingIfLive(int32_t id, size_t length, uint32_t* data_flags);
  // A piece of a DATA frame's payload: bytes in memory, or (file.file set) a file region.
  struct FramedPiece {
    SharedBuffer data;
    FileRegion file{};
    size_t size() const { return file.file ? file.length : data.size(); }
  };
  // The pieces of the frame readForFraming() made; the session moves them out and gives the
  // vector's memory back to the thread (internal/thread_spare.h: no allocation per DATA frame,
  // none held by a stream between frames).
  std::vector<FramedPiece>& framed() { return framed_; }
  // The session is going away: drop everything without touching nghttp2.
  void detach(const absl::Status& error, uint32_t code);
  // While the stream is in the session's table, its buffered bytes (bufferSize() +
  // readableLength()) are part of the session's running total for memoryInUse().
  void joinSessionCount();
  void leaveSessionCount();
  void countBuffered(size_t added, size_t removed);
  // Drops the received bytes not handed to the application yet (the stream was reset).
  void dropUnread();
  // Delivers an event, through the session's post() while attached to one.
  void post(LoopCallback fn);
  // What the stream counts in its session's total (see setRetainedBytes).
  size_t countedBytes() const {
    return buffer_size_ + inbox_bytes_ + retained_bytes_ + header_bytes_;
  }
  // The session is over its memory budget and this stream holds the most: RST_STREAM
  // ENHANCE_YOUR_CALM at once, its buffers dropped now.
  void resetForMemory();
  void emitHeadersEvent(Headers headers, uint8_t flags, int category);
  void emitFrameError(uint8_t type, int code);
  void updateTimer();
  // performance.h: a header block arrived for this stream (timeToFirstHeader).
  void noteHeaderReceived() {
    if (perf_start_ != kNotTimed && perf_first_header_ == kNotTimed) {
      perf_first_header_ = loop_->now();
    }
  }
  // Times the stream if the loop is observed (called when the session adds it).
  void startPerformanceTiming();
  // The stream's 'http2' entry (if it was timed), and its duration to `session`'s average.
  void reportPerformance(Http2Session* session);

  // Submits our (initial) HEADERS with a data provider unless end_stream.
  absl::Status submitHeaders(const Headers& headers, bool end_stream, bool wait_for_trailers);
  // The part after validation: `nva` is submitted as is. (A span, not pointer and length: g++
  // takes a const pointer to a stack array that an empty block leaves unwritten for a read of
  // it, and warns -Wmaybe-uninitialized in opt builds.)
  absl::Status submitNv(std::span<const nghttp2_nv> nva, bool end_stream, bool wait_for_trailers);
  // A request made while the session connects: what submitNv would give nghttp2, kept (with
  // the priority() calls made meanwhile) until submitDeferred() at the session's 'connect'.
  struct DeferredRequest;
  std::unique_ptr<DeferredRequest> deferred_request_;
  void deferRequest(const nghttp2_nv* nva, size_t n, bool end_stream);
  // Submits the deferred request; its id, then the priority() and close() calls made while it
  // waited, in order, then 'ready' (Node: listeners of 'ready'). Errors as Node's
  // requestOnConnect: the stream (or, for nghttp2's other errors, the session) is destroyed.
  void submitDeferred();
  // The 'finish' of a stream whose END_STREAM went with its HEADERS.
  void finishWithHeaders();
  // A request's RFC 7540 priority (RequestOptions parent/weight/exclusive), set before submitNv.
  int32_t priority_parent_ = 0;
  int32_t priority_weight_ = NGHTTP2_DEFAULT_WEIGHT;
  bool priority_exclusive_ = false;
  // sendTrailers() after validation; empty `nva`: an empty DATA with END_STREAM instead.
  absl::Status submitTrailerNv(const nghttp2_nv* nva, size_t n);
  void resumeDataIfDeferred();
  void processInbox();
  void scheduleInbox();
  void maybeDestroy();
  void scheduleAborted();
  void emitAbortedIfPending();
  void finishDestroy(absl::Status error);
  absl::Status invalidStream() const;
  EventLoop* loop() const;

  Http2Session* session_;
  Http2Session* counted_in_ = nullptr;  // see joinSessionCount
  EventLoop* loop_;
  int32_t id_ = 0;

  // Writable side. A chunk is bytes in memory, or (file.file set) a region of a file that the
  // socket sends itself (writeFile).
  struct Chunk {
    SharedBuffer data;
    size_t offset = 0;
    WriteCallback cb;
    FileRegion file{};
    size_t size() const { return file.file ? file.length : data.size(); }
  };
  Fifo<Chunk> outq_;
  // write() for any chunk.
  bool enqueue(Chunk chunk);
  // respondWithFile() on a socket that can send files (canSendFile()): a region written as
  // write() writes bytes (same backpressure, same memory accounting as the bytes it stands
  // for), framed by nghttp2 and sent by the socket with sendfile(2).
  bool writeFile(FileRegion region) { return enqueue({SharedBuffer(), 0, nullptr, std::move(region)}); }
  bool canSendFile() const;
  // The payload of the DATA frame nghttp2 is about to send (see readForFraming).
  std::vector<FramedPiece> framed_;
  // Pieces of a DATA frame smaller than this are copied together (see readForFraming).
  static constexpr size_t kCopyBelow = 512;
  size_t buffer_size_ = 0;
  size_t high_water_mark_ = kDefaultHighWaterMark;
  bool need_drain_ = false;
  bool writable_ending_ = false;    // end() called
  bool writable_finished_ = false;  // EOF handed to nghttp2
  bool no_end_stream_ = false;      // close(code) before EOF: RST_STREAM, never END_STREAM
  bool provider_attached_ = false;  // HEADERS went out with a data provider
  bool deferred_ = false;           // the provider returned NGHTTP2_ERR_DEFERRED
  bool wait_for_trailers_ = false;
  bool trailers_ready_ = false;
  bool headers_sent_ = false;
  std::vector<WriteCallback> end_callbacks_;

  // Readable side.
  Fifo<SharedBuffer> inbox_;
  size_t inbox_bytes_ = 0;
  // Memory counted for the session beyond the buffers (see setRetainedBytes): what the
  // application reported, and the request headers a server stream keeps.
  size_t retained_bytes_ = 0;
  size_t header_bytes_ = 0;
  // For the memory budget: whether any DATA of ours went out, and since when (loop time) our
  // unsent bytes have waited for a WINDOW_UPDATE of this stream (kNotStalled: they do not).
  static constexpr uint64_t kNotStalled = UINT64_MAX;
  bool sent_data_ = false;
  uint64_t stalled_since_ = kNotStalled;
  bool flowing_ = false;
  bool explicitly_paused_ = false;
  bool did_read_ = false;
  bool read_ended_ = false;  // END_STREAM (or close) seen
  bool end_emitted_ = false;
  bool no_end_ = false;  // destroyed with an error or cut off: 'end' must not follow
  bool inbox_scheduled_ = false;

  // Lifecycle.
  bool aborted_ = false;
  bool aborted_pending_ = false;  // 'aborted' posted, not emitted yet
  bool closed_ = false;
  bool destroyed_ = false;
  bool destroy_on_end_ = false;
  // nghttp2 closed the stream (any code); its buffered events and close still have to run.
  bool nghttp2_closed_ = false;
  // Keeps the session alive while such a stream finishes after the session went away.
  std::shared_ptr<Http2Session> keep_session_;
  bool end_after_headers_ = false;
  bool head_request_ = false;
  std::optional<uint32_t> rst_code_;
  // What went out, as Node's sentHeaders/sentTrailers. A static block is kept as its fields and
  // turned into Headers only if someone asks (rpc/ never does: it would cost a copy per call).
  mutable std::optional<Headers> sent_headers_;
  std::span<const StaticHeaderField> static_sent_headers_;
  // A prevalidated request block, kept in one string (per field: name length, value length,
  // name, value) until someone asks for sentHeaders().
  std::string sent_block_;
  std::vector<Headers> sent_info_headers_;
  mutable std::optional<Headers> sent_trailers_;
  std::span<const StaticHeaderField> static_sent_trailers_;
  bool trailers_sent_ = false;
  // respondWithFile()/respondWithFD() owns the writable side: the application's write()/end()
  // are refused (Node closes the Duplex), only the file sender's (writing_file_) go through.
  bool file_response_ = false;
  bool writing_file_ = false;
  std::unique_ptr<Timer> timer_;
  uint64_t timeout_ms_ = 0;
  std::vector<ListenerId> timeout_callbacks_;  // once-listeners setTimeout() added (see there)

  // performance.h: DATA payload bytes, always counted; loop times (kNotTimed: not timed, or
  // not happened) only for a stream created while the loop was observed.
  static constexpr uint64_t kNotTimed = UINT64_MAX;
  uint64_t perf_bytes_read_ = 0;
  uint64_t perf_bytes_written_ = 0;
  uint64_t perf_start_ = kNotTimed;
  uint64_t perf_first_byte_ = kNotTimed;
  uint64_t perf_first_byte_sent_ = kNotTimed;
  uint64_t perf_first_header_ = kNotTimed;

  Event<std::string_view> data_event_;
  Event<const SharedBuffer&> data_buffer_event_;
  Event<> end_event_, drain_event_, close_event_, aborted_event_, timeout_event_;
  Event<> want_trailers_event_, ready_event_, finish_event_;
  Event<const absl::Status&> error_event_;
  Event<const Headers&, uint8_t> trailers_event_;
  Event<uint8_t, int, int32_t> frame_error_event_;
};

// Node's respond() options.
struct RespondOptions {
  bool endStream = false;        // HEADERS carry END_STREAM: no body (Trailers-Only in gRPC)
  bool waitForTrailers = false;  // after the last DATA, emit 'wantTrailers' instead of ending
  bool sendDate = true;          // add a `date` header when absent (Node's default)
};

// The part of a file respondWithFile()/respondWithFD() sends (Node's statOptions): statCheck may
// change it, e.g. for a Range request.
struct FileRange {
  int64_t offset = 0;   // first byte sent
  int64_t length = -1;  // bytes sent; -1: up to the end of the file
};

// Node's respondWithFile()/respondWithFD() options.
struct RespondWithFileOptions {
  // Called with the file's fstat(), the response headers and the range before anything is sent;
  // it may add headers or change the range. Returning false cancels the response (the caller
  // answers itself, e.g. respond({{":status", "304"}})); the file is not read.
  std::function<bool(const struct stat&, Headers&, FileRange&)> statCheck;
  // Errors before the response is sent (open/fstat failed, a directory): given to this
  // listener, the stream stays open (respond with a 404 from it). Without it, the stream is
  // destroyed with the error ('error', RST_STREAM INTERNAL_ERROR), as Node.
  std::function<void(const absl::Status&)> onError;
  int64_t offset = 0;    // past the end of the file: an empty body (content-length 0)
  int64_t length = -1;   // negative: up to the end of the file (as Node)
  bool waitForTrailers = false;
};

class FileSender;

// Options of ServerHttp2Stream::pushStream() (Node's names).
struct PushStreamOptions {
  // The pushed response carries no body: respond() on the pushed stream ends it (as for a
  // HEAD request, which implies it).
  bool endStream = false;
};

class ServerHttp2Stream;
// pushStream()'s callback, Node's (err, pushStream, headers): on error the stream is null.
using PushStreamCallback = std::function<void(
    const absl::Status&, std::shared_ptr<ServerHttp2Stream>, const Headers&)>;

// A stream the peer opened on our server session (or one we pushed, see pushStream()).
class ServerHttp2Stream : public Http2Stream {
 public:
  // Sends the response HEADERS. :status defaults to 200 and must be 200–599
  // (ERR_HTTP2_STATUS_INVALID); 204, 205, 304 and HEAD requests imply endStream.
  absl::Status respond(const Headers& headers = {}, RespondOptions options = {});
  // respond() with a fixed block the caller vouches for, without Node's checks
  // (prepareOutgoingHeaders): rpc/'s response headers (:status 200, content-type
  // application/grpc, ...) on every call. The caller guarantees what those checks would find:
  // :status first if present (200-599; 200 if absent), no other pseudo-header, lower-case token
  // names, values without CR/LF/NUL, no connection-specific or repeated single-value field.
  // Debug builds verify it. Stream-state errors, options and the end-of-stream rules (204,
  // 205, 304, HEAD) are respond()'s.
  absl::Status respondStatic(std::span<const StaticHeaderField> headers,
                             RespondOptions options = {});
  // Node's respondWithFile(): responds with the contents of the file at `path` (status 200 unless
  // `headers` says otherwise, content-length from fstat() and the range), then ends the stream
  // (or 'wantTrailers'). Returns at once: the file is opened and stat'ed from the loop, then
  // read in bounded chunks (64 KiB pread on the loop thread) only as the stream drains, so a
  // slow reader or a shut flow-control window holds at most one chunk plus the high-water mark
  // in memory. Refused at once: a destroyed stream (ERR_HTTP2_INVALID_STREAM), headers already
  // sent or a file response already started (ERR_HTTP2_HEADERS_SENT), :status 204/205/304
  // (ERR_HTTP2_PAYLOAD_FORBIDDEN), a negative offset (ERR_OUT_OF_RANGE; Node announces a
  // content-length past the file and resets). Later errors go to options.onError
  // (see there): ENOENT and other open/fstat errors as Node's SystemError code, a directory
  // (ERR_HTTP2_SEND_FILE), offset/length on a non-seekable file (ERR_HTTP2_SEND_FILE_NOSEEK).
  // A read error once the response is under way destroys the stream (RST_STREAM
  // INTERNAL_ERROR). The application's write()/end() are refused from the call on.
  absl::Status respondWithFile(std::string path, const Headers& headers = {},
                               RespondWithFileOptions options = {});
  // The same for an open, readable descriptor, which stays the caller's: it is not closed, and
  // must stay open until the stream's 'close'. Reads use pread() from the offset on regular
  // files (the descriptor's position is left alone), read() otherwise.
  absl::Status respondWithFD(int fd, const Headers& headers = {},
                             RespondWithFileOptions options = {});
  // Sends a 1xx informational HEADERS before respond() (ERR_HTTP2_HEADERS_AFTER_RESPOND after).
  absl::Status additionalHeaders(const Headers& headers);
  bool headRequest() const { return head_request_; }
  // --- server push (push.cc) ---
  // Node's pushAllowed: the stream and session are open and the client's last SETTINGS did not
  // disable push (SETTINGS_ENABLE_PUSH, default 1).
  bool pushAllowed() const;
  // Sends PUSH_PROMISE on this stream with the promised request `headers` (:method defaults to
  // GET, :path to "/", :scheme and :authority to this request's) and opens the pushed stream,
  // which the application answers as any other (respond(), write(), end()). Node's errors:
  // returned at once — ERR_HTTP2_PUSH_DISABLED (!pushAllowed()), ERR_HTTP2_NESTED_PUSH (on a
  // pushed stream), header validation errors; given to `callback` (from the loop) —
  // ERR_HTTP2_OUT_OF_STREAMS, ERR_HTTP2_INVALID_STREAM (nghttp2 closed the stream already),
  // ERR_HTTP2_ERROR. On success `callback` gets the pushed stream and the promised headers.
  absl::Status pushStream(const Headers& headers, PushStreamOptions options,
                          PushStreamCallback callback);
  // The request headers, the ones the session's 'stream' event carried (a reference to these).
  // Kept with the stream, so that what needs them later refers to them instead of copying.
  const Headers& requestHeaders() const { return request_headers_; }

  ServerHttp2Stream(Http2Session* session, int32_t id) : Http2Stream(session, id) {}

 protected:
  absl::Status proceed() override;
  // A complete response while the request is still open: RST_STREAM(NO_ERROR) (see stream.cc).
  void onEndStreamSent() override;

 private:
  friend class ServerHttp2Session;
  friend class FileSender;
  absl::Status startFileResponse(int fd, bool owns_fd, std::string path, const Headers& headers,
                                 RespondWithFileOptions options);
  Headers request_headers_;
};

// Options of ClientHttp2Session::request() (Node's names).
struct RequestOptions {
  // END_STREAM on the request HEADERS. Unset: true for GET, HEAD and DELETE (as Node).
  std::optional<bool> endStream{};
  bool waitForTrailers = false;
  // RFC 7540 priority, sent as Node 20 sends it: the HEADERS frame carries the PRIORITY flag
  // with these unless they are the defaults (parent 0, weight 16, not exclusive). `parent`:
  // the stream this one depends on (>= 0, else ERR_OUT_OF_RANGE); `weight` is clamped to
  // 1..256 (as Node); `exclusive`: the E bit. (RFC 9113 deprecates this scheme; servers may
  // ignore it.)
  int32_t parent = 0;
  int32_t weight = 16;
  bool exclusive = false;
  // Node's `signal`: aborting it destroys the stream with abortError() (RST_STREAM CANCEL, as
  // Node). Already aborted: the stream is destroyed at once, before its HEADERS are
  // submitted (no stream id used, id() stays 0), and its 'error' and 'close' follow on the loop. The stream's listener on the signal is removed
  // when the stream closes.
  std::shared_ptr<AbortSignal> signal{};
};

// A request we sent on our client session.
class ClientHttp2Stream : public Http2Stream {
 public:
  // The final response HEADERS (:status >= 200, or any HEADERS with END_STREAM).
  ListenerId onResponse(std::function<void(const Headers&, uint8_t flags)> fn) {
    return response_event_.on(std::move(fn));
  }
  // 1xx informational HEADERS (and non-final HEADERS).
  ListenerId onHeaders(std::function<void(const Headers&, uint8_t flags)> fn) {
    return headers_event_.on(std::move(fn));
  }
  // The server answered 100 Continue.
  ListenerId onContinue(std::function<void()> fn) { return continue_event_.on(std::move(fn)); }
  // On a stream the server pushed (ClientHttp2Session::onStream): its response HEADERS.
  ListenerId onPush(std::function<void(const Headers&, uint8_t flags)> fn) {
    return push_event_.on(std::move(fn));
  }
  void off(ListenerId id) override;
  void removeAllListeners() override;

  ClientHttp2Stream(Http2Session* session, int32_t id) : Http2Stream(session, id) {}

 private:
  friend class Http2Stream;
  Event<const Headers&, uint8_t> response_event_, headers_event_, push_event_;
  Event<> continue_event_;
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_STREAM_H_
