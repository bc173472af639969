// transport/session.h — Http2Session, ServerHttp2Session, ClientHttp2Session: one HTTP/2
// connection, modelled on node:http2's classes of the same names, on top of nghttp2.
//
// The session is sans-I/O: it reads and writes bytes through a Socket and takes time from an
// EventLoop, both injected. Over a MemorySocket and a ManualLoop, tests drive any interleaving of
// frames, timeouts and application calls deterministically; programs use UvSocket/UvLoop (see
// server.h and connect.h, which build sessions for you).
//
// Threading: one loop thread owns a session and all its streams; call everything on it.
// Lifetime: sessions are shared_ptr. The loop keeps a session alive until its 'close' event, even
// if you drop it (as Node); after 'close' it is destroyed() and refuses operations with
// ERR_HTTP2_INVALID_SESSION, and it lives on only as long as you hold it. Destroying the loop
// destroys the sessions still open on it. Events never run inside a call you make, nor on
// nghttp2's stack: they are delivered in order, from the loop (Node's process.nextTick), or —
// those raised by received frames — between two frames of the read that brought them, as Node
// emits them while it parses (see post()).
#ifndef H2RPC_TRANSPORT_SESSION_H_
#define H2RPC_TRANSPORT_SESSION_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "transport/event.h"
#include "transport/event_loop.h"
#include "transport/fifo.h"
#include "transport/headers.h"
#include "transport/internal/closed_streams.h"
#include "transport/internal/frame_scanner.h"
#include "transport/internal/nghttp2_allocator.h"
#include "transport/memory_quota.h"
#include "transport/performance.h"
#include "transport/settings.h"
#include "transport/socket.h"
#include "transport/stream.h"

namespace h2rpc::transport {

// Node's http2 session options, with Node's defaults.
struct SessionOptions {
  uint32_t maxDeflateDynamicTableSize = 4096;
  uint32_t maxSettings = 32;               // SETTINGS entries per frame
  // Megabytes (10^6 bytes, as Node). Over it, new streams are refused with ENHANCE_YOUR_CALM
  // (as Node). Unlike Node, a server's open streams do not grow past it either: when what the
  // peer makes us hold (unread data, what the application retains for a stream, data the
  // peer's window keeps us from sending) takes the session over, the stream holding the most
  // is reset with ENHANCE_YOUR_CALM (see Http2Stream::setRetainedBytes). Client sessions count
  // but reset nothing: they hold what their application asked for.
  uint32_t maxSessionMemory = 10;
  // A budget shared with other sessions (a server's; see memory_quota.h). nullptr: none.
  std::shared_ptr<MemoryQuota> memoryQuota;
  uint32_t maxHeaderListPairs = 128;       // at least 4 on a server, 1 on a client
  uint32_t maxOutstandingPings = 10;
  uint32_t maxOutstandingSettings = 10;
  uint32_t maxSendHeaderBlockLength = 65536;
  int paddingStrategy = 0;                 // constants::PADDING_STRATEGY_*
  uint32_t peerMaxConcurrentStreams = 100;
  uint32_t maxSessionInvalidFrames = 1000;
  uint32_t maxSessionRejectedStreams = 100;
  uint32_t streamResetBurst = 1000;
  uint32_t streamResetRate = 33;
  uint32_t maxReservedRemoteStreams = 200;
  uint64_t unknownProtocolTimeout = 10000;  // ms (TLS servers; a client ignores it, as Node)
  // Servers (Node's `origins`): URLs whose origins an ORIGIN frame lists as soon as the session
  // starts (see ServerHttp2Session::origin(); its errors fail the session's creation).
  std::vector<std::string> origins;
  // Custom SETTINGS ids whose values we report in remoteSettings().customSettings.
  std::vector<uint16_t> remoteCustomSettings;
  // Our initial SETTINGS.
  Settings settings;
};

// Node's http2session.state.
struct SessionState {
  int32_t effectiveLocalWindowSize = 0;
  int32_t effectiveRecvDataLength = 0;
  int32_t nextStreamID = 0;
  int32_t localWindowSize = 0;
  int32_t lastProcStreamID = 0;
  int32_t remoteWindowSize = 0;
  size_t outboundQueueSize = 0;
  size_t deflateDynamicTableSize = 0;
  size_t inflateDynamicTableSize = 0;
};

using PingCallback =
    std::function<void(const absl::Status&, double durationMs, std::string_view payload)>;
using SettingsCallback =
    std::function<void(const absl::Status&, const Settings&, double durationMs)>;

class Http2Session : public std::enable_shared_from_this<Http2Session>, private Socket::Handler {
 public:
  enum class Type { kServer = 0, kClient = 1 };  // Node's NGHTTP2_SESSION_SERVER / _CLIENT

  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;
  ~Http2Session() override;

