#include "engine/pipeline/backoff.h"

#include <gtest/gtest.h>

namespace courier::pipeline {
namespace {

using std::chrono::milliseconds;

config::RetryPolicy policy() {
  config::RetryPolicy p;
  p.initial_backoff = milliseconds(1000);
  p.max_backoff = milliseconds(60000);
  p.max_attempts = 5;
  p.max_age = milliseconds(3600 * 1000);
  return p;
}

TEST(Backoff, DoublesWithJitterBetweenHalfAndAllAndStopsAtTheCap) {
  auto p = policy();
  EXPECT_EQ(retryDelay(p, 1, 0.0), milliseconds(500));
  EXPECT_EQ(retryDelay(p, 1, 0.999999), milliseconds(999));
  EXPECT_EQ(retryDelay(p, 2, 0.0), milliseconds(1000));
  EXPECT_EQ(retryDelay(p, 3, 0.0), milliseconds(2000));
  EXPECT_EQ(retryDelay(p, 7, 0.0), milliseconds(30000)) << "64 s capped at 60 s, then halved by the jitter floor";
  EXPECT_EQ(retryDelay(p, 1000, 0.5), milliseconds(45000)) << "no overflow after many tries";
}

TEST(Backoff, RetryAfterWinsWhenLongerButNeverPastTheCap) {
  auto p = policy();
  EXPECT_EQ(retryDelay(p, 1, 0.0, milliseconds(5000)), milliseconds(5000));
  EXPECT_EQ(retryDelay(p, 3, 0.0, milliseconds(10)), milliseconds(2000)) << "shorter than our own wait";
  EXPECT_EQ(retryDelay(p, 1, 0.0, milliseconds(3600000)), milliseconds(60000));
}

TEST(Backoff, ExhaustedByTriesOrAgeAndZeroMeansNoLimit) {
  auto p = policy();
  EXPECT_FALSE(exhausted(p, 4, milliseconds(0)));
  EXPECT_TRUE(exhausted(p, 5, milliseconds(0)));
  EXPECT_TRUE(exhausted(p, 1, milliseconds(3600 * 1000)));
  p.max_attempts = 0;
  p.max_age = milliseconds(0);
  EXPECT_FALSE(exhausted(p, 1000000, milliseconds(1LL << 40)));
}

}  // namespace
}  // namespace courier::pipeline
