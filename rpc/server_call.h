// rpc/server_call.h — ServerCall: one incoming gRPC call on one HTTP/2 stream, in serialized
// bytes. It turns the stream's DATA into messages (framing, decompression, size limit), sends
// ours back, and ends the call with grpc-status in trailers — or alone in Trailers-Only when
// nothing was sent yet. The typed API (service.h) is built on it; applications rarely use it.
// The same call may speak another wire protocol (a CallProtocol, rpc/wire_protocol.h: gRPC-Web)
// and run on an HTTP/1.1 exchange instead of an HTTP/2 stream (ServerOptions::allow_http1).
//
// Threading: the server's loop thread only. Lifetime: shared_ptr, held by the handler's objects
// and by the stream's listeners until the call is over (finished or cancelled).
#ifndef H2RPC_RPC_SERVER_CALL_H_
#define H2RPC_RPC_SERVER_CALL_H_

#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rpc/channelz.h"
#include "rpc/compression.h"
#include "rpc/context.h"
#include "rpc/framing.h"
#include "rpc/metadata.h"
#include "rpc/task.h"
#include "rpc/wire_protocol.h"
#include "transport/buffer.h"
#include "transport/compat/compat_stream.h"
#include "transport/headers.h"
#include "transport/stream.h"
#include "transport/event_loop.h"
#include "transport/fifo.h"
#include "transport/socket.h"

namespace h2rpc::rpc {

class ServerInterceptor;

// HTTP/2 flow-control windows of rpc's channels and servers (ChannelOptions, ServerOptions). Node's
// (and so transport/'s) 65535 bytes cap a stream at one window per round trip: ~330 MB/s for
// 64 KiB messages even on loopback. grpc-java starts every stream and connection at 1 MiB;
// grpc-go and gRPC C++ start at 64 KiB and grow by BDP probing (grpc-go up to 16 MiB). We start
// at 1 MiB. Memory stays bounded: credit is given only for bytes handed to the call, and a call
// stops taking them after a few unread messages, so a peer can get at most one window ahead.
inline constexpr uint32_t kDefaultInitialWindowSize = 1 << 20;
inline constexpr uint32_t kDefaultConnectionWindowSize = 1 << 20;
// The SETTINGS_MAX_FRAME_SIZE rpc's channels and servers advertise (HTTP/2's default is 16 KiB):
// a 64 KiB message then travels as one DATA frame instead of five, so both ends handle fewer
// frames, callbacks and buffers. The sender's frames are still bounded by the window.
inline constexpr uint32_t kDefaultMaxFrameSize = 1 << 20;

// Limits and defaults a server applies to each call.
struct CallLimits {
  size_t max_receive_message_size = 4 * 1024 * 1024;  // uncompressed, as gRPC's default
  size_t max_send_message_size = SIZE_MAX;
  // Unread messages buffered per call before we stop reading (HTTP/2 flow control then holds
  // the peer back).
  size_t max_buffered_messages = 4;
  // The same in bytes, whichever limit comes first (one message is always taken, whatever its
  // size). What a call buffers also counts against its connection's memory budget
  // (transport's maxSessionMemory and the server's maxServerMemory).
  size_t max_buffered_bytes = 1 << 20;
  // A request message's buffer is reserved for its declared length up to this many bytes (see
  // MessageDeframer). rpc::Server sets it to the stream window it advertises when left 0.
  size_t preallocate_message_up_to = 0;
};

struct WriteOptions {
  // Send this message uncompressed even when the call compresses (e.g. secrets: CRIME/BREACH).
  bool no_compression = false;
};

// A message serialized once, straight into the buffer that goes to the transport, behind
// kMessagePrefixSize bytes left for the gRPC length prefix: Write() fills the prefix in place,
// so the payload is neither zero-filled first (SerializeAsString) nor copied behind a prefix
// (FrameMessage). The transport then sends it without copying either (transport/buffer.h).
struct SerializedMessage {
  transport::SharedBuffer framed;  // prefix room + payload; empty if the message could not be
  size_t payload_size = 0;         // serialized (protobuf's 2 GiB limit)
};

template <typename Message>
SerializedMessage SerializeMessage(const Message& message) {
  SerializedMessage out;
  out.payload_size = message.ByteSizeLong();  // also caches the sizes for the next call
  if (out.payload_size > static_cast<size_t>(INT32_MAX)) return out;
  out.framed = transport::SharedBuffer::ForOverwrite(kMessagePrefixSize + out.payload_size);
  message.SerializeWithCachedSizesToArray(
      reinterpret_cast<uint8_t*>(out.framed.mutable_data() + kMessagePrefixSize));
  return out;
}

// A ServerCall is also the CallContext (rpc/context.h) of its handler: calls the handler starts
// inherit its deadline and are cancelled when it ends (cancelled, past its deadline, finished).
class ServerCall final : public std::enable_shared_from_this<ServerCall>, public CallContext {
 public:
  // `client_metadata` nullopt: parsed from the stream's request headers the first time
  // client_metadata() is called (most handlers never look), which the caller must have checked
  // parse without error.
  ServerCall(std::shared_ptr<transport::ServerHttp2Stream> stream, std::string method,
             std::optional<Metadata> client_metadata, CallLimits limits,
             Compression request_compression, CompressionSet peer_accepts);
  // The same with the method held by the stream itself: `request_path` is the :path field of
  // stream->requestHeaders() (which live as long as the stream, and so as the call): referred
  // to instead of copied.
  ServerCall(std::shared_ptr<transport::ServerHttp2Stream> stream,
             const std::string* request_path, std::optional<Metadata> client_metadata,
             CallLimits limits, Compression request_compression, CompressionSet peer_accepts);
  // The same call on an HTTP/1.1 exchange (ServerOptions::allow_http1), whose request fields
  // are `request_headers`. It needs a CallProtocol (gRPC itself needs HTTP/2): HTTP/1.1 has no
  // trailers a browser can read, and no RST_STREAM, so the status goes in the body.
  ServerCall(std::shared_ptr<transport::CompatStream> exchange, transport::Headers request_headers,
             std::string method, std::optional<Metadata> client_metadata, CallLimits limits,
             Compression request_compression, CompressionSet peer_accepts);
  ~ServerCall();
  ServerCall(const ServerCall&) = delete;
  ServerCall& operator=(const ServerCall&) = delete;

