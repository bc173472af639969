// ParseTarget/ParseListenAddress: every form of gRPC's naming doc, every invalid form.
#include "rpc/target.h"

#include <string>

#include "gtest/gtest.h"

namespace h2rpc::rpc {
namespace {

Target Parse(const std::string& text) {
  auto t = ParseTarget(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return t.ok() ? *t : Target{};
}

TEST(ParseTargetTest, BareHostPortIsDns) {
  Target t = Parse("localhost:50051");
  EXPECT_EQ(t.scheme, Target::Scheme::kDns);
  EXPECT_EQ(t.host, "localhost");
  EXPECT_EQ(t.port, 50051);
  EXPECT_EQ(t.DefaultAuthority(), "localhost:50051");
  EXPECT_TRUE(t.addresses.empty());
}

TEST(ParseTargetTest, DnsForms) {
  Target a = Parse("dns:///example.com:8080");
  EXPECT_EQ(a.scheme, Target::Scheme::kDns);
  EXPECT_EQ(a.host, "example.com");
  EXPECT_EQ(a.port, 8080);
  EXPECT_EQ(a.dns_authority, "");
  EXPECT_EQ(a.DefaultAuthority(), "example.com:8080");

  Target b = Parse("dns:example.com");
  EXPECT_EQ(b.host, "example.com");
  EXPECT_EQ(b.port, 443);  // gRPC's default port
  EXPECT_EQ(b.DefaultAuthority(), "example.com");

  Target c = Parse("dns://8.8.8.8:53/example.com:1");
  EXPECT_EQ(c.dns_authority, "8.8.8.8:53");
  EXPECT_EQ(c.host, "example.com");
  EXPECT_EQ(c.port, 1);
}

TEST(ParseTargetTest, IpLiteralsWithoutSchemeAreDns) {
  Target v4 = Parse("127.0.0.1:1234");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 1234);
  Target v6 = Parse("[::1]:1234");
  EXPECT_EQ(v6.scheme, Target::Scheme::kDns);
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 1234);
  EXPECT_EQ(v6.DefaultAuthority(), "[::1]:1234");
  Target no_port = Parse("127.0.0.1");
  EXPECT_EQ(no_port.port, 443);
  Target bare_v6 = Parse("::1");  // more than one ':' without brackets: an address, no port
  EXPECT_EQ(bare_v6.host, "::1");
  EXPECT_EQ(bare_v6.port, 443);
}

TEST(ParseTargetTest, UnknownSchemeWithoutSlashesIsADnsName) {
  // "If no scheme prefix is specified or the scheme is unknown, the dns scheme is used".
  Target t = Parse("myhost:80");
  EXPECT_EQ(t.scheme, Target::Scheme::kDns);
  EXPECT_EQ(t.host, "myhost");
}

TEST(ParseTargetTest, UnixForms) {
  Target rel = Parse("unix:relative/x.sock");
  EXPECT_EQ(rel.scheme, Target::Scheme::kUnix);
  ASSERT_EQ(rel.addresses.size(), 1u);
  EXPECT_EQ(rel.addresses[0].address(), "relative/x.sock");
  EXPECT_EQ(rel.DefaultAuthority(), "localhost");

  Target abs = Parse("unix:/run/x.sock");
  EXPECT_EQ(abs.addresses[0].address(), "/run/x.sock");
  Target uri = Parse("unix:///run/x.sock");
  EXPECT_EQ(uri.addresses[0].address(), "/run/x.sock");
  EXPECT_EQ(AddressUri(uri.addresses[0]), "unix:/run/x.sock");

  // "unix://" is followed by an absolute path, so a path starting "//" needs it to print back
  // (found by the authority fuzzer: "unix:////x" printed as "unix:///x", another path).
  Target slashes = Parse("unix:////x.sock");
  EXPECT_EQ(slashes.addresses[0].address(), "//x.sock");
  EXPECT_EQ(AddressUri(slashes.addresses[0]), "unix:////x.sock");
  EXPECT_EQ(Parse(AddressUri(slashes.addresses[0])).addresses[0], slashes.addresses[0]);
}

TEST(ParseTargetTest, UnixAbstract) {
  Target t = Parse("unix-abstract:my-name");
  EXPECT_EQ(t.scheme, Target::Scheme::kUnixAbstract);
  ASSERT_EQ(t.addresses.size(), 1u);
  EXPECT_TRUE(t.addresses[0].isAbstract());
  EXPECT_EQ(t.addresses[0].address(), std::string("\0my-name", 8));
  EXPECT_EQ(t.DefaultAuthority(), "localhost");
  EXPECT_EQ(AddressUri(t.addresses[0]), "unix-abstract:my-name");
}

TEST(ParseTargetTest, Ipv4List) {
  Target t = Parse("ipv4:10.0.0.1:1,10.0.0.2");
  EXPECT_EQ(t.scheme, Target::Scheme::kIpv4);
  ASSERT_EQ(t.addresses.size(), 2u);
  EXPECT_EQ(t.addresses[0].toString(), "10.0.0.1:1");
  EXPECT_EQ(t.addresses[1].toString(), "10.0.0.2:443");
  EXPECT_EQ(t.DefaultAuthority(), "10.0.0.1:1,10.0.0.2");  // the list, as gRPC sends it
  EXPECT_EQ(AddressUri(t.addresses[0]), "ipv4:10.0.0.1:1");
}

TEST(ParseTargetTest, Ipv6List) {
  Target t = Parse("ipv6:[::1]:50051,::2,[fe80::1]");
  EXPECT_EQ(t.scheme, Target::Scheme::kIpv6);
  ASSERT_EQ(t.addresses.size(), 3u);
  EXPECT_EQ(t.addresses[0].toString(), "[::1]:50051");
  EXPECT_EQ(t.addresses[1].toString(), "[::2]:443");
  EXPECT_EQ(t.addresses[2].toString(), "[fe80::1]:443");
  EXPECT_EQ(AddressUri(t.addresses[0]), "ipv6:[::1]:50051");
}

TEST(ParseTargetTest, Ipv6ZoneIsKeptAndPrinted) {
  Target t = Parse("ipv6:[fe80::1%lo]:50051");
  ASSERT_EQ(t.addresses.size(), 1u);
  EXPECT_EQ(AddressUri(t.addresses[0]), "ipv6:[fe80::1%lo]:50051");
  EXPECT_EQ(t.DefaultAuthority(), "[fe80::1%25lo]:50051");  // percent-encoded, as gRPC
  EXPECT_EQ(Parse(AddressUri(t.addresses[0])).addresses[0], t.addresses[0]);
  EXPECT_FALSE(ParseTarget("ipv6:[fe80::1%no-such-if9]:1").ok());
}

TEST(ParseTargetTest, InvalidTargetsNameTheTarget) {
  const char* kInvalid[] = {
      "",                        // empty
      "dns:",                    // no host
      "dns:///",                 // no host
      "dns://8.8.8.8",           // authority without /host
      "host:",                   // empty port
      "host:0",                  // port 0
      "host:65536",              // port too large
      "host:-1",                 // not a port
      "host:12ab",               // not a port
      "host:+80",                // not a port
      "ho st:80",                // bad host
      "host/path:80",            // bad host
      ":80",                     // no host
      "[::1",                    // unclosed bracket
      "[::1]x",                  // junk after ']'
      "[not-an-ip]:80",          // brackets hold an IPv6 address
      "unix:",                   // no path
      "unix://",                 // no path
      "unix://host/x.sock",      // unix has no authority
      "unix-abstract:",          // no name
      "ipv4:",                   // no address
      "ipv4:1.2.3",              // not IPv4
      "ipv4:::1",                // IPv6 in an ipv4 list
      "ipv4:1.2.3.4:99999",      // bad port
      "ipv4:1.2.3.4,",           // empty entry
      "ipv6:",                   // no address
      "ipv6:127.0.0.1",          // IPv4 in an ipv6 list
      "ipv6:[::1]:x",            // bad port
      "xds:///service",          // a scheme we do not support
  };
  for (const char* text : kInvalid) {
    auto t = ParseTarget(text);
    ASSERT_FALSE(t.ok()) << "'" << text << "' parsed";
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(t.status().message().find(std::string("invalid target '") + text + "'"),
              std::string::npos)
        << t.status();
  }
  std::string long_path = "unix:/" + std::string(200, 'a');
  EXPECT_EQ(ParseTarget(long_path).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ParseTarget("xds:///service").status().message().find("unsupported scheme 'xds'"),
            std::string::npos);
}

TEST(ParseListenAddressTest, Forms) {
  auto a = ParseListenAddress("127.0.0.1:50051");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 50051);
  EXPECT_FALSE(a->is_unix());

