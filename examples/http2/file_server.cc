// file_server: serves the files under --root over HTTP/2 with respondWithFile() (node:http2's
// static file example), with single byte ranges (206, 416) and If-Modified-Since (304) decided in
// statCheck, as the Node documentation does it.
//
//   bazel run //examples/http2:file_server -- --root=/srv/www --port=8080
//   curl --http2-prior-knowledge http://127.0.0.1:8080/some/file -r 0-99
//   bazel run //examples/http2:file_server -- --root=DIR --port=8443 --tls_cert=c.pem --tls_key=k.pem
//
// GET and HEAD only (405 otherwise). A path that leaves --root (.., or a symlink out of it) is
// 404, as is a missing file or a directory; a file the server may not read is 403.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "transport/errors.h"
#include "transport/server.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, root, "", "directory to serve (required)");
ABSL_FLAG(int, port, 8080, "TCP port to listen on (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate file: serve TLS (ALPN h2) instead of h2c");
ABSL_FLAG(std::string, tls_key, "", "PEM private key file for --tls_cert");

namespace {

using h2rpc::transport::FileRange;
using h2rpc::transport::Headers;
using h2rpc::transport::Http2Server;
using h2rpc::transport::RespondWithFileOptions;
using h2rpc::transport::ServerHttp2Stream;

constexpr char kHttpDate[] = "%a, %d %b %Y %H:%M:%S GMT";

std::string httpDate(time_t t) {
  return absl::FormatTime(kHttpDate, absl::FromTimeT(t), absl::UTCTimeZone());
}

void answer(ServerHttp2Stream& s, std::string_view status, Headers extra = {}) {
  if (s.destroyed() || s.headersSent()) return;
  extra.set(":status", status);
  (void)s.respond(extra);
  s.end();
}

// The file under `root` that `path` names, or "" when it does not exist or is outside root.
std::string resolve(const std::string& root, std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (path.empty() || path[0] != '/') return "";
  std::string joined = root + std::string(path);
  char real[PATH_MAX];
  if (realpath(joined.c_str(), real) == nullptr) return joined;  // let open() report ENOENT
  std::string r = real;
  if (r != root && !absl::StartsWith(r, root + "/")) return "";
  return r;
}

// A single "bytes=first-last", "bytes=first-" or "bytes=-suffix" range of a `size`-byte file.
// Returns false when the header is no such range (then the whole file is sent); sets
// `satisfiable` to false when it is one but lies outside the file (416).
bool parseRange(absl::string_view header, int64_t size, FileRange& range, bool& satisfiable) {
  if (!absl::ConsumePrefix(&header, "bytes=") || header.find(',') != header.npos) return false;
  const size_t dash = header.find('-');
  if (dash == header.npos) return false;
  absl::string_view first = header.substr(0, dash), last = header.substr(dash + 1);
  int64_t a = 0, b = 0;
  satisfiable = true;
  if (first.empty()) {  // suffix: the last b bytes
    if (!absl::SimpleAtoi(last, &b) || b < 0) return false;
    if (b == 0 || size == 0) return (satisfiable = false), true;
    range.offset = std::max<int64_t>(0, size - b);
    range.length = size - range.offset;
    return true;
  }
  if (!absl::SimpleAtoi(first, &a) || a < 0) return false;
  if (last.empty()) {
    b = size - 1;
  } else if (!absl::SimpleAtoi(last, &b) || b < a) {
    return false;
  }
  if (a >= size) return (satisfiable = false), true;
  b = std::min(b, size - 1);
  range.offset = a;
  range.length = b - a + 1;
  return true;
}

void handle(std::shared_ptr<ServerHttp2Stream> stream, const Headers& request,
            const std::string& root) {
  const std::string method = request.get(":method").value_or("");
  if (method != "GET" && method != "HEAD") {
    answer(*stream, "405", {{"allow", "GET, HEAD"}});
    return;
  }
  const std::string file = resolve(root, request.get(":path").value_or(""));
  if (file.empty()) {
    answer(*stream, "404");
    return;
  }
  const std::optional<std::string> range_header = request.get("range");
  const std::optional<std::string> ims = request.get("if-modified-since");
  std::weak_ptr<ServerHttp2Stream> weak = stream;
  RespondWithFileOptions options;
  options.statCheck = [weak, range_header, ims](const struct stat& st, Headers& headers,
                                                 FileRange& range) {
    auto s = weak.lock();
    if (!s) return false;
    headers.set("last-modified", httpDate(st.st_mtime));
    headers.set("accept-ranges", "bytes");
    absl::Time since;
    std::string err;
    if (ims && absl::ParseTime(kHttpDate, *ims, &since, &err) &&
        absl::FromTimeT(st.st_mtime) <= since) {
      answer(*s, "304", {{"last-modified", httpDate(st.st_mtime)}});
      return false;
    }
    bool satisfiable = true;
    if (range_header && parseRange(*range_header, st.st_size, range, satisfiable)) {
      if (!satisfiable) {
        answer(*s, "416", {{"content-range", absl::StrCat("bytes */", st.st_size)}});
        return false;
      }
      headers.set(":status", "206");
      headers.set("content-range", absl::StrCat("bytes ", range.offset, "-",
                                                range.offset + range.length - 1, "/",
                                                st.st_size));
    }
    return true;
  };
  options.onError = [weak](const absl::Status& error) {
    auto s = weak.lock();
    if (!s) return;
    const std::string code = h2rpc::transport::nodeErrorCode(error);
    answer(*s, code == "EACCES" ? "403" : "404");
  };
  if (absl::Status st = stream->respondWithFile(file, {}, std::move(options)); !st.ok()) {
    std::fprintf(stderr, "file_server: %s\n", st.ToString().c_str());
    stream->close(NGHTTP2_INTERNAL_ERROR);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  char real_root[PATH_MAX];
  if (absl::GetFlag(FLAGS_root).empty() ||
      realpath(absl::GetFlag(FLAGS_root).c_str(), real_root) == nullptr) {
    std::fprintf(stderr, "file_server: --root=DIR must name a directory\n");
    return 2;
  }
  const std::string root = real_root;
  h2rpc::transport::UvLoop loop;
  absl::StatusOr<std::unique_ptr<Http2Server>> server;
  const std::string cert = absl::GetFlag(FLAGS_tls_cert), key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    std::fprintf(stderr, "file_server: --tls_cert and --tls_key go together\n");
    return 2;
  }
  if (!cert.empty()) {
    h2rpc::transport::TlsOptions tls;
    tls.certFile = cert;
    tls.keyFile = key;
    server = Http2Server::createSecureServer(&loop, tls);
  } else {
    server = Http2Server::createServer(&loop);
  }
  if (!server.ok()) {
    std::fprintf(stderr, "file_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  (*server)->onStream([&root](std::shared_ptr<ServerHttp2Stream> stream, const Headers& headers,
                              uint8_t) { handle(std::move(stream), headers, root); });
  const std::string host = absl::GetFlag(FLAGS_host);
  if (absl::Status st = (*server)->listen(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)), host);
      !st.ok()) {
    std::fprintf(stderr, "file_server: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("file_server: serving %s on %s://%s:%u\n", root.c_str(),
              cert.empty() ? "http" : "https", host.c_str(), (*server)->port());
  std::fflush(stdout);
  loop.run();
  return 0;
}