  // --- properties ---
  Type type() const { return type_; }
  bool connecting() const { return connecting_; }
  bool closed() const { return closed_; }
  bool destroyed() const { return destroyed_; }
  bool encrypted() const;
  std::string alpnProtocol() const;
  bool pendingSettingsAck() const { return !pending_settings_.empty(); }
  // Settings in effect (local: acknowledged by the peer; remote: last received).
  Settings localSettings() const;
  Settings remoteSettings() const;
  SessionState state() const;
  uint32_t goawayCode() const { return goaway_code_; }
  // Whether a GOAWAY came from the peer (goawayCode() is 0 both before one and for NO_ERROR).
  bool goawayReceived() const { return goaway_received_; }
  int32_t goawayLastStreamID() const { return goaway_last_stream_id_; }
  const SessionOptions& options() const { return options_; }
  EventLoop* loop() const { return loop_; }
  // Node's session.socket, without its Proxy: read the socket (addresses, encrypted(),
  // alpnProtocol(), a TlsSocket's certificate) but never write, end, pause, resume or destroy it
  // — the session owns it (Node throws ERR_HTTP2_NO_SOCKET_MANIPULATION for those); use the
  // session's setTimeout(), close() and destroy().
  Socket* socket() const { return socket_.get(); }
  size_t streamCount() const { return streams_.size(); }
  // Calls fn(const Http2Stream&) for each open stream, in no particular order: what snapshots
  // read (rpc/channelz.h). O(streams); fn must not open or close streams.
  template <typename F>
  void forEachStream(F&& fn) const {
    for (const auto& entry : streams_) fn(static_cast<const Http2Stream&>(*entry.second));
  }
  // Loop time (ms) of the last frame sent or received: what setTimeout() watches.
  uint64_t lastActivity() const { return last_activity_; }
  // Loop time (ms) since which no stream has been open (meaningful while streamCount() is 0):
  // what idle timeouts count from (see session_timeouts.h).
  uint64_t idleSince() const { return idle_since_; }
  // Loop time (ms) of the last frame received (any type): gRPC's keepalive counts silence
  // from it (rpc/keepalive.h).
  uint64_t lastFrameReceived() const { return last_received_; }
  // HEADERS and DATA frames sent so far: what gRPC's ping policy counts as the server having
  // sent data (a PING from the client after that is never a strike; rpc/keepalive.h).
  uint64_t streamFramesSent() const { return stream_frames_sent_; }
  // Node's originSet: the origins this (TLS) connection is authoritative for — the one of its
  // servername and remote port, then those ORIGIN frames added (RFC 8336). nullopt when the
  // session is not encrypted or is destroyed, as Node's undefined (altsvc_origin.cc).
  std::optional<std::vector<std::string>> originSet() const;
  // Bytes counted against maxSessionMemory and the memory quota (Node's definition plus what
  // the application retains for streams; see session.cc). O(1).
  size_t memoryInUse() const;
  // Streams reset with ENHANCE_YOUR_CALM to keep this session, or its quota, within budget.
  uint64_t memoryResets() const { return memory_resets_; }
  // What this session's 'http2' performance entry reports (performance.h), so far: counted
  // whether or not anyone observes.
  Http2SessionPerformanceDetail performanceDetail() const;

