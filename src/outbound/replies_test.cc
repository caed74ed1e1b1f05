#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "outbound/replies.h"

namespace mailsift::outbound {
namespace {

TEST(Replies, RenderedCodesAndText) {
  EXPECT_EQ(render_reply(ReplyKind::kSendingDisabled, false,
                         {"user@x.example", "compromised", "20261128T1Z-ab"}),
            "550 5.7.1 Sending disabled for user@x.example: compromised (ref 20261128T1Z-ab)");
  EXPECT_EQ(render_reply(ReplyKind::kMessagesPerHour, true, {"user@x", "", "", 200}),
            "451 4.7.1 Rate limit: 200 messages/hour for user@x");
  // Account states have no tempfail form; internal errors no reject form.
  EXPECT_EQ(render_reply(ReplyKind::kSuspended, true, {"a", "b", "c"}).substr(0, 9), "550 5.7.1");
  EXPECT_EQ(render_reply(ReplyKind::kInternal, false, {"", "", "R"}).substr(0, 9), "451 4.3.0");
  // A reason cannot break the reply into lines.
  EXPECT_EQ(render_reply(ReplyKind::kSuspended, false, {"a", "x\r\n550 ok", "r"}),
            "550 5.7.1 Account suspended for a: x  550 ok (ref r)");
}

TEST(Replies, EveryCodeIsConsistentRfc3463) {
  for (const auto& s : reply_table()) {
    if (!s.tempfail_code.empty()) {
      EXPECT_EQ(s.tempfail_code[0], '4');
      EXPECT_EQ(s.tempfail_code[4], '4') << s.name;  // class of the enhanced code = reply class
    }
    if (!s.reject_code.empty()) {
      EXPECT_EQ(s.reject_code[0], '5');
      EXPECT_EQ(s.reject_code[4], '5') << s.name;
    }
  }
}

TEST(Replies, DocsCarryTheTable) {
  std::ifstream in(std::string(MAILSIFT_SOURCE_DIR) + "/docs/outbound.md");
  ASSERT_TRUE(in) << "docs/outbound.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find(render_reply_table_markdown()), std::string::npos)
      << "docs/outbound.md must contain this table verbatim:\n"
      << render_reply_table_markdown();
}

}  // namespace
}  // namespace mailsift::outbound
