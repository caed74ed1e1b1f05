#include "core/result.h"

#include <gtest/gtest.h>

namespace mailsift {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error::malformed("not positive");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::kMalformed);
  EXPECT_EQ(bad.error().describe(), "malformed: not positive");
}

TEST(Result, VoidStatus) {
  Status ok = Ok{};
  EXPECT_TRUE(ok.ok());
  Status err = Error::temporary("store down");
  EXPECT_FALSE(err.ok());
  EXPECT_EQ(err.error().kind, ErrorKind::kTemporary);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  auto bad = parse_positive(0);
  EXPECT_DEATH((void)bad.value(), "value\\(\\) on error Result");
}

}  // namespace
}  // namespace mailsift