  // --- operations ---
  // Sends SETTINGS; `callback` runs when the peer acknowledges them (or fails with the error
  // that ended the session). ERR_HTTP2_MAX_PENDING_SETTINGS_ACK beyond maxOutstandingSettings.
  absl::Status settings(const Settings& settings, SettingsCallback callback = nullptr);
  // Sends PING with an 8-byte payload (empty: a generated one); `callback` gets the round trip
  // time. ERR_HTTP2_PING_LENGTH for a bad payload; where Node returns false (maxOutstandingPings
  // unacknowledged pings), returns kResourceExhausted ERR_HTTP2_PING_CANCEL and, as Node,
  // `callback` still runs (from the loop) with ERR_HTTP2_PING_CANCEL.
  absl::Status ping(std::string_view payload, PingCallback callback);
  // Sends GOAWAY. lastStreamID 0 = the last stream we processed.
  absl::Status goaway(uint32_t code = 0, int32_t lastStreamID = 0, std::string_view opaqueData = {});
  // Servers only (not in Node): nghttp2's shutdown notice, GOAWAY(NO_ERROR) with last stream
  // id 2^31-1 — "going away soon" (RFC 9113 §6.8). Nothing else changes: streams the peer
  // opens afterwards are accepted as before, until the real GOAWAY (goaway() or close()).
  // ERR_HTTP2_ERROR (kFailedPrecondition) on a client session.
  absl::Status shutdownNotice();
  // Graceful: GOAWAY(NO_ERROR), no new streams; 'close' once open streams have finished.
  void close(std::function<void()> callback = nullptr);
  // Immediate: destroys every stream, sends GOAWAY(code) if it can, closes the socket. With an
  // error, 'error' runs before 'close' and code defaults to NGHTTP2_INTERNAL_ERROR.
  void destroy(absl::Status error = absl::OkStatus(), std::optional<uint32_t> code = std::nullopt);
  // Grows (or shrinks) our connection-level receive window.
  absl::Status setLocalWindowSize(int32_t windowSize);
  // 'timeout' after `ms` without frames in either direction; 0 disables.
  // `callback` runs once, at the next 'timeout' (Node: once('timeout')); with 0 it is not added,
  // and the callbacks earlier calls added that have not run are removed (Node removes that one).
  void setTimeout(uint64_t ms, std::function<void()> callback = nullptr);
  void ref();
  void unref();

  // --- events ---
  ListenerId onConnect(std::function<void()> fn) { return connect_event_.on(std::move(fn)); }
  ListenerId onClose(std::function<void()> fn) { return close_event_.on(std::move(fn)); }
  ListenerId onError(std::function<void(const absl::Status&)> fn) {
    return error_event_.on(std::move(fn));
  }
  // (frame type, HTTP/2 error code, stream id): a frame could not be sent. The code is the one
  // nghttp2's library error stands for (NGHTTP2_ERR_FRAME_SIZE_ERROR → 6), as Node 20 reports.
  ListenerId onFrameError(std::function<void(uint8_t, int, int32_t)> fn) {
    return frame_error_event_.on(std::move(fn));
  }
  // (error code, last stream id, opaque data) of a GOAWAY received.
  ListenerId onGoaway(std::function<void(uint32_t, int32_t, std::string_view)> fn) {
    return goaway_event_.on(std::move(fn));
  }
  ListenerId onLocalSettings(std::function<void(const Settings&)> fn) {
    return local_settings_event_.on(std::move(fn));
  }
  ListenerId onRemoteSettings(std::function<void(const Settings&)> fn) {
    return remote_settings_event_.on(std::move(fn));
  }
  // A PING from the peer (we acknowledge it automatically).
  ListenerId onPing(std::function<void(std::string_view payload)> fn) {
    return ping_event_.on(std::move(fn));
  }
  ListenerId onTimeout(std::function<void()> fn) { return timeout_event_.on(std::move(fn)); }
  virtual void off(ListenerId id);
  // Drops every listener (done automatically after 'close').
  virtual void removeAllListeners();

  // Feeds bytes as if read from the socket (what the socket handler does). Public for tests
  // that speak raw HTTP/2 to a session.
  void receive(std::string_view data);
  // nghttp2_session_mem_recv, stopping before each DATA/HEADERS frame for checkClosedStream().
  ssize_t memRecv(std::string_view data);
  int checkClosedStream(const internal::FrameScanner::Frame& frame);

 protected:
  Http2Session(Type type, EventLoop* loop, std::unique_ptr<Socket> socket, SessionOptions options);
  // Creates the nghttp2 session and queues our SETTINGS; called by the factories.
  absl::Status init();

