#include "engine/coding/service_date.h"

#include <gtest/gtest.h>

namespace courier::coding {
namespace {

TEST(ServiceDateTest, ParsesIsoAndHl7) {
  auto a = parseServiceDate("2026-03-01");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (ServiceDate{2026, 3, 1}));
  auto b = parseServiceDate("20260301123000-0500");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (ServiceDate{2026, 3, 1}));
  EXPECT_EQ(a->ordinal(), 20260301u);
}

TEST(ServiceDateTest, RejectsImpossibleDates) {
  EXPECT_FALSE(parseServiceDate("2026-02-30"));
  EXPECT_FALSE(parseServiceDate("2026-13-01"));
  EXPECT_FALSE(parseServiceDate("yesterday"));
  EXPECT_FALSE(parseServiceDate(""));
  EXPECT_TRUE(parseServiceDate("2024-02-29"));
  EXPECT_FALSE(parseServiceDate("2025-02-29"));
}

TEST(ServiceDateTest, FiscalYearBoundary) {
  EXPECT_EQ(fiscalYear({2025, 9, 30}), 2025);
  EXPECT_EQ(fiscalYear({2025, 10, 1}), 2026);
  EXPECT_EQ(fiscalYear({2026, 9, 30}), 2026);
  EXPECT_EQ(fiscalYear({2026, 10, 1}), 2027);
  EXPECT_EQ(fiscalYear({2026, 1, 1}), 2026);
}

}  // namespace
}  // namespace courier::coding
