// client: the HTTP/2 client example of node:http2's documentation, in C++.
//
//   bazel run //examples/http2:client -- --url=http://127.0.0.1:8080/
//   bazel run //examples/http2:client -- --url=https://localhost:8443/ --ca_file=ca.pem
//   bazel run //examples/http2:client -- --url=http://127.0.0.1:8080/echo --data='hello'
//   bazel run //examples/http2:client -- --url=http://localhost/ --unix_socket=/tmp/hello.sock
//
// Connects, sends one request (GET, or POST with --data), prints the response headers and body.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "transport/connect.h"
#include "transport/uv_loop.h"

ABSL_FLAG(std::string, url, "http://127.0.0.1:8080/", "http:// (h2c) or https:// (TLS) URL");
ABSL_FLAG(std::string, data, "", "request body: sends a POST instead of a GET");
ABSL_FLAG(std::string, ca_file, "", "PEM CA file to verify the server (https)");
ABSL_FLAG(bool, insecure, false, "do not verify the server's certificate (tests only)");
ABSL_FLAG(std::string, unix_socket, "",
          "connect to this Unix domain socket instead of the URL's host and port (curl's "
          "--unix-socket; the URL still gives :authority)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace h2rpc::transport;
  UvLoop loop;
  const std::string url = absl::GetFlag(FLAGS_url);
  ConnectOptions options;
  options.tls.caFile = absl::GetFlag(FLAGS_ca_file);
  options.tls.rejectUnauthorized = !absl::GetFlag(FLAGS_insecure);
  options.path = absl::GetFlag(FLAGS_unix_socket);  // Node: net.connect()'s `path`
  auto client = connect(&loop, url, options);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 2;
  }
  int exit_code = 1;
  (*client)->onError([](const absl::Status& err) {
    std::fprintf(stderr, "client: %s\n", err.ToString().c_str());
  });

  std::string path = "/";
  if (auto slash = url.find('/', url.find("//") + 2); slash != std::string::npos) {
    path = url.substr(slash);
  }
  const std::string data = absl::GetFlag(FLAGS_data);
  Headers headers{{":path", path}};
  if (!data.empty()) {
    headers.add(":method", "POST");
    headers.add("content-type", "text/plain");
  }
  auto req = (*client)->request(headers);
  if (!req.ok()) {
    std::fprintf(stderr, "client: %s\n", req.status().ToString().c_str());
    return 2;
  }
  std::shared_ptr<ClientHttp2Stream> stream = *req;
  stream->onResponse([](const Headers& response, uint8_t) {
    for (const auto& field : response) {
      std::printf("%s: %s\n", field.name.c_str(), field.value.c_str());
    }
    std::printf("\n");
  });
  stream->onData([](std::string_view chunk) { std::fwrite(chunk.data(), 1, chunk.size(), stdout); });
  stream->onEnd([&] { exit_code = 0; });
  stream->onClose([&] { (*client)->close(); });
  if (!data.empty()) stream->end(data);
  loop.run();
  std::fflush(stdout);
  return exit_code;
}
