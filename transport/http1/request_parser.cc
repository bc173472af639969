// Http1RequestParser over libhttp-parser 2.9 (callbacks collect the head; pause at the end of
// each message so that pipelined requests wait for their turn).
#include "transport/http1/request_parser.h"

#include <http_parser.h>

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace h2rpc::transport {

struct Http1RequestParser::Impl {
  http_parser parser;
  http_parser_settings settings;
  Http1RequestParser* owner;
  Http1RequestHead head;
  Headers trailers;
  std::string field, value;
  bool in_value = false;
  bool head_done = false;
  size_t head_bytes = 0;
  uint64_t body_bytes = 0;
  // Set by a callback that refuses the request (the callback returns nonzero).
  absl::Status error;

  static Impl* of(http_parser* p) { return static_cast<Impl*>(p->data); }

  void init() {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
    head = {};
    trailers = {};
    field.clear();
    value.clear();
    in_value = false;
    head_done = false;
    head_bytes = 0;
    body_bytes = 0;
  }

  int tooLarge() {
    error = absl::ResourceExhaustedError("431 Request Header Fields Too Large");
    return 1;
  }
  // Counts head bytes as they arrive (libhttp-parser's own limit is a compile-time 80 KiB).
  int countHead(size_t n) {
    head_bytes += n;
    return head_bytes > owner->options_.maxHeaderSize ? tooLarge() : 0;
  }
  int flushField() {
    if (!in_value) return 0;
    Headers& target = head_done ? trailers : head.headers;
    if (target.size() >= owner->options_.maxHeadersCount) return tooLarge();
    target.add(field, value);
    field.clear();
    value.clear();
    in_value = false;
    return 0;
  }
};

Http1RequestParser::Http1RequestParser(Sink* sink, Http1ParserOptions options)
    : impl_(std::make_unique<Impl>()), sink_(sink), options_(options) {
  impl_->owner = this;
  http_parser_settings& s = impl_->settings;
  http_parser_settings_init(&s);
  s.on_message_begin = [](http_parser* p) {
    Impl::of(p)->owner->started_ = true;
    return 0;
  };
  s.on_url = [](http_parser* p, const char* at, size_t n) {
    Impl* i = Impl::of(p);
    i->head.url.append(at, n);
    return i->countHead(n);
  };
  s.on_header_field = [](http_parser* p, const char* at, size_t n) {
    Impl* i = Impl::of(p);
    if (int rc = i->flushField()) return rc;
    i->field.append(at, n);
    return i->countHead(n);
  };
  s.on_header_value = [](http_parser* p, const char* at, size_t n) {
    Impl* i = Impl::of(p);
    i->in_value = true;
    i->value.append(at, n);
    return i->countHead(n);
  };
  s.on_headers_complete = [](http_parser* p) {
    Impl* i = Impl::of(p);
    if (int rc = i->flushField()) return rc;
    i->head_done = true;
    Http1RequestHead& h = i->head;
    h.method = http_method_str(static_cast<http_method>(p->method));
    h.versionMajor = p->http_major;
    h.versionMinor = p->http_minor;
    h.keepAlive = http_should_keep_alive(p) != 0;
    h.chunked = (p->flags & F_CHUNKED) != 0;
    h.upgrade = p->upgrade != 0;
    const uint64_t limit = i->owner->options_.maxBodySize;
    if (limit > 0 && !h.chunked && p->content_length != ULLONG_MAX && p->content_length > limit) {
      i->error = absl::ResourceExhaustedError("413 Payload Too Large");
      return -1;
    }
    i->owner->sink_->onRequestHead(std::move(h));
    return 0;
  };
  s.on_body = [](http_parser* p, const char* at, size_t n) {
    Impl* i = Impl::of(p);
    i->body_bytes += n;
    const uint64_t limit = i->owner->options_.maxBodySize;
    if (limit > 0 && i->body_bytes > limit) {
      i->error = absl::ResourceExhaustedError("413 Payload Too Large");
      return 1;
    }
    i->owner->sink_->onRequestBody(std::string_view(at, n));
    return 0;
  };
  s.on_message_complete = [](http_parser* p) {
    Impl* i = Impl::of(p);
    if (int rc = i->flushField()) return rc;
    i->owner->complete_ = true;
    i->owner->sink_->onRequestComplete(std::move(i->trailers));
    http_parser_pause(p, 1);  // the next request waits for reset()
    return 0;
  };
  impl_->init();
}

Http1RequestParser::~Http1RequestParser() = default;

void Http1RequestParser::reset() {
  impl_->init();
  complete_ = false;
  started_ = false;
}

absl::StatusOr<size_t> Http1RequestParser::feed(std::string_view data) {
  if (complete_) return 0;
  impl_->error = absl::OkStatus();
  size_t used = http_parser_execute(&impl_->parser, &impl_->settings, data.data(), data.size());
  auto err = static_cast<http_errno>(impl_->parser.http_errno);
  if (err == HPE_PAUSED) {
    // Paused in on_message_complete: the byte that completed the message was used.
    return used;
  }
  if (!impl_->error.ok()) return impl_->error;
  if (err != HPE_OK) {
    if (err == HPE_HEADER_OVERFLOW) {
      return absl::ResourceExhaustedError("431 Request Header Fields Too Large");
    }
    return absl::InvalidArgumentError(
        absl::StrCat("400 Bad Request: ", http_errno_description(err)));
  }
  return used;
}

int Http1RequestParser::httpStatusFor(const absl::Status& error) {
  if (error.code() == absl::StatusCode::kResourceExhausted) {
    return error.message().substr(0, 3) == "413" ? 413 : 431;
  }
  return 400;
}

}  // namespace h2rpc::transport
