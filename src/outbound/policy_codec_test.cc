#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "outbound/policy_codec.h"

namespace mailsift::outbound {
namespace {

std::string captured() {
  std::ifstream in(std::string(MAILSIFT_SOURCE_DIR) + "/src/outbound/corpus/postfix-3.7-rcpt.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PolicyCodec, DecodesThePostfixCapture) {
  PolicyDecoder d;
  ASSERT_TRUE(d.feed(captured()).ok());
  auto r = d.next();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->get("request"), "smtpd_access_policy");
  EXPECT_EQ(r->get("protocol_state"), "RCPT");
  EXPECT_EQ(r->get("sender"), "bob@example.test");
  EXPECT_EQ(r->get("recipient"), "alice@example.test");
  EXPECT_EQ(r->get("instance"), "428f.6b0ac48e.97900.0");
  EXPECT_EQ(r->get("sasl_username"), "");
  EXPECT_EQ(r->get("no_such_attribute"), "");
  EXPECT_EQ(r->attrs.size(), 29u);
  EXPECT_FALSE(d.next().has_value());
}

TEST(PolicyCodec, ByteAtATimeAndPipelined) {
  const std::string two = captured() + captured();
  PolicyDecoder d;
  int n = 0;
  for (char c : two) {
    ASSERT_TRUE(d.feed(std::string_view(&c, 1)).ok());
    while (d.next())
      ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(PolicyCodec, CrlfValuesWithEqualsAndRepeats) {
  PolicyDecoder d;
  ASSERT_TRUE(d.feed("request=smtpd_access_policy\r\nccert_subject=CN=a=b\r\nx=1\r\nx=2\r\n\r\n").ok());
  auto r = d.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("ccert_subject"), "CN=a=b");
  EXPECT_EQ(r->get("x"), "2");
}

TEST(PolicyCodec, MalformedAndOversizedKillTheDecoder) {
  PolicyDecoder a;
  EXPECT_EQ(a.feed("request=x\nbroken line\n\n").error().kind, ErrorKind::kMalformed);
  EXPECT_TRUE(a.failed());
  EXPECT_FALSE(a.feed("request=x\n\n").ok());

  PolicyDecoder b(PolicyLimits{16, 4, 100});
  EXPECT_FALSE(b.feed(std::string(17, 'a')).ok());  // no newline yet, already too long
  PolicyDecoder c(PolicyLimits{64, 2, 1000});
  EXPECT_FALSE(c.feed("a=1\nb=2\nc=3\n\n").ok());  // too many attributes
  PolicyDecoder e(PolicyLimits{64, 100, 20});
  EXPECT_FALSE(e.feed("a=1234567\nb=1234567\nc=1234567\n").ok());  // request too large
}

TEST(PolicyCodec, ReplyIsOneLine) {
  EXPECT_EQ(encode_policy_reply("DUNNO"), "action=DUNNO\n\n");
  EXPECT_EQ(encode_policy_reply("550 5.7.1 a\r\nb"), "action=550 5.7.1 a  b\n\n");
}

}  // namespace
}  // namespace mailsift::outbound
