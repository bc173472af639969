// Node's http2.constants as C++ constants, plus errorCodeName(). Generated from Node v20.20.2's
// `require('http2').constants` (every entry it prints, same names and values);
// constants_node_oracle_test checks this file against the installed Node.
//
// Threading: plain compile-time values, usable from any thread. Lifetime: static; the string_views
// point at string literals and never dangle.
#ifndef H2RPC_TRANSPORT_CONSTANTS_H_
#define H2RPC_TRANSPORT_CONSTANTS_H_

#include <cstdint>
#include <string_view>

// nghttp2.h #defines NGHTTP2_DEFAULT_WEIGHT (also 16); keep the macro out of this declaration so
// the headers can be included in any order. Where nghttp2.h is included, the macro is what
// NGHTTP2_DEFAULT_WEIGHT means, so write it unqualified there.
#pragma push_macro("NGHTTP2_DEFAULT_WEIGHT")
#undef NGHTTP2_DEFAULT_WEIGHT

namespace h2rpc::transport {
namespace constants {

// Session types.
inline constexpr uint32_t NGHTTP2_SESSION_SERVER = 0;
inline constexpr uint32_t NGHTTP2_SESSION_CLIENT = 1;

// Stream states (Http2Stream.state.state).
inline constexpr uint32_t NGHTTP2_STREAM_STATE_IDLE = 1;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_OPEN = 2;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_RESERVED_LOCAL = 3;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_RESERVED_REMOTE = 4;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_HALF_CLOSED_LOCAL = 5;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_HALF_CLOSED_REMOTE = 6;
inline constexpr uint32_t NGHTTP2_STREAM_STATE_CLOSED = 7;

// Frame flags.
inline constexpr uint32_t NGHTTP2_FLAG_NONE = 0;
inline constexpr uint32_t NGHTTP2_FLAG_END_STREAM = 1;
inline constexpr uint32_t NGHTTP2_FLAG_END_HEADERS = 4;
inline constexpr uint32_t NGHTTP2_FLAG_ACK = 1;
inline constexpr uint32_t NGHTTP2_FLAG_PADDED = 8;
inline constexpr uint32_t NGHTTP2_FLAG_PRIORITY = 32;

// Default settings values (what getDefaultSettings() reports).
inline constexpr uint32_t DEFAULT_SETTINGS_HEADER_TABLE_SIZE = 4096;
inline constexpr uint32_t DEFAULT_SETTINGS_ENABLE_PUSH = 1;
inline constexpr uint32_t DEFAULT_SETTINGS_MAX_CONCURRENT_STREAMS = 4294967295u;
inline constexpr uint32_t DEFAULT_SETTINGS_INITIAL_WINDOW_SIZE = 65535;
inline constexpr uint32_t DEFAULT_SETTINGS_MAX_FRAME_SIZE = 16384;
inline constexpr uint32_t DEFAULT_SETTINGS_MAX_HEADER_LIST_SIZE = 65535;
inline constexpr uint32_t DEFAULT_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0;

// Setting limits.
inline constexpr uint32_t MAX_MAX_FRAME_SIZE = 16777215;
inline constexpr uint32_t MIN_MAX_FRAME_SIZE = 16384;
inline constexpr uint32_t MAX_INITIAL_WINDOW_SIZE = 2147483647;

// SETTINGS frame identifiers.
inline constexpr uint32_t NGHTTP2_SETTINGS_HEADER_TABLE_SIZE = 1;
inline constexpr uint32_t NGHTTP2_SETTINGS_ENABLE_PUSH = 2;
inline constexpr uint32_t NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS = 3;
inline constexpr uint32_t NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE = 4;
inline constexpr uint32_t NGHTTP2_SETTINGS_MAX_FRAME_SIZE = 5;
inline constexpr uint32_t NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE = 6;
inline constexpr uint32_t NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL = 8;

// Padding strategies (PADDING_STRATEGY_CALLBACK is an alias of ALIGNED in Node 20).
inline constexpr uint32_t PADDING_STRATEGY_NONE = 0;
inline constexpr uint32_t PADDING_STRATEGY_ALIGNED = 1;
inline constexpr uint32_t PADDING_STRATEGY_MAX = 2;
inline constexpr uint32_t PADDING_STRATEGY_CALLBACK = 1;

// RST_STREAM and GOAWAY error codes.
inline constexpr uint32_t NGHTTP2_NO_ERROR = 0;
inline constexpr uint32_t NGHTTP2_PROTOCOL_ERROR = 1;
inline constexpr uint32_t NGHTTP2_INTERNAL_ERROR = 2;
inline constexpr uint32_t NGHTTP2_FLOW_CONTROL_ERROR = 3;
inline constexpr uint32_t NGHTTP2_SETTINGS_TIMEOUT = 4;
inline constexpr uint32_t NGHTTP2_STREAM_CLOSED = 5;
inline constexpr uint32_t NGHTTP2_FRAME_SIZE_ERROR = 6;
inline constexpr uint32_t NGHTTP2_REFUSED_STREAM = 7;
inline constexpr uint32_t NGHTTP2_CANCEL = 8;
inline constexpr uint32_t NGHTTP2_COMPRESSION_ERROR = 9;
inline constexpr uint32_t NGHTTP2_CONNECT_ERROR = 10;
inline constexpr uint32_t NGHTTP2_ENHANCE_YOUR_CALM = 11;
inline constexpr uint32_t NGHTTP2_INADEQUATE_SECURITY = 12;
inline constexpr uint32_t NGHTTP2_HTTP_1_1_REQUIRED = 13;

// nghttp2 library error reported by frameError when a header block is too large (negative).
inline constexpr int32_t NGHTTP2_ERR_FRAME_SIZE_ERROR = -522;

// Priority.
inline constexpr uint32_t NGHTTP2_DEFAULT_WEIGHT = 16;

// Header names.
inline constexpr std::string_view HTTP2_HEADER_STATUS = ":status";
inline constexpr std::string_view HTTP2_HEADER_METHOD = ":method";
inline constexpr std::string_view HTTP2_HEADER_AUTHORITY = ":authority";
inline constexpr std::string_view HTTP2_HEADER_SCHEME = ":scheme";
inline constexpr std::string_view HTTP2_HEADER_PATH = ":path";
inline constexpr std::string_view HTTP2_HEADER_PROTOCOL = ":protocol";
inline constexpr std::string_view HTTP2_HEADER_ACCEPT_ENCODING = "accept-encoding";
inline constexpr std::string_view HTTP2_HEADER_ACCEPT_LANGUAGE = "accept-language";
inline constexpr std::string_view HTTP2_HEADER_ACCEPT_RANGES = "accept-ranges";
inline constexpr std::string_view HTTP2_HEADER_ACCEPT = "accept";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_ALLOW_CREDENTIALS =
    "access-control-allow-credentials";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_ALLOW_HEADERS =
    "access-control-allow-headers";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_ALLOW_METHODS =
    "access-control-allow-methods";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN =
    "access-control-allow-origin";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_EXPOSE_HEADERS =
    "access-control-expose-headers";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_REQUEST_HEADERS =
    "access-control-request-headers";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_REQUEST_METHOD =
    "access-control-request-method";
inline constexpr std::string_view HTTP2_HEADER_AGE = "age";
inline constexpr std::string_view HTTP2_HEADER_AUTHORIZATION = "authorization";
inline constexpr std::string_view HTTP2_HEADER_CACHE_CONTROL = "cache-control";
inline constexpr std::string_view HTTP2_HEADER_CONNECTION = "connection";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_DISPOSITION = "content-disposition";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_ENCODING = "content-encoding";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_LENGTH = "content-length";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_TYPE = "content-type";
inline constexpr std::string_view HTTP2_HEADER_COOKIE = "cookie";
inline constexpr std::string_view HTTP2_HEADER_DATE = "date";
inline constexpr std::string_view HTTP2_HEADER_ETAG = "etag";
inline constexpr std::string_view HTTP2_HEADER_FORWARDED = "forwarded";
inline constexpr std::string_view HTTP2_HEADER_HOST = "host";
inline constexpr std::string_view HTTP2_HEADER_IF_MODIFIED_SINCE = "if-modified-since";
inline constexpr std::string_view HTTP2_HEADER_IF_NONE_MATCH = "if-none-match";
inline constexpr std::string_view HTTP2_HEADER_IF_RANGE = "if-range";
inline constexpr std::string_view HTTP2_HEADER_LAST_MODIFIED = "last-modified";
inline constexpr std::string_view HTTP2_HEADER_LINK = "link";
inline constexpr std::string_view HTTP2_HEADER_LOCATION = "location";
inline constexpr std::string_view HTTP2_HEADER_RANGE = "range";
inline constexpr std::string_view HTTP2_HEADER_REFERER = "referer";
inline constexpr std::string_view HTTP2_HEADER_SERVER = "server";
inline constexpr std::string_view HTTP2_HEADER_SET_COOKIE = "set-cookie";
inline constexpr std::string_view HTTP2_HEADER_STRICT_TRANSPORT_SECURITY =
    "strict-transport-security";
inline constexpr std::string_view HTTP2_HEADER_TRANSFER_ENCODING = "transfer-encoding";
inline constexpr std::string_view HTTP2_HEADER_TE = "te";
inline constexpr std::string_view HTTP2_HEADER_UPGRADE_INSECURE_REQUESTS =
    "upgrade-insecure-requests";
inline constexpr std::string_view HTTP2_HEADER_UPGRADE = "upgrade";
inline constexpr std::string_view HTTP2_HEADER_USER_AGENT = "user-agent";
inline constexpr std::string_view HTTP2_HEADER_VARY = "vary";
inline constexpr std::string_view HTTP2_HEADER_X_CONTENT_TYPE_OPTIONS = "x-content-type-options";
inline constexpr std::string_view HTTP2_HEADER_X_FRAME_OPTIONS = "x-frame-options";
inline constexpr std::string_view HTTP2_HEADER_KEEP_ALIVE = "keep-alive";
inline constexpr std::string_view HTTP2_HEADER_PROXY_CONNECTION = "proxy-connection";
inline constexpr std::string_view HTTP2_HEADER_X_XSS_PROTECTION = "x-xss-protection";
inline constexpr std::string_view HTTP2_HEADER_ALT_SVC = "alt-svc";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_SECURITY_POLICY = "content-security-policy";
inline constexpr std::string_view HTTP2_HEADER_EARLY_DATA = "early-data";
inline constexpr std::string_view HTTP2_HEADER_EXPECT_CT = "expect-ct";
inline constexpr std::string_view HTTP2_HEADER_ORIGIN = "origin";
inline constexpr std::string_view HTTP2_HEADER_PURPOSE = "purpose";
inline constexpr std::string_view HTTP2_HEADER_TIMING_ALLOW_ORIGIN = "timing-allow-origin";
inline constexpr std::string_view HTTP2_HEADER_X_FORWARDED_FOR = "x-forwarded-for";
inline constexpr std::string_view HTTP2_HEADER_PRIORITY = "priority";
inline constexpr std::string_view HTTP2_HEADER_ACCEPT_CHARSET = "accept-charset";
inline constexpr std::string_view HTTP2_HEADER_ACCESS_CONTROL_MAX_AGE = "access-control-max-age";
inline constexpr std::string_view HTTP2_HEADER_ALLOW = "allow";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_LANGUAGE = "content-language";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_LOCATION = "content-location";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_MD5 = "content-md5";
inline constexpr std::string_view HTTP2_HEADER_CONTENT_RANGE = "content-range";
inline constexpr std::string_view HTTP2_HEADER_DNT = "dnt";
inline constexpr std::string_view HTTP2_HEADER_EXPECT = "expect";
inline constexpr std::string_view HTTP2_HEADER_EXPIRES = "expires";
inline constexpr std::string_view HTTP2_HEADER_FROM = "from";
inline constexpr std::string_view HTTP2_HEADER_IF_MATCH = "if-match";
inline constexpr std::string_view HTTP2_HEADER_IF_UNMODIFIED_SINCE = "if-unmodified-since";
inline constexpr std::string_view HTTP2_HEADER_MAX_FORWARDS = "max-forwards";
inline constexpr std::string_view HTTP2_HEADER_PREFER = "prefer";
inline constexpr std::string_view HTTP2_HEADER_PROXY_AUTHENTICATE = "proxy-authenticate";
inline constexpr std::string_view HTTP2_HEADER_PROXY_AUTHORIZATION = "proxy-authorization";
inline constexpr std::string_view HTTP2_HEADER_REFRESH = "refresh";
inline constexpr std::string_view HTTP2_HEADER_RETRY_AFTER = "retry-after";
inline constexpr std::string_view HTTP2_HEADER_TRAILER = "trailer";
inline constexpr std::string_view HTTP2_HEADER_TK = "tk";
inline constexpr std::string_view HTTP2_HEADER_VIA = "via";
inline constexpr std::string_view HTTP2_HEADER_WARNING = "warning";
inline constexpr std::string_view HTTP2_HEADER_WWW_AUTHENTICATE = "www-authenticate";
inline constexpr std::string_view HTTP2_HEADER_HTTP2_SETTINGS = "http2-settings";

// Methods.
inline constexpr std::string_view HTTP2_METHOD_ACL = "ACL";
inline constexpr std::string_view HTTP2_METHOD_BASELINE_CONTROL = "BASELINE-CONTROL";
inline constexpr std::string_view HTTP2_METHOD_BIND = "BIND";
inline constexpr std::string_view HTTP2_METHOD_CHECKIN = "CHECKIN";
inline constexpr std::string_view HTTP2_METHOD_CHECKOUT = "CHECKOUT";
inline constexpr std::string_view HTTP2_METHOD_CONNECT = "CONNECT";
inline constexpr std::string_view HTTP2_METHOD_COPY = "COPY";
inline constexpr std::string_view HTTP2_METHOD_DELETE = "DELETE";
inline constexpr std::string_view HTTP2_METHOD_GET = "GET";
inline constexpr std::string_view HTTP2_METHOD_HEAD = "HEAD";
inline constexpr std::string_view HTTP2_METHOD_LABEL = "LABEL";
inline constexpr std::string_view HTTP2_METHOD_LINK = "LINK";
inline constexpr std::string_view HTTP2_METHOD_LOCK = "LOCK";
inline constexpr std::string_view HTTP2_METHOD_MERGE = "MERGE";
inline constexpr std::string_view HTTP2_METHOD_MKACTIVITY = "MKACTIVITY";
inline constexpr std::string_view HTTP2_METHOD_MKCALENDAR = "MKCALENDAR";
inline constexpr std::string_view HTTP2_METHOD_MKCOL = "MKCOL";
inline constexpr std::string_view HTTP2_METHOD_MKREDIRECTREF = "MKREDIRECTREF";
inline constexpr std::string_view HTTP2_METHOD_MKWORKSPACE = "MKWORKSPACE";
inline constexpr std::string_view HTTP2_METHOD_MOVE = "MOVE";
inline constexpr std::string_view HTTP2_METHOD_OPTIONS = "OPTIONS";
inline constexpr std::string_view HTTP2_METHOD_ORDERPATCH = "ORDERPATCH";
inline constexpr std::string_view HTTP2_METHOD_PATCH = "PATCH";
inline constexpr std::string_view HTTP2_METHOD_POST = "POST";
inline constexpr std::string_view HTTP2_METHOD_PRI = "PRI";
inline constexpr std::string_view HTTP2_METHOD_PROPFIND = "PROPFIND";
inline constexpr std::string_view HTTP2_METHOD_PROPPATCH = "PROPPATCH";
inline constexpr std::string_view HTTP2_METHOD_PUT = "PUT";
inline constexpr std::string_view HTTP2_METHOD_REBIND = "REBIND";
inline constexpr std::string_view HTTP2_METHOD_REPORT = "REPORT";
inline constexpr std::string_view HTTP2_METHOD_SEARCH = "SEARCH";
inline constexpr std::string_view HTTP2_METHOD_TRACE = "TRACE";
inline constexpr std::string_view HTTP2_METHOD_UNBIND = "UNBIND";
inline constexpr std::string_view HTTP2_METHOD_UNCHECKOUT = "UNCHECKOUT";
inline constexpr std::string_view HTTP2_METHOD_UNLINK = "UNLINK";
inline constexpr std::string_view HTTP2_METHOD_UNLOCK = "UNLOCK";
inline constexpr std::string_view HTTP2_METHOD_UPDATE = "UPDATE";
inline constexpr std::string_view HTTP2_METHOD_UPDATEREDIRECTREF = "UPDATEREDIRECTREF";
inline constexpr std::string_view HTTP2_METHOD_VERSION_CONTROL = "VERSION-CONTROL";

// Status codes.
inline constexpr uint32_t HTTP_STATUS_CONTINUE = 100;
inline constexpr uint32_t HTTP_STATUS_SWITCHING_PROTOCOLS = 101;
inline constexpr uint32_t HTTP_STATUS_PROCESSING = 102;
inline constexpr uint32_t HTTP_STATUS_EARLY_HINTS = 103;
inline constexpr uint32_t HTTP_STATUS_OK = 200;
inline constexpr uint32_t HTTP_STATUS_CREATED = 201;
inline constexpr uint32_t HTTP_STATUS_ACCEPTED = 202;
inline constexpr uint32_t HTTP_STATUS_NON_AUTHORITATIVE_INFORMATION = 203;
inline constexpr uint32_t HTTP_STATUS_NO_CONTENT = 204;
inline constexpr uint32_t HTTP_STATUS_RESET_CONTENT = 205;
inline constexpr uint32_t HTTP_STATUS_PARTIAL_CONTENT = 206;
inline constexpr uint32_t HTTP_STATUS_MULTI_STATUS = 207;
inline constexpr uint32_t HTTP_STATUS_ALREADY_REPORTED = 208;
inline constexpr uint32_t HTTP_STATUS_IM_USED = 226;
inline constexpr uint32_t HTTP_STATUS_MULTIPLE_CHOICES = 300;
inline constexpr uint32_t HTTP_STATUS_MOVED_PERMANENTLY = 301;
inline constexpr uint32_t HTTP_STATUS_FOUND = 302;
inline constexpr uint32_t HTTP_STATUS_SEE_OTHER = 303;
inline constexpr uint32_t HTTP_STATUS_NOT_MODIFIED = 304;
inline constexpr uint32_t HTTP_STATUS_USE_PROXY = 305;
inline constexpr uint32_t HTTP_STATUS_TEMPORARY_REDIRECT = 307;
inline constexpr uint32_t HTTP_STATUS_PERMANENT_REDIRECT = 308;
inline constexpr uint32_t HTTP_STATUS_BAD_REQUEST = 400;
inline constexpr uint32_t HTTP_STATUS_UNAUTHORIZED = 401;
inline constexpr uint32_t HTTP_STATUS_PAYMENT_REQUIRED = 402;
inline constexpr uint32_t HTTP_STATUS_FORBIDDEN = 403;
inline constexpr uint32_t HTTP_STATUS_NOT_FOUND = 404;
inline constexpr uint32_t HTTP_STATUS_METHOD_NOT_ALLOWED = 405;
inline constexpr uint32_t HTTP_STATUS_NOT_ACCEPTABLE = 406;
inline constexpr uint32_t HTTP_STATUS_PROXY_AUTHENTICATION_REQUIRED = 407;
inline constexpr uint32_t HTTP_STATUS_REQUEST_TIMEOUT = 408;
inline constexpr uint32_t HTTP_STATUS_CONFLICT = 409;
inline constexpr uint32_t HTTP_STATUS_GONE = 410;
inline constexpr uint32_t HTTP_STATUS_LENGTH_REQUIRED = 411;
inline constexpr uint32_t HTTP_STATUS_PRECONDITION_FAILED = 412;
inline constexpr uint32_t HTTP_STATUS_PAYLOAD_TOO_LARGE = 413;
inline constexpr uint32_t HTTP_STATUS_URI_TOO_LONG = 414;
inline constexpr uint32_t HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE = 415;
inline constexpr uint32_t HTTP_STATUS_RANGE_NOT_SATISFIABLE = 416;
inline constexpr uint32_t HTTP_STATUS_EXPECTATION_FAILED = 417;
inline constexpr uint32_t HTTP_STATUS_TEAPOT = 418;
inline constexpr uint32_t HTTP_STATUS_MISDIRECTED_REQUEST = 421;
inline constexpr uint32_t HTTP_STATUS_UNPROCESSABLE_ENTITY = 422;
inline constexpr uint32_t HTTP_STATUS_LOCKED = 423;
inline constexpr uint32_t HTTP_STATUS_FAILED_DEPENDENCY = 424;
inline constexpr uint32_t HTTP_STATUS_TOO_EARLY = 425;
inline constexpr uint32_t HTTP_STATUS_UPGRADE_REQUIRED = 426;
inline constexpr uint32_t HTTP_STATUS_PRECONDITION_REQUIRED = 428;
inline constexpr uint32_t HTTP_STATUS_TOO_MANY_REQUESTS = 429;
inline constexpr uint32_t HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE = 431;
inline constexpr uint32_t HTTP_STATUS_UNAVAILABLE_FOR_LEGAL_REASONS = 451;
inline constexpr uint32_t HTTP_STATUS_INTERNAL_SERVER_ERROR = 500;
inline constexpr uint32_t HTTP_STATUS_NOT_IMPLEMENTED = 501;
inline constexpr uint32_t HTTP_STATUS_BAD_GATEWAY = 502;
inline constexpr uint32_t HTTP_STATUS_SERVICE_UNAVAILABLE = 503;
inline constexpr uint32_t HTTP_STATUS_GATEWAY_TIMEOUT = 504;
inline constexpr uint32_t HTTP_STATUS_HTTP_VERSION_NOT_SUPPORTED = 505;
inline constexpr uint32_t HTTP_STATUS_VARIANT_ALSO_NEGOTIATES = 506;
inline constexpr uint32_t HTTP_STATUS_INSUFFICIENT_STORAGE = 507;
inline constexpr uint32_t HTTP_STATUS_LOOP_DETECTED = 508;
inline constexpr uint32_t HTTP_STATUS_BANDWIDTH_LIMIT_EXCEEDED = 509;
inline constexpr uint32_t HTTP_STATUS_NOT_EXTENDED = 510;
inline constexpr uint32_t HTTP_STATUS_NETWORK_AUTHENTICATION_REQUIRED = 511;

}  // namespace constants

// Node's name for an RST_STREAM/GOAWAY error code ("NGHTTP2_PROTOCOL_ERROR"), or "UNKNOWN" for
// codes outside 0..0xd (Node's own messages print such codes as numbers; see errors.h).
constexpr std::string_view errorCodeName(uint32_t code) {
  switch (code) {
    case 0:
      return "NGHTTP2_NO_ERROR";
    case 1:
      return "NGHTTP2_PROTOCOL_ERROR";
    case 2:
      return "NGHTTP2_INTERNAL_ERROR";
    case 3:
      return "NGHTTP2_FLOW_CONTROL_ERROR";
    case 4:
      return "NGHTTP2_SETTINGS_TIMEOUT";
    case 5:
      return "NGHTTP2_STREAM_CLOSED";
    case 6:
      return "NGHTTP2_FRAME_SIZE_ERROR";
    case 7:
      return "NGHTTP2_REFUSED_STREAM";
    case 8:
      return "NGHTTP2_CANCEL";
    case 9:
      return "NGHTTP2_COMPRESSION_ERROR";
    case 10:
      return "NGHTTP2_CONNECT_ERROR";
    case 11:
      return "NGHTTP2_ENHANCE_YOUR_CALM";
    case 12:
      return "NGHTTP2_INADEQUATE_SECURITY";
    case 13:
      return "NGHTTP2_HTTP_1_1_REQUIRED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace h2rpc::transport

#pragma pop_macro("NGHTTP2_DEFAULT_WEIGHT")

#endif  // H2RPC_TRANSPORT_CONSTANTS_H_
