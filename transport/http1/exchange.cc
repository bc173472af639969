// Http1Exchange: the response framing of HTTP/1.1 (status line, chunked or fixed length,
// trailers) and the request body's flow, behind the CompatStream interface.
#include "transport/http1/exchange.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "transport/errors.h"
#include "transport/http1/connection.h"

namespace h2rpc::transport {
namespace {

// RFC 9110 IMF-fixdate, as Node's `date`.
std::string httpDate(EventLoop*) {
  std::time_t now = std::time(nullptr);
  std::tm tm;
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The reason phrases Node's http.STATUS_CODES gives the common codes.
const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

absl::Status invalidStream() {
  return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_INVALID_STREAM",
                   "The stream has been destroyed");
}

}  // namespace

Http1Exchange::Http1Exchange(Http1Connection* connection, const Http1RequestHead& head)
    : connection_(connection),
      loop_(connection->loop()),
      http_version_(absl::StrCat(head.versionMajor, ".", head.versionMinor)),
      head_request_(head.method == "HEAD"),
      keep_alive_(head.keepAlive && !head.upgrade) {}

size_t Http1Exchange::bufferSize() const {
  return connection_ ? connection_->socket()->writeQueueSize() : 0;
}

std::string Http1Exchange::remoteAddress() const {
  return connection_ ? connection_->socket()->remoteAddress() : "";
}
uint16_t Http1Exchange::remotePort() const {
  return connection_ ? connection_->socket()->remotePort() : 0;
}
bool Http1Exchange::encrypted() const {
  return connection_ && connection_->socket()->encrypted();
}
const Socket* Http1Exchange::socket() const {
  return connection_ ? connection_->socket() : nullptr;
}
std::string Http1Exchange::alpnProtocol() const {
  // Node: the TLS socket's negotiated protocol (http/1.1, or false without ALPN); plain: false.
  return encrypted() ? connection_->socket()->alpnProtocol() : "";
}

bool Http1Exchange::writeRaw(std::string bytes) {
  if (!connection_) return false;
  connection_->socket()->write(std::move(bytes));
  touch();
  return true;
}

absl::Status Http1Exchange::respond(const Headers& headers, RespondOptions options) {
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                     "Response has already been initiated.");
  }
  // The HTTP/2 side's checks, so that a handler behaves the same on both protocols.
  auto fields = prepareOutgoingHeaders(headers, HeadersKind::kResponse);
  if (!fields.ok()) return fields.status();
  int status = 200;
  bool has_length = false, has_date = false;
  std::string block;
  for (const OutgoingField& f : *fields) {
    if (f.name == ":status") {
      status = std::stoi(f.value);
      continue;
    }
    // Framing and connection management are ours.
    if (f.name == "transfer-encoding" || f.name == "connection" || f.name == "keep-alive") continue;
    if (f.name == "content-length") has_length = true;
    if (f.name == "date") has_date = true;
    absl::StrAppend(&block, f.name, ": ", f.value, "\r\n");
  }
  if (options.sendDate && !has_date) absl::StrAppend(&block, "date: ", httpDate(loop_), "\r\n");
  no_body_ = head_request_ || status == 204 || status == 304;
  const bool empty = options.endStream || no_body_;
  if (!has_length && !no_body_) {
    if (empty) {
      absl::StrAppend(&block, "content-length: 0\r\n");
    } else if (http_version_ == "1.1") {
      chunked_ = true;
      absl::StrAppend(&block, "transfer-encoding: chunked\r\n");
    } else {
      keep_alive_ = false;  // HTTP/1.0 without a length: the close ends the body
    }
  }
  // A closing connection (its server closes it after this response) says so (RFC 9112 9.6).
  if (connection_ && connection_->closing()) keep_alive_ = false;
  if (!keep_alive_) {
    absl::StrAppend(&block, "connection: close\r\n");
  } else if (http_version_ == "1.0") {
    absl::StrAppend(&block, "connection: keep-alive\r\n");
  }
  headers_sent_ = true;
  wait_for_trailers_ = options.waitForTrailers && chunked_;
  writeRaw(absl::StrCat("HTTP/", http_version_, " ", status, " ", reasonPhrase(status), "\r\n",
                        block, "\r\n"));
  if (empty) {
    ending_ = true;
    finishResponse();
  }
  return absl::OkStatus();
}

