// Notification Bundles of the Subscriptions R5 Backport IG for FHIR R4.
//
// Every notification is a Bundle of type `history` whose first entry is a `Parameters`
// (profile backport-subscription-status-r4: subscription, topic, status, type,
// events-since-subscription-start, notification-event[] with event-number, timestamp,
// focus, additional-context), followed by what the payload kind asks for:
//   empty          nothing else; notification-event carries no focus
//   id-only        one entry per focus with fullUrl and request/response, no resource
//   full-resource  the focus resources and the resources they reference (Patient,
//                  Encounter, Practitioner, ...), as engine/record/to_fhir wrote them (same
//                  ids, so references inside them resolve within the Bundle). A Claim focus
//                  (claim-produced; added with FocusResources::addResource) brings the
//                  record's Patient and Encounter along, its own parties being contained
// A focus that appeared is `POST <Type>` (response 201); one that changed is
// `PUT <Type>/<id>` (200); context resources are `GET <Type>/<id>` (200). The Parameters
// entry is `GET <base>/Subscription/<id>/$status` (200), as the IG's examples have it.
//
// Event numbers are per subscription and kept by the store: the caller passes them, and
// `events_since_start` in SubscriptionState (the number of the last event raised).
// Timestamps are FHIR instants supplied by the caller (it owns the Clock).
//
// Thread-safety: functions are pure; a FocusResources is immutable once built and may be
// read by many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/record/canonical_record.h"
#include "engine/subscriptions/event.h"
#include "engine/subscriptions/subscription.h"

namespace courier::subscriptions {

enum class NotificationType : uint8_t { kHandshake, kHeartbeat, kEventNotification, kQueryStatus, kQueryEvent };
std::string_view notificationTypeName(NotificationType type);  // "handshake", "event-notification", ...

// What the store keeps per subscription, written into every status Parameters.
struct SubscriptionState {
  std::string id;
  Topic topic = Topic::kEncounterStart;
  SubscriptionStatus status = SubscriptionStatus::kActive;
  uint64_t events_since_start = 0;
  std::string error;  // a short PHI-free text when status is error; written as `error.text`
};

struct NotificationOptions {
  // The server's FHIR base ("https://courier.example.org/fhir", no trailing '/'). It prefixes the
  // subscription reference and, for id-only payloads, the focus fullUrls. Empty: the subscription
  // is `Subscription/<id>` and focus fullUrls stay `urn:uuid:<id>`.
  std::string fhir_base;
};

// The resources of one record as to_fhir writes them, found by an Event's focus: the i-th
// Condition of the Bundle is diagnoses[i], and so on for Procedure, Observation and
// Immunization (to_fhir writes exactly one per item, in order); -1 finds the first resource
// of the type (the Encounter, a Claim added with addResource).
class FocusResources {
 public:
  static Result<FocusResources> fromRecord(const record::CanonicalRecord& rec);
  // A Bundle written by toFhirBundle (any Bundle whose entries have fullUrl and resource).
  static Result<FocusResources> fromBundle(std::string_view bundle_json);
  // A resource written elsewhere (the Claim from engine/claims); its fullUrl is urn:uuid:<id>.
  Result<void> addResource(std::string_view resource_json);

  FocusResources(FocusResources&&) noexcept;
  FocusResources& operator=(FocusResources&&) noexcept;
  ~FocusResources();

  struct Impl;

 private:
  FocusResources();
  std::unique_ptr<Impl> impl_;
  friend struct NotificationWriter;
};

// One event for one subscription.
struct NotificationEvent {
  uint64_t event_number = 0;
  std::string timestamp;                     // FHIR instant
  const Event* event = nullptr;              // its focus_type / focus_index / is_update
  const FocusResources* resources = nullptr; // the event's record; unused for empty payloads
};

// An event-notification (or, with kQueryEvent, one $events answer). kNotFound when a focus is
// not among its resources; kInvalidArgument when a non-empty payload lacks resources.
[[nodiscard]] Result<std::string> notificationBundle(const SubscriptionState& sub, PayloadContent content,
                                                     std::span<const NotificationEvent> events,
                                                     std::string_view timestamp, const NotificationOptions& opts,
                                                     NotificationType type = NotificationType::kEventNotification);

std::string handshakeBundle(const SubscriptionState& sub, std::string_view timestamp,
                            const NotificationOptions& opts);
std::string heartbeatBundle(const SubscriptionState& sub, std::string_view timestamp,
                            const NotificationOptions& opts);

// GET Subscription/{id}/$status (or /Subscription/$status for several): a searchset Bundle
// with one Parameters (type query-status) per subscription.
std::string statusJson(std::span<const SubscriptionState> subs, std::string_view timestamp,
                       const NotificationOptions& opts);

}  // namespace courier::subscriptions