  // Stream bookkeeping shared with the subclasses.
  Http2Stream* findStream(int32_t id) const;
  void addStream(std::shared_ptr<Http2Stream> stream);
  // A client's request made while its socket connects waits, without an id, for 'connect'
  // (Node's requestOnConnect): kept in pending_requests_, submitted in order by
  // requestOnConnect(), a listener of the first such request's 'connect' as in Node.
  bool requestsWaitForConnect() const;
  void addPendingRequest(std::shared_ptr<Http2Stream> stream);
  void requestOnConnect();
  nghttp2_session* nghttp2() const { return ng_; }
  absl::Status invalidSession() const;
  void scheduleFlush();
  // Delivers an event (Node's process.nextTick). Inside receive(), events raised by a frame
  // run as soon as nghttp2 has read it, before it reads the next DATA or HEADERS frame (memRecv
  // stops there already): Node emits them while it parses, and what listeners do (answer a
  // request, close()) acts on the very next frame. They run in order, off nghttp2's stack,
  // with nghttp2 free to be called. Elsewhere they go to the loop.
  void post(LoopCallback fn);
  void updateTimer();
  // The received block is handed over (moved), not copied: it reaches the application as is.
  virtual void onNewStream(int32_t id, Headers headers, uint8_t flags) {}
  virtual void onStreamHeaders(Http2Stream* stream, Headers headers, uint8_t flags, int cat);
  // A PUSH_PROMISE received (clients): `promised` is reserved by the server for a response to
  // the request `headers` (push.cc).
  virtual void onPushPromise(int32_t associated, int32_t promised, Headers headers,
                             uint8_t flags) {}
  // ALTSVC / ORIGIN received (altsvc_origin.cc).
  void onExtensionFrame(const nghttp2_frame* frame);

 private:
  friend class Http2Stream;
  friend class ServerHttp2Stream;
  friend class ClientHttp2Stream;
  friend struct Nghttp2Callbacks;
  friend class MemoryQuota;

  // Socket::Handler
  void onSocketConnect() override;
  void onSocketData(std::string_view data) override;
  void onSocketBuffer(const SharedBuffer& data) override;
  void onSocketDrain() override;
  void onSocketClose(absl::Status status) override;

  void flush();
  void runParsedEvents();
  // Moves frames from nghttp2 to the socket until it is full; false if the session failed.
  bool writeOut();
  void appendOutput(const char* data, size_t length);
  int onSendData(nghttp2_frame* frame, const uint8_t* framehd, size_t length);
  void maybeDestroy();
  void finishClose(absl::Status error);
  // `stream`: a pending one (id 0) is looked for in pending_requests_.
  void removeStream(int32_t id, const Http2Stream* stream = nullptr);
  void consume(int32_t stream_id, size_t bytes);
  // RST_STREAM: CANCEL at once, other codes after the frames already queued (as Node).
  void submitRstStream(int32_t stream_id, uint32_t code);
  void failPending(const absl::Status& error);
  bool hasAvailableMemory() const;
  // Memory budget (session_memory.cc). After growth: while over maxSessionMemory (less what is
  // flowing out), resets the stream holding the most; then the same for the quota, across its
  // sessions.
  // `grown`: the stream whose growth triggered the check, reset first among equals (so that
  // what it just took is freed in the call that took it).
  void checkMemory(const Http2Stream* grown = nullptr);
  // Resets this session's stream that holds the most bytes the peer makes us hold (`prefer`
  // on a tie); false if there is none.
  bool reclaimMemory(const Http2Stream* prefer = nullptr);
  // memoryInUse() less the unsent bytes that are not held against the peer (a walk).
  size_t memoryHeldByPeer();
  // The unsent bytes of `stream` that the peer holds back: on a server, bytes behind a window
  // the peer never opened, or has left shut for kStallGraceMs. Updates the stall clocks.
  size_t unsentHeldByPeer(Http2Stream& stream, uint64_t now, bool connection_shut);
  // Whether the socket's queue has stayed at its high-water mark for kStallGraceMs (updates
  // the clock).
  bool socketStalled(uint64_t now);
  // Whether a new stream fits the quota (after reclaiming from the largest sessions).
  bool quotaAdmitsStream();
  void reclaimFromQuota();
  void leaveQuota();
  void detachStreams(const absl::Status& error, uint32_t code);
  // Streams requested before the connection, on a session closed before it (see onSocketConnect).
  void failRequestsMadeBeforeConnect();
  Settings readSettings(bool remote) const;
  // The session's 'http2' performance entry, when the loop is observed (at its close).
  void reportPerformance();

