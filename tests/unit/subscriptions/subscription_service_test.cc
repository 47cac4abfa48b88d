// SubscriptionRegistry and SubscriptionService (engine/pipeline) against a real SQLite work
// store: registration and removal, handshake outcomes, error after a dead letter and
// recovery, heartbeat scheduling, Subscription.end. The rest-hook is a fake HookPost; the
// clock is a FakeClock.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/core/clock.h"
#include "engine/pipeline/deliverer.h"
#include "engine/pipeline/subscription_registry.h"
#include "engine/pipeline/subscription_service.h"
#include "tests/unit/store/store_fixture.h"
#include "tests/unit/subscriptions/fixtures.h"

namespace courier::pipeline {
namespace {

namespace sub = courier::subscriptions;
using namespace std::chrono_literals;
using sub::testing::kIcd;
using sub::testing::subscriptionJson;

constexpr std::string_view kHeartbeatExt =
    R"(,"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":60}])";

// 2026-05-01T12:00:00Z
const Clock::SystemTime kStart = std::chrono::sys_days(std::chrono::year(2026) / 5 / 1) + 12h;

std::string withEnd(std::string json, const std::string& end) {
  const std::string at = R"("reason":"test",)";
  json.insert(json.find(at) + at.size(), R"("end":")" + end + "\",");
  return json;
}

sub::Event diagnosis(const std::string& code) {
  sub::Event e;
  e.topic = sub::Topic::kDiagnosis;
  e.codes = {kIcd + "|" + code};
  e.patient_ref = "Patient/MRN1";
  e.focus_type = "Condition";
  e.focus_index = 0;
  return e;
}

// ---- SubscriptionRegistry ----------------------------------------------------------

TEST(SubscriptionDestination, IsTheChannelsEndpointHeadersAndTimeoutWithTheConfiguredTrust) {
  sub::SubscriptionSpec s;
  s.id = "abc";
  s.channel.endpoint = "https://registry.example/notify";
  s.channel.headers = {"Authorization: Bearer t0k", "X-Site:  north", "no colon here"};
  s.channel.timeout = std::chrono::seconds(3);
  config::SubscriptionsConfig cfg;
  cfg.ca_files = {"/etc/courier/ca.crt"};
  cfg.retry.max_attempts = 7;
  auto d = subscriptionDestinationConfig(cfg, s);
  EXPECT_EQ(d.name, "subscription/abc");
  EXPECT_EQ(d.kind, config::DestinationKind::kHttps);
  EXPECT_EQ(d.url, "https://registry.example/notify");
  EXPECT_EQ(d.method, "POST");
  ASSERT_EQ(d.headers.size(), 2u) << "a header without a colon is skipped";
  EXPECT_EQ(d.headers[0], (std::pair<std::string, std::string>{"Authorization", "Bearer t0k"}));
  EXPECT_EQ(d.headers[1], (std::pair<std::string, std::string>{"X-Site", "north"}));
  EXPECT_EQ(d.response_timeout, std::chrono::seconds(3));
  EXPECT_EQ(d.tls.ca_files, cfg.ca_files);
  EXPECT_EQ(d.retry.max_attempts, 7u);
  s.channel.timeout.reset();
  EXPECT_EQ(channelTimeout(s.channel), std::chrono::seconds(10));
}

TEST(SubscriptionRegistry, PutMatchesAndRemoveForgets) {
  SubscriptionRegistry reg;
  auto cancer = sub::testing::spec("sub-cancer", "diagnosis", {"Condition?code=" + kIcd + "|C00-D49"});
  cancer.status = sub::SubscriptionStatus::kActive;
  reg.put(cancer, 0);
  EXPECT_EQ(reg.match(diagnosis("C50.911")), std::vector<std::string>{"sub-cancer"});
  EXPECT_TRUE(reg.match(diagnosis("I10")).empty());
  reg.remove("sub-cancer");
  EXPECT_TRUE(reg.match(diagnosis("C50.911")).empty());
  EXPECT_FALSE(reg.state("sub-cancer"));
  EXPECT_FALSE(reg.setStatus("sub-cancer", sub::SubscriptionStatus::kActive, ""));
}

TEST(SubscriptionRegistry, OffLeavesTheMatcherAndGetsNoNumbers) {
  SubscriptionRegistry reg;
  auto s = sub::testing::spec("sub-1", "diagnosis");
  s.status = sub::SubscriptionStatus::kActive;
  reg.put(s, 0);
  ASSERT_TRUE(reg.setStatus("sub-1", sub::SubscriptionStatus::kOff, "ended"));
  EXPECT_TRUE(reg.match(diagnosis("I10")).empty());
  EXPECT_FALSE(reg.assign("sub-1"));
  ASSERT_TRUE(reg.setStatus("sub-1", sub::SubscriptionStatus::kActive, ""));
  EXPECT_EQ(reg.match(diagnosis("I10")).size(), 1u);
}

TEST(SubscriptionRegistry, NumbersAreGaplessAndRestoredAfterAFailedCommit) {
  SubscriptionRegistry reg;
  auto s = sub::testing::spec("sub-1", "diagnosis");
  s.status = sub::SubscriptionStatus::kActive;
  reg.put(s, 41);
  const auto before = reg.counters();
  auto a = reg.assign("sub-1");
  auto b = reg.assign("sub-1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->state.events_since_start, 42u);
  EXPECT_EQ(b->state.events_since_start, 43u);
  EXPECT_EQ(b->content, sub::PayloadContent::kIdOnly);
  reg.restore(before);
  EXPECT_EQ(reg.state("sub-1")->events_since_start, 41u);
  EXPECT_EQ(reg.assign("sub-1")->state.events_since_start, 42u);
  EXPECT_FALSE(reg.assign("sub-gone"));
}

TEST(SubscriptionRegistry, NoNumbersPastTheEnd) {
  FakeClock clock(kStart);
  SubscriptionRegistry reg({}, clock);
  auto s = sub::testing::spec("sub-1", "diagnosis");
  s.status = sub::SubscriptionStatus::kActive;
  s.end_time = kStart + 1h;
  reg.put(s, 0);
  EXPECT_TRUE(reg.assign("sub-1"));
  clock.advance(1h);
  EXPECT_FALSE(reg.assign("sub-1"));
  EXPECT_EQ(reg.state("sub-1")->events_since_start, 1u);
}

// ---- SubscriptionService -----------------------------------------------------------

class SubscriptionServiceTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    registry_ = std::make_unique<SubscriptionRegistry>(sub::NotificationOptions{}, clock_);
    service_ = std::make_unique<SubscriptionService>(
        *work_, *registry_,
        [this](const sub::Channel& channel, const std::string& body) -> Result<int> {
          endpoints_.push_back(channel.endpoint);
          handshakes_.push_back(body);
          return hook_answer_;
        },
        [this](const std::string& id, const std::optional<sub::SubscriptionSpec>& spec) {
          changes_.emplace_back(id, spec ? std::string(sub::subscriptionStatusName(spec->status)) : "removed");
        },
        clock_);
  }
  void TearDown() override {
    service_.reset();
    registry_.reset();
    StoreFixture::TearDown();
  }

