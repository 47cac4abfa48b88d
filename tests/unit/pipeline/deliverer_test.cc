// The deliverer against a real outbox and a scripted sink.
#include "engine/pipeline/deliverer.h"

#include <sqlite3.h>

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/pipeline/fixture.h"

namespace courier::pipeline {
namespace {

using namespace std::chrono_literals;
using delivery::DeliveryResult;
using delivery::DeliveryStatus;

// Answers from a script (then kDelivered), remembering what it was given.
class ScriptedSink final : public delivery::Sink {
 public:
  explicit ScriptedSink(std::deque<DeliveryResult> script) : script_(std::move(script)) {}
  DeliveryResult deliver(const delivery::Delivery& item) override {
    std::lock_guard lock(mu_);
    seen.push_back(item.payload + "#" + std::to_string(item.attempt));
    keys.push_back(item.idempotency_key);
    if (script_.empty()) return DeliveryResult{DeliveryStatus::kDelivered, "ok", "", std::nullopt};
    auto r = script_.front();
    script_.pop_front();
    return r;
  }
  std::vector<std::string> seen, keys;

 private:
  std::mutex mu_;
  std::deque<DeliveryResult> script_;
};

class DelivererTest : public testing::StoreFixture {
 protected:
  // n more messages, each with one item for destination "d" (payload "m<i>", key "k<i>",
  // i counting on over calls).
  void enqueue(int n) {
    std::vector<std::string> raws(static_cast<std::size_t>(n), "MSH|^~\\&|A|F|||||DFT^P03|X|P|2.5.1\r");
    auto ids = store(raws);
    std::vector<store::ProcessedMessage> done;
    for (int j = 0; j < n; ++j) {
      const int i = enqueued_++;
      store::OutboxEntry e{"d", "r", "P1", "k" + std::to_string(i), "text/plain", "f" + std::to_string(i),
                           "m" + std::to_string(i)};
      store::ProcessedMessage p;
      p.id = ids[static_cast<std::size_t>(j)];
      p.outcome = "routed";
      p.outbox = {e};
      done.push_back(std::move(p));
    }
    auto r = work_->completeInbox(done);
    ASSERT_TRUE(r.has_value()) << r.error().toString();
  }
  int enqueued_ = 0;
  config::DestinationConfig destination(std::uint32_t max_attempts = 0) {
    config::DestinationConfig d;
    d.name = "d";
    d.retry.initial_backoff = 10ms;
    d.retry.max_backoff = 40ms;
    d.retry.max_attempts = max_attempts;
    return d;
  }
  std::vector<store::OutboxItem> items(store::OutboxState state) {
    store::OutboxFilter f;
    f.state = state;
    f.limit = 0;
    auto listed = work_->listOutbox(f);
    EXPECT_TRUE(listed.has_value());
    return listed ? *listed : std::vector<store::OutboxItem>{};
  }
};

TEST_F(DelivererTest, DeliversInOrderAndARetryHoldsTheQueueUntilItIsDue) {
  enqueue(3);
  auto sink = std::make_unique<ScriptedSink>(std::deque<DeliveryResult>{
      {DeliveryStatus::kDelivered, "", "", std::nullopt},
      {DeliveryStatus::kRetry, "HTTP 503", "busy", 200ms},
  });
  auto* s = sink.get();
  auto dest = destination();
  dest.retry.max_backoff = 1s;  // so that the receiver's Retry-After counts in full
  Deliverer d(*work_, dest, std::move(sink));
  std::optional<store::TimePoint> next;
  auto tried = d.runOnce(&next);
  ASSERT_TRUE(tried.has_value());
  EXPECT_EQ(*tried, 2u) << "the batch stops at the first failure";
  EXPECT_EQ(s->seen, (std::vector<std::string>{"m0#1", "m1#1"}));
  auto again = d.runOnce(&next);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, 0u) << "m1 waits for its Retry-After and m2 waits behind it";
  ASSERT_TRUE(next.has_value());
  EXPECT_GE(*next - std::chrono::system_clock::now(), 100ms);
  auto pending = items(store::OutboxState::kPending);
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending.back().last_error, "HTTP 503");
  // Once due, m1 goes first (second try), then m2.
  d.start();
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       items(store::OutboxState::kDelivered).size() < 3 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);  // poll interval under the deadline
  }
  d.stop();
  EXPECT_EQ(items(store::OutboxState::kDelivered).size(), 3u);
  EXPECT_EQ(s->seen, (std::vector<std::string>{"m0#1", "m1#1", "m1#2", "m2#1"}));
  EXPECT_EQ(s->keys[2], "k1") << "every try of an item carries the same idempotency key";
  EXPECT_EQ(d.stats().delivered, 3u);
  EXPECT_EQ(d.stats().retried, 1u);
}

