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
//
// With --push, a GET of an .html page pushes the files it links to (the href="..." and
// src="..." values naming files under --root: stylesheets, scripts, images) before the page,
// when the client allows push: `nghttp -ans http://127.0.0.1:8080/index.html` marks them '*'.
#include <fcntl.h>
#include <unistd.h>

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
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
ABSL_FLAG(bool, push, false, "a GET of an .html page pushes the files it links to");

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

// A content-type for the common extensions (none for the others).
std::string contentType(absl::string_view path) {
  static constexpr std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".css", "text/css"},
      {".js", "text/javascript"},            {".json", "application/json"},
      {".png", "image/png"},                 {".svg", "image/svg+xml"},
      {".jpg", "image/jpeg"},                {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (absl::EndsWith(path, ext)) return type;
  }
  return "";
}

// The URL paths of the files a page links to: href="..." and src="..." values (quoted or not)
// that are paths on this server (no scheme, no //host, no fragment-only link), made absolute
// against `page_path` and with "." and ".." segments resolved (one that climbs above "/" is
// dropped); the query is kept (the client asks for the URL as written). At most `limit`.
std::vector<std::string> linkedPaths(absl::string_view html, absl::string_view page_path,
                                     size_t limit) {
  std::vector<std::string> out;
  const std::string lower = absl::AsciiStrToLower(html);
  const absl::string_view dir = page_path.substr(0, page_path.rfind('/') + 1);
  for (const char* attr : {"href=", "src="}) {
    for (size_t at = lower.find(attr); at != std::string::npos && out.size() < limit;
         at = lower.find(attr, at + 1)) {
      // An attribute name, not the tail of another one (data-src=).
      if (at > 0 && !absl::ascii_isspace(static_cast<unsigned char>(lower[at - 1]))) continue;
      size_t v = at + absl::string_view(attr).size();
      if (v >= html.size()) break;
      size_t end;
      if (html[v] == '"' || html[v] == '\'') {
        end = html.find(html[v], v + 1);
        ++v;
      } else {
        end = html.find_first_of(" \t\r\n>", v);
      }
      if (end == std::string::npos) break;
      absl::string_view value = html.substr(v, end - v);
      value = value.substr(0, value.find('#'));
      absl::string_view query;
      if (size_t q = value.find('?'); q != absl::string_view::npos) {
        query = value.substr(q);
        value = value.substr(0, q);
      }
      if (value.empty() || absl::StartsWith(value, "//") ||
          value.find(':') < value.find('/')) {
        continue;  // another host, a scheme (https:, data:, mailto:), a fragment
      }
      std::string joined = value[0] == '/' ? std::string(value) : absl::StrCat(dir, value);
      std::vector<std::string> segments;
      bool above_root = false;
      for (absl::string_view seg : absl::StrSplit(joined, '/', absl::SkipEmpty())) {
        if (seg == ".") continue;
        if (seg == "..") {
          if (segments.empty()) above_root = true;
          if (!segments.empty()) segments.pop_back();
          continue;
        }
        segments.emplace_back(seg);
      }
      if (above_root || segments.empty()) continue;
      std::string path = absl::StrCat("/", absl::StrJoin(segments, "/"), std::string(query));
      if (path != page_path && std::find(out.begin(), out.end(), path) == out.end()) {
        out.push_back(std::move(path));
      }
    }
  }
  return out;
}

// --push: pushes the regular files under `root` that the page `file` (URL `page_path`) links
// to. The page is read here, on the loop thread: pages are small (only the first 256 KiB are
// scanned); the assets themselves go out with respondWithFile(), read as the streams drain.
void pushLinkedFiles(const std::shared_ptr<ServerHttp2Stream>& stream, const std::string& file,
                     absl::string_view page_path, const std::string& root) {
  if (!stream->pushAllowed()) return;
  std::string html(256 * 1024, '\0');
  const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const ssize_t n = pread(fd, html.data(), html.size(), 0);
  close(fd);
  if (n <= 0) return;
  html.resize(static_cast<size_t>(n));
  for (const std::string& path : linkedPaths(html, page_path, 32)) {
    const std::string asset = resolve(root, path);
    struct stat st;
    if (asset.empty() || stat(asset.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    absl::Status pushed = stream->pushStream(
        {{":path", path}}, {},
        [asset, path](const absl::Status& err, std::shared_ptr<ServerHttp2Stream> s,
                      const Headers&) {
          if (!err.ok()) return;  // the page's stream went away first
          Headers headers;
          if (std::string type = contentType(path.substr(0, path.find('?'))); !type.empty()) {
            headers.set("content-type", type);
          }
          RespondWithFileOptions options;
          std::weak_ptr<ServerHttp2Stream> weak = s;
          options.onError = [weak](const absl::Status&) {
            if (auto p = weak.lock()) answer(*p, "404");
          };
          if (!s->respondWithFile(asset, headers, std::move(options)).ok()) {
            s->close(NGHTTP2_INTERNAL_ERROR);
          }
        });
    if (!pushed.ok()) {
      std::fprintf(stderr, "file_server: push %s: %s\n", path.c_str(), pushed.ToString().c_str());
      return;
    }
  }
}

void handle(std::shared_ptr<ServerHttp2Stream> stream, const Headers& request,
            const std::string& root, bool push) {
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
  const std::string path = request.get(":path").value_or("");
  if (push && method == "GET" && absl::EndsWith(file, ".html")) {
    pushLinkedFiles(stream, file, path.substr(0, path.find('?')), root);
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
  Headers headers;
  if (std::string type = contentType(file); !type.empty()) headers.set("content-type", type);
  if (absl::Status st = stream->respondWithFile(file, headers, std::move(options)); !st.ok()) {
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
  const bool push = absl::GetFlag(FLAGS_push);
  (*server)->onStream([&root, push](std::shared_ptr<ServerHttp2Stream> stream,
                                    const Headers& headers, uint8_t) {
    handle(std::move(stream), headers, root, push);
  });
  const std::string host = absl::GetFlag(FLAGS_host);
  if (absl::Status st = (*server)->listen(static_cast<uint16_t>(absl::GetFlag(FLAGS_port)), host);
      !st.ok()) {
    std::fprintf(stderr, "file_server: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("file_server: serving %s, listening on %s://%s:%u\n", root.c_str(),
              cert.empty() ? "http" : "https", host.c_str(), (*server)->port());
  std::fflush(stdout);
  loop.run();
  return 0;
}
