// Deliverer: drains one destination's outbox through its Sink, on a thread of its own,
// so one slow or dead receiver never holds up another.
//
// Loop: take the oldest due items (store::WorkStore::dueItems, FIFO per destination),
// hand them to the sink in one batch, record every result in one transaction. A failed
// try is retried after retryDelay() (exponential, jittered, Retry-After honoured); past
// the policy's limits, or when the receiver refused it for good, the item goes to the
// dead-letter queue and the queue moves on. Nothing is removed: delivered items stay as
// the audit trail. A crash between delivery and recording repeats that delivery with
// the same idempotency key (at least once; receivers dedupe on the key).
//
// wake() is called by the pipeline after it enqueued for this destination; without it
// the deliverer still polls (idle_poll), which also picks up `courier outbox retry`.
// After a round shorter than the batch with nothing left to retry the queue was empty, so
// the deliverer waits for the next wake() instead of reading it again at once (one read
// per trickling notification, not two). Its records go through recordAttempts, which
// deliverers sharing a store connection commit together (work_store.h: group commit).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/config/config.h"
#include "engine/core/log.h"
#include "engine/core/result.h"
#include "engine/delivery/sink.h"
#include "engine/store/work_store.h"

namespace courier::pipeline {

// What a sink gets for an outbox item (its payload moved out of it).
delivery::Delivery deliveryOf(store::OutboxItem&& item);

struct DelivererOptions {
  std::size_t batch = 512;                              // items per sink call, one commit
  std::chrono::milliseconds idle_poll{250};             // look again this often when idle
  std::chrono::milliseconds store_retry{1000};          // after a store error
  // Told, on the deliverer's thread after the round was recorded, of each item that was
  // delivered or dead-lettered (kDelivered / kDead) with the sink's detail. Subscriptions
  // use it to go to `error` and back.
  std::function<void(store::OutboxState state, const std::string& detail)> on_settled;
};

struct DelivererStats {
  std::uint64_t delivered = 0;
  std::uint64_t retried = 0;
  std::uint64_t dead = 0;
  std::uint64_t store_errors = 0;
};

class Deliverer {
 public:
  Deliverer(store::WorkStore& work, config::DestinationConfig destination, std::unique_ptr<delivery::Sink> sink,
            DelivererOptions options = {});
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  void start();
  // Finishes the batch in hand (bounded by the sink's timeouts), records it, stops.
  void stop();
  void wake();

  const std::string& destination() const { return destination_.name; }
  DelivererStats stats() const;

  // One round (tests drive it without the thread): returns how many items were tried.
  // Errors: the store's (kUnavailable); the loop waits store_retry and tries again.
  Result<std::size_t> runOnce(std::optional<store::TimePoint>* next_due = nullptr);

 private:
  void loop();

  store::WorkStore& work_;
  config::DestinationConfig destination_;
  std::unique_ptr<delivery::Sink> sink_;
  DelivererOptions options_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  std::atomic<std::uint64_t> delivered_{0}, retried_{0}, dead_{0}, store_errors_{0};
  std::shared_ptr<spdlog::logger> log_;
  std::uint64_t rng_state_;
  bool again_ = false;  // runOnce: read the queue again at once (full batch or a retry)
};

}  // namespace courier::pipeline