TEST_F(DelivererTest, RefusedOrExhaustedItemsAreDeadLetteredAndTheQueueMovesOn) {
  enqueue(3);
  auto sink = std::make_unique<ScriptedSink>(std::deque<DeliveryResult>{
      {DeliveryStatus::kDeadLetter, "HTTP 400", "{\"resourceType\":\"OperationOutcome\"}", std::nullopt},
      {DeliveryStatus::kRetry, "connection refused", "", std::nullopt},
      {DeliveryStatus::kRetry, "connection refused", "", std::nullopt},
  });
  Deliverer d(*work_, destination(/*max_attempts=*/2), std::move(sink));
  d.start();
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       items(store::OutboxState::kDelivered).size() < 1 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);  // poll interval under the deadline
  }
  d.stop();
  auto dead = items(store::OutboxState::kDead);
  ASSERT_EQ(dead.size(), 2u);
  // Newest first: m1 gave up after two tries, m0 was refused at once.
  EXPECT_EQ(dead[0].attempts, 2u);
  EXPECT_NE(dead[0].last_error.find("gave up after 2 tries: connection refused"), std::string::npos);
  EXPECT_EQ(dead[1].attempts, 1u);
  EXPECT_EQ(work_->getOutbox(dead[1].id)->last_response, "{\"resourceType\":\"OperationOutcome\"}");
  EXPECT_EQ(items(store::OutboxState::kDelivered).size(), 1u);
  EXPECT_EQ(d.stats().dead, 2u);
}

TEST_F(DelivererTest, ARoundWhoseRecordIsNotCommittedIsSentAgainWithTheSameKeys) {
  enqueue(2);
  // A connection that gives up on a locked store after 50 ms, as a commit that fails would.
  auto work = store::openSqliteWorkStore(store::WorkStoreOptions{dir_ / "courier.db", std::chrono::milliseconds(50)});
  ASSERT_TRUE(work.has_value());
  auto sink = std::make_unique<ScriptedSink>(std::deque<DeliveryResult>{});
  auto* s = sink.get();
  Deliverer d(**work, destination(), std::move(sink));
  {
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "courier.db").c_str(), &other), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    auto failed = d.runOnce();
    EXPECT_FALSE(failed.has_value()) << "delivered, but the record could not be committed";
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(other);
  }
  EXPECT_EQ(items(store::OutboxState::kPending).size(), 2u) << "nothing is marked delivered that was not committed";
  auto again = d.runOnce();
  ASSERT_TRUE(again.has_value()) << again.error().toString();
  EXPECT_EQ(*again, 2u);
  // Sent twice, as the first try: the receiver dedupes on the key.
  EXPECT_EQ(s->seen, (std::vector<std::string>{"m0#1", "m1#1", "m0#1", "m1#1"}));
  EXPECT_EQ(s->keys, (std::vector<std::string>{"k0", "k1", "k0", "k1"}));
  auto delivered = items(store::OutboxState::kDelivered);
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[0].attempts, 1u);
}

TEST_F(DelivererTest, AFullBatchIsFollowedAtOnceAndAShortOneWaitsForTheNextWake) {
  enqueue(5);
  auto sink = std::make_unique<ScriptedSink>(std::deque<DeliveryResult>{});
  auto* s = sink.get();
  DelivererOptions o;
  o.batch = 2;
  o.idle_poll = std::chrono::hours(1);  // no polling: only a full batch or a wake() reads again
  Deliverer d(*work_, destination(), std::move(sink), o);
  d.start();
  // Rounds of 2, 2, 1 without any wake().
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       items(store::OutboxState::kDelivered).size() < 5 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);  // poll interval under the deadline
  }
  EXPECT_EQ(items(store::OutboxState::kDelivered).size(), 5u);
  // The queue was empty after the short round; the next item comes with a wake().
  enqueue(1);
  d.wake();
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       items(store::OutboxState::kDelivered).size() < 6 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);  // poll interval under the deadline
  }
  d.stop();
  EXPECT_EQ(items(store::OutboxState::kDelivered).size(), 6u);
  EXPECT_EQ(s->seen.size(), 6u);
}

}  // namespace
}  // namespace courier::pipeline
