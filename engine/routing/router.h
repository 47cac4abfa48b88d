// Router: decides, for one message, which destinations receive it, by the `routes:` of
// the configuration (engine/config/config.h, RouteConfig).
//
// Rules: a route applies when every condition it sets holds (AND); a condition that lists
// several values holds when any of them does (OR). Every route that applies contributes its
// destinations; each destination appears once in the result, attributed to the first route
// (in config order) that named it, in the order routes and their destination lists name
// them. No route applying is not an error: the result is empty and the pipeline records
// "no route".
//
// Conditions (RouteMatch), compared exactly unless said otherwise:
// - message_types: "ADT" matches any ADT; "ADT^A01" also needs trigger A01 (MSH-9.1/9.2).
// - sending_applications / sending_facilities: a value without '^' is compared with the
//   HD namespace id (MSH-3.1 / MSH-4.1); a value with '^' ("LAB^1.2.3^ISO") with the whole
//   field as sent (without a message, with its namespace id).
// - listeners: the listener the message came in on.
// - patient_classes (PV1-2), hospital_services (PV1-10): the record's values.
// - specialties: deriveSpecialties() (specialty.h) shares one with the list.
// - has_diagnoses / has_procedures / has_charges: the record has (or has not) any.
// - coded: billable = a CodedRecord is given, it has items and all have codes and none
//   needs review; review = a CodedRecord is given and some item needs review.
// - codes: some code falls in one range of the same system: the codes assigned by the
//   coder when a CodedRecord is given, else the codes as sent (diagnoses: ICD-10-CM or
//   unnamed system; procedures: ICD-10-PCS / HCPCS by their system; charges: FT1-25).
// - fields: HL7 v2 values read from the message (decoded). equals/in: the value is one of
//   them; not: it is none of them (an absent field is not any value); prefix: it starts
//   with one; exists / exists: false: the field is (not) empty. Without a message (FHIR
//   input) a route with field tests does not apply.
//
// Thread-safety: immutable after build(); route() may run on many threads at once.
// Cost: matchers are compiled at build(); route() allocates only for its result (and for
// field values that need unescaping).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/coding/record_coder.h"
#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/hl7v2/message.h"
#include "engine/record/canonical_record.h"

namespace courier::routing {

struct RouteInput {
  const record::CanonicalRecord& record;
  const coding::CodedRecord* coded = nullptr;  // null: not coded (coded: billable/review never match)
  std::string_view listener;                   // the listener name the message came in on
  const hl7v2::Message* message = nullptr;     // null for FHIR input: field tests then do not match
};

struct RouteDecision {
  std::string destination;  // a DestinationConfig::name
  std::string route;        // the RouteConfig::name that sent it there

  friend bool operator==(const RouteDecision&, const RouteDecision&) = default;
};

class Router {
 public:
  // Compiles the routes of `config`. Errors (kConfig) for what config loading cannot know:
  // an unknown specialty name; and, for a Config not made by loadConfig, a destination that
  // does not exist, a malformed code range or HL7 path. Locations are key paths
  // ("routes[2].match.specialties[0]").
  [[nodiscard]] static Result<Router> build(const config::Config& config);

  std::vector<RouteDecision> route(const RouteInput& input) const;

  std::size_t routeCount() const;

  struct CompiledRoute;  // router.cc
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

 private:
  std::vector<CompiledRoute> routes_;
  std::vector<std::string> destinations_;  // names, indexed by CompiledRoute destination ids
};

}  // namespace courier::routing
