// transport/altsvc_origin.cc — ALTSVC (RFC 7838 §4) and ORIGIN (RFC 8336) frames, as node:http2:
// ServerHttp2Session::altsvc()/origin() with Node's validation, the client's 'altsvc' and
// 'origin' events and Http2Session::originSet(). nghttp2 frames and parses both (builtin
// extension types, see Http2Session::init()).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "transport/authority.h"
#include "transport/errors.h"
#include "transport/session.h"

namespace h2rpc::transport {

namespace {

// Node's kMaxALTSVC: an ALTSVC/ORIGIN payload fits one 16384-byte frame with its 2-byte lengths.
constexpr size_t kMaxAltsvc = (1 << 14) - 2;

// Node's kQuotedString: /^[\x09\x20-\x5b\x5d-\x7e\x80-\xff]*$/.
bool isQuotedStringText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x09 || (c >= 0x20 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
  });
}

// `new URL(url).origin`, with `invalid_code` when the URL has none ("null": not http/https).
absl::StatusOr<std::string> originOf(std::string_view url, std::string_view invalid_code,
                                     std::string_view invalid_message) {
  absl::StatusOr<std::string> origin = urlOrigin(url);
  if (!origin.ok() && nodeErrorCode(origin.status()) == "ERR_HTTP2_UNSUPPORTED_PROTOCOL") {
    return nodeError(absl::StatusCode::kInvalidArgument, invalid_code, invalid_message);
  }
  return origin;
}

absl::Status submitAltsvc(nghttp2_session* ng, int32_t stream, std::string_view origin,
                          std::string_view alt) {
  if (!isQuotedStringText(alt)) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_INVALID_CHAR",
                     "Invalid character in alt");
  }
  if (alt.size() + origin.size() > kMaxAltsvc) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ALTSVC_LENGTH",
                     "HTTP/2 ALTSVC frames are limited to 16382 bytes");
  }
  const int rv = nghttp2_submit_altsvc(ng, NGHTTP2_FLAG_NONE, stream,
                                       reinterpret_cast<const uint8_t*>(origin.data()),
                                       origin.size(), reinterpret_cast<const uint8_t*>(alt.data()),
                                       alt.size());
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ServerHttp2Session::altsvc(std::string_view alt, int32_t streamId) {
  if (destroyed()) return invalidSession();
  if (streamId <= 0) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_OUT_OF_RANGE",
                     absl::StrCat("The value of \"originOrStream\" is out of range. It must be "
                                  "> 0 && < 4294967296. Received ",
                                  streamId));
  }
  absl::Status st = submitAltsvc(nghttp2(), streamId, "", alt);
  if (st.ok()) scheduleFlush();
  return st;
}

absl::Status ServerHttp2Session::altsvc(std::string_view alt, std::string_view origin_url) {
  if (destroyed()) return invalidSession();
  absl::StatusOr<std::string> origin = originOf(origin_url, "ERR_HTTP2_ALTSVC_INVALID_ORIGIN",
                                                "HTTP/2 ALTSVC frames require a valid origin");
  if (!origin.ok()) return origin.status();
  absl::Status st = submitAltsvc(nghttp2(), 0, *origin, alt);
  if (st.ok()) scheduleFlush();
  return st;
}

absl::Status ServerHttp2Session::origin(const std::vector<std::string>& origins) {
  if (destroyed()) return invalidSession();
  if (origins.empty()) return absl::OkStatus();
  std::vector<std::string> serialised;
  size_t length = 0;
  for (const std::string& url : origins) {
    absl::StatusOr<std::string> o = originOf(url, "ERR_HTTP2_INVALID_ORIGIN",
                                             "HTTP/2 ORIGIN frames require a valid origin");
    if (!o.ok()) return o.status();
    length += o->size();
    serialised.push_back(*std::move(o));
  }
  if (length > kMaxAltsvc) {
    return nodeError(absl::StatusCode::kInvalidArgument, "ERR_HTTP2_ORIGIN_LENGTH",
                     "HTTP/2 ORIGIN frames are limited to 16382 bytes");
  }
  std::vector<nghttp2_origin_entry> entries;
  for (std::string& o : serialised) {
    entries.push_back({reinterpret_cast<uint8_t*>(o.data()), o.size()});
  }
  const int rv = nghttp2_submit_origin(nghttp2(), NGHTTP2_FLAG_NONE, entries.data(),
                                       entries.size());
  if (rv != 0) {
    return nodeError(absl::StatusCode::kInternal, "ERR_HTTP2_ERROR", nghttp2_strerror(rv));
  }
  scheduleFlush();
  return absl::OkStatus();
}

std::optional<std::vector<std::string>> Http2Session::originSet() const {
  if (!encrypted() || destroyed_) return std::nullopt;
  std::vector<std::string> set;
  // Node's initOriginSet: `https://${servername}:${remotePort}`, as an origin.
  const std::string servername = socket_ ? socket_->servername() : std::string();
  if (!servername.empty()) {
    std::string url = absl::StrCat("https://", servername);
    if (socket_->remotePort() != 0) absl::StrAppend(&url, ":", socket_->remotePort());
    if (absl::StatusOr<std::string> o = urlOrigin(url); o.ok()) set.push_back(*std::move(o));
  }
  for (const std::string& o : received_origins_) {
    if (std::find(set.begin(), set.end(), o) == set.end()) set.push_back(o);
  }
  return set;
}

void Http2Session::onExtensionFrame(const nghttp2_frame* frame) {
  if (type_ != Type::kClient) return;  // nghttp2 passes these to clients only
  auto self = std::static_pointer_cast<ClientHttp2Session>(shared_from_this());
  if (frame->hd.type == NGHTTP2_ALTSVC) {
    const auto* ext = static_cast<const nghttp2_ext_altsvc*>(frame->ext.payload);
    std::string origin(reinterpret_cast<const char*>(ext->origin), ext->origin_len);
    std::string alt(reinterpret_cast<const char*>(ext->field_value), ext->field_value_len);
    const int32_t stream = frame->hd.stream_id;
    post([self, origin = std::move(origin), alt = std::move(alt), stream] {
      self->altsvc_event_.emit(alt, origin, stream);
    });
    return;
  }
  // ORIGIN: as Node, only a TLS session keeps an origin set and reports the frame.
  if (!encrypted()) return;
  const auto* ext = static_cast<const nghttp2_ext_origin*>(frame->ext.payload);
  std::vector<std::string> origins;
  for (size_t i = 0; i < ext->nov; ++i) {
    origins.emplace_back(reinterpret_cast<const char*>(ext->ov[i].origin), ext->ov[i].origin_len);
  }
  // Bounded (unlike Node's Set): at most kMaxOrigins, duplicates not kept; a peer sending
  // endless new origins still has them reported by 'origin', but no longer remembered.
  constexpr size_t kMaxOrigins = 1024;
  for (const std::string& o : origins) {
    if (received_origins_.size() < kMaxOrigins &&
        std::find(received_origins_.begin(), received_origins_.end(), o) ==
            received_origins_.end()) {
      received_origins_.push_back(o);
    }
  }
  post([self, origins = std::move(origins)] { self->origin_event_.emit(origins); });
}

}  // namespace h2rpc::transport
