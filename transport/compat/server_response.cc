// Http2ServerResponse: Node's compat.js response over a CompatStream (see the header).
#include "transport/compat/server_response.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "transport/compat/server_request.h"
#include "transport/errors.h"

namespace h2rpc::transport {
namespace {

// Node's isPseudoHeader(): the pseudo-headers a response may not set by name.
bool isKnownPseudoHeader(std::string_view name) {
  return name == ":status" || name == ":method" || name == ":path" || name == ":authority" ||
         name == ":scheme" || name == ":protocol";
}

// Node's name.trim().toLowerCase().
std::string normalizeName(std::string_view name) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
                                   c == '\f' || c == '\v'; };
  while (!name.empty() && space(name.front())) name.remove_prefix(1);
  while (!name.empty() && space(name.back())) name.remove_suffix(1);
  std::string out(name);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

// Node's assertValidHeader() plus the token and value checks that respond() makes later.
absl::Status checkHeader(const std::string& name, const std::vector<std::string>& values) {
  if (name.empty() || name.find(' ') != std::string::npos) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_HTTP_TOKEN",
                     absl::StrCat("Header name must be a valid HTTP token [\"", name, "\"]"));
  }
  if (isKnownPseudoHeader(name)) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_PSEUDOHEADER_NOT_ALLOWED",
                     "Cannot set HTTP/2 pseudo-headers");
  }
  if (name[0] == ':') {
    return nodeError(
        absl::StatusCode::kInvalidArgument, "ERR_HTTP2_INVALID_PSEUDOHEADER",
        absl::StrCat("\"", name, "\" is an invalid pseudoheader or is used incorrectly"));
  }
  if (!isValidHeaderName(name)) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_HTTP_TOKEN",
                     absl::StrCat("Header name must be a valid HTTP token [\"", name, "\"]"));
  }
  for (const std::string& v : values) {
    if (!isValidHeaderValue(v)) {
      return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_CHAR",
                       absl::StrCat("Invalid character in header content [\"", name, "\"]"));
    }
  }
  return absl::OkStatus();
}

// JavaScript's \s, for the ASCII range.
bool isJsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Node's validateLinkHeaderFormat: the value matches
// /^(?:<[^>]*>)(?:\s*;\s*[^;"\s]+(?:=(")?[^;"\s]*\1)?)*$/.
bool isValidLinkValue(std::string_view v) {
  auto plain = [](char c) { return c != ';' && c != '"' && !isJsSpace(c); };
  if (v.empty() || v[0] != '<') return false;
  size_t i = v.find('>');
  if (i == std::string_view::npos) return false;
  ++i;
  while (i < v.size()) {
    while (i < v.size() && isJsSpace(v[i])) ++i;
    if (i == v.size() || v[i] != ';') return false;
    ++i;
    while (i < v.size() && isJsSpace(v[i])) ++i;
    // A parameter: a run of plain characters (it may hold '=': `rel=preload`), or one ending
    // in '=' (after at least one character) followed by a quoted run of plain characters.
    const size_t start = i;
    while (i < v.size() && plain(v[i])) ++i;
    if (i == start) return false;
    if (i < v.size() && v[i] == '"') {
      if (i - start < 2 || v[i - 1] != '=') return false;
      ++i;
      while (i < v.size() && plain(v[i])) ++i;
      if (i == v.size() || v[i] != '"') return false;
      ++i;
    }
  }
  return true;
}

absl::Status invalidHints(std::string_view value) {
  return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_VALUE",
                   absl::StrCat("The argument 'hints' must be an array or string of format "
                                "\"</styles.css>; rel=preload; as=style\". Received '",
                                std::string(value), "'"));
}

absl::Status headersSentError() {
  return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_HEADERS_SENT",
                   "Response has already been initiated.");
}

}  // namespace

std::shared_ptr<Http2ServerResponse> Http2ServerResponse::create(
    std::shared_ptr<CompatStream> stream, std::shared_ptr<Http2ServerRequest> req) {
  std::shared_ptr<Http2ServerResponse> res(
      new Http2ServerResponse(std::move(stream), std::move(req)));
  res->attach();
  return res;
}

Http2ServerResponse::Http2ServerResponse(std::shared_ptr<CompatStream> stream,
                                         std::shared_ptr<Http2ServerRequest> req)
    : stream_(std::move(stream)), req_(std::move(req)), loop_(stream_->loop()) {}

// As for the request, the stream's listeners hold the response until the stream's 'close'.
void Http2ServerResponse::attach() {
  auto self = shared_from_this();
  stream_->onDrain([self] { self->drain_event_.emit(); });
  stream_->onFinish([self] { self->stream_finished_ = true; });
  stream_->onTimeout([self] { self->timeout_event_.emit(); });
  // The response always opens with waitForTrailers: the trailers set so far go out at the end.
  stream_->onWantTrailers([self] {
    if (self->closed_) return;
    (void)self->stream_->sendTrailers(self->trailers_);
  });
  stream_->onClose([self] { self->onStreamClose(); });
}