  // The call's wire protocol when it is not gRPC (rpc/wire_protocol.h): gRPC-Web, its text
  // mode. Set by the server before Start(); without one the call speaks gRPC.
  void SetProtocol(std::unique_ptr<CallProtocol> protocol) { protocol_ = std::move(protocol); }
  WireProtocol protocol() const {
    return protocol_ ? protocol_->protocol() : WireProtocol::kGrpc;
  }
  // Starts reading the request stream and arms the deadline. Called once by the server.
  void Start(std::optional<absl::Time> deadline);
  // Interceptors (rpc/server_interceptor.h), installed by the server before Start(); null
  // entries are skipped. Then StartIntercepted() runs their OnStart hooks in order and, unless
  // one ended the call, `start_handler` (the method's MethodHandler::start).
  void SetInterceptors(std::vector<std::unique_ptr<ServerInterceptor>> chain);
  void StartIntercepted(std::function<void(std::shared_ptr<ServerCall>)> start_handler);
  bool intercepted() const { return interception_ != nullptr; }

  // The next request message (decompressed), or nullopt once the client half-closed, the call
  // was cancelled, or it failed (the call then ends with the error; see status()).
  Awaitable<std::optional<std::string>> Read();
  // Queues a response message; completes with true once it is handed to the transport, or with
  // false if the call is over. Waits under backpressure (the transport's 'drain').
  Awaitable<bool> Write(std::string message, WriteOptions options = {});
  // The same for a message from SerializeMessage() (what the typed API uses: no copies).
  Awaitable<bool> Write(SerializedMessage message, WriteOptions options = {});
  // Ends the call: OK or error status (code + message), with the trailing metadata.
  void Finish(const absl::Status& status);
  // Sends the response headers now (otherwise they go with the first message).
  void SendInitialMetadata();

