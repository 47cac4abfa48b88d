#include "adapters/http/retry_after.h"

#include <gtest/gtest.h>

namespace courier::http {
namespace {

using namespace std::chrono;

// 1994-11-06 08:49:37 UTC, the RFC's example date.
const system_clock::time_point kExample = sys_days(year(1994) / November / 6) + hours(8) + minutes(49) + seconds(37);

TEST(RetryAfterTest, DelaySeconds) {
  const auto now = system_clock::now();
  EXPECT_EQ(parseRetryAfter("2", now), milliseconds(2000));
  EXPECT_EQ(parseRetryAfter(" 120 ", now), milliseconds(120000));
  EXPECT_EQ(parseRetryAfter("0", now), milliseconds(0));
  EXPECT_EQ(parseRetryAfter("99999999999999999999", now), kMaxRetryAfter);
}

TEST(RetryAfterTest, HttpDatesInAllThreeForms) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kExample);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kExample);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), kExample);
}

TEST(RetryAfterTest, DateIsRelativeToNow) {
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kExample - seconds(30)), milliseconds(30000));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kExample + hours(1)), milliseconds(0));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kExample - days(400)), kMaxRetryAfter);
}

TEST(RetryAfterTest, JunkIsNullopt) {
  const auto now = system_clock::now();
  for (const char* v : {"", "soon", "-5", "1.5", "12abc", "Sun, 31 Feb 1994 08:49:37 GMT",
                        "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 CET", "Sun, 6 Nov 1994 08:49:37 GMT"}) {
    EXPECT_FALSE(parseRetryAfter(v, now).has_value()) << v;
  }
}

}  // namespace
}  // namespace courier::http
