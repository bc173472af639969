// tests/fuzz/fuzz_util.h — small helpers shared by the fuzz targets: a cursor over the fuzz input
// and the input-chosen split of a byte stream into reads.
//
// Threading: plain values, one thread. Lifetime: views point into the fuzz input, which lives for
// one LLVMFuzzerTestOneInput call.
#ifndef H2RPC_TESTS_FUZZ_FUZZ_UTIL_H_
#define H2RPC_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace h2rpc::fuzz {

// A property of the code under test did not hold: report and abort, so that libFuzzer saves the
// input and the regression test fails (assert() would vanish under NDEBUG).
#define H2RPC_FUZZ_CHECK(cond)                                                         \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// Reads the fuzz input from the front; past the end every read returns 0 / empty.
class Input {
 public:
  Input(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  uint8_t Byte() {
    if (rest_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  uint16_t U16() { return static_cast<uint16_t>(Byte() << 8 | Byte()); }
  uint32_t U32() { return static_cast<uint32_t>(U16()) << 16 | U16(); }
  std::string_view Take(size_t n) {
    n = n < rest_.size() ? n : rest_.size();
    std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }
  // Up to the next `sep` (consumed, not returned), or everything left.
  std::string_view Until(char sep) {
    const size_t at = rest_.find(sep);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }
  std::string_view Rest() {
    std::string_view out = rest_;
    rest_ = {};
    return out;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// Splits `bytes` into the reads a socket would deliver. `seed` 0: one read. Otherwise the low
// 4 bits pick the largest read (1 << n bytes: from single bytes to 32 KiB), and a xorshift
// generator seeded by the whole seed draws each read's size in [1, largest]. Deterministic.
inline std::vector<std::string_view> SplitReads(std::string_view bytes, uint16_t seed) {
  std::vector<std::string_view> reads;
  if (seed == 0) {
    if (!bytes.empty()) reads.push_back(bytes);
    return reads;
  }
  const uint32_t largest = uint32_t{1} << (seed & 15);
  uint32_t x = 0x9e3779b9u ^ seed;
  while (!bytes.empty()) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    size_t n = 1 + x % largest;
    if (n > bytes.size()) n = bytes.size();
    reads.push_back(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
  return reads;
}

}  // namespace h2rpc::fuzz

#endif  // H2RPC_TESTS_FUZZ_FUZZ_UTIL_H_