  bool IsCancelled() const { return cancelled_; }
  // The stream's loop (set when the call starts, before its handler runs).
  transport::EventLoop* loop() const { return loop_; }
  bool finished() const { return finished_; }
  const std::string& method() const { return *method_; }
  // Served by a GenericService (no registered service has the method): the path is the
  // client's choice, so metrics label it "other" (gRFC A66). Set by the server.
  bool generic() const { return generic_; }
  void MarkGeneric() { generic_ = true; }
  const Metadata& client_metadata() const;
  // The same, to change (interceptors: what the handler sees).
  Metadata& mutable_client_metadata();
  Metadata& initial_metadata() { return initial_metadata_; }
  Metadata& trailing_metadata() { return trailing_metadata_; }
  std::optional<absl::Time> deadline() const override { return deadline_; }
  // CallContext: stopped when the call ends — cancelled by the client, past its deadline,
  // connection lost, or finished by the handler.
  std::stop_token stop_token() override;
  absl::Status end_status() const override;
  std::shared_ptr<CallContext> Share() override { return shared_from_this(); }
  std::string peer() const;
  // The connection's socket (a transport::TlsSocket over TLS), or null once it is gone.
  const transport::Socket* transport_socket() const;
  // The HTTP/1.1 exchange the call is on; null for an HTTP/2 stream's.
  const transport::CompatStream* http1_exchange() const;
  // The request's :authority (Host for HTTP/1-style requests): the name the client dialled,
  // e.g. "localhost" for unix: targets (what gRPC C++'s ExperimentalGetAuthority gives).
  std::string authority() const;
  // Compression of our responses (negotiated against grpc-accept-encoding).
  void SetCompression(Compression c) { response_compression_ = c; }
  // The request's grpc-encoding, and whether the message returned by the last Read() arrived
  // compressed (interop's expect_compressed checks both).
  Compression request_compression() const { return request_compression_; }
  bool last_message_compressed() const { return last_message_compressed_; }
  // Message bytes received and sent so far, as on the wire (compressed when compressed;
  // without the 5-byte prefixes): what gRFC A66's *_total_compressed_message_size count.
  uint64_t message_bytes_received() const { return message_bytes_received_; }
  uint64_t message_bytes_sent() const { return message_bytes_sent_; }
  // Runs `fn` once if the call is cancelled (client RST, deadline, disconnect).
  void OnCancel(std::function<void()> fn);
  // Counts the call in `*active` until its stream closes (the server's active_calls()).
  void CountActive(std::shared_ptr<size_t> active);
  // Counts the call, its messages and its end in its connection's counters (rpc/channelz.h),
  // and lists it there by stream id until its stream closes. Called once by the server, after
  // Start().
  void CountIn(std::shared_ptr<internal::ConnectionCounters> counters);

 private:
  void OnData(const transport::SharedBuffer& data);
  void OnEnd();
  void OnClose();
  void Cancel(const absl::Status& why);
  void Fail(const absl::Status& status);  // ends the call with a status we generated
  void DeliverReads();
  struct Received;
  bool BufferFull() const;
  // Moves messages from the deframer into messages_ while there is room; the error if the
  // bytes were bad.
  absl::Status PullMessages();
  // True when this read must complete from a posted callback instead (see the .cc).
  bool YieldBeforeRead();
  static constexpr int kReadsPerYield = 64;
  static constexpr int kWritesPerYield = 64;
  int writes_without_yield_ = 0;
  int reads_without_yield_ = 0;
  transport::EventLoop* loop_ = nullptr;  // the stream's, from Start()
  // Takes the oldest unread message (there must be one).
  Received PopMessage();
  // Pauses or resumes the stream by what is buffered, and reports it to the stream (memory).
  void UpdateFlow();
  // Cancelled or failed: drops the unread messages and the partial one.
  void DropBuffered();
  void FlushWrites(bool ok);
  // Write()'s checks; false (and `result` completed) if the message must not be sent.
  bool CheckWrite(size_t payload_size, Awaitable<bool>& result);
  bool ShouldCompress(const WriteOptions& options) const;
  void WriteFramed(transport::SharedBuffer framed, Awaitable<bool>& result);
  void RespondHeaders(bool end_stream, const absl::Status* trailers_only);
  // The same for a call with a CallProtocol (never static blocks, never HTTP trailers).
  void RespondProtocolHeaders(bool end_stream, const absl::Status* trailers_only);
  // A CallProtocol whose status goes in the body: the last bytes, then the end of the stream.
  void EndProtocolBody(const absl::Status& status);
  // Bytes from CallProtocol::DecodeRequest/EndRequest into the deframer.
  absl::Status FeedDecoded(const transport::SharedBuffer& framed);
  // On 'wantTrailers': grpc-status (and grpc-message, trailing metadata) in trailers.
  void SendTrailers();
  void ResetIfClientStillSending();
  // The paths without interceptors.
  Awaitable<std::optional<std::string>> ReadRaw();
  Awaitable<bool> WriteRaw(std::string message, WriteOptions options);
  void FinishRaw(const absl::Status& status);
  // The paths through them (server_call.cc, "interceptors").
  struct Interception;
  std::unique_ptr<Interception> interception_;  // null: no interceptor (one branch per step)
  Awaitable<std::optional<std::string>> ReadIntercepted();
  Awaitable<bool> WriteIntercepted(std::string message, WriteOptions options);
  void RunFinishHooks(absl::Status& status);
  static Task<void> RunStartHooks(std::shared_ptr<ServerCall> self,
                                  std::function<void(std::shared_ptr<ServerCall>)> start);
  static Task<void> RunRequestHooks(
      std::shared_ptr<ServerCall> self,
      std::shared_ptr<Awaitable<std::optional<std::string>>::State> out);
  static Task<void> RunResponseHooks(std::shared_ptr<ServerCall> self, std::string message,
                                     WriteOptions options,
                                     std::shared_ptr<Awaitable<bool>::State> out);