// Node's onStreamCloseResponse.
void Http2ServerResponse::onStreamClose() {
  if (closed_) return;
  // Node skips it when the request is HEAD and end() was never called (state.headRequest stays
  // false): the response then never emits 'finish' or 'close'.
  if (stream_->headRequest() != head_request_) return;
  closed_ = true;
  finish_event_.emit();
  close_event_.emit();
  finish_event_.removeAllListeners();
  close_event_.removeAllListeners();
  drain_event_.removeAllListeners();
  timeout_event_.removeAllListeners();
}

absl::Status Http2ServerResponse::setStatusCode(int code) {
  if (code >= 100 && code < 200) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_HTTP2_INFO_STATUS_NOT_ALLOWED",
                     "Informational status codes cannot be used");
  }
  if (code < 100 || code > 599) {
    return nodeError(absl::StatusCode::kOutOfRange, "ERR_HTTP2_STATUS_INVALID",
                     absl::StrCat("Invalid status code: ", code));
  }
  status_code_ = code;
  return absl::OkStatus();
}

absl::Status Http2ServerResponse::putHeader(std::string_view raw_name,
                                            const std::vector<std::string>& values,
                                            bool append) {
  std::string name = normalizeName(raw_name);
  if (absl::Status s = checkHeader(name, values); !s.ok()) return s;
  // Node drops a connection header (HTTP/2 forbids them) unless it is "trailers".
  if (name == "connection" && !(values.size() == 1 && values[0] == "trailers")) {
    return absl::OkStatus();
  }
  if (!append) headers_.remove(name);
  for (const std::string& v : values) headers_.add(name, v);
  return absl::OkStatus();
}

absl::Status Http2ServerResponse::setHeader(std::string_view name, std::string_view value) {
  return setHeader(name, std::vector<std::string>{std::string(value)});
}

absl::Status Http2ServerResponse::setHeader(std::string_view name,
                                            const std::vector<std::string>& values) {
  if (headersSent()) return headersSentError();
  return putHeader(name, values, /*append=*/false);
}

absl::Status Http2ServerResponse::appendHeader(std::string_view name, std::string_view value) {
  if (headersSent()) return headersSentError();
  return putHeader(name, {std::string(value)}, /*append=*/true);
}

std::optional<std::string> Http2ServerResponse::getHeader(std::string_view name) const {
  std::vector<std::string> values = headers_.getAll(normalizeName(name));
  if (values.empty()) return std::nullopt;
  return absl::StrJoin(values, ", ");
}

std::vector<std::string> Http2ServerResponse::getHeaderNames() const {
  std::vector<std::string> names;
  for (const HeaderField& f : headers_.raw()) {
    if (std::find(names.begin(), names.end(), f.name) == names.end()) names.push_back(f.name);
  }
  return names;
}

bool Http2ServerResponse::hasHeader(std::string_view name) const {
  return headers_.has(normalizeName(name));
}

absl::Status Http2ServerResponse::removeHeader(std::string_view raw_name) {
  if (headersSent()) return headersSentError();
  std::string name = normalizeName(raw_name);
  if (name == "date") {
    send_date_ = false;
    return absl::OkStatus();
  }
  headers_.remove(name);
  return absl::OkStatus();
}

absl::Status Http2ServerResponse::writeHead(int statusCode, const Headers& headers) {
  if (closed_ || stream_->destroyed() || stream_->closed()) return absl::OkStatus();
  if (headersSent()) return headersSentError();
  // Each name given replaces what was set, keeping all its values here (Node's object form with
  // an array value, and its array form, which removes then appends).
  std::vector<std::string> done;
  for (const HeaderField& f : headers.raw()) {
    if (std::find(done.begin(), done.end(), f.name) != done.end()) continue;
    done.push_back(f.name);
    if (absl::Status s = putHeader(f.name, headers.getAll(f.name), /*append=*/false); !s.ok()) {
      return s;
    }
  }
  status_code_ = statusCode;
  return beginSend();
}

// Node's kBeginSend: :status joins the headers (getHeaders() shows it afterwards, as Node's).
absl::Status Http2ServerResponse::beginSend() {
  headers_.set(":status", std::to_string(status_code_));
  return stream_->respond(headers_, {.endStream = ending_,
                                     .waitForTrailers = true,
                                     .sendDate = send_date_});
}

bool Http2ServerResponse::write(std::string data, WriteCallback cb) {
  absl::Status error;
  if (ending_) {
    error = nodeError(absl::StatusCode::kFailedPrecondition, "ERR_STREAM_WRITE_AFTER_END",
                      "write after end");
  } else if (closed_) {
    error = nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_INVALID_STREAM",
                      "The stream has been destroyed");
  } else if (destroyed_) {
    return false;
  }
  if (!error.ok()) {
    if (cb && loop_) loop_->post([cb = std::move(cb), error] { cb(error); });
    destroy(error);
    return false;
  }
  if (!headersSent()) {
    if (absl::Status s = writeHead(status_code_); !s.ok()) {
      if (cb && loop_) loop_->post([cb = std::move(cb), s] { cb(s); });
      destroy(s);
      return false;
    }
  }
  return stream_->write(std::move(data), std::move(cb));
}

