// runfiles.h — finds a data file of this workspace (the default TLS certificates of the interop
// programs) whether the program runs under `bazel test`, `bazel run`, or by hand from
// bazel-bin/ or the workspace root.
#ifndef H2RPC_TESTS_INTEROP_GRPC_RUNFILES_H_
#define H2RPC_TESTS_INTEROP_GRPC_RUNFILES_H_

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace h2rpc::interop {

// The path of `workspace_path` ("tests/testdata/tls/ca.pem"), or `workspace_path` itself when no
// runfiles tree holds it (then it is relative to the current directory).
inline std::string Runfile(const std::string& argv0, const std::string& workspace_path) {
  std::vector<std::string> roots;
  for (const char* env : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = std::getenv(env); dir != nullptr && *dir != '\0') roots.push_back(dir);
  }
  roots.push_back(argv0 + ".runfiles");
  for (const std::string& root : roots) {
    const std::string path = root + "/h2rpc/" + workspace_path;
    if (access(path.c_str(), R_OK) == 0) return path;
  }
  return workspace_path;
}

}  // namespace h2rpc::interop

#endif  // H2RPC_TESTS_INTEROP_GRPC_RUNFILES_H_
