#include "rpc/compression.h"

#include <malloc.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rpc/testing/peak_heap.h"

using h2rpc::rpc::testing::PeakHeap;

namespace h2rpc::rpc {
namespace {

constexpr Compression kZlibAlgorithms[] = {Compression::kGzip, Compression::kDeflate};

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// `zeros` zero bytes compressed by zlib directly, streamed so the input is never in memory.
std::string CompressedZeros(size_t zeros, int window_bits) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY),
            Z_OK);
  static const std::string kChunk(1 << 20, '\0');
  std::string out;
  char buffer[1 << 16];
  size_t left = zeros;
  int ret = Z_OK;
  while (ret != Z_STREAM_END) {
    if (zs.avail_in == 0 && left > 0) {
      const size_t n = std::min(left, kChunk.size());
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(kChunk.data()));
      zs.avail_in = static_cast<uInt>(n);
      left -= n;
    }
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof(buffer);
    ret = deflate(&zs, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    EXPECT_TRUE(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR) << ret;
    out.append(buffer, sizeof(buffer) - zs.avail_out);
  }
  deflateEnd(&zs);
  return out;
}

// The memory tests below rely on the counting operator new; check that it sees std::string.
TEST(PeakHeapTest, SeesStringAllocations) {
  const PeakHeap heap;
  {
    std::string big(1 << 20, 'x');
    EXPECT_EQ(big[12345], 'x');
  }
  EXPECT_GE(heap.Growth(), 1 << 20);
}

TEST(CompressionTest, Names) {
  EXPECT_EQ(CompressionName(Compression::kIdentity), "identity");
  EXPECT_EQ(CompressionName(Compression::kGzip), "gzip");
  EXPECT_EQ(CompressionName(Compression::kDeflate), "deflate");
  EXPECT_EQ(CompressionFromName("identity"), Compression::kIdentity);
  EXPECT_EQ(CompressionFromName("gzip"), Compression::kGzip);
  EXPECT_EQ(CompressionFromName("deflate"), Compression::kDeflate);
  for (const char* name : {"", "GZIP", "Gzip", " gzip", "snappy", "x-gzip", "br", "zstd"}) {
    EXPECT_EQ(CompressionFromName(name), std::nullopt) << name;
  }
}

TEST(CompressionTest, CompressionSet) {
  CompressionSet set;
  EXPECT_TRUE(set.empty());
  set.Insert(Compression::kGzip);
  EXPECT_TRUE(set.Contains(Compression::kGzip));
  EXPECT_FALSE(set.Contains(Compression::kDeflate));
  EXPECT_FALSE(set.Contains(Compression::kIdentity));
  set.Erase(Compression::kGzip);
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(CompressionSet::All(),
            (CompressionSet{Compression::kDeflate, Compression::kGzip, Compression::kIdentity}));
  static_assert(CompressionSet{Compression::kGzip}.Contains(Compression::kGzip));
}

TEST(CompressionTest, AcceptEncodingHeader) {
  EXPECT_EQ(AcceptEncodingHeader(CompressionSet::All()), "identity,deflate,gzip");
  EXPECT_EQ(AcceptEncodingHeader({}), "identity");
  EXPECT_EQ(AcceptEncodingHeader({Compression::kGzip}), "identity,gzip");
  EXPECT_EQ(AcceptEncodingHeader({Compression::kDeflate, Compression::kIdentity}),
            "identity,deflate");
}

TEST(CompressionTest, ParseAcceptEncoding) {
  EXPECT_EQ(ParseAcceptEncoding("identity,deflate,gzip"), CompressionSet::All());
  EXPECT_EQ(ParseAcceptEncoding(""), CompressionSet{Compression::kIdentity});
  EXPECT_EQ(ParseAcceptEncoding("gzip"),
            (CompressionSet{Compression::kIdentity, Compression::kGzip}));
  EXPECT_EQ(ParseAcceptEncoding(" gzip , snappy,\tdeflate ,,zstd"), CompressionSet::All());
  EXPECT_EQ(ParseAcceptEncoding("snappy"), CompressionSet{Compression::kIdentity});
  EXPECT_EQ(ParseAcceptEncoding("GZIP,gzipx"), CompressionSet{Compression::kIdentity});
  EXPECT_EQ(ParseAcceptEncoding(AcceptEncodingHeader({Compression::kDeflate})),
            (CompressionSet{Compression::kIdentity, Compression::kDeflate}));
}

