// Http2ServerRequest: forwards the stream's events as Node's compat.js does (see the header).
#include "transport/compat/server_request.h"


namespace h2rpc::transport {

std::shared_ptr<Http2ServerRequest> Http2ServerRequest::create(
    std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers) {
  return create(std::make_shared<Http2CompatStream>(std::move(stream)), headers, std::nullopt);
}

std::shared_ptr<Http2ServerRequest> Http2ServerRequest::create(
    std::shared_ptr<CompatStream> stream, const Headers& headers,
    std::optional<RequestLine> line) {
  std::shared_ptr<Http2ServerRequest> req(new Http2ServerRequest(std::move(stream), headers));
  if (line) {
    req->line_ = *std::move(line);
  } else {
    req->line_.method = headers.get(":method").value_or("");
    req->line_.url = headers.get(":path").value_or("");
    req->line_.scheme = headers.get(":scheme").value_or("");
    // Node's getAuthority: :authority, else host.
    req->line_.authority =
        headers.get(":authority").value_or(headers.get("host").value_or(""));
  }
  req->attach();
  return req;
}

void Http2ServerRequest::setUrl(std::string_view url) {
  line_.url = std::string(url);
  if (headers_.has(":path")) headers_.set(":path", url);
}

void Http2ServerRequest::setMethod(std::string_view method) {
  line_.method = std::string(method);
  if (headers_.has(":method")) headers_.set(":method", method);
}

// The stream's listeners hold the request: it lives at least until the stream's 'close', after
// which the stream drops every listener (so there is no lasting cycle).
void Http2ServerRequest::attach() {
  auto self = shared_from_this();
  stream_->onTrailers([self](const Headers& trailers) {
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

void Http2ServerRequest::destroy(absl::Status error) {
  if (closed_ || stream_->destroyed()) return;
  stream_->destroy(std::move(error));
}

void Http2ServerRequest::setTimeout(uint64_t ms, std::function<void()> callback) {
  if (closed_) return;
  if (callback) timeout_event_.on(std::move(callback));
  stream_->setTimeout(ms);
}

}  // namespace h2rpc::transport