  std::string create(const std::string& body, const std::string& owner = "cancer-registry") {
    auto r = service_->create(owner, body);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().toString());
    return r ? r->id : std::string();
  }
  std::string storedStatus(const std::string& id) {
    auto rec = work_->getSubscription(id);
    EXPECT_TRUE(rec.has_value() && rec->has_value());
    return rec && *rec ? (*rec)->status : std::string();
  }
  // The subscription's queue as `outbox show` has it (dueItems leaves the route out).
  std::vector<store::OutboxItem> queued(const std::string& id) {
    auto due = work_->dueItems(subscriptionDestination(id), std::chrono::system_clock::now() + 1h, 100);
    EXPECT_TRUE(due.has_value());
    std::vector<store::OutboxItem> items;
    for (const auto& d : due ? *due : std::vector<store::OutboxItem>{}) {
      auto item = work_->getOutbox(d.id);
      EXPECT_TRUE(item.has_value());
      if (item) items.push_back(*item);
    }
    return items;
  }

  FakeClock clock_{kStart};
  Result<int> hook_answer_ = 200;
  std::vector<std::string> endpoints_, handshakes_;
  std::vector<std::pair<std::string, std::string>> changes_;  // id, status or "removed"
  std::unique_ptr<SubscriptionRegistry> registry_;
  std::unique_ptr<SubscriptionService> service_;
};