void Http2ServerResponse::end(std::string data, std::function<void()> cb) {
  if ((closed_ || ending_) && head_request_ == stream_->headRequest()) {
    if (cb && loop_) loop_->post(std::move(cb));
    return;
  }
  if (!data.empty()) write(std::move(data));
  head_request_ = stream_->headRequest();
  ending_ = true;
  if (cb) {
    if (stream_->writableEnded()) {
      finish_event_.once(std::move(cb));
    } else {
      stream_->onFinish(std::move(cb));
    }
  }
  if (!headersSent()) {
    if (absl::Status s = writeHead(status_code_); !s.ok()) {
      destroy(s);
      return;
    }
  }
  if (closed_ || stream_->destroyed()) {
    // Node calls onStreamCloseResponse at once; events here never run inside a call.
    if (loop_) {
      auto self = shared_from_this();
      loop_->post([self] { self->onStreamClose(); });
    }
  } else {
    stream_->end();
  }
}

absl::Status Http2ServerResponse::setTrailer(std::string_view raw_name, std::string_view value) {
  std::string name = normalizeName(raw_name);
  if (absl::Status s = checkHeader(name, {std::string(value)}); !s.ok()) return s;
  trailers_.set(name, value);
  return absl::OkStatus();
}

absl::Status Http2ServerResponse::addTrailers(const Headers& trailers) {
  for (const HeaderField& f : trailers.raw()) {
    if (absl::Status s = setTrailer(f.name, f.value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool Http2ServerResponse::writeContinue() {
  if (headersSent() || closed_) return false;
  return stream_->additionalHeaders({{":status", "100"}}).ok();
}

absl::StatusOr<bool> Http2ServerResponse::writeEarlyHints(const Headers& hints) {
  const std::vector<std::string> links = hints.getAll("link");
  const bool http1 = stream_->http2Stream() == nullptr;
  if (links.empty()) {
    // Node's HTTP/2 compat validates `hints.link` (undefined is invalid); its HTTP/1 response
    // returns without a word.
    if (http1) return false;
    return invalidHints("undefined");
  }
  for (const std::string& link : links) {
    if (!isValidLinkValue(link)) return invalidHints(link);
  }
  if (headersSent() || closed_ || stream_->closed() || stream_->destroyed()) return false;
  if (stream_->httpVersion() == "1.0") return false;
  Headers info;
  info.add(":status", "103");
  for (const HeaderField& f : hints.raw()) {
    if (f.name != "link") info.add(f.name, f.value);
  }
  info.add("link", absl::StrJoin(links, ", "));
  if (absl::Status s = stream_->additionalHeaders(info); !s.ok()) return s;
  return true;
}

absl::Status Http2ServerResponse::createPushResponse(const Headers& headers,
                                                     PushResponseCallback callback) {
  if (!callback) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_ARG_TYPE",
                     "The \"callback\" argument must be of type function");
  }
  if (closed_) {
    absl::Status error = nodeError(absl::StatusCode::kFailedPrecondition,
                                   "ERR_HTTP2_INVALID_STREAM", "The stream has been destroyed");
    if (loop_) loop_->post([callback = std::move(callback), error] { callback(error, nullptr); });
    return absl::OkStatus();
  }
  std::shared_ptr<ServerHttp2Stream> h2 = stream_->http2Stream();
  if (!h2) {
    return nodeError(absl::StatusCode::kFailedPrecondition, "ERR_HTTP2_PUSH_DISABLED",
                     "HTTP/2 server push is not available on an HTTP/1 exchange");
  }
  return h2->pushStream(
      headers, {},
      [callback = std::move(callback)](const absl::Status& error,
                                       std::shared_ptr<ServerHttp2Stream> pushed,
                                       const Headers&) {
        if (!error.ok()) {
          callback(error, nullptr);
          return;
        }
        callback(absl::OkStatus(),
                 Http2ServerResponse::create(
                     std::make_shared<Http2CompatStream>(std::move(pushed)), nullptr));
      });
}

void Http2ServerResponse::destroy(absl::Status error) {
  if (destroyed_) return;
  destroyed_ = true;
  stream_->destroy(std::move(error));
}

void Http2ServerResponse::setTimeout(uint64_t ms, std::function<void()> callback) {
  if (closed_) return;
  if (callback) timeout_event_.on(std::move(callback));
  stream_->setTimeout(ms);
}

void Http2ServerResponse::off(ListenerId id) {
  finish_event_.off(id) || close_event_.off(id) || drain_event_.off(id) ||
      timeout_event_.off(id);
}

}  // namespace h2rpc::transport
