// examples/common/web_root.h — the example servers' --web_root: the files of one directory served
// over HTTP (GET/HEAD) on the RPC port, as rpc::ServerOptions::http_fallback, so that a web app's
// page and its gRPC-Web/Connect calls share one origin (no CORS needed). A demo's file server:
// the whole file is read per request (no caching, no ranges); paths with "..", hidden files and
// anything but regular files are 404; without a directory ("") every page is.
//
// Threading: the loop's thread (the server calls it there). Lifetime: the returned listener
// keeps its own copy of the directory name.
#ifndef H2RPC_EXAMPLES_COMMON_WEB_ROOT_H_
#define H2RPC_EXAMPLES_COMMON_WEB_ROOT_H_

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "rpc/server.h"

namespace h2rpc::examples {

inline std::string ContentTypeOf(const std::string& path) {
  if (absl::EndsWith(path, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(path, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(path, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(path, ".json")) return "application/json";
  if (absl::EndsWith(path, ".png")) return "image/png";
  if (absl::EndsWith(path, ".binpb")) return "application/octet-stream";
  return "text/plain; charset=utf-8";
}

// The file under `root` that `url` names ("/" is /index.html), or "" if none may be served.
inline std::string WebRootFile(const std::string& root, const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  if (path.empty() || path[0] != '/') return "";
  if (path.back() == '/') path += "index.html";
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (part.empty() || part[0] == '.' || absl::StrContains(part, '\\')) return "";
  }
  const std::string file = root + path;
  struct stat st;
  if (stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return file;
}

inline transport::RequestEvents::RequestListener ServeWebRoot(std::string root) {
  return [root = std::move(root)](std::shared_ptr<transport::Http2ServerRequest> req,
                                  std::shared_ptr<transport::Http2ServerResponse> res) {
    auto fail = [&](int code, const char* text) {
      (void)res->setStatusCode(code);
      (void)res->setHeader("content-type", "text/plain; charset=utf-8");
      res->end(text);
    };
    if (req->method() != "GET" && req->method() != "HEAD") {
      (void)res->setHeader("allow", "GET, HEAD");
      return fail(405, "GET or HEAD only (calls are POSTs with a gRPC-Web or Connect type)\n");
    }
    if (root.empty()) {
      return fail(404, "no page here: this port answers gRPC, gRPC-Web and Connect calls\n");
    }
    const std::string file = WebRootFile(root, req->url());
    std::ifstream in(file, std::ios::binary);
    if (file.empty() || !in) return fail(404, "not found\n");
    std::ostringstream body;
    body << in.rdbuf();
    (void)res->setHeader("content-type", ContentTypeOf(file));
    (void)res->setHeader("cache-control", "no-store");
    res->end(req->method() == "HEAD" ? std::string() : std::move(body).str());
  };
}

}  // namespace h2rpc::examples

#endif  // H2RPC_EXAMPLES_COMMON_WEB_ROOT_H_
