// Http1Connection: request parsing, one exchange at a time, keep-alive and limits.
#include "transport/http1/connection.h"

#include "absl/strings/str_cat.h"
#include "transport/http1/exchange.h"

namespace h2rpc::transport {

std::shared_ptr<Http1Connection> Http1Connection::create(EventLoop* loop,
                                                         std::unique_ptr<Socket> socket,
                                                         RequestHandler handler,
                                                         Http1Options options,
                                                         std::string prefix) {
  std::shared_ptr<Http1Connection> c(
      new Http1Connection(loop, std::move(socket), std::move(handler), options));
  c->self_ = c;
  c->start(std::move(prefix));
  return c;
}

Http1Connection::Http1Connection(EventLoop* loop, std::unique_ptr<Socket> socket,
                                 RequestHandler handler, Http1Options options)
    : loop_(loop),
      socket_(std::move(socket)),
      handler_(std::move(handler)),
      options_(options),
      parser_(this, options.parser) {}

Http1Connection::~Http1Connection() {
  if (socket_) socket_->setHandler(nullptr);
}

void Http1Connection::start(std::string prefix) {
  socket_->setHandler(this);
  socket_->resumeReading();
  armIdleTimer();
  if (!prefix.empty()) {
    // Not inside create(): the caller gets the connection before any request.
    std::weak_ptr<Http1Connection> weak = weak_from_this();
    loop_->post([weak, prefix = std::move(prefix)] {
      if (auto self = weak.lock()) self->onSocketData(prefix);
    });
  }
}

void Http1Connection::armIdleTimer() {
  if (options_.idleTimeout == 0 || closed_) return;
  if (!idle_timer_) idle_timer_ = loop_->createTimer();
  std::weak_ptr<Http1Connection> weak = weak_from_this();
  idle_timer_->start(options_.idleTimeout, [weak] {
    auto self = weak.lock();
    if (!self || self->closed_ || self->exchange_) return;
    if (self->parser_.inMessage() || !self->inbuf_.empty()) {
      self->reject(408);  // part of a head came, then nothing
    } else {
      self->close();
    }
  });
}

void Http1Connection::onSocketData(std::string_view data) {
  // Closing: the request in progress still gets its body (its response may need all of it: a
  // draining server lets running calls finish); nothing after it is served.
  if (closed_ || (closing_ && !exchange_)) return;
  inbuf_.append(data);
  process();
}

void Http1Connection::process() {
  if (processing_) return;  // a callback below re-entered us
  processing_ = true;
  while (!closed_ && !inbuf_.empty() && !exchange_busy()) {
    absl::StatusOr<size_t> used = parser_.feed(inbuf_);
    if (!used.ok()) {
      processing_ = false;
      reject(Http1RequestParser::httpStatusFor(used.status()));
      return;
    }
    inbuf_.erase(0, *used);
    if (*used == 0) break;
  }
  processing_ = false;
  if (!closed_) updateReading();
}

bool Http1Connection::exchange_busy() const {
  // The parser stops after each request; the next waits until this response is done.
  return parser_.messageComplete();
}

void Http1Connection::updateReading() {
  if (closed_ || !socket_) return;
  size_t held = inbuf_.size() + (exchange_ ? exchange_->unreadBytes() : 0);
  bool pause = held >= options_.maxBufferedBody;
  if (pause && !reading_paused_) {
    reading_paused_ = true;
    socket_->pauseReading();
  } else if (!pause && reading_paused_) {
    reading_paused_ = false;
    socket_->resumeReading();
  }
}

void Http1Connection::onRequestHead(Http1RequestHead head) {
  if (idle_timer_) idle_timer_->stop();
  ++requests_;
  Http2ServerRequest::RequestLine line;
  line.method = head.method;
  line.url = head.url;
  line.scheme = socket_->encrypted() ? "https" : "http";
  line.authority = head.headers.get("host").value_or("");
  exchange_ = std::make_shared<Http1Exchange>(this, head);
  auto req = Http2ServerRequest::create(exchange_, head.headers, std::move(line));
  auto res = Http2ServerResponse::create(exchange_, req);
  if (handler_) handler_(std::move(req), std::move(res));
}

void Http1Connection::onRequestBody(std::string_view chunk) {
  if (exchange_) exchange_->receiveBody(chunk);
}

void Http1Connection::onRequestComplete(Headers trailers) {
  if (exchange_) exchange_->receiveComplete(std::move(trailers));
}

void Http1Connection::exchangeDone(bool keepAlive) {
  if (closed_) return;
  std::shared_ptr<Http1Exchange> done = std::move(exchange_);
  if (done) done->connectionClosed();  // 'close' of the request and response
  if (!keepAlive || closing_ || !parser_.messageComplete()) {
    closed_ = true;
    if (idle_timer_) idle_timer_->stop();
    socket_->end();
    finishClose();
    return;
  }
  parser_.reset();
  armIdleTimer();
  process();
}

void Http1Connection::reject(int status) {
  if (closed_) return;
  if (!exchange_ || !exchange_->headersSent()) {
    const char* reason = status == 400   ? "Bad Request"
                              : status == 408 ? "Request Timeout"
                              : status == 413 ? "Payload Too Large"
                                              : "Request Header Fields Too Large";
    socket_->write(absl::StrCat("HTTP/1.1 ", status, " ", reason,
                                "\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"));
    socket_->end();
  } else {
    socket_->destroy();
  }
  closed_ = true;
  if (idle_timer_) idle_timer_->stop();
  if (auto ex = std::move(exchange_)) ex->connectionClosed();
  finishClose();
}

void Http1Connection::close() {
  if (closed_) return;
  if (exchange_) {
    closing_ = true;
    return;
  }
  closed_ = true;
  if (idle_timer_) idle_timer_->stop();
  socket_->end();
  finishClose();
}

void Http1Connection::destroy() {
  if (closed_) return;
  closed_ = true;
  if (idle_timer_) idle_timer_->stop();
  socket_->destroy();
  if (auto ex = std::move(exchange_)) ex->connectionClosed();
  finishClose();
}

void Http1Connection::abandon() {
  closed_ = true;
  idle_timer_.reset();
  if (socket_) {
    socket_->setHandler(nullptr);
    socket_->destroy();
  }
  if (auto ex = std::move(exchange_)) ex->detach();
  self_.reset();
}

void Http1Connection::onSocketDrain() {
  if (exchange_) exchange_->socketDrained();
}

void Http1Connection::onSocketClose(absl::Status) {
  if (closed_) return;
  closed_ = true;
  if (idle_timer_) idle_timer_->stop();
  if (auto ex = std::move(exchange_)) ex->connectionClosed();
  finishClose();
}

// 'close' from the loop; then the connection lets go of itself (the socket finishes its
// lingering close on its own: we keep it until then only through the loop's handle).
void Http1Connection::finishClose() {
  auto self = std::move(self_);
  if (!self) return;
  loop_->post([self] {
    self->close_event_.emit();
    self->close_event_.removeAllListeners();
  });
}

}  // namespace h2rpc::transport