TEST(CompressionTest, IdentityIsACopy) {
  const std::string input = RandomBytes(1000, 1);
  EXPECT_EQ(Compress(Compression::kIdentity, input).value(), input);
  EXPECT_EQ(Decompress(Compression::kIdentity, input, 1000).value(), input);
  EXPECT_EQ(Decompress(Compression::kIdentity, input, 999).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(CompressionTest, RoundTrips) {
  for (const Compression c : kZlibAlgorithms) {
    for (const size_t size : {0, 1, 100, 4095, 4096, 65536, 300000}) {
      for (const bool random : {false, true}) {
        const std::string input = random ? RandomBytes(size, 7) : std::string(size, 'a');
        const absl::StatusOr<std::string> compressed = Compress(c, input);
        ASSERT_TRUE(compressed.ok()) << compressed.status();
        if (!random && size >= 4096) {
          EXPECT_LT(compressed->size(), size / 10);
        }
        const absl::StatusOr<std::string> back = Decompress(c, *compressed, size);
        ASSERT_TRUE(back.ok()) << CompressionName(c) << " " << size << ": " << back.status();
        EXPECT_EQ(*back, input);
      }
    }
  }
}

// The wrappers are what C-core and grpc-js produce: gzip magic 1f 8b, zlib header 78 xx.
TEST(CompressionTest, WireFormats) {
  const std::string gzip = Compress(Compression::kGzip, "hello").value();
  ASSERT_GE(gzip.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(gzip[0]), 0x1F);
  EXPECT_EQ(static_cast<uint8_t>(gzip[1]), 0x8B);
  const std::string deflate = Compress(Compression::kDeflate, "hello").value();
  ASSERT_GE(deflate.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(deflate[0]), 0x78);
  EXPECT_EQ(((static_cast<uint8_t>(deflate[0]) << 8) | static_cast<uint8_t>(deflate[1])) % 31, 0);
  // Each is rejected by the other algorithm.
  EXPECT_EQ(Decompress(Compression::kDeflate, gzip, 100).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(Decompress(Compression::kGzip, deflate, 100).status().code(),
            absl::StatusCode::kInternal);
}

// Bytes from another zlib user (here zlib itself, as Node's zlib.gzip / zlib.deflate use).
TEST(CompressionTest, DecompressesForeignStreams) {
  EXPECT_EQ(Decompress(Compression::kGzip, CompressedZeros(12345, 15 + 16), 12345).value(),
            std::string(12345, '\0'));
  EXPECT_EQ(Decompress(Compression::kDeflate, CompressedZeros(12345, 15), 12345).value(),
            std::string(12345, '\0'));
}

TEST(CompressionTest, LimitIsOnUncompressedSizeAndInclusive) {
  for (const Compression c : kZlibAlgorithms) {
    const std::string input(10000, 'q');
    const std::string compressed = Compress(c, input).value();
    EXPECT_EQ(Decompress(c, compressed, 10000).value(), input);
    const absl::Status status = Decompress(c, compressed, 9999).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(status.message(), "Received message after decompression larger than max (9999)");
    EXPECT_EQ(Decompress(c, compressed, 0).status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(Decompress(c, Compress(c, "").value(), 0).value(), "");
    EXPECT_EQ(Decompress(c, compressed, SIZE_MAX).value(), input);
  }
}

TEST(CompressionTest, CorruptInputIsInternal) {
  for (const Compression c : kZlibAlgorithms) {
    const std::string good = Compress(c, RandomBytes(5000, 3)).value();
    std::string flipped = good;
    flipped[flipped.size() / 2] ^= 0x55;
    std::string bad_checksum = good;
    bad_checksum[bad_checksum.size() - 1] ^= 0x01;  // gzip ISIZE / zlib Adler-32
    for (const std::string& input : {std::string(), std::string("x"), std::string(100, '\xFF'),
                                     good.substr(0, good.size() / 2), good.substr(0, good.size() - 1),
                                     good + "trailing", good + good, flipped, bad_checksum}) {
      const absl::StatusOr<std::string> out = Decompress(c, input, 1 << 20);
      EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal)
          << CompressionName(c) << " size " << input.size() << ": " << out.status();
    }
  }
}

// 100 MB of zeros is ~100 KB compressed. With a 4 MiB limit decompression must stop after ~4 MiB
// of output, holding ~2 x 4 MiB at most, and quickly.
TEST(CompressionTest, ZipBombStopsEarlyWithBoundedMemory) {
  constexpr size_t kLimit = 4 << 20;
  for (const Compression c : kZlibAlgorithms) {
    const std::string bomb = CompressedZeros(100'000'000, c == Compression::kGzip ? 31 : 15);
    EXPECT_LT(bomb.size(), 200'000u);
    const PeakHeap heap;
    const auto start = std::chrono::steady_clock::now();
    const absl::StatusOr<std::string> out = Decompress(c, bomb, kLimit);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_LE(heap.Growth(), static_cast<int64_t>(2 * kLimit + 65536));
    // Inflating all 100 MB would take far longer, even under sanitizers.
    EXPECT_LT(elapsed, std::chrono::seconds(5));
  }
}

}  // namespace
}  // namespace h2rpc::rpc
