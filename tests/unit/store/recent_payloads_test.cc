#include "engine/store/recent_payloads.h"

#include <string>

#include <gtest/gtest.h>

namespace courier::store {
namespace {

TEST(RecentPayloadsTest, HandsOutEachPayloadOnceAndDropsWhatTheQueueHasPassed) {
  RecentPayloads recent;
  recent.put("insurer", 10, "k10", "claim 10");
  recent.put("insurer", 11, "k11", "claim 11");
  recent.put("insurer", 13, "k13", "claim 13");
  recent.put("registry", 10, "k10", "message 10");
  std::string out;
  EXPECT_FALSE(recent.take("insurer", 9, "k9", out)) << "older than anything kept: read from the file";
  EXPECT_TRUE(recent.take("insurer", 10, "k10", out));
  EXPECT_EQ(out, "claim 10");
  EXPECT_FALSE(recent.take("insurer", 10, "k10", out)) << "handed out once";
  // Asking for 13 passes 11 (the deliverer read it from the file): it is dropped.
  EXPECT_TRUE(recent.take("insurer", 13, "k13", out));
  EXPECT_EQ(out, "claim 13");
  EXPECT_FALSE(recent.take("insurer", 11, "k11", out));
  EXPECT_FALSE(recent.take("lab", 10, "k10", out)) << "a destination with nothing kept";
  EXPECT_EQ(recent.bytes(), std::string("message 10").size()) << "queues are apart";
  EXPECT_TRUE(recent.take("registry", 10, "k10", out));
  EXPECT_EQ(out, "message 10");
  EXPECT_EQ(recent.bytes(), 0u);
}

TEST(RecentPayloadsTest, KeepsAtMostItsBoundPerDestinationAndOnlyAscendingIds) {
  RecentPayloads recent(100);
  recent.put("a", 1, "k1", std::string(60, 'x'));
  recent.put("a", 2, "k2", std::string(60, 'y'));  // past the bound: not kept
  recent.put("b", 1, "k1", std::string(60, 'z'));  // another destination has its own
  EXPECT_EQ(recent.bytes(), 120u);
  recent.put("a", 1, "k1", "again");  // not above the last id: not kept
  std::string out;
  EXPECT_FALSE(recent.take("a", 2, "k2", out));
  EXPECT_EQ(recent.bytes(), 60u) << "asking for 2 dropped 1";
  recent.put("a", 3, "k3", std::string(90, 'w'));  // room again
  EXPECT_TRUE(recent.take("a", 3, "k3", out));
  EXPECT_EQ(out, std::string(90, 'w'));
}

TEST(RecentPayloadsTest, AllDestinationsTogetherKeepAtMostTheTotalBound) {
  RecentPayloads recent(100, 250);
  recent.put("subscription/s1", 1, "k1", std::string(100, 'a'));
  recent.put("subscription/s2", 1, "k1", std::string(100, 'b'));
  recent.put("subscription/s3", 1, "k1", std::string(100, 'c'));  // 300 > 250: not kept
  EXPECT_EQ(recent.bytes(), 200u);
  std::string out;
  EXPECT_FALSE(recent.take("subscription/s3", 1, "k1", out));
  EXPECT_TRUE(recent.take("subscription/s1", 1, "k1", out));
  recent.put("subscription/s3", 2, "k2", std::string(100, 'c'));  // room again
  EXPECT_TRUE(recent.take("subscription/s3", 2, "k2", out));
}

TEST(RecentPayloadsTest, AnIdKeptUnderAnotherKeyIsNotHandedOut) {
  RecentPayloads recent;
  recent.put("subscription/s1", 7, "courier-sub-s1-7", "old notification");
  std::string out = "unchanged";
  EXPECT_FALSE(recent.take("subscription/s1", 7, "courier-sub-s1-1", out)) << "the id came again for another item";
  EXPECT_EQ(out, "unchanged");
  EXPECT_EQ(recent.bytes(), 0u) << "dropped all the same";
}

TEST(RecentPayloadsTest, ForgetDropsADestinationsEntries) {
  RecentPayloads recent;
  recent.put("subscription/s1", 5, "k5", "notification");
  recent.forget("subscription/s1");
  EXPECT_EQ(recent.bytes(), 0u);
  std::string out;
  EXPECT_FALSE(recent.take("subscription/s1", 5, "k5", out));
  recent.put("subscription/s1", 5, "k5", "another one, same id");  // after the forget: ids may come again
  EXPECT_TRUE(recent.take("subscription/s1", 5, "k5", out));
  EXPECT_EQ(out, "another one, same id");
}

}  // namespace
}  // namespace courier::store
