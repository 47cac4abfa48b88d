// metrics::Registry: counting by label, the series cap, the Prometheus text.
#include <gtest/gtest.h>

#include <string>

#include "engine/metrics/metrics.h"

namespace courier::metrics {
namespace {

using namespace std::chrono_literals;

std::size_t countLines(const std::string& text, const std::string& prefix) {
  std::size_t n = 0;
  for (std::size_t at = 0; (at = text.find("\n" + prefix, at)) != std::string::npos; ++at) ++n;
  return n;
}

TEST(MetricsRegistry, AcknowledgedCountsStoredOrDuplicateAndBothLatencies) {
  Registry r;
  r.received("in", "ADT^A01");
  r.received("in", "ADT^A01");
  r.acknowledged("in", "ADT^A01", false, 2ms, 1ms);
  r.acknowledged("in", "ADT^A01", true, 30ms, 20ms);
  EXPECT_EQ(r.receivedCount("in", "ADT^A01"), 2u);
  EXPECT_EQ(r.storedCount("in", "ADT^A01"), 1u);
  const std::string text = r.renderPrometheus();
  EXPECT_NE(text.find("courier_messages_duplicate_total{listener=\"in\",type=\"ADT^A01\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("courier_ack_latency_seconds_bucket{listener=\"in\",le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("courier_ack_latency_seconds_bucket{listener=\"in\",le=\"0.05\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("courier_store_commit_latency_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("courier_store_commit_latency_seconds_count 2\n"), std::string::npos);
}

// A sender cycling through made-up types cannot grow the registry without bound: past
// kMaxSeries series, new label sets are counted under type "other".
TEST(MetricsRegistry, SeriesAreCappedAndTheRestCountAsOther) {
  Registry r;
  const std::size_t sent = Registry::kMaxSeries + 100;
  for (std::size_t i = 0; i < sent; ++i) {
    r.received("in", "T" + std::to_string(i));
    r.rejected("in", "T" + std::to_string(i), "parse-error");
  }
  r.received("in", "T0");  // an existing series still counts as itself
  EXPECT_EQ(r.receivedCount("in", "T0"), 2u);
  EXPECT_EQ(r.receivedCount("in", "other"), 100u);
  const std::string text = r.renderPrometheus();
  EXPECT_EQ(countLines(text, "courier_messages_received_total{"), Registry::kMaxSeries + 1);
  EXPECT_EQ(countLines(text, "courier_messages_rejected_total{"), Registry::kMaxSeries + 1);
  EXPECT_NE(text.find("courier_messages_rejected_total{listener=\"in\",type=\"other\",reason=\"parse-error\"} 100\n"),
            std::string::npos);
}

}  // namespace
}  // namespace courier::metrics
