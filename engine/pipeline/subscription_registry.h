// SubscriptionRegistry: the subscriptions the pipeline matches events against, with their
// event counters. The in-memory side of the `subscriptions` table (store/work_store.h).
//
//   SubscriptionRegistry reg;
//   reg.load(work);                            // at start: every stored subscription
//   PipelineOptions o; o.subscriptions = &reg; // the pipeline matches and numbers events
//
// The pipeline matches on its worker threads (match(), shared lock) and numbers events in
// one sequential step per batch, in inbox order (assign(), exclusive lock), so numbers are
// gapless per subscription. The counters move ahead of the store until the batch commits;
// when the commit fails the pipeline puts them back (restore()) and the batch runs again.
//
// The Matcher holds subscriptions that are requested, active or in error (a subscription
// whose deliveries failed keeps its events numbered and queued, so none is lost when it
// recovers); off ones are removed.
//
// A subscription whose Subscription.end has passed (by `clock`) gets no more event numbers
// (assign() says nullopt), even before SubscriptionService::expire() turns it off.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.h"
#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/store/work_store.h"
#include "engine/subscriptions/event.h"
#include "engine/subscriptions/matcher.h"
#include "engine/subscriptions/notification.h"
#include "engine/subscriptions/subscription.h"

namespace courier::pipeline {

// A FHIR instant (UTC, milliseconds): "2024-05-01T12:00:00.123Z".
std::string fhirInstant(std::chrono::system_clock::time_point t);

// The outbox destination of a subscription's notifications.
std::string subscriptionDestination(std::string_view id);  // "subscription/<id>"
// The id from such a destination, or empty when it is not one.
std::string_view subscriptionIdOf(std::string_view destination);

// "Name: value" headers of a rest-hook channel as header pairs (malformed ones skipped).
std::vector<std::pair<std::string, std::string>> channelHeaders(const subscriptions::Channel& channel);
// The channel's timeout, 10 s when it names none.
std::chrono::milliseconds channelTimeout(const subscriptions::Channel& channel);
// The https destination a subscription's notifications go to: its endpoint and headers,
// trusting the system CAs plus subscriptions.ca_files, retried per subscriptions.retry.
config::DestinationConfig subscriptionDestinationConfig(const config::SubscriptionsConfig& cfg,
                                                        const subscriptions::SubscriptionSpec& s);

class SubscriptionRegistry {
 public:
  explicit SubscriptionRegistry(subscriptions::NotificationOptions options = {}, const Clock& clock = Clock::system());

  // Reads every stored subscription (ones whose JSON no longer parses are skipped and
  // logged by id). Replaces what was held.
  [[nodiscard]] Result<void> load(store::WorkStore& work);

  // Adds or replaces a subscription (spec.id set, spec.status its status). `events` is its
  // counter (events_since_start) as stored.
  void put(subscriptions::SubscriptionSpec spec, std::uint64_t events, std::string reason = {});
  void remove(std::string_view id);
  // False when there is no such subscription.
  bool setStatus(std::string_view id, subscriptions::SubscriptionStatus status, std::string reason);

  std::optional<subscriptions::SubscriptionSpec> spec(std::string_view id) const;
  std::optional<subscriptions::SubscriptionState> state(std::string_view id) const;
  std::vector<subscriptions::SubscriptionSpec> all() const;

  // The ids of the subscriptions an event satisfies (worker threads).
  std::vector<std::string> match(const subscriptions::Event& event) const;
  // No subscription at all (the pipeline then raises no events for a batch it has read).
  bool empty() const;

  // The next event number of `id` and its state after it (sequential step); nullopt when
  // the subscription went away meanwhile, is off, or its end has passed.
  struct Assigned {
    subscriptions::SubscriptionState state;  // events_since_start = the new number
    subscriptions::PayloadContent content = subscriptions::PayloadContent::kEmpty;
  };
  std::optional<Assigned> assign(std::string_view id);

  // Counters as they are now, and putting them back after a failed commit.
  std::map<std::string, std::uint64_t, std::less<>> counters() const;
  void restore(const std::map<std::string, std::uint64_t, std::less<>>& counters);

  const subscriptions::NotificationOptions& notificationOptions() const { return options_; }

 private:
  struct Entry {
    subscriptions::SubscriptionSpec spec;
    std::uint64_t events = 0;
    std::string reason;
  };
  mutable std::shared_mutex mu_;
  subscriptions::Matcher matcher_;
  std::map<std::string, Entry, std::less<>> entries_;
  subscriptions::NotificationOptions options_;
  const Clock& clock_;
};

// What subscriptions::parseSubscription gives for a stored status name.
std::optional<subscriptions::SubscriptionStatus> subscriptionStatusFromName(std::string_view name);

}  // namespace courier::pipeline
