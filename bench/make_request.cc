// make_request: writes one gRPC-framed grpc.testing.SimpleRequest (the 5-byte Length-Prefixed-
// Message prefix + the serialized message) to a file, the request body h2load posts.
// --no_envelope writes the bare message (a Connect unary application/proto body), --json the
// message in protobuf's JSON mapping (Connect unary application/json); bench/protocols.sh.
//
//   make_request --req_size=1024 --resp_size=1024 [--no_envelope | --json] OUT_FILE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "google/protobuf/util/json_util.h"
#include "grpc/testing/messages.pb.h"

int main(int argc, char** argv) {
  long req_size = 0, resp_size = 0;
  const char* out = nullptr;
  bool envelope = true, json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--req_size=", 11) == 0) {
      req_size = std::strtol(argv[i] + 11, nullptr, 10);
    } else if (std::strncmp(argv[i], "--resp_size=", 12) == 0) {
      resp_size = std::strtol(argv[i] + 12, nullptr, 10);
    } else if (std::strcmp(argv[i], "--no_envelope") == 0) {
      envelope = false;
    } else if (std::strcmp(argv[i], "--json") == 0) {
      envelope = false;
      json = true;
    } else if (argv[i][0] == '-') {
      out = nullptr;  // an unknown flag: the usage line, not a file named like it
      break;
    } else {
      out = argv[i];
    }
  }
  if (out == nullptr || req_size < 0 || resp_size < 0) {
    std::fprintf(stderr, "usage: make_request --req_size=N --resp_size=N [--no_envelope | --json] OUT_FILE\n");
    return 2;
  }
  grpc::testing::SimpleRequest request;
  request.set_response_size(static_cast<int32_t>(resp_size));
  if (req_size > 0) request.mutable_payload()->set_body(std::string(static_cast<size_t>(req_size), '\0'));
  std::string message;
  if (json) {
    if (auto st = google::protobuf::util::MessageToJsonString(request, &message); !st.ok()) {
      std::fprintf(stderr, "make_request: JSON: %s\n", st.ToString().c_str());
      return 1;
    }
  } else {
    message = request.SerializeAsString();
  }
  const uint32_t n = static_cast<uint32_t>(message.size());
  const unsigned char prefix[5] = {0, static_cast<unsigned char>(n >> 24),
                                   static_cast<unsigned char>(n >> 16),
                                   static_cast<unsigned char>(n >> 8), static_cast<unsigned char>(n)};
  FILE* f = std::fopen(out, "wb");
  if (f == nullptr) {
    std::perror(out);
    return 1;
  }
  if (envelope) std::fwrite(prefix, 1, sizeof(prefix), f);
  std::fwrite(message.data(), 1, message.size(), f);
  std::fclose(f);
  return 0;
}
