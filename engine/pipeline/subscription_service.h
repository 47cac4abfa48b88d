// SubscriptionService: the business side of FHIR topic-based subscriptions, behind the
// SubscriptionApi the HTTP adapter calls (engine/subscriptions/subscription_api.h).
//
//   POST    validate (parseSubscription), store as `requested` with its owner, put it in the
//           registry (events start counting), POST a handshake Bundle to the endpoint
//           (HookPost, wired by `courier serve` to http::httpsRequest): 2xx -> `active`,
//           anything else -> `error` with the reason.
//   PUT     replace the filters/channel; status `active` brings one in `error` back.
//   DELETE  remove from the registry and the store (its pending notifications too).
//   $status, $events  from the registry's counter and the stored events.
// Deliveries: deliveryFailed() (a notification dead-lettered) sets `error` with the reason;
// deliverySucceeded() brings an `error` one back to `active`.
// End: a Subscription.end already past is refused at POST and PUT (kInvalidArgument located at
// Subscription.end -> 400). expire() turns every subscription whose end has passed `off`
// (reason "ended"): the registry stops numbering events for it and on_changed stops its
// deliverer; heartbeat() calls it first, so an ended subscription gets no heartbeat either.
// Heartbeats: heartbeat() enqueues a heartbeat Bundle for each active subscription with a
// heartbeat_period that had nothing sent for that long (`courier serve` calls it every
// subscriptions.heartbeat_check); noteSent() is told of every enqueued notification.
//
// on_changed is told of every status change and removal (nullopt) so that the caller starts
// or stops the subscription's deliverer. Thread-safety: any thread; calls block on the store
// and on the handshake (bounded by the channel's timeout, default 10 s).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/clock.h"
#include "engine/pipeline/subscription_registry.h"
#include "engine/store/work_store.h"
#include "engine/subscriptions/subscription_api.h"

namespace courier::pipeline {

// Sends `body` (a handshake Bundle) to the channel's endpoint with its headers; the HTTP
// status, or the error (kUnavailable, kTimeout, ...) when none came back.
using HookPost = std::function<Result<int>(const subscriptions::Channel& channel, const std::string& body)>;

class SubscriptionService final : public subscriptions::SubscriptionApi {
 public:
  using Changed = std::function<void(const std::string& id, const std::optional<subscriptions::SubscriptionSpec>&)>;

  // `clock` (wall time) decides when a Subscription.end has passed; tests pass a FakeClock.
  SubscriptionService(store::WorkStore& work, SubscriptionRegistry& registry, HookPost hook, Changed on_changed = {},
                      const Clock& clock = Clock::system());

  Result<subscriptions::CreatedSubscription> create(std::string_view owner, std::string_view body) override;
  Result<std::string> update(std::string_view owner, std::string_view id, std::string_view body) override;
  Result<std::string> read(std::string_view owner, std::string_view id) override;
  Result<void> remove(std::string_view owner, std::string_view id) override;
  Result<std::string> status(std::string_view owner, std::string_view id) override;
  Result<std::string> events(std::string_view owner, std::string_view id, std::optional<std::uint64_t> since,
                             std::optional<std::uint64_t> until) override;

  void deliveryFailed(const std::string& id, const std::string& reason);
  void deliverySucceeded(const std::string& id);
  void noteSent(const std::string& id, std::chrono::steady_clock::time_point when);
  // Heartbeats due at `now` (after expire()); returns the destinations that got one.
  std::vector<std::string> heartbeat(std::chrono::steady_clock::time_point now);
  // Subscriptions whose end passed (by the clock) go off; returns their ids.
  std::vector<std::string> expire();

 private:
  Result<store::SubscriptionRecord> owned(std::string_view owner, std::string_view id);
  Result<void> setStatus(const std::string& id, subscriptions::SubscriptionStatus status, const std::string& reason);
  void handshake(subscriptions::SubscriptionSpec& spec, std::string& reason);

  store::WorkStore& work_;
  SubscriptionRegistry& registry_;
  HookPost hook_;
  Changed on_changed_;
  const Clock& clock_;
  std::mutex mu_;  // last_sent_, and one status change at a time
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> last_sent_;
};

}  // namespace courier::pipeline
