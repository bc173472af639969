// Protobuf links through native proto_library + cc_proto_library (offline shim) and round-trips a
// message, including a well-known type whose code comes from libprotobuf.
#include "gtest/gtest.h"
#include "tests/deps/deps_test.pb.h"

namespace {

TEST(ProtobufTest, RoundTripsThroughTheWireFormat) {
  h2rpc::deps_test::Note note;
  note.set_text("héllo");
  note.add_values(-1);
  note.add_values(1LL << 40);
  note.mutable_at()->set_seconds(1700000000);
  note.set_blob(std::string("\0\xff", 2));

  std::string wire;
  ASSERT_TRUE(note.SerializeToString(&wire));
  h2rpc::deps_test::Note back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.text(), "héllo");
  ASSERT_EQ(back.values_size(), 2);
  EXPECT_EQ(back.values(1), 1LL << 40);
  EXPECT_EQ(back.at().seconds(), 1700000000);
  EXPECT_TRUE(back.has_blob());
  EXPECT_EQ(back.blob(), std::string("\0\xff", 2));
}

TEST(ProtobufTest, RejectsTruncatedInput) {
  h2rpc::deps_test::Note note;
  note.set_text("a fairly long text so truncation cuts a field");
  std::string wire = note.SerializeAsString();
  h2rpc::deps_test::Note back;
  EXPECT_FALSE(back.ParseFromString(wire.substr(0, wire.size() - 3)));
}

}  // namespace