TEST_F(SubscriptionServiceTest, AHandshakeAnswered2xxMakesItActive) {
  const std::string id = create(subscriptionJson("diagnosis", {"Condition?code=" + kIcd + "|C00-D49"}));
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(handshakes_.size(), 1u);
  EXPECT_EQ(endpoints_[0], "https://registry.example/notify");
  EXPECT_NE(handshakes_[0].find("\"valueCode\":\"handshake\""), std::string::npos);
  EXPECT_EQ(storedStatus(id), "active");
  EXPECT_EQ(registry_->state(id)->status, sub::SubscriptionStatus::kActive);
  EXPECT_EQ(changes_.back(), (std::pair<std::string, std::string>{id, "active"}));
  EXPECT_EQ(registry_->match(diagnosis("C50.911")), std::vector<std::string>{id});
  auto read = service_->read("cancer-registry", id);
  ASSERT_TRUE(read.has_value());
  EXPECT_NE(read->find("\"status\":\"active\""), std::string::npos);
}

TEST_F(SubscriptionServiceTest, AHandshakeRefusedOrUnansweredMakesItError) {
  hook_answer_ = 404;
  const std::string refused = create(subscriptionJson("diagnosis"));
  EXPECT_EQ(storedStatus(refused), "error");
  EXPECT_EQ(registry_->state(refused)->error, "handshake answered HTTP 404");

  hook_answer_ = Unexpected(Error(ErrorCode::kUnavailable, "connection refused"));
  const std::string down = create(subscriptionJson("diagnosis"));
  EXPECT_EQ(storedStatus(down), "error");
  EXPECT_NE(registry_->state(down)->error.find("connection refused"), std::string::npos);
  // In error it still matches: its events are numbered and queued for when it recovers.
  EXPECT_EQ(registry_->match(diagnosis("I10")).size(), 2u);

  // PUT active proves the endpoint again.
  hook_answer_ = 200;
  auto body = subscriptionJson("diagnosis");
  auto put = service_->update("cancer-registry", down, body);
  ASSERT_TRUE(put.has_value()) << put.error().toString();
  EXPECT_EQ(storedStatus(down), "active");
}

TEST_F(SubscriptionServiceTest, InvalidOrForeignRequestsAreRefused) {
  auto bad = service_->create("cancer-registry", subscriptionJson("diagnosis", {}, "id-only", "http://plain.example/"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().location, "Subscription.channel.endpoint");
  EXPECT_TRUE(handshakes_.empty());

  const std::string id = create(subscriptionJson("diagnosis"));
  for (auto r : {service_->read("other-registry", id), service_->status("other-registry", id)}) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  }
  EXPECT_FALSE(service_->remove("other-registry", id).has_value());
  EXPECT_TRUE(registry_->state(id));
}

