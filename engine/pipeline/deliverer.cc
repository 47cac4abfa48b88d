#include "engine/pipeline/deliverer.h"

#include <pthread.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "engine/core/log.h"
#include "engine/pipeline/backoff.h"

namespace courier::pipeline {

delivery::Delivery deliveryOf(store::OutboxItem&& item) {
  delivery::Delivery d;
  d.outbox_id = item.id;
  d.destination = std::move(item.destination);
  d.idempotency_key = std::move(item.idempotency_key);
  d.content_type = std::move(item.content_type);
  d.payload = std::move(item.payload);
  d.file_name = std::move(item.file_name);
  d.patient_key = std::move(item.patient_key);
  d.attempt = item.attempts + 1;
  return d;
}

Deliverer::Deliverer(store::WorkStore& work, config::DestinationConfig destination,
                     std::unique_ptr<delivery::Sink> sink, DelivererOptions options)
    : work_(work),
      destination_(std::move(destination)),
      sink_(std::move(sink)),
      options_(options),
      log_(logger("delivery")),
      rng_state_(std::random_device{}() | 1u) {}

Deliverer::~Deliverer() { stop(); }

void Deliverer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Deliverer::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (sink_) sink_->close();
}

void Deliverer::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

DelivererStats Deliverer::stats() const {
  return DelivererStats{delivered_.load(), retried_.load(), dead_.load(), store_errors_.load()};
}

Result<std::size_t> Deliverer::runOnce(std::optional<store::TimePoint>* next_due) {
  const auto now = std::chrono::system_clock::now();
  auto items = work_.dueItems(destination_.name, now, options_.batch, next_due);
  if (!items) {
    if (store_errors_++ == 0) log_->warn("outbox {}: {}", destination_.name, items.error().message);
    return Unexpected(items.error());
  }
  again_ = false;
  if (items->empty()) return std::size_t{0};
  // A full batch may have left more behind: read again at once. A shorter one emptied
  // the queue as it was; the next item comes with a wake() (or the idle poll), so the
  // loop waits instead of reading an empty queue after every notification.
  again_ = items->size() >= options_.batch;
  std::vector<delivery::Delivery> batch;
  batch.reserve(items->size());
  for (auto& item : *items) batch.push_back(deliveryOf(std::move(item)));
  auto results = sink_->deliverBatch(batch);
  if (results.size() < batch.size()) again_ = true;  // the rest was not tried: still queued
  std::vector<store::AttemptRecord> records;
  records.reserve(results.size());
  const auto after = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < results.size() && i < batch.size(); ++i) {
    auto& r = results[i];
    store::AttemptRecord rec;
    rec.outbox_id = batch[i].outbox_id;
    rec.error = r.detail;                  // kept: the dead-letter log lines below read it
    rec.response = std::move(r.response);  // the receiver's answer, not read again here
    rec.next_attempt_at = after;
    switch (r.status) {
      case delivery::DeliveryStatus::kDelivered:
        rec.new_state = store::OutboxState::kDelivered;
        ++delivered_;
        break;
      case delivery::DeliveryStatus::kDeadLetter:
        rec.new_state = store::OutboxState::kDead;
        ++dead_;
        log_->warn("outbox {}: item {} dead-lettered: {}", destination_.name, rec.outbox_id, r.detail);
        break;
      case delivery::DeliveryStatus::kRetry: {
        auto age = std::chrono::duration_cast<std::chrono::milliseconds>(after - (*items)[i].created_at);
        if (exhausted(destination_.retry, batch[i].attempt, age)) {
          rec.new_state = store::OutboxState::kDead;
          rec.error = "gave up after " + std::to_string(batch[i].attempt) + " tries: " + r.detail;
          ++dead_;
          log_->warn("outbox {}: item {} dead-lettered: {}", destination_.name, rec.outbox_id, rec.error);
        } else {
          rng_state_ ^= rng_state_ << 13;
          rng_state_ ^= rng_state_ >> 7;
          rng_state_ ^= rng_state_ << 17;
          double unit = static_cast<double>(rng_state_ >> 11) / static_cast<double>(1ull << 53);
          rec.new_state = store::OutboxState::kPending;
          again_ = true;  // the next read says when it is due
          rec.next_attempt_at = after + retryDelay(destination_.retry, batch[i].attempt, unit, r.retry_after);
          ++retried_;
          log_->debug("outbox {}: item {} try {} failed: {}", destination_.name, rec.outbox_id,
                                    batch[i].attempt, r.detail);
        }
        break;
      }
    }
    records.push_back(std::move(rec));
  }
  if (auto w = work_.recordAttempts(records); !w) {
    // Delivered but not recorded: the next round delivers them again, same keys.
    if (store_errors_++ == 0) log_->warn("outbox {}: {}", destination_.name, w.error().message);
    return Unexpected(w.error());
  }
  if (options_.on_settled) {
    for (const auto& rec : records) {
      if (rec.new_state != store::OutboxState::kPending) options_.on_settled(rec.new_state, rec.error);
    }
  }
  return records.size();
}

void Deliverer::loop() {
  pthread_setname_np(pthread_self(), "courier-dlv");
  for (;;) {
    std::chrono::milliseconds wait = options_.idle_poll;
    std::optional<store::TimePoint> next_due;
    auto tried = runOnce(&next_due);
    if (!tried) {
      wait = options_.store_retry;
    } else if (*tried > 0 && again_) {
      std::lock_guard lock(mu_);
      if (stop_) return;
      continue;
    } else if (*tried == 0 && next_due) {
      auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next_due - std::chrono::system_clock::now());
      wait = std::clamp(until, std::chrono::milliseconds(1), options_.idle_poll);
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return woken_ || stop_; });
    if (stop_) return;
    woken_ = false;
  }
}

}  // namespace courier::pipeline
