// Resolver: what each target form resolves to, on a real libuv loop (no network: localhost is
// answered without DNS, .invalid names fail without asking it).
#include "rpc/resolver.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "transport/errors.h"
#include "transport/uv_loop.h"

namespace h2rpc::rpc {
namespace {

using transport::SocketAddress;

absl::StatusOr<std::vector<SocketAddress>> ResolveNow(transport::UvLoop* loop,
                                                      const std::string& text) {
  auto target = ParseTarget(text);
  if (!target.ok()) return target.status();
  auto resolver = Resolver::Create(loop, *target);
  if (!resolver.ok()) return resolver.status();
  std::optional<absl::StatusOr<std::vector<SocketAddress>>> result;
  bool called_inside = true;
  (*resolver)->Resolve([&](absl::StatusOr<std::vector<SocketAddress>> r) { result = r; });
  called_inside = result.has_value();
  EXPECT_FALSE(called_inside) << "the callback ran inside Resolve()";
  for (int i = 0; i < 10000 && !result; ++i) uv_run(loop->uv(), UV_RUN_ONCE);
  if (!result) return absl::DeadlineExceededError("no answer");
  return *result;
}

TEST(ResolverTest, LocalhostIsLoopback) {
  transport::UvLoop loop;
  auto r = ResolveNow(&loop, "localhost:1234");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->empty());
  for (const SocketAddress& a : *r) {
    EXPECT_TRUE(a.toString() == "127.0.0.1:1234" || a.toString() == "[::1]:1234") << a.toString();
  }
  EXPECT_EQ(r->front().toString(), "127.0.0.1:1234");
}

TEST(ResolverTest, IpLiteralIsItself) {
  transport::UvLoop loop;
  auto r = ResolveNow(&loop, "dns:///[::1]:7");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].toString(), "[::1]:7");
}

TEST(ResolverTest, AddressListsAndUnixAreTheirAddresses) {
  transport::UvLoop loop;
  auto v4 = ResolveNow(&loop, "ipv4:127.0.0.1:1,127.0.0.2:2");
  ASSERT_TRUE(v4.ok());
  ASSERT_EQ(v4->size(), 2u);
  EXPECT_EQ((*v4)[1].toString(), "127.0.0.2:2");
  auto unix_path = ResolveNow(&loop, "unix:/tmp/a.sock");
  ASSERT_TRUE(unix_path.ok());
  ASSERT_EQ(unix_path->size(), 1u);
  EXPECT_TRUE((*unix_path)[0].isUnix());
}

TEST(ResolverTest, InvalidNameFailsFastWithENOTFOUND) {
  transport::UvLoop loop;
  auto r = ResolveNow(&loop, "nonexistent.invalid:50051");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(transport::nodeErrorCode(r.status()), "ENOTFOUND");
  EXPECT_EQ(std::string(r.status().message()), "getaddrinfo ENOTFOUND nonexistent.invalid");
  const auto info = transport::systemErrorInfo(r.status());
  EXPECT_EQ(info.syscall, "getaddrinfo");
  EXPECT_EQ(info.address, "nonexistent.invalid");
}

TEST(ResolverTest, DnsServerAuthorityIsRefusedClearly) {
  transport::UvLoop loop;
  auto target = ParseTarget("dns://8.8.8.8/example.com:1");
  ASSERT_TRUE(target.ok());
  auto resolver = Resolver::Create(&loop, *target);
  ASSERT_FALSE(resolver.ok());
  EXPECT_EQ(resolver.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(resolver.status().message().find("8.8.8.8"), std::string::npos);
}

TEST(ConnectFailureTest, WordsEachCause) {
  auto target = ParseTarget("localhost:1");
  ASSERT_TRUE(target.ok());
  absl::Status refused = ConnectFailure(
      *target, transport::systemError("connect", UV_ECONNREFUSED, "127.0.0.1:1"), false);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(refused.message()),
            "failed to connect to all addresses of 'localhost:1'; last error: "
            "ipv4:127.0.0.1:1: Connection refused (connect ECONNREFUSED 127.0.0.1:1)");
  absl::Status v6 = ConnectFailure(
      *target, transport::systemError("connect", UV_ENETUNREACH, "[::1]:1"), false);
  EXPECT_NE(v6.message().find("ipv6:[::1]:1: Network is unreachable"), std::string::npos) << v6;
  absl::Status tls =
      ConnectFailure(*target, absl::UnauthenticatedError("CERT_HAS_EXPIRED: expired"), true);
  EXPECT_EQ(tls.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(std::string(tls.message()),
            "failed to connect to 'localhost:1': TLS handshake failed: CERT_HAS_EXPIRED: expired");
}

}  // namespace
}  // namespace h2rpc::rpc
