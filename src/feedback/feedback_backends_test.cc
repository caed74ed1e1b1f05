// The feedback conformance suite on the embedded backends, and pure helpers.
#include "feedback/testing/conformance.h"

namespace mailsift::feedback {
namespace {

MAILSIFT_FEEDBACK_CONFORMANCE(Memory,
                              (testing::StoreFactory{
                                  "memory",
                                  [](const std::string&) -> Result<std::unique_ptr<FeedbackStore>> {
                                    return make_memory_store();
                                  }}));
MAILSIFT_FEEDBACK_CONFORMANCE(Sqlite, (testing::StoreFactory{"sqlite", [](const std::string& dir) {
                                                               return open_sqlite_store(
                                                                   dir + "/feedback.db");
                                                             }}));

TEST(ListUnsubscribe, ParsesTargetsAndOneClick) {
  auto u = parse_list_unsubscribe("<mailto:a@b.example?subject=unsub>,\r\n <https://b.example/u>",
                                  "List-Unsubscribe=One-Click");
  EXPECT_EQ(u.mailto, "mailto:a@b.example?subject=unsub");
  EXPECT_EQ(u.http, "https://b.example/u");
  EXPECT_TRUE(u.one_click);
  auto plain = parse_list_unsubscribe("<http://b.example/u>", "List-Unsubscribe=One-Click");
  EXPECT_FALSE(plain.one_click) << "RFC 8058 one-click needs HTTPS";
  auto none = parse_list_unsubscribe("garbage without brackets", "");
  EXPECT_TRUE(none.http.empty());
  EXPECT_TRUE(none.mailto.empty());
}

TEST(Arf, RedactsTheLocalPartConsistently) {
  EXPECT_EQ(redact_address("Frank@a.example").size(), 16 + std::string("@a.example").size());
  EXPECT_EQ(redact_address("x@y"), redact_address("x@y"));
  EXPECT_NE(redact_address("x@y"), redact_address("z@y"));
}

}  // namespace
}  // namespace mailsift::feedback