TEST_F(SubscriptionServiceTest, RemoveForgetsItEverywhere) {
  const std::string id = create(subscriptionJson("diagnosis"));
  ASSERT_TRUE(service_->remove("cancer-registry", id).has_value());
  EXPECT_FALSE(registry_->state(id));
  EXPECT_TRUE(registry_->match(diagnosis("I10")).empty());
  auto rec = work_->getSubscription(id);
  ASSERT_TRUE(rec.has_value());
  EXPECT_FALSE(rec->has_value());
  EXPECT_EQ(changes_.back(), (std::pair<std::string, std::string>{id, "removed"}));
  EXPECT_EQ(service_->read("cancer-registry", id).error().code, ErrorCode::kNotFound);
}

// The wiring of `courier serve`: a Deliverer whose on_settled tells the service. A receiver
// that refuses past the retry limit dead-letters the notification and puts the
// subscription in error with the reason; the next delivered one brings it back.
class RefusingThenAcceptingSink final : public delivery::Sink {
 public:
  explicit RefusingThenAcceptingSink(bool& up) : up_(up) {}
  delivery::DeliveryResult deliver(const delivery::Delivery&) override {
    if (up_) return {delivery::DeliveryStatus::kDelivered, "HTTP 200", "", std::nullopt};
    return {delivery::DeliveryStatus::kRetry, "HTTP 503", "", std::nullopt};
  }

 private:
  bool& up_;
};

TEST_F(SubscriptionServiceTest, ADeadLetterPutsItInErrorAndADeliveryBringsItBack) {
  const std::string id = create(subscriptionJson("diagnosis", {}, "id-only", "https://registry.example/notify", std::string(kHeartbeatExt)));
  config::DestinationConfig dest;
  dest.name = subscriptionDestination(id);
  dest.retry.max_attempts = 1;
  bool up = false;
  DelivererOptions o;
  o.on_settled = [this, &id](store::OutboxState state, const std::string& detail) {
    if (state == store::OutboxState::kDead) service_->deliveryFailed(id, detail);
    else service_->deliverySucceeded(id);
  };
  Deliverer deliverer(*work_, dest, std::make_unique<RefusingThenAcceptingSink>(up), o);

  // Two heartbeats due (the first call only starts the period).
  (void)service_->heartbeat(std::chrono::steady_clock::now());
  ASSERT_EQ(service_->heartbeat(std::chrono::steady_clock::now() + 61s).size(), 1u);
  auto tried = deliverer.runOnce();
  ASSERT_TRUE(tried.has_value());
  EXPECT_EQ(*tried, 1u);
  EXPECT_EQ(storedStatus(id), "error");
  EXPECT_EQ(registry_->state(id)->error.rfind("delivery failed: ", 0), 0u);
  EXPECT_NE(registry_->state(id)->error.find("HTTP 503"), std::string::npos);
  EXPECT_EQ(changes_.back(), (std::pair<std::string, std::string>{id, "error"}));
  auto status = service_->status("cancer-registry", id);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(status->find("delivery failed: "), std::string::npos);
  // In error: no heartbeats.
  EXPECT_TRUE(service_->heartbeat(std::chrono::steady_clock::now() + 200s).empty());

  // An event queued meanwhile is delivered once the endpoint is back: active again.
  auto assigned = registry_->assign(id);
  ASSERT_TRUE(assigned);
  store::OutboxEntry e;
  e.destination = subscriptionDestination(id);
  e.route = "subscription";
  e.idempotency_key = "k-1";
  e.content_type = "application/fhir+json";
  e.file_name = "n.json";
  e.payload = "{}";
  ASSERT_TRUE(work_->enqueue({e}).has_value());
  up = true;
  ASSERT_TRUE(deliverer.runOnce().has_value());
  EXPECT_EQ(storedStatus(id), "active");
  EXPECT_EQ(registry_->state(id)->error, "");
  EXPECT_EQ(changes_.back(), (std::pair<std::string, std::string>{id, "active"}));
}