  // nghttp2 callbacks (see session.cc).
  int onBeginFrame(const nghttp2_frame_hd* hd);
  int onBeginHeaders(const nghttp2_frame* frame);
  // Counts an invalid frame; false once past maxSessionInvalidFrames.
  bool countInvalidFrame();
  // What a header block may decode to before the connection is given up (see onHeader).
  uint64_t headerBlockHardLimit() const;
  int onHeader(const nghttp2_frame* frame, std::string_view name, std::string_view value,
               uint8_t flags);
  int onFrameRecv(const nghttp2_frame* frame);
  int onDataChunk(uint8_t flags, int32_t stream_id, std::string_view data);
  int onStreamClose(int32_t stream_id, uint32_t error_code);
  int onInvalidFrame(const nghttp2_frame* frame, int lib_error_code);
  int onFrameNotSent(const nghttp2_frame* frame, int lib_error_code);
  // The HTTP/2 error code 'frameError' reports for an nghttp2 library error (as Node 20).
  static uint32_t http2CodeOfLibError(int lib_error_code);
  int onFrameSent(const nghttp2_frame* frame);

  // We stop pulling frames out of nghttp2 while this much is queued on the socket; its 'drain'
  // resumes. Keeps memory bounded when the peer reads slowly, whatever the streams have queued.
  static constexpr size_t kSocketHighWater = 256 * 1024;

  const Type type_;
  EventLoop* const loop_;
  std::unique_ptr<Socket> socket_;
  SessionOptions options_;
  nghttp2_session* ng_ = nullptr;
  // nghttp2's memory: counted, and a server session's frame buffer in its loop's block.
  internal::Nghttp2Allocator nghttp2_alloc_;
  // The batch writeOut() is building: a segment is either a range of out_bytes_ (nghttp2's own
  // bytes, copied), a DATA payload (referenced, not copied) or a file region of a DATA payload
  // (respondWithFile: the socket sends it from the file). out_pending_: bytes in it.
  struct OutSegment {
    SharedBuffer payload;
    size_t offset = 0;
    size_t length = 0;
    FileRegion file{};
  };
  // Whether the socket sends file regions itself (Socket::canSendFile).
  bool canSendFile() const { return socket_ != nullptr && socket_->canSendFile(); }
  std::vector<OutSegment> out_segments_;  // unallocated between batches (session.cc, ThreadSpare)
  std::string out_bytes_;
  size_t out_pending_ = 0;
  // The socket buffer being fed to nghttp2 (onSocketBuffer), so that DATA payloads in it can
  // be kept as slices instead of copies; null while feeding bytes we may not keep.
  const SharedBuffer* input_ = nullptr;
  // DATA frames of one stream that follow each other in input_ (see noteDataRun): their
  // payloads, [begin, end) of input_, are kept as slices when together they fill half of it.
  struct DataRun {
    int32_t stream_id = 0;
    const char* begin = nullptr;
    const char* end = nullptr;
  };
  DataRun data_run_;
  void noteDataRun(const internal::FrameScanner::Frame& frame, const char* payload);
  bool keepAsSlice(int32_t stream_id, std::string_view data) const;

