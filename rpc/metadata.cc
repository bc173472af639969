#include "rpc/metadata.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "rpc/internal/base64.h"

namespace h2rpc::rpc {
namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard-alphabet base64, padded (length a multiple of 4, at most two trailing '=') or
// unpadded, as grpc-go's decodeBinHeader accepts. Unlike absl::Base64Unescape it rejects embedded
// whitespace. Non-zero bits left over in the last character are ignored, as in Go's decoder.
std::optional<std::string> Base64Decode(absl::string_view text) {
  if (text.size() % 4 == 0) {
    for (int i = 0; i < 2 && !text.empty() && text.back() == '='; ++i) text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return std::nullopt;  // 6 bits cannot make a byte
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t bits = 0;
  int bit_count = 0;
  for (const char c : text) {
    const int value = Base64Value(c);  // '=' anywhere else is invalid too
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  return out;
}

bool IsSkippedWhenReserved(absl::string_view key) {
  return Metadata::IsReservedKey(key) || key == "content-type" || key == "te" ||
         key == "connection" || key == "keep-alive" || key == "proxy-connection" ||
         key == "transfer-encoding" || key == "upgrade";
}

}  // namespace

bool Metadata::IsValidKey(absl::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '.' ||
                    c == '-';
    if (!ok) return false;
  }
  return true;
}

bool Metadata::IsBinaryKey(absl::string_view key) { return absl::EndsWith(key, "-bin"); }

bool Metadata::IsReservedKey(absl::string_view key) { return absl::StartsWith(key, "grpc-"); }

bool Metadata::IsValidAsciiValue(absl::string_view value) {
  for (const char c : value) {
    if (c < 0x20 || c > 0x7E) return false;  // char may be signed: bytes >= 0x80 are < 0x20 too
  }
  return true;
}

absl::Status Metadata::Add(absl::string_view key, absl::string_view value) {
  std::string lower = absl::AsciiStrToLower(key);
  if (!IsValidKey(lower)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Metadata key \"", absl::CHexEscape(key), "\" contains illegal characters"));
  }
  if (IsReservedKey(lower)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Metadata key \"", lower, "\" is reserved for gRPC (grpc-*)"));
  }
  if (!IsBinaryKey(lower) && !IsValidAsciiValue(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Metadata value for \"", lower, "\" is not printable ASCII (use a -bin key for bytes)"));
  }
  entries_.emplace_back(std::move(lower), std::string(value));
  return absl::OkStatus();
}

std::vector<std::string> Metadata::Get(absl::string_view key) const {
  std::vector<std::string> values;
  for (const auto& [k, v] : entries_) {
    if (absl::EqualsIgnoreCase(k, key)) values.push_back(v);
  }
  return values;
}

std::optional<std::string> Metadata::GetFirst(absl::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (absl::EqualsIgnoreCase(k, key)) return v;
  }
  return std::nullopt;
}

bool Metadata::Contains(absl::string_view key) const { return GetFirst(key).has_value(); }

size_t Metadata::Remove(absl::string_view key) {
  return std::erase_if(entries_,
                       [key](const Entry& entry) { return absl::EqualsIgnoreCase(entry.first, key); });
}

std::vector<Metadata::Entry> Metadata::ToWire() const {
  std::vector<Entry> fields;
  fields.reserve(entries_.size());
  for (const auto& [key, value] : entries_) {
    fields.emplace_back(key, IsBinaryKey(key) ? internal::Base64EncodeUnpadded(value) : value);
  }
  return fields;
}

absl::StatusOr<Metadata> Metadata::FromWire(absl::Span<const Entry> fields, bool skip_reserved) {
  Metadata metadata;
  for (const auto& [name, value] : fields) {
    if (absl::Status st = metadata.AddFromWire(name, value, skip_reserved); !st.ok()) return st;
  }
  return metadata;
}

absl::Status Metadata::AddFromWire(absl::string_view name, absl::string_view value,
                                   bool skip_reserved) {
  if (absl::StartsWith(name, ":")) return absl::OkStatus();  // pseudo-header
  // Received names are lower-case (HTTP/2 requires it): lower-case a copy only if needed.
  const bool lower = std::none_of(name.begin(), name.end(), absl::ascii_isupper);
  std::string lowered;
  if (!lower) lowered = absl::AsciiStrToLower(name);
  const absl::string_view key = lower ? name : absl::string_view(lowered);
  if (!IsValidKey(key)) return absl::OkStatus();
  if (skip_reserved && IsSkippedWhenReserved(key)) return absl::OkStatus();
  if (!IsBinaryKey(key)) {
    if (IsValidAsciiValue(value)) entries_.emplace_back(std::string(key), std::string(value));
    return absl::OkStatus();
  }
  for (const absl::string_view piece : absl::StrSplit(value, ',')) {
    std::optional<std::string> bytes = Base64Decode(absl::StripAsciiWhitespace(piece));
    if (!bytes) {
      // The value is not quoted: it may be kilobytes of attacker-chosen bytes.
      return absl::InternalError(absl::StrCat("Malformed base64 in metadata \"", key, "\""));
    }
    entries_.emplace_back(std::string(key), std::move(*bytes));
  }
  return absl::OkStatus();
}

}  // namespace h2rpc::rpc
