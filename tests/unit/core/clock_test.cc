#include "engine/core/clock.h"

#include <gtest/gtest.h>

namespace courier {
namespace {

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  auto wall = clock.now();
  auto steady = clock.steadyNow();
  EXPECT_EQ(clock.now(), wall);
  clock.advance(std::chrono::seconds(3));
  EXPECT_EQ(clock.now() - wall, std::chrono::seconds(3));
  EXPECT_EQ(clock.steadyNow() - steady, std::chrono::seconds(3));
}

TEST(SystemClock, IsMonotonic) {
  auto a = Clock::system().steadyNow();
  auto b = Clock::system().steadyNow();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace courier