  // Open streams by id. Flat (no node per stream: one allocation less for every request).
  absl::flat_hash_map<int32_t, std::shared_ptr<Http2Stream>> streams_;
  std::vector<std::shared_ptr<Http2Stream>> pending_requests_;  // see requestsWaitForConnect()
  // Sum over streams_ of bufferSize() + readableLength(), kept by the streams as their buffers
  // change, so that memoryInUse() (checked for every new stream) does not walk them all.
  size_t stream_bytes_ = 0;
  // Headers of HEADERS frames being received, by stream id.
  // The header block being received (one at a time, see onBeginHeaders).
  struct IncomingHeaders {
    int32_t id = 0;
    Headers headers;
    size_t bytes = 0;  // name + value + 32 per field so far, against maxHeaderListSize
    bool active = false;
    // The whole block's decoded size as RFC 9113 counts it (name + value + 32 per field),
    // fields dropped after a refusal included: see onHeader.
    uint64_t decoded = 0;
    // Refused for its size (stream reset): the rest of the block is counted and dropped.
    bool refused = false;
    // The block's limits, read once when it begins (they come from our acknowledged SETTINGS,
    // and no SETTINGS ACK can arrive inside a block): headerBlockHardLimit(), and the
    // maxHeaderListPairs / SETTINGS_MAX_HEADER_LIST_SIZE that onHeader enforces.
    uint64_t hard_limit = 0;
    size_t max_pairs = 0;
    size_t max_length = 0;
  };
  IncomingHeaders incoming_;
  // Starts a header block for stream `id` in incoming_ (its limits read once).
  void beginHeaderBlock(int32_t id);

  struct PendingPing {
    std::string payload;
    uint64_t sent_at;
    PingCallback callback;
  };
  Fifo<PendingPing> pending_pings_;
  struct PendingSettings {
    uint64_t sent_at;
    SettingsCallback callback;
  };
  Fifo<PendingSettings> pending_settings_;
  std::vector<std::pair<int32_t, uint32_t>> pending_rst_;  // (stream, code), see submitRstStream
  std::vector<std::pair<uint16_t, uint32_t>> remote_custom_settings_;
  // Origins added by ORIGIN frames, in order, without duplicates (see originSet()).
  std::vector<std::string> received_origins_;
  uint64_t ping_counter_ = 0;

  bool connecting_ = true;
  bool closed_ = false;
  bool destroyed_ = false;
  bool finished_ = false;
  bool flush_scheduled_ = false;
  bool in_nghttp2_ = false;  // inside mem_recv/mem_send: nghttp2 must not be re-entered
  bool parsing_ = false;     // inside receive(): see post()
  // post()'s while parsing, until the frame is read. Its memory is the thread's between frames
  // (session.cc, ThreadSpare): an idle session holds none, and frames that post events (every
  // DATA frame for a reader) allocate no new vector each time.
  std::vector<LoopCallback> parsed_events_;
  uint32_t goaway_code_ = 0;
  bool goaway_received_ = false;
  int32_t goaway_last_stream_id_ = 0;
  uint32_t destroy_code_ = 0;
  uint32_t invalid_frames_ = 0;
  int32_t max_request_stream_id_ = 0;
  // Client stream ids skipped over (a HEADERS on 7 after 1 skips 3..5), [first, last], at most
  // kMaxSkippedRanges, oldest dropped first: a HEADERS on one of them is a PROTOCOL_ERROR.
  static constexpr size_t kMaxSkippedRanges = 64;
  std::vector<std::pair<int32_t, int32_t>> skipped_stream_ids_;  // allocated at the first skip
  // How the last streams closed, for frames that arrive on them (RFC 9113 §5.1; bounded).
  internal::ClosedStreams closed_streams_;
  internal::FrameScanner frame_scanner_{0};  // set in init()
  // Why a callback failed, when we know better than nghttp2's "callback failure".
  absl::Status recv_error_;
  // recv_error_ ends the session as Node's session.destroy(err) does (INTERNAL_ERROR), not as
  // a protocol error of the peer's (PROTOCOL_ERROR, streams cancelled).
  bool recv_error_destroys_ = false;
  // recv_error_ comes after frames the application queued in answer to earlier ones: they go
  // out before the GOAWAY.
  bool recv_error_flushes_first_ = false;
  uint32_t rejected_streams_ = 0;
  uint64_t memory_resets_ = 0;
  // Since when (loop time) our unsent bytes have waited for a connection-level WINDOW_UPDATE
  // (Http2Stream::kNotStalled: they do not).
  uint64_t connection_stalled_since_ = UINT64_MAX;
  // Since when the socket's queue has been at its high-water mark: a peer that stops reading its
  // socket holds our unsent bytes as surely as one that shuts its windows.
  uint64_t socket_stalled_since_ = UINT64_MAX;
  bool checking_memory_ = false;  // checkMemory() is running (it does not nest)
  std::unique_ptr<Timer> timer_;
  uint64_t timeout_ms_ = 0;
  std::vector<ListenerId> timeout_callbacks_;  // once-listeners setTimeout() added (see there)
  uint64_t last_activity_ = 0;  // see lastActivity()
  uint64_t idle_since_ = 0;     // see idleSince()
  uint64_t last_received_ = 0;  // see lastFrameReceived()
  uint64_t stream_frames_sent_ = 0;  // see streamFramesSent()
  // performance.h's counters: plain increments, kept whether or not anyone observes.
  struct PerfCounters {
    uint64_t start = 0;  // loop time of init()
    uint64_t bytes_read = 0, bytes_written = 0, frames_received = 0, frames_sent = 0;
    uint64_t stream_count = 0, max_concurrent_streams = 0;
    double ping_rtt = 0;
    double stream_durations = 0;  // sum over the streams that were timed
    uint64_t timed_streams = 0;
  };
  PerfCounters perf_;
  bool socket_referenced_ = true;

