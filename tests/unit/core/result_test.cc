#include "engine/core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace courier {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return Unexpected(Error(ErrorCode::kInvalidArgument, "odd", "x"));
  return x / 2;
}

TEST(Result, HoldsValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().toString(), "invalid_argument: x: odd");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r);
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, VoidResult) {
  Result<void> ok = Ok();
  EXPECT_TRUE(ok);
  Result<void> bad = Unexpected(Error(ErrorCode::kIo, "disk"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "disk");
}

TEST(Result, AccessingTheWrongSideAborts) {
  EXPECT_DEATH({ auto r = half(3); (void)r.value(); }, "");
  EXPECT_DEATH({ auto r = half(2); (void)r.error(); }, "");
}

}  // namespace
}  // namespace courier
