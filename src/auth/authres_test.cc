#include "auth/authres.h"

#include <gtest/gtest.h>

namespace mailsift::auth {
namespace {

TEST(AuthenticationResults, RendersEveryMethodWithProperties) {
  std::vector<MethodResult> results = {
      {"spf", "pass", "", "", {{"smtp", "mailfrom", "alice@example.com"}}},
      {"dkim",
       "fail",
       "body hash mismatch",
       "",
       {{"header", "d", "example.com"}, {"header", "b", "abcd1234"}}},
      {"dmarc", "fail", "", "p=reject", {{"header", "from", "example.com"}}},
  };
  std::string v = render_authentication_results("mx.test", results);
  EXPECT_EQ(v,
            "mx.test;\r\n\tspf=pass smtp.mailfrom=alice@example.com;\r\n\tdkim=fail "
            "reason=\"body hash mismatch\" header.d=example.com header.b=abcd1234;\r\n\t"
            "dmarc=fail (p=reject) header.from=example.com");
}

TEST(AuthenticationResults, NoResultsSaysNone) {
  EXPECT_EQ(render_authentication_results("mx.test", {}), "mx.test; none");
}

TEST(AuthenticationResults, QuotesValuesThatAreNotTokensAndEscapesComments) {
  std::vector<MethodResult> results = {
      {"spf", "fail", "", "a (b)", {{"smtp", "helo", "bad host;name"}}}};
  EXPECT_EQ(render_authentication_results("id", results),
            "id;\r\n\tspf=fail (a \\(b\\)) smtp.helo=\"bad host;name\"");
}

TEST(AuthenticationResults, FindsAuthservIdPastCommentsAndVersion) {
  EXPECT_EQ(authserv_id_of(" mx.test; spf=pass"), "mx.test");
  EXPECT_EQ(authserv_id_of("(comment) mx.test 1; spf=pass"), "mx.test");
  EXPECT_EQ(authserv_id_of("\"quoted.id\"; none"), "quoted.id");
  EXPECT_EQ(authserv_id_of(""), "");
  EXPECT_EQ(authserv_id_of("((unterminated"), "");
}

TEST(AuthenticationResults, ForgedHeaderClaimingOurIdIsRecognised) {
  EXPECT_TRUE(claims_authserv_id("MX.Test; dkim=pass header.d=bank.example", "mx.test"));
  EXPECT_FALSE(claims_authserv_id("mx.test.evil; dkim=pass", "mx.test"));
  EXPECT_FALSE(claims_authserv_id("other.example; spf=pass", "mx.test"));
  EXPECT_FALSE(claims_authserv_id("", "mx.test"));
}

}  // namespace
}  // namespace mailsift::auth