TEST_F(SubscriptionServiceTest, HeartbeatsGoOnlyToIdleActiveSubscriptionsWithAPeriod) {
  const std::string beating = create(subscriptionJson("diagnosis", {}, "id-only", "https://registry.example/notify",
                                                      std::string(kHeartbeatExt)));
  const std::string silent = create(subscriptionJson("diagnosis"));  // no heartbeat period
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(service_->heartbeat(t0).empty());          // starts the period
  EXPECT_TRUE(service_->heartbeat(t0 + 59s).empty());    // not idle long enough
  auto due = service_->heartbeat(t0 + 60s);
  ASSERT_EQ(due, std::vector<std::string>{subscriptionDestination(beating)});
  auto items = queued(beating);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].route, "subscription-heartbeat");
  EXPECT_NE(items[0].payload.find("\"valueCode\":\"heartbeat\""), std::string::npos);
  EXPECT_TRUE(queued(silent).empty());
  // A notification sent resets the period.
  service_->noteSent(beating, t0 + 100s);
  EXPECT_TRUE(service_->heartbeat(t0 + 150s).empty());
  EXPECT_EQ(service_->heartbeat(t0 + 160s).size(), 1u);
}

TEST_F(SubscriptionServiceTest, AnEndAlreadyPastIsRefused) {
  for (const char* end : {"2026-05-01T11:59:59Z", "2026-05-01T12:00:00Z", "2026-05-01T07:59:00-04:00",
                          "2026-05-01T13:59:59.999+02:00"}) {
    auto r = service_->create("cancer-registry", withEnd(subscriptionJson("diagnosis"), end));
    ASSERT_FALSE(r.has_value()) << end;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().location, "Subscription.end");
  }
  auto not_instant = service_->create("cancer-registry", withEnd(subscriptionJson("diagnosis"), "2026-06-01"));
  ASSERT_FALSE(not_instant.has_value());
  EXPECT_EQ(not_instant.error().location, "Subscription.end");
  EXPECT_TRUE(handshakes_.empty());
  auto stored = work_->listSubscriptions();
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->empty());
}

TEST_F(SubscriptionServiceTest, PastItsEndItGoesOffAndGetsNothingMore) {
  const std::string id = create(withEnd(subscriptionJson("diagnosis", {}, "id-only", "https://registry.example/notify",
                                                         std::string(kHeartbeatExt)),
                                        "2026-05-01T13:00:00.500Z"));
  const std::string forever = create(subscriptionJson("diagnosis"));
  EXPECT_EQ(storedStatus(id), "active");
  const auto t0 = std::chrono::steady_clock::now();
  (void)service_->heartbeat(t0);

  clock_.advance(1h);  // 13:00:00.000, half a second before the end
  EXPECT_TRUE(service_->expire().empty());
  EXPECT_TRUE(registry_->assign(id));

  clock_.advance(500ms);
  // Before expire() runs, the registry already gives it no event numbers.
  EXPECT_FALSE(registry_->assign(id));
  auto due = service_->heartbeat(t0 + 3600s);  // expires first: no heartbeat for it
  EXPECT_TRUE(due.empty());
  EXPECT_EQ(storedStatus(id), "off");
  EXPECT_EQ(registry_->state(id)->status, sub::SubscriptionStatus::kOff);
  EXPECT_EQ(registry_->state(id)->error, "ended");
  EXPECT_EQ(changes_.back(), (std::pair<std::string, std::string>{id, "off"}));
  EXPECT_EQ(registry_->match(diagnosis("I10")), std::vector<std::string>{forever});
  EXPECT_TRUE(service_->expire().empty());  // once
  // A late dead letter of something sent before the end leaves it off.
  service_->deliveryFailed(id, "HTTP 503");
  EXPECT_EQ(storedStatus(id), "off");
  auto read = service_->read("cancer-registry", id);
  ASSERT_TRUE(read.has_value());
  EXPECT_NE(read->find("\"status\":\"off\""), std::string::npos);
  EXPECT_NE(read->find("\"end\":\"2026-05-01T13:00:00.500Z\""), std::string::npos);
}

}  // namespace
}  // namespace courier::pipeline
