#include "rpc/compression.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace h2rpc::rpc {
namespace {

constexpr int kGzipWindowBits = 15 | 16;  // 16: gzip wrapper instead of zlib's
constexpr int kDeflateWindowBits = 15;    // zlib wrapper
constexpr size_t kMinBuffer = 4096;
// zlib's avail_in/avail_out are 32-bit: larger buffers are handed over in slices.
constexpr size_t kMaxSlice = UINT_MAX;

int WindowBits(Compression compression) {
  return compression == Compression::kGzip ? kGzipWindowBits : kDeflateWindowBits;
}

// Resizes `out` (of which the first `used` bytes matter) to exactly `size` bytes. A fresh string is
// used because libstdc++'s resize/reserve round the capacity up to twice the old one, which would
// let a capped buffer (max_output + 1) cost 2 x the cap.
void GrowTo(std::string* out, size_t used, size_t size) {
  std::string bigger;
  bigger.reserve(size);
  bigger.append(out->data(), used);
  bigger.resize(size);
  out->swap(bigger);
}

// Points zlib at the unused tail of `out`.
void SetOutput(z_stream* zs, std::string* out, size_t used) {
  zs->next_out = reinterpret_cast<Bytef*>(out->data() + used);
  zs->avail_out = static_cast<uInt>(std::min(out->size() - used, kMaxSlice));
}

// Hands zlib the next slice of `input` once it has consumed the previous one.
void RefillInput(z_stream* zs, absl::string_view* input) {
  if (zs->avail_in != 0 || input->empty()) return;
  const size_t slice = std::min(input->size(), kMaxSlice);
  zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input->data()));
  zs->avail_in = static_cast<uInt>(slice);
  input->remove_prefix(slice);
}

absl::Status ZlibError(absl::string_view what, const z_stream& zs, int ret) {
  return absl::InternalError(
      absl::StrCat(what, " failed: ", zs.msg != nullptr ? zs.msg : "zlib error ", ret));
}

}  // namespace

absl::string_view CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kIdentity:
      return "identity";
    case Compression::kGzip:
      return "gzip";
    case Compression::kDeflate:
      return "deflate";
  }
  return "identity";
}

std::optional<Compression> CompressionFromName(absl::string_view name) {
  for (const Compression c : {Compression::kIdentity, Compression::kGzip, Compression::kDeflate}) {
    if (name == CompressionName(c)) return c;
  }
  return std::nullopt;
}

std::string AcceptEncodingHeader(CompressionSet accepted) {
  std::string header = "identity";
  for (const Compression c : {Compression::kDeflate, Compression::kGzip}) {
    if (accepted.Contains(c)) absl::StrAppend(&header, ",", CompressionName(c));
  }
  return header;
}

CompressionSet ParseAcceptEncoding(absl::string_view header) {
  CompressionSet set{Compression::kIdentity};
  for (absl::string_view name : absl::StrSplit(header, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (const std::optional<Compression> c = CompressionFromName(name)) set.Insert(*c);
  }
  return set;
}

absl::StatusOr<std::string> Compress(Compression compression, absl::string_view input) {
  if (compression == Compression::kIdentity) return std::string(input);
  z_stream zs{};
  int ret = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, WindowBits(compression),
                         /*memLevel=*/8, Z_DEFAULT_STRATEGY);
  if (ret != Z_OK) return ZlibError("deflateInit2", zs, ret);
  std::string out;
  size_t used = 0;
  // Usually enough for a single pass; grown by doubling otherwise.
  out.resize(std::max<size_t>(deflateBound(&zs, input.size()), kMinBuffer));
  while (true) {
    RefillInput(&zs, &input);
    if (used == out.size()) GrowTo(&out, used, out.size() * 2);
    SetOutput(&zs, &out, used);
    const uInt before = zs.avail_out;
    ret = deflate(&zs, input.empty() ? Z_FINISH : Z_NO_FLUSH);
    used += before - zs.avail_out;
    if (ret == Z_STREAM_END) break;
    if (ret != Z_OK && ret != Z_BUF_ERROR) {  // Z_BUF_ERROR: no progress, more room comes next
      const absl::Status error = ZlibError("deflate", zs, ret);
      deflateEnd(&zs);
      return error;
    }
  }
  deflateEnd(&zs);
  out.resize(used);
  return out;
}

absl::StatusOr<std::string> Decompress(Compression compression, absl::string_view input,
                                       size_t max_output) {
  const auto too_large = [max_output] {
    return absl::ResourceExhaustedError(
        absl::StrCat("Received message after decompression larger than max (", max_output, ")"));
  };
  if (compression == Compression::kIdentity) {
    if (input.size() > max_output) return too_large();
    return std::string(input);
  }
  z_stream zs{};
  int ret = inflateInit2(&zs, WindowBits(compression));
  if (ret != Z_OK) return ZlibError("inflateInit2", zs, ret);
  // One byte more than allowed is enough to know the message is too large.
  const size_t cap = max_output == SIZE_MAX ? SIZE_MAX : max_output + 1;
  std::string out;
  size_t used = 0;
  // The declared sizes of a compressed stream are not trusted: start small, double as needed.
  GrowTo(&out, 0, std::min(cap, std::max(kMinBuffer, input.size() * 2)));
  absl::Status error;
  while (true) {
    RefillInput(&zs, &input);
    if (used == out.size()) GrowTo(&out, used, std::min(cap, out.size() * 2));
    SetOutput(&zs, &out, used);
    const uInt before = zs.avail_out;
    ret = inflate(&zs, Z_NO_FLUSH);
    used += before - zs.avail_out;
    if (used > max_output) {
      error = too_large();
      break;
    }
    if (ret == Z_STREAM_END) {
      if (zs.avail_in != 0 || !input.empty()) {
        error = absl::InternalError("Decompression failed: data after the end of the stream");
      }
      break;
    }
    if (ret == Z_BUF_ERROR && zs.avail_in == 0 && input.empty() && zs.avail_out != 0) {
      error = absl::InternalError("Decompression failed: truncated input");
      break;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      error = ZlibError("Decompression", zs, ret);  // Z_DATA_ERROR, Z_NEED_DICT, Z_MEM_ERROR
      break;
    }
  }
  inflateEnd(&zs);
  if (!error.ok()) return error;
  out.resize(used);
  return out;
}

}  // namespace h2rpc::rpc
