// SubscriptionSpec: an R4 Subscription (Subscriptions R5 Backport profile), read and checked.
//
//   auto spec = parseSubscription(body);         // POST /Subscription
//   if (!spec) return operationOutcome(400, spec.error().message, spec.error().location);
//
// What is read:
//   status                 requested | active | error | off (required)
//   reason                 required (R4 1..1)
//   criteria               the topic's canonical URL (topics.h); nothing else
//   _criteria.extension    backport-filter-criteria strings, AND-ed: `Condition?code=<system>|C00-D49`,
//                          `patient=Patient/123`, `specialty=oncology,cardiology`, `facility=GOODHEALTH`,
//                          `patient-class=I`; several parameters in one string join with '&'; a comma
//                          list inside a value is OR. Values may be percent-encoded.
//   channel.type           rest-hook only
//   channel.endpoint       an https:// URL, for every payload kind (notifications carry ids that
//                          point at patient data even when empty; Courier sends none of it in clear)
//   channel.header[]       "Name: value" (no CR/LF); may hold credentials, so never log them
//   channel.payload        application/fhir+json (or application/json); its `_payload` extension
//                          backport-payload-content says empty | id-only | full-resource. No payload
//                          at all means empty; a payload without the extension means id-only.
//   channel.extension      backport-heartbeat-period, backport-timeout (unsignedInt seconds),
//                          backport-max-count (positiveInt)
//   end                    a FHIR instant (date, time and zone); kept as sent and as end_time. The
//                          service refuses one already past and turns the subscription off when
//                          it passes (engine/pipeline/subscription_service.h)
//   id                     kept as sent (checked against the FHIR id syntax)
//
// Errors: kInvalidArgument whose location is the element path and whose message starts with it
// ("Subscription.channel.endpoint: must be an https:// URL ..."), ready for an OperationOutcome
// issue (diagnostics = message, expression = location). Messages carry no input values.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/subscriptions/topics.h"

namespace courier::subscriptions {

enum class SubscriptionStatus : uint8_t { kRequested, kActive, kError, kOff };
enum class PayloadContent : uint8_t { kEmpty, kIdOnly, kFullResource };
enum class FilterKey : uint8_t { kPatient, kCode, kSpecialty, kFacility, kPatientClass };

std::string_view subscriptionStatusName(SubscriptionStatus status);  // "requested", ...
std::string_view payloadContentName(PayloadContent content);         // "empty", "id-only", "full-resource"
std::string_view filterKeyName(FilterKey key);                        // "patient", ..., "patient-class"

// A code or a range of codes in one system. Keys are normalized (normalizeCodeKey).
struct CodeTerm {
  CodeSystemId system = CodeSystemId::kIcd10Cm;
  std::string low;
  std::string high;  // == low for one code; for a range, every code whose first
                     // high.size() characters are <= high is in (C00-D49 holds D49.511)
  bool range = false;  // written A-B; C50-C50 is every code of category C50, C50 only C50
  bool isRange() const { return range; }
};

// One filter parameter: a key and the values any one of which satisfies it. The filters of
// a subscription are AND-ed.
struct Filter {
  FilterKey key = FilterKey::kPatient;
  // kPatient: patient ids without "Patient/"; kSpecialty, kFacility: lower case;
  // kPatientClass: HL7 table 0004 codes (I, O, E, ...). Empty for kCode.
  std::vector<std::string> values;
  std::vector<CodeTerm> codes;  // kCode only
};

struct Channel {
  std::string endpoint;
  std::vector<std::string> headers;  // "Name: value", as sent
  std::string payload_mime;          // empty when no payload element was sent
  PayloadContent content = PayloadContent::kEmpty;
  std::optional<std::chrono::seconds> heartbeat_period;
  std::optional<std::chrono::seconds> timeout;
  std::optional<uint32_t> max_count;
};

struct SubscriptionSpec {
  std::string id;  // empty until the server assigns one
  SubscriptionStatus status = SubscriptionStatus::kRequested;
  std::string reason;
  std::string end;  // FHIR instant as sent; empty when none
  std::optional<std::chrono::system_clock::time_point> end_time;  // `end` read; nullopt when none
  Topic topic = Topic::kEncounterStart;
  std::vector<std::string> filter_criteria;  // the strings as sent, for writing back
  std::vector<Filter> filters;               // parsed from filter_criteria, in order
  Channel channel;
};

[[nodiscard]] Result<SubscriptionSpec> parseSubscription(std::string_view json);

// One backport-filter-criteria string for `topic`, appended to `out`. `path` names the
// element in errors.
[[nodiscard]] Result<void> parseFilterCriteria(Topic topic, std::string_view text, std::string_view path,
                                               std::vector<Filter>& out);

// The Subscription as R4 JSON (what GET Subscription/{id} returns), with the same extensions.
// Header values are written as "[redacted]" unless asked for (they usually hold credentials
// that a later reader of the resource should not see); the store keeps them in full.
std::string subscriptionJson(const SubscriptionSpec& spec, bool include_header_values = false);

// A FHIR instant ("2026-05-01T12:00:00Z", "2026-05-01T08:00:00.250-04:00": seconds and a
// zone required, fractions optional) as a time point; nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parseFhirInstant(std::string_view text);

// The matching form of a code: upper case, without '.' and spaces ("c50.911" -> "C50911").
std::string normalizeCodeKey(std::string_view code);

}  // namespace courier::subscriptions
