// Http2ServerRequest: forwards the stream's events as Node's compat.js does (see the header).
#include "transport/compat/server_request.h"

#include "transport/session.h"

namespace h2rpc::transport {

std::shared_ptr<Http2ServerRequest> Http2ServerRequest::create(
    std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers) {
  std::shared_ptr<Http2ServerRequest> req(new Http2ServerRequest(std::move(stream), headers));
  req->attach();
  return req;
}

// The stream's listeners hold the request: it lives at least until the stream's 'close', after
// which the stream drops every listener (so there is no lasting cycle).
void Http2ServerRequest::attach() {
  auto self = shared_from_this();
  stream_->onTrailers([self](const Headers& trailers, uint8_t) {
    for (const HeaderField& f : trailers.raw()) self->trailers_.addLowerCase(f.name, f.value);
  });
  stream_->onEnd([self] {
    if (self->ended_) return;
    self->ended_ = true;
    self->end_event_.emit();
  });
  stream_->onAborted([self] {
    if (self->closed_) return;
    self->aborted_ = true;
    self->aborted_event_.emit();
  });
  stream_->onTimeout([self] { self->timeout_event_.emit(); });
  stream_->onClose([self] {
    self->closed_ = true;
    // Node pushes EOF on close: a request that was read ends before 'close'; one nobody read is
    // dumped (resumed), and ends just after.
    bool end_first = self->reading_;
    if (end_first && !self->ended_) {
      self->ended_ = true;
      self->end_event_.emit();
    }
    self->close_event_.emit();
    self->data_event_.removeAllListeners();
    self->aborted_event_.removeAllListeners();
    self->close_event_.removeAllListeners();
    self->timeout_event_.removeAllListeners();
    auto finish = [self] {
      if (!self->ended_) {
        self->ended_ = true;
        self->end_event_.emit();
      }
      self->end_event_.removeAllListeners();
    };
    if (self->loop_) {
      self->loop_->post(std::move(finish));
    } else {
      finish();
    }
  });
}

std::string Http2ServerRequest::authority() const {
  if (auto a = headers_.get(":authority")) return *a;
  return headers_.get("host").value_or("");
}

std::string Http2ServerRequest::remoteAddress() const {
  Http2Session* s = stream_->session();
  return s && s->socket() ? s->socket()->remoteAddress() : "";
}

uint16_t Http2ServerRequest::remotePort() const {
  Http2Session* s = stream_->session();
  return s && s->socket() ? s->socket()->remotePort() : 0;
}

bool Http2ServerRequest::encrypted() const {
  Http2Session* s = stream_->session();
  return s && s->encrypted();
}

std::string Http2ServerRequest::alpnProtocol() const {
  Http2Session* s = stream_->session();
  return s ? s->alpnProtocol() : "";
}

ListenerId Http2ServerRequest::onData(std::function<void(std::string_view)> fn) {
  ListenerId id = data_event_.on(std::move(fn));
  if (!reading_ && !closed_) {
    reading_ = true;
    auto self = shared_from_this();
    stream_->onData([self](std::string_view chunk) { self->data_event_.emit(chunk); });
  }
  return id;
}

void Http2ServerRequest::off(ListenerId id) {
  data_event_.off(id) || end_event_.off(id) || aborted_event_.off(id) || close_event_.off(id) ||
      timeout_event_.off(id);
}

void Http2ServerRequest::setTimeout(uint64_t ms, std::function<void()> callback) {
  if (closed_) return;
  if (callback) timeout_event_.on(std::move(callback));
  stream_->setTimeout(ms);
}

}  // namespace h2rpc::transport
