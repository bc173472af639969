// zlib links and works: gzip-compress then inflate gives the input back (gRPC's gzip encoding).
#include <zlib.h>

#include <string>

#include "gtest/gtest.h"

namespace {

TEST(ZlibTest, GzipRoundTrip) {
  std::string input(10000, 'a');
  z_stream z = {};
  ASSERT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string packed(deflateBound(&z, input.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(input.data());
  z.avail_in = input.size();
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = packed.size();
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  packed.resize(z.total_out);
  deflateEnd(&z);
  ASSERT_LT(packed.size(), input.size() / 10);
  ASSERT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);  // gzip magic

  z_stream u = {};
  ASSERT_EQ(inflateInit2(&u, 15 + 16), Z_OK);
  std::string out(input.size(), '\0');
  u.next_in = reinterpret_cast<Bytef*>(packed.data());
  u.avail_in = packed.size();
  u.next_out = reinterpret_cast<Bytef*>(out.data());
  u.avail_out = out.size();
  EXPECT_EQ(inflate(&u, Z_FINISH), Z_STREAM_END);
  inflateEnd(&u);
  EXPECT_EQ(out, input);
}

}  // namespace
