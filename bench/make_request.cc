// make_request: writes one gRPC-framed grpc.testing.SimpleRequest (the 5-byte Length-Prefixed-
// Message prefix + the serialized message) to a file, the request body h2load posts.
//
//   make_request --req_size=1024 --resp_size=1024 OUT_FILE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "grpc/testing/messages.pb.h"

int main(int argc, char** argv) {
  long req_size = 0, resp_size = 0;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--req_size=", 11) == 0) {
      req_size = std::strtol(argv[i] + 11, nullptr, 10);
    } else if (std::strncmp(argv[i], "--resp_size=", 12) == 0) {
      resp_size = std::strtol(argv[i] + 12, nullptr, 10);
    } else {
      out = argv[i];
    }
  }
  if (out == nullptr || req_size < 0 || resp_size < 0) {
    std::fprintf(stderr, "usage: make_request --req_size=N --resp_size=N OUT_FILE\n");
    return 2;
  }
  grpc::testing::SimpleRequest request;
  request.set_response_size(static_cast<int32_t>(resp_size));
  if (req_size > 0) request.mutable_payload()->set_body(std::string(static_cast<size_t>(req_size), '\0'));
  const std::string message = request.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(message.size());
  const unsigned char prefix[5] = {0, static_cast<unsigned char>(n >> 24),
                                   static_cast<unsigned char>(n >> 16),
                                   static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  FILE* f = std::fopen(out, "wb");
  if (f == nullptr) {
    std::perror(out);
    return 1;
  }
  std::fwrite(prefix, 1, sizeof(prefix), f);
  std::fwrite(message.data(), 1, message.size(), f);
  std::fclose(f);
  return 0;
}