  Event<> connect_event_, close_event_, timeout_event_;
  Event<const absl::Status&> error_event_;
  Event<uint8_t, int, int32_t> frame_error_event_;
  Event<uint32_t, int32_t, std::string_view> goaway_event_;
  Event<const Settings&> local_settings_event_, remote_settings_event_;
  Event<std::string_view> ping_event_;
};

class ServerHttp2Session : public Http2Session {
 public:
  // Wraps an accepted (or in-memory) socket. Server code normally gets sessions from
  // Http2Server's 'session' event instead.
  static absl::StatusOr<std::shared_ptr<ServerHttp2Session>> create(
      EventLoop* loop, std::unique_ptr<Socket> socket, SessionOptions options = {});

  // A new stream from the peer: (stream, request headers, flags of the HEADERS frame).
  using StreamListener =
      std::function<void(std::shared_ptr<ServerHttp2Stream>, const Headers&, uint8_t flags)>;

  // --- ALTSVC (RFC 7838 §4) and ORIGIN (RFC 8336), altsvc_origin.cc ---
  // Node's altsvc(alt, originOrStream) with a stream: an ALTSVC frame on stream `streamId`
  // (its origin is the stream's). ERR_OUT_OF_RANGE for streamId <= 0.
  absl::Status altsvc(std::string_view alt, int32_t streamId);
  // altsvc(alt, origin) with an origin URL ("https://example.org:8443/ignored"): an ALTSVC
  // frame on stream 0 for `new URL(origin).origin`. ERR_INVALID_URL for a bad URL,
  // ERR_HTTP2_ALTSVC_INVALID_ORIGIN for one without an origin (a scheme other than http/https).
  // Both: ERR_HTTP2_INVALID_SESSION (destroyed), ERR_INVALID_CHAR (alt not a quoted-string's
  // characters: tab, visible ASCII but '\\', bytes >= 0x80), ERR_HTTP2_ALTSVC_LENGTH (alt +
  // origin over 16382 bytes).
  absl::Status altsvc(std::string_view alt, std::string_view origin);
  // Node's origin(...origins): one ORIGIN frame listing `new URL(o).origin` of each URL (none:
  // nothing sent). ERR_HTTP2_INVALID_SESSION, ERR_INVALID_URL, ERR_HTTP2_INVALID_ORIGIN (no
  // origin), ERR_HTTP2_ORIGIN_LENGTH (over 16382 bytes of origins).
  absl::Status origin(const std::vector<std::string>& origins);
  ListenerId onStream(StreamListener fn) { return stream_event_.on(std::move(fn)); }
  void off(ListenerId id) override;
  void removeAllListeners() override;

 protected:
  using Http2Session::Http2Session;
  void onNewStream(int32_t id, Headers headers, uint8_t flags) override;

 private:
  Event<std::shared_ptr<ServerHttp2Stream>, const Headers&, uint8_t> stream_event_;
};

class ClientHttp2Session : public Http2Session {
 public:
  // `authority` is "host:port" and `scheme` "http" or "https": the defaults of :authority and
  // :scheme in request().
  static absl::StatusOr<std::shared_ptr<ClientHttp2Session>> create(
      EventLoop* loop, std::unique_ptr<Socket> socket, std::string scheme, std::string authority,
      SessionOptions options = {});