  auto any6 = ParseListenAddress("[::]:0");
  ASSERT_TRUE(any6.ok());
  EXPECT_EQ(any6->host, "");  // every interface
  EXPECT_EQ(any6->port, 0);
  EXPECT_EQ(ParseListenAddress(":8080")->host, "");
  EXPECT_EQ(ParseListenAddress("0.0.0.0:1")->host, "0.0.0.0");
  EXPECT_EQ(ParseListenAddress("localhost:1")->host, "127.0.0.1");
  EXPECT_EQ(ParseListenAddress("[::1]:1")->host, "::1");
  EXPECT_EQ(ParseListenAddress("ipv4:127.0.0.1:7")->port, 7);

  auto unix_path = ParseListenAddress("unix:/tmp/x.sock");
  ASSERT_TRUE(unix_path.ok());
  EXPECT_TRUE(unix_path->is_unix());
  EXPECT_EQ(unix_path->path, "/tmp/x.sock");
  EXPECT_EQ(ParseListenAddress("unix:///tmp/y.sock")->path, "/tmp/y.sock");
  EXPECT_EQ(ParseListenAddress("unix-abstract:n")->path, std::string("\0n", 2));
}

TEST(ParseListenAddressTest, Invalid) {
  for (const char* text : {"", "127.0.0.1", "example.com:80", "127.0.0.1:x", "127.0.0.1:70000",
                           "unix:", "unix-abstract:", "[::1"}) {
    auto a = ParseListenAddress(text);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find(std::string("invalid listen address '") + text + "'"),
              std::string::npos)
        << a.status();
  }
}

}  // namespace
}  // namespace h2rpc::rpc
