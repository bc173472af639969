// transport/push.cc — server push (RFC 9113 §8.4), as node:http2: ServerHttp2Stream::pushStream()
// and pushAllowed on the server; on the client, a PUSH_PROMISE opens a ClientHttp2Stream that
// the session's 'stream' event delivers, and whose response HEADERS are its 'push' event.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "transport/constants.h"
#include "transport/errors.h"
#include "transport/headers.h"
#include "transport/internal/nv.h"
#include "transport/session.h"
#include "transport/stream.h"

namespace h2rpc::transport {

bool ServerHttp2Stream::pushAllowed() const {
  if (destroyed_ || closed_ || session_ == nullptr) return false;
  if (session_->closed() || session_->destroyed()) return false;
  return nghttp2_session_get_remote_settings(session_->nghttp2(),
                                             NGHTTP2_SETTINGS_ENABLE_PUSH) != 0;
}

absl::Status ServerHttp2Stream::pushStream(const Headers& headers_in, PushStreamOptions options,
                                           PushStreamCallback callback) {
  // Node checks in this order: pushAllowed first (so a closed stream reports PUSH_DISABLED),
  // then nesting (a pushed stream has an even id).
  if (!pushAllowed()) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_PUSH_DISABLED",
                     "HTTP/2 client has disabled push streams");
  }
  if (id_ % 2 == 0) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_NESTED_PUSH",
                     "A push stream cannot initiate another push stream.");
  }
  updateTimer();
  Headers headers = headers_in;
  if (!headers.has(constants::HTTP2_HEADER_METHOD)) {
    headers.add(constants::HTTP2_HEADER_METHOD, "GET");
  }
  // Node takes these from the session (kAuthority, kProtocol); a server session knows them
  // from the request the push answers, which is where the client will look them up.
  if (!headers.has(constants::HTTP2_HEADER_AUTHORITY) && !headers.has("host")) {
    if (auto a = request_headers_.get(constants::HTTP2_HEADER_AUTHORITY)) {
      headers.add(constants::HTTP2_HEADER_AUTHORITY, *a);
    }
  }
  if (!headers.has(constants::HTTP2_HEADER_SCHEME)) {
    headers.add(constants::HTTP2_HEADER_SCHEME,
                request_headers_.get(constants::HTTP2_HEADER_SCHEME)
                    .value_or(session_->encrypted() ? "https" : "http"));
  }
  if (!headers.has(constants::HTTP2_HEADER_PATH)) headers.add(constants::HTTP2_HEADER_PATH, "/");
  // A pushed HEAD (or endStream) is answered without a body, as a HEAD request is.
  const bool head = headers.get(constants::HTTP2_HEADER_METHOD) == "HEAD" || options.endStream;

  auto fields = prepareOutgoingHeaders(headers, HeadersKind::kRequest);
  if (!fields.ok()) return fields.status();
  std::vector<nghttp2_nv> nva = internal::toNv(*fields);
  Http2Session* session = session_;
  auto pushed = std::make_shared<ServerHttp2Stream>(session, 0);
  const int32_t promised = nghttp2_submit_push_promise(session->nghttp2(), NGHTTP2_FLAG_NONE, id_,
                                                       nva.data(), nva.size(), pushed.get());
  if (promised < 0) {
    absl::Status err;
    switch (promised) {
      case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
        err = nodeError(absl::StatusCode::kResourceExhausted, "ERR_HTTP2_OUT_OF_STREAMS",
                        "No stream ID is available because maximum stream ID has been reached");
        break;
      case NGHTTP2_ERR_STREAM_CLOSED:
        err = nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_INVALID_STREAM",
                        "The stream has been destroyed");
        break;
      default:
        err = nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR",
                        nghttp2_strerror(promised));
        break;
    }
    pushed->destroyed_ = true;
    pushed->session_ = nullptr;
    post([callback = std::move(callback), err] {
      if (callback) callback(err, nullptr, Headers());
    });
    return absl::OkStatus();
  }
  pushed->setId(promised);
  // The promised request has no body: the pushed stream's readable side is over (Node pushes
  // null on it), and its request headers are the promised ones.
  pushed->read_ended_ = true;
  pushed->end_after_headers_ = true;
  pushed->head_request_ = head;
  Headers sent;
  sent.reserve(fields->size());
  for (const OutgoingField& f : *fields) sent.addLowerCase(f.name, f.value);
  pushed->request_headers_ = sent;
  for (const HeaderField& f : sent) pushed->header_bytes_ += f.name.size() + f.value.size() + 32;
  pushed->sent_headers_ = sent;
  session->addStream(pushed);
  pushed->scheduleInbox();
  session->scheduleFlush();
  post([callback = std::move(callback), pushed, sent = std::move(sent)] {
    if (callback) callback(absl::OkStatus(), pushed, sent);
  });
  return absl::OkStatus();
}

void ClientHttp2Session::onPushPromise(int32_t associated, int32_t promised, Headers headers,
                                       uint8_t flags) {
  (void)associated;
  if (closed() || destroyed()) {
    // Node refuses streams that arrive on a closing session.
    nghttp2_submit_rst_stream(nghttp2(), NGHTTP2_FLAG_NONE, promised,
                              constants::NGHTTP2_REFUSED_STREAM);
    return;
  }
  auto stream = std::make_shared<ClientHttp2Stream>(this, promised);
  // We send nothing on a pushed stream (it is half-closed, local, from the start).
  stream->writable_ending_ = true;
  stream->writable_finished_ = true;
  stream->headers_sent_ = true;
  for (const HeaderField& f : headers) stream->header_bytes_ += f.name.size() + f.value.size() + 32;
  addStream(stream);
  stream->noteHeaderReceived();  // the promised request headers (Node counts them)
  nghttp2_session_set_stream_user_data(nghttp2(), promised, stream.get());
  auto self = std::static_pointer_cast<ClientHttp2Session>(shared_from_this());
  post([self, stream, headers = std::move(headers), flags] {
    if (stream->destroyed()) return;
    if (!self->stream_event_.emit(stream, headers, flags)) {
      stream->close(constants::NGHTTP2_CANCEL);  // nobody wants it: stop the server sending it
    }
  });
}

void ClientHttp2Session::off(ListenerId id) {
  if (stream_event_.off(id) || altsvc_event_.off(id) || origin_event_.off(id)) return;
  Http2Session::off(id);
}

void ClientHttp2Session::removeAllListeners() {
  Http2Session::removeAllListeners();
  stream_event_.removeAllListeners();
  altsvc_event_.removeAllListeners();
  origin_event_.removeAllListeners();
}

}  // namespace h2rpc::transport