  // Opens a stream. :method defaults to GET, :path to "/", :scheme and :authority to the
  // session's. Errors: ERR_HTTP2_INVALID_SESSION (destroyed), ERR_HTTP2_GOAWAY_SESSION (closed),
  // header validation errors (ERR_INVALID_HTTP_TOKEN, ...), ERR_HTTP2_OUT_OF_STREAMS.
  absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> request(const Headers& headers,
                                                            RequestOptions options = {});
  // request() with a header block the caller vouches for, without Node's checks
  // (prepareOutgoingHeaders) and request()'s defaults: rpc/'s request headers on every call.
  // The caller guarantees what those checks would find: :method (not CONNECT), :scheme, :path,
  // :authority first and in that order, then no other pseudo-header, lower-case token names,
  // values of tab, visible ASCII or bytes >= 0x80, no connection-specific or repeated
  // single-value field, nothing Node marks never-indexed. Debug builds verify it. nghttp2 copies
  // the strings: they need to live only during the call. Session and stream errors are
  // request()'s.
  absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> requestPrevalidated(
      std::span<const HeaderFieldView> headers, RequestOptions options = {});

  // A stream the server pushed (Node's client 'stream'): (stream, promised request headers,
  // flags of the PUSH_PROMISE). Its response comes as the stream's 'push' event, then its body.
  // Unlike Node, a pushed stream nobody listens for is cancelled (RST_STREAM CANCEL) instead of
  // left to fill its window; to refuse pushes altogether, set settings.enablePush = false.
  using StreamListener =
      std::function<void(std::shared_ptr<ClientHttp2Stream>, const Headers&, uint8_t flags)>;
  ListenerId onStream(StreamListener fn) { return stream_event_.on(std::move(fn)); }
  // An ALTSVC frame (RFC 7838): (alt field value, origin, stream id) — origin empty for a
  // stream's, stream 0 for a connection-level one (Node's 'altsvc').
  ListenerId onAltsvc(
      std::function<void(std::string_view alt, std::string_view origin, int32_t streamId)> fn) {
    return altsvc_event_.on(std::move(fn));
  }
  // An ORIGIN frame (RFC 8336) on a TLS session: its origins, already added to originSet()
  // (Node's 'origin'; as Node, ORIGIN on a cleartext session is ignored).
  ListenerId onOrigin(std::function<void(const std::vector<std::string>&)> fn) {
    return origin_event_.on(std::move(fn));
  }
  void off(ListenerId id) override;
  void removeAllListeners() override;

 protected:
  ClientHttp2Session(EventLoop* loop, std::unique_ptr<Socket> socket, SessionOptions options,
                     std::string scheme, std::string authority);

 private:
  // ERR_HTTP2_INVALID_SESSION or ERR_HTTP2_GOAWAY_SESSION when no stream may start.
  absl::Status canRequest() const;
  // Node's default of options.endStream: requests with these methods carry no body.
  static bool endsWithHeaders(std::string_view method);
  // Registers a stream whose HEADERS were just submitted (or drops it if that failed), and ties
  // it to its abort signal if any.
  absl::StatusOr<std::shared_ptr<ClientHttp2Stream>> startRequest(
      std::shared_ptr<ClientHttp2Stream> stream, absl::Status submitted,
      const std::shared_ptr<AbortSignal>& signal);
  static absl::Status checkRequestOptions(const RequestOptions& options);
  std::shared_ptr<ClientHttp2Stream> abortedRequest(const AbortSignal& signal);
  static void setPriority(ClientHttp2Stream& stream, const RequestOptions& options);
  void onPushPromise(int32_t associated, int32_t promised, Headers headers,
                     uint8_t flags) override;
  std::string scheme_;
  std::string authority_;
  Event<std::shared_ptr<ClientHttp2Stream>, const Headers&, uint8_t> stream_event_;
  Event<std::string_view, std::string_view, int32_t> altsvc_event_;
  Event<const std::vector<std::string>&> origin_event_;
  friend class Http2Session;  // onExtensionFrame() emits the events above
};

}  // namespace h2rpc::transport

#endif  // H2RPC_TRANSPORT_SESSION_H_
