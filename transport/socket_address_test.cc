// SocketAddress: IP literals, IPv6 zones and Unix paths, and how they print.
#include "transport/socket_address.h"

#include <net/if.h>

#include <string>

#include "gtest/gtest.h"

namespace h2rpc::transport {
namespace {

TEST(SocketAddressTest, IpLiteralsPrintAsTheyWereWritten) {
  auto v4 = SocketAddress::fromIp("127.0.0.1", 80);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->toString(), "127.0.0.1:80");
  auto v6 = SocketAddress::fromIp("[::1]", 443);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->address(), "::1");
  EXPECT_EQ(v6->toString(), "[::1]:443");
  EXPECT_FALSE(SocketAddress::fromIp("localhost", 80).ok());
  EXPECT_FALSE(SocketAddress::fromIp("1.2.3", 80).ok());
}

// The loopback interface exists in every network namespace, Bazel's sandbox included.
TEST(SocketAddressTest, AnIpv6ZoneIsKeptByNameOrNumberAndPrinted) {
  const unsigned lo = if_nametoindex("lo");
  ASSERT_NE(lo, 0u);
  auto by_name = SocketAddress::fromIp("fe80::1%lo", 50051);
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->address(), "fe80::1%lo");
  EXPECT_EQ(by_name->toString(), "[fe80::1%lo]:50051");
  auto by_number = SocketAddress::fromIp("[fe80::1%" + std::to_string(lo) + "]", 50051);
  ASSERT_TRUE(by_number.ok()) << by_number.status();
  EXPECT_EQ(*by_number, *by_name);
  // What is printed parses back to the same address (the scope id was dropped before).
  auto again = SocketAddress::fromIp(by_name->address(), 50051);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *by_name);
  EXPECT_NE(*by_name, *SocketAddress::fromIp("fe80::1", 50051));
}

TEST(SocketAddressTest, AnUnknownOrEmptyZoneIsRefusedNotDropped) {
  auto unknown = SocketAddress::fromIp("fe80::1%no-such-if9", 1);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(unknown.status().message()),
            "unknown network interface 'no-such-if9' in 'fe80::1%no-such-if9'");
  EXPECT_FALSE(SocketAddress::fromIp("fe80::1%", 1).ok());
  EXPECT_FALSE(SocketAddress::fromIp("fe80::1%0", 1).ok());
  EXPECT_FALSE(SocketAddress::fromIp("fe80::1%99999999999", 1).ok());
  EXPECT_FALSE(SocketAddress::fromIp(std::string("fe80::1%lo\0x", 11), 1).ok());
}

TEST(SocketAddressTest, UnixPathsAndAbstractNames) {
  auto path = SocketAddress::fromPath("/run/x.sock");
  ASSERT_TRUE(path.ok());
  EXPECT_TRUE(path->isUnix());
  EXPECT_EQ(path->toString(), "/run/x.sock");
  auto abstract = SocketAddress::fromPath(std::string("\0name", 5));
  ASSERT_TRUE(abstract.ok());
  EXPECT_TRUE(abstract->isAbstract());
  EXPECT_EQ(abstract->toString(), "@name");
  EXPECT_FALSE(SocketAddress::fromPath("").ok());
  EXPECT_FALSE(SocketAddress::fromPath(std::string(200, 'a')).ok());
}

}  // namespace
}  // namespace h2rpc::transport
