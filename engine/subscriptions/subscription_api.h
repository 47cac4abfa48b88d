// SubscriptionApi: what the FHIR REST front door asks of the subscription service, so the
// HTTP adapter carries no business rules (validation, storage, handshake, status). The
// implementation is pipeline::SubscriptionService; tests may pass a fake.
//
// `owner` is the authenticated client identity: a client sees and changes only the
// subscriptions it created (others are kNotFound, never kForbidden, so ids do not leak).
// Errors: kInvalidArgument (location = the element, message starts with it) -> 400;
// kNotFound -> 404; kUnavailable -> 503. Bodies returned are FHIR JSON.
//
// Thread-safety: implementations may be called from any thread; calls block (store,
// handshake), so callers keep them off I/O threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace courier::subscriptions {

struct CreatedSubscription {
  std::string id;
  std::string json;  // the stored Subscription (header values redacted)
};

class SubscriptionApi {
 public:
  virtual ~SubscriptionApi() = default;

  // POST /Subscription: validate, store (requested), handshake, active or error.
  [[nodiscard]] virtual Result<CreatedSubscription> create(std::string_view owner, std::string_view body) = 0;
  // PUT /Subscription/{id}: replace (status active brings one in error back).
  [[nodiscard]] virtual Result<std::string> update(std::string_view owner, std::string_view id,
                                                   std::string_view body) = 0;
  [[nodiscard]] virtual Result<std::string> read(std::string_view owner, std::string_view id) = 0;
  [[nodiscard]] virtual Result<void> remove(std::string_view owner, std::string_view id) = 0;
  // GET /Subscription/{id}/$status.
  [[nodiscard]] virtual Result<std::string> status(std::string_view owner, std::string_view id) = 0;
  // GET /Subscription/{id}/$events?eventsSinceNumber=&eventsUntilNumber=.
  [[nodiscard]] virtual Result<std::string> events(std::string_view owner, std::string_view id,
                                                   std::optional<std::uint64_t> since,
                                                   std::optional<std::uint64_t> until) = 0;
};

}  // namespace courier::subscriptions
