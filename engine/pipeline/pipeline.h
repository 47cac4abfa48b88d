// Pipeline: stored inbox messages -> record -> code -> route -> transform -> outboxes.
//
// One thread takes a batch from the inbox (store::WorkStore::nextInbox), works every
// message out on `workers` threads (a WorkerPool kept for the pipeline's life; pure
// computation: parse, CanonicalRecord, coding, specialties, routing, one payload per
// destination), then writes all of the batch's
// results in ONE transaction (WorkStore::completeInbox) in inbox order. So per patient,
// and per destination, the outbox holds messages in the order they were received; a
// crash before the commit repeats the batch, after it never; the outbox's idempotency
// keys (courier-<message id>-<destination>) make a repeat enqueue nothing twice.
//
// A destination that takes a claim (fhir-claim, x12-837p) gets one only when every code
// is valid and billable for the date of service; otherwise the message's review items
// go to the worklist ("held-for-review") and, once a reviewer resolved them, the
// message comes back requeued with their codes and the claim goes out then. Other
// destinations of the same message are not held.
//
// Outcomes per message (WorkStore::outcome): routed, no-route, held-for-review, failed
// (could not be parsed into a record; the detail names where).
//
// Subscriptions (optional, PipelineOptions::subscriptions): each worker also works out the
// events a record raises (subscriptions::eventsFor, with the derived specialties and
// whether a claim went to some destination) and which subscriptions want them. After the
// parallel part, one sequential step in inbox order numbers the events per subscription,
// writes each notification Bundle into the outbox (destination `subscription/<id>`, key
// `courier-<message id>-subscription/<id>-<event number>`) and records the event for
// $events; all of it commits with the batch. A requeued message (back from review) raises
// only claim-produced: its other events went out the first time.
//
// Application acknowledgements (MSH-16): a processed HL7 v2 message that asks for one
// gets its ACK (AA; AR with an ERR naming the problem when it could not be processed)
// in the outbox of the destination `pipeline.application_acks` names for its sender,
// committed with the batch like any other entry (key `courier-<message id>-application-ack`).
// A sender without an entry gets none; the outcome's detail says so. A requeued message
// (back from review) was answered the first time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/coding/record_coder.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/hl7v2/ack_builder.h"
#include "engine/record/site_map.h"
#include "engine/routing/router.h"
#include "engine/pipeline/subscription_registry.h"
#include "engine/pipeline/worker_pool.h"
#include "engine/store/work_store.h"

namespace courier::pipeline {

struct PipelineStats {
  std::uint64_t processed = 0;
  std::uint64_t routed = 0;
  std::uint64_t no_route = 0;
  std::uint64_t held = 0;
  std::uint64_t failed = 0;
  std::uint64_t enqueued = 0;
  std::uint64_t batches = 0;
  std::uint64_t store_errors = 0;
  std::uint64_t application_acks = 0;            // enqueued (committed)
  std::uint64_t application_acks_unrouted = 0;   // asked for, no destination for the sender
};

struct PipelineOptions {
  std::size_t batch = 512;
  std::size_t workers = 1;
  std::chrono::milliseconds idle_poll{100};
  std::chrono::milliseconds store_retry{1000};
  // Told after each committed batch which destinations got new items (wakes deliverers).
  std::function<void(const std::vector<std::string>& destinations)> on_enqueued;
  // Subscriptions to notify; null: none. Must outlive the pipeline.
  SubscriptionRegistry* subscriptions = nullptr;
  // The site's Z-segment/local-field maps (record/site_map.h) applied to HL7 v2 messages;
  // null: none. Must outlive the pipeline.
  const record::SiteMaps* site_maps = nullptr;
};

class Pipeline {
 public:
  // `coder` may be null: nothing is coded (claims then never go out). All references
  // must outlive the pipeline.
  Pipeline(store::WorkStore& work, const config::Config& config, const routing::Router& router,
           const coding::RecordCoder* coder, PipelineOptions options);
  ~Pipeline();

  void start();
  void stop();   // finishes the batch in hand
  void wake();   // new messages were stored

  // One batch, on the calling thread (tests, `courier process`): how many messages.
  Result<std::size_t> runOnce();
  // Works one message out without storing anything (tests, `courier route`).
  store::ProcessedMessage process(const store::InboxItem& item) const;

  PipelineStats stats() const;

 private:
  struct Raised;  // one message's subscription events, kept until the sequential step
  store::ProcessedMessage processInto(const store::InboxItem& item, Raised* raised) const;
  store::ProcessedMessage route(const store::InboxItem& item, Raised* raised) const;
  void acknowledge(const store::InboxItem& item, store::ProcessedMessage& out) const;
  void raise(const store::InboxItem& item, store::ProcessedMessage& out, Raised& raised) const;
  void notify(std::vector<store::ProcessedMessage>& done, std::vector<Raised>& raised) const;
  void loop();

  store::WorkStore& work_;
  const config::Config& config_;
  const routing::Router& router_;
  const coding::RecordCoder* coder_;
  PipelineOptions options_;
  hl7v2::AckBuilder acks_{"CP"};
  std::unique_ptr<WorkerPool> pool_;  // workers > 1: made by the first runOnce()
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  std::atomic<std::uint64_t> processed_{0}, routed_{0}, no_route_{0}, held_{0}, failed_{0}, enqueued_{0},
      batches_{0}, store_errors_{0};
  std::atomic<std::uint64_t> application_acks_{0};
  mutable std::atomic<std::uint64_t> application_acks_unrouted_{0};  // noted while working a message out
};

}  // namespace courier::pipeline