absl::Status Http1Exchange::additionalHeaders(const Headers& headers) {
  if (destroyed_ || closed_) return invalidStream();
  if (headers_sent_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_AFTER_RESPOND",
                     "Cannot specify additional headers after response initiated");
  }
  auto fields = prepareOutgoingHeaders(headers, HeadersKind::kInfo);
  if (!fields.ok()) return fields.status();
  // 1xx exist from HTTP/1.1 on; a 1.0 client would take one for the response.
  if (http_version_ != "1.1") return absl::OkStatus();
  const int status = std::stoi(headers.get(":status").value_or("100"));
  std::string block = absl::StrCat("HTTP/1.1 ", status, " ", reasonPhrase(status), "\r\n");
  for (const OutgoingField& f : *fields) {
    if (f.name != ":status") absl::StrAppend(&block, f.name, ": ", f.value, "\r\n");
  }
  writeRaw(block + "\r\n");
  return absl::OkStatus();
}

bool Http1Exchange::write(std::string data, WriteCallback cb) {
  absl::Status error;
  if (ending_) {
    error = nodeError(absl::StatusCode::kFailedPrecondition, "ERR_STREAM_WRITE_AFTER_END",
                      "write after end");
  } else if (destroyed_ || closed_ || !connection_) {
    error = invalidStream();
  } else if (!headers_sent_) {
    if (absl::Status s = respond({}, {}); !s.ok()) error = s;
  }
  if (!error.ok()) {
    if (cb) loop_->post([cb = std::move(cb), error] { cb(error); });
    return false;
  }
  if (!data.empty() && !no_body_) {
    if (chunked_) {
      writeRaw(absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n"));
    } else {
      writeRaw(std::move(data));
    }
  }
  if (cb) loop_->post([cb = std::move(cb)] { cb(absl::OkStatus()); });
  if (bufferSize() >= connection_->options_.highWaterMark) {
    need_drain_ = true;
    return false;
  }
  return true;
}

void Http1Exchange::socketDrained() {
  if (!need_drain_) return;
  need_drain_ = false;
  drain_event_.emit();
}

void Http1Exchange::end() {
  if (ending_ || destroyed_ || closed_) return;
  if (!headers_sent_ && !respond({}, {.endStream = true}).ok()) return;
  if (finished_) return;
  ending_ = true;
  if (wait_for_trailers_) {
    auto self = shared_from_this();
    loop_->post([self] {
      if (self->finished_ || self->closed_) return;
      if (!self->want_trailers_event_.emit()) (void)self->sendTrailers({});
    });
    return;
  }
  finishResponse();
}

absl::Status Http1Exchange::sendTrailers(const Headers& trailers) {
  if (destroyed_ || closed_) return invalidStream();
  if (!wait_for_trailers_ || !ending_ || finished_) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_TRAILERS_NOT_READY",
                     "Trailing headers cannot be sent until after the wantTrailers event is "
                     "emitted");
  }
  auto fields = prepareOutgoingHeaders(trailers, HeadersKind::kTrailers);
  if (!fields.ok()) return fields.status();
  std::string block = "0\r\n";
  for (const OutgoingField& f : *fields) absl::StrAppend(&block, f.name, ": ", f.value, "\r\n");
  writeRaw(block + "\r\n");
  chunked_ = false;  // the last chunk went with the trailers
  finishResponse();
  return absl::OkStatus();
}

void Http1Exchange::finishResponse() {
  if (finished_) return;
  if (chunked_) {
    writeRaw("0\r\n\r\n");
    chunked_ = false;
  }
  finished_ = true;
  auto self = shared_from_this();
  loop_->post([self] {
    self->finish_event_.emit();
    // A request whose body was not read to the end: the connection cannot carry another one.
    const bool keep = self->keep_alive_ && self->request_complete_;
    if (self->connection_) self->connection_->exchangeDone(keep);
  });
}

