// Test-only helpers to ask real Node.js (the behaviour oracle of transport/) for answers at test
// time: locate a script in the runfiles, run /usr/bin/node on it, and hex-encode data for the
// line-based exchange formats the oracle scripts use.
//
// Threading: call from the test's main thread (popen). Lifetime: plain values.
#ifndef H2RPC_TRANSPORT_NODE_ORACLE_H_
#define H2RPC_TRANSPORT_NODE_ORACLE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace h2rpc::transport::testing {

// Where the oracle Node.js is: make setup's Node 20 if the system's is older, else the system's.
inline constexpr char kVendoredNodePath[] = "/opt/h2rpc/node20/bin/node";
inline constexpr char kSystemNodePath[] = "/usr/bin/node";

// Runs `node <script> <args...>` (script is a path in this workspace's runfiles, e.g.
// "transport/testdata/settings_oracle.js") and returns its stdout. Fails (never skips) when Node is
// missing, older than 20, or exits non-zero; stderr goes to the test log.
absl::StatusOr<std::string> runNodeScript(std::string_view script,
                                          const std::vector<std::string>& args = {});

// Writes `content` to a fresh file under $TEST_TMPDIR and returns its path.
std::string writeTempFile(std::string_view name, std::string_view content);

std::string toHex(std::string_view bytes);
std::string fromHex(std::string_view hex);
// Splits on '\n' (dropping a final empty line) or on '\t'.
std::vector<std::string> splitLines(std::string_view text);
std::vector<std::string> splitTabs(std::string_view line);

}  // namespace h2rpc::transport::testing

#endif  // H2RPC_TRANSPORT_NODE_ORACLE_H_