  // The exchange the call runs on: an HTTP/2 stream (stream_), or an HTTP/1.1 exchange and its
  // request fields (http1_; apart, so that HTTP/2 calls carry one null pointer for it). Exactly
  // one is set.
  std::shared_ptr<transport::ServerHttp2Stream> stream_;
  std::shared_ptr<ServerCall> keep_until_close_;  // HTTP/2: this, from Start() to OnClose()
  struct Http1;
  std::unique_ptr<Http1> http1_;
  void StartHttp1(std::shared_ptr<ServerCall> keep);
  // Stream operations on either exchange.
  bool WriteBody(transport::SharedBuffer bytes);
  void EndBody();
  const transport::Headers& RequestHeaders() const;
  std::unique_ptr<CallProtocol> protocol_;  // null: gRPC (one branch per step)
  std::string method_storage_;
  const std::string* method_ = &method_storage_;  // or the stream's :path field
  mutable std::optional<Metadata> client_metadata_;  // see the constructor
  Metadata initial_metadata_;
  Metadata trailing_metadata_;
  CallLimits limits_;
  Compression request_compression_;
  Compression response_compression_ = Compression::kIdentity;
  CompressionSet peer_accepts_;
  bool generic_ = false;
  MessageDeframer deframer_;
  std::optional<absl::Time> deadline_;
  std::unique_ptr<transport::Timer> deadline_timer_;

  struct Received {
    std::string bytes;
    bool compressed;
  };
  transport::Fifo<Received> messages_;  // decoded, not yet read
  size_t queued_bytes_ = 0;             // their bytes
  bool last_message_compressed_ = false;
  uint64_t message_bytes_received_ = 0;
  uint64_t message_bytes_sent_ = 0;
  std::shared_ptr<Awaitable<std::optional<std::string>>::State> pending_read_;
  struct PendingWrite {
    std::shared_ptr<Awaitable<bool>::State> done;
  };
  transport::Fifo<PendingWrite> pending_writes_;  // waiting for 'drain'
  // HTTP/2: the 'drain' listener is added with the first write that waits for it (a unary
  // call's response never does: one listener fewer to allocate and tear down per call).
  bool drain_listened_ = false;
  bool request_ended_ = false;
  bool headers_sent_ = false;
  bool finished_ = false;
  bool cancelled_ = false;
  bool paused_ = false;
  std::optional<absl::Status> final_status_;
  std::vector<std::function<void()>> on_cancel_;
  std::shared_ptr<size_t> active_;  // see CountActive
  std::shared_ptr<internal::ConnectionCounters> counters_;  // see CountIn
  int32_t counted_id_ = 0;                                  // our key in counters_->calls
  void CountMessageReceived(size_t wire_bytes);
  void ReleaseCounters();
  // The CallContext's end: why (set once), and the stop source, made only when asked for (most
  // calls never are: no allocation for them).
  void EndContext(const absl::Status& why);
  std::optional<absl::Status> context_end_;
  std::optional<std::stop_source> stop_;
};

}  // namespace h2rpc::rpc

#endif  // H2RPC_RPC_SERVER_CALL_H_