void Http1Exchange::destroy(absl::Status) {
  if (destroyed_) return;
  destroyed_ = true;
  // HTTP/1 cannot reset one exchange: the connection goes (Node destroys the socket too).
  if (connection_) connection_->destroy();
}

void Http1Exchange::setTimeout(uint64_t ms) {
  timeout_ms_ = ms;
  if (ms == 0) {
    timer_.reset();
    return;
  }
  if (!timer_) timer_ = loop_->createTimer();
  touch();
}

void Http1Exchange::touch() {
  if (!timer_ || timeout_ms_ == 0 || closed_) return;
  std::weak_ptr<Http1Exchange> weak = weak_from_this();
  timer_->start(timeout_ms_, [weak] {
    if (auto self = weak.lock()) self->timeout_event_.emit();
  });
}

ListenerId Http1Exchange::onData(std::function<void(std::string_view)> fn) {
  ListenerId id = data_event_.on(std::move(fn));
  resume();
  return id;
}

void Http1Exchange::resume() {
  flowing_ = true;
  scheduleDeliver();
}

void Http1Exchange::scheduleDeliver() {
  if (deliver_scheduled_) return;
  deliver_scheduled_ = true;
  auto self = shared_from_this();
  loop_->post([self] {
    self->deliver_scheduled_ = false;
    self->deliver();
  });
}

void Http1Exchange::receiveBody(std::string_view chunk) {
  inbox_.push_back(std::string(chunk));
  inbox_bytes_ += chunk.size();
  touch();
  if (flowing_) scheduleDeliver();
}

void Http1Exchange::receiveComplete(Headers trailers) {
  request_complete_ = true;
  request_trailers_ = std::move(trailers);
  scheduleDeliver();
}

void Http1Exchange::deliver() {
  while (flowing_ && !inbox_.empty() && !closed_) {
    std::string chunk = std::move(inbox_.front());
    inbox_.pop_front();
    inbox_bytes_ -= chunk.size();
    data_event_.emit(chunk);
  }
  if (connection_) connection_->updateReading();
  // Like a stream: 'end' once the body was read while flowing (an unread request ends at
  // 'close', see Http2ServerRequest).
  if (request_complete_ && inbox_.empty() && flowing_ && !end_delivered_ && !closed_) {
    end_delivered_ = true;
    if (!request_trailers_.empty()) trailers_event_.emit(request_trailers_);
    end_event_.emit();
  }
}

void Http1Exchange::connectionClosed() {
  if (closed_) return;
  connection_ = nullptr;
  if (!request_complete_ || !finished_) {
    if (!request_complete_ && !aborted_) {
      aborted_ = true;
      aborted_event_.emit();
    }
  }
  emitClose();
}

void Http1Exchange::detach() {
  connection_ = nullptr;
  closed_ = true;
  timer_.reset();
  data_event_.removeAllListeners();
  trailers_event_.removeAllListeners();
  end_event_.removeAllListeners();
  aborted_event_.removeAllListeners();
  timeout_event_.removeAllListeners();
  close_event_.removeAllListeners();
  drain_event_.removeAllListeners();
  finish_event_.removeAllListeners();
  want_trailers_event_.removeAllListeners();
}

void Http1Exchange::emitClose() {
  if (closed_) return;
  closed_ = true;
  timer_.reset();
  close_event_.emit();
  data_event_.removeAllListeners();
  trailers_event_.removeAllListeners();
  end_event_.removeAllListeners();
  aborted_event_.removeAllListeners();
  timeout_event_.removeAllListeners();
  close_event_.removeAllListeners();
  drain_event_.removeAllListeners();
  finish_event_.removeAllListeners();
  want_trailers_event_.removeAllListeners();
}

}  // namespace h2rpc::transport
