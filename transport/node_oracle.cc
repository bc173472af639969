#include "transport/node_oracle.h"

#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace h2rpc::transport::testing {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Single-quoted for /bin/sh.
std::string shellQuote(std::string_view s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

absl::StatusOr<std::string> runCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("popen failed: ", command));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("`", command, "` failed (wait status ", status, "); stdout:\n", out));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> runNodeScript(std::string_view script,
                                          const std::vector<std::string>& args) {
  const char* node = access(kVendoredNodePath, X_OK) == 0 ? kVendoredNodePath : kSystemNodePath;
  if (access(node, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(node,
                     " is missing: this test compares transport/ with real Node.js 20 (the "
                     "behaviour oracle) and cannot run without it. Run `make setup`."));
  }
  absl::StatusOr<std::string> version = runCommand(absl::StrCat(node, " --version"));
  if (!version.ok()) return version.status();
  if (version->rfind("v", 0) != 0 || std::atoi(version->c_str() + 1) < 20) {
    return absl::FailedPreconditionError(
        absl::StrCat(node, " is ", *version,
                     ": the oracle tests need Node.js 20 (Node 18's http2 differs in what they "
                     "compare). Run `make setup`: it installs Node 20 into /opt/h2rpc/node20."));
  }
  std::string command =
      absl::StrCat(node, " ",
                   shellQuote(absl::StrCat(env("TEST_SRCDIR"), "/", env("TEST_WORKSPACE"), "/",
                                           absl::string_view(script.data(), script.size()))));
  for (const std::string& arg : args) absl::StrAppend(&command, " ", shellQuote(arg));
  return runCommand(command);
}

std::string writeTempFile(std::string_view name, std::string_view content) {
  std::string path =
      absl::StrCat(env("TEST_TMPDIR"), "/", absl::string_view(name.data(), name.size()));
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string toHex(std::string_view bytes) {
  return absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size()));
}

std::string fromHex(std::string_view hex) {
  return absl::HexStringToBytes(absl::string_view(hex.data(), hex.size()));
}

std::vector<std::string> splitLines(std::string_view text) {
  std::vector<std::string> lines =
      absl::StrSplit(absl::string_view(text.data(), text.size()), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<std::string> splitTabs(std::string_view line) {
  return absl::StrSplit(absl::string_view(line.data(), line.size()), '\t');
}

}  // namespace h2rpc::transport::testing
