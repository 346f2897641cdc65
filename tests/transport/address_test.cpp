// Address parsing and printing: every transport round-trips; bad text names the problem.
#include "zmesh/transport/address.hpp"

#include <gtest/gtest.h>

namespace zmesh {
namespace {

TEST(AddressTest, ParsesEachTransport) {
  auto inproc = Address::parse("inproc://proc-3");
  ASSERT_TRUE(inproc.ok()) << inproc.error().describe();
  EXPECT_EQ(inproc->scheme, Scheme::inproc);
  EXPECT_EQ(inproc->location, "proc-3");

  auto ipc = Address::parse("ipc:///tmp/zmesh/proc.sock");
  ASSERT_TRUE(ipc.ok()) << ipc.error().describe();
  EXPECT_EQ(ipc->scheme, Scheme::ipc);
  EXPECT_EQ(ipc->location, "/tmp/zmesh/proc.sock");

  auto tcp = Address::parse("tcp://10.0.0.7:5555");
  ASSERT_TRUE(tcp.ok()) << tcp.error().describe();
  EXPECT_EQ(tcp->scheme, Scheme::tcp);
  EXPECT_EQ(tcp->location, "10.0.0.7");
  EXPECT_EQ(tcp->port, 5555);
}

TEST(AddressTest, PrintsTextThatParsesBackToTheSameAddress) {
  for (const char* text :
       {"inproc://a", "ipc:///tmp/x.sock", "ipc://@abstract", "tcp://host-1:80",
        "tcp://127.0.0.1:0", "tcp://*:7000", "tcp://[::1]:5555", "tcp://[fe80::1]:0"}) {
    auto parsed = Address::parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.error().describe();
    EXPECT_EQ(parsed->to_string(), text);
    auto again = Address::parse(parsed->to_string());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *parsed);
  }
}

TEST(AddressTest, ParsesIpv6InBrackets) {
  auto parsed = Address::parse("tcp://[::1]:5555");
  ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
  EXPECT_EQ(parsed->location, "::1");
  EXPECT_EQ(parsed->port, 5555);
}

TEST(AddressTest, PortZeroBindsToAnyPortAndStarMeansZero) {
  auto any = Address::parse("tcp://127.0.0.1:0");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->bind_text(), "tcp://127.0.0.1:*");
  auto star = Address::parse("tcp://127.0.0.1:*");
  ASSERT_TRUE(star.ok());
  EXPECT_EQ(star->port, 0);
  EXPECT_EQ(star->to_string(), "tcp://127.0.0.1:0");
  EXPECT_EQ(Address::parse("tcp://[::1]:0")->bind_text(), "tcp://[::1]:*");
  EXPECT_EQ(Address::parse("tcp://h:9")->bind_text(), "tcp://h:9");
  EXPECT_EQ(Address::parse("ipc:///tmp/a")->bind_text(), "ipc:///tmp/a");
}

// Each bad text fails with parse_error, quotes the text, and says what is wrong.
void expect_rejected(std::string_view text, std::string_view problem) {
  auto parsed = Address::parse(text);
  ASSERT_FALSE(parsed.ok()) << text << " was accepted";
  EXPECT_EQ(parsed.error().code, ErrorCode::parse_error);
  EXPECT_NE(parsed.error().message.find(std::string(text)), std::string::npos)
      << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(std::string(problem)), std::string::npos)
      << parsed.error().message;
}

TEST(AddressTest, RejectsTextWithoutScheme) {
  expect_rejected("localhost:5555", "no \"://\"");
}

TEST(AddressTest, RejectsUnknownTransport) {
  expect_rejected("udp://h:1", "unknown transport \"udp\"");
  expect_rejected("://x", "unknown transport \"\"");
}

TEST(AddressTest, RejectsEmptyNames) {
  expect_rejected("inproc://", "inproc name is empty");
  expect_rejected("ipc://", "ipc path is empty");
  expect_rejected("tcp://:80", "host is empty");
}

TEST(AddressTest, RejectsIpcPathTooLongForAUnixSocket) {
  expect_rejected("ipc:///" + std::string(120, 'p'), "at most 107");
}

TEST(AddressTest, RejectsBadPorts) {
  expect_rejected("tcp://h", "no \":port\"");
  expect_rejected("tcp://h:", "port is empty");
  expect_rejected("tcp://h:65536", "port \"65536\" is not a number from 0 to 65535");
  expect_rejected("tcp://h:8a", "port \"8a\"");
  expect_rejected("tcp://h:-1", "port \"-1\"");
  expect_rejected("tcp://[::1]", "no \":port\" after ']'");
  expect_rejected("tcp://[::1:80", "without a closing ']'");
}

TEST(AddressTest, RejectsBadCharacters) {
  expect_rejected("tcp://ho st:80", "' ' at column 9");
  expect_rejected("tcp://[::g]:80", "'g' does not belong in an IPv6 address");
  expect_rejected("inproc://a b", "space character at column 11");
}

}  // namespace
}  // namespace zmesh
