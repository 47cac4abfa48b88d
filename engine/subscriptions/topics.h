// SubscriptionTopics Courier publishes, and their FHIR R4 representation.
//
// Seven topics, each with one canonical URL under kTopicBase
// (`http://courier.example/fhir/SubscriptionTopic/<name>`): encounter-start,
// encounter-end, diagnosis, procedure, immunization, observation-resulted and
// claim-produced. Each names the resource its events focus on, the interactions
// that raise them (create, update) and the filters a subscriber may apply:
// patient, code, specialty, facility (MSH-4 sending facility) and patient-class.
//
// FHIR R4 has no SubscriptionTopic resource. As the Subscriptions R5 Backport IG
// does for R4, a topic is written as a `Basic` resource (code `SubscriptionTopic`
// from http://hl7.org/fhir/fhir-types) carrying the R5 elements as cross-version
// extensions `http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.<element>`
// (url, name, title, status, description, resourceTrigger, canFilterBy), the
// complex ones with relative sub-extension urls (resource, supportedInteraction,
// filterParameter, description).
//
// Thread-safety: constant tables and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace courier::subscriptions {

// The one place that says where Courier's topics live. The canonical URLs are names, not
// addresses a client must reach; kFhirBase also prefixes the topics' fullUrls in
// topicsBundleJson().
inline constexpr std::string_view kFhirBase = "http://courier.example/fhir/";
inline constexpr std::string_view kTopicBase = "http://courier.example/fhir/SubscriptionTopic/";
static_assert(kTopicBase.substr(0, kFhirBase.size()) == kFhirBase);

enum class Topic : uint8_t {
  kEncounterStart,
  kEncounterEnd,
  kDiagnosis,
  kProcedure,
  kImmunization,
  kObservationResulted,
  kClaimProduced,
};
inline constexpr std::size_t kTopicCount = 7;

// The code systems a `code` filter may name. kHcpcs also covers CPT (HCPCS Level I).
enum class CodeSystemId : uint8_t { kIcd10Cm, kIcd10Pcs, kHcpcs, kCvx, kLoinc };
inline constexpr std::size_t kCodeSystemCount = 5;

// The FHIR URI Courier writes for a system (HCPCS: urn:oid:2.16.840.1.113883.6.285,
// as engine/coding writes it).
std::string_view codeSystemUri(CodeSystemId system);
// Accepts the URI above and the common aliases (the cms.gov HCPCS URLs, the AMA CPT
// URI for HCPCS; http://hl7.org/fhir/sid/cvx; http://loinc.org).
std::optional<CodeSystemId> codeSystemFromUri(std::string_view uri);
// ICD-10-CM, ICD-10-PCS and HCPCS codes are letters and digits, so `A-B` is a range;
// LOINC codes contain '-' ("2345-7"), so a LOINC or CVX value is always one code.
bool codeSystemHasRanges(CodeSystemId system);

struct TopicInfo {
  Topic topic;
  std::string_view name;          // last path segment of the URL: "encounter-start"
  std::string_view title;
  std::string_view description;
  std::string_view resource;      // the focus resource type: "Encounter"
  bool on_create = true;          // resourceTrigger.supportedInteraction
  bool on_update = false;
  std::span<const CodeSystemId> code_systems;  // systems a `code` filter may use; first = default
};

// Every topic, in enum order.
std::span<const TopicInfo> allTopics();
const TopicInfo& topicInfo(Topic topic);
std::optional<Topic> topicFromName(std::string_view name);
// Exact canonical URL (an optional `|version` suffix is accepted and ignored).
std::optional<Topic> topicFromUrl(std::string_view url);
std::string topicUrl(Topic topic);

// The filter keys every topic supports (canFilterBy.filterParameter).
inline constexpr std::string_view kFilterPatient = "patient";
inline constexpr std::string_view kFilterCode = "code";
inline constexpr std::string_view kFilterSpecialty = "specialty";
inline constexpr std::string_view kFilterFacility = "facility";
inline constexpr std::string_view kFilterPatientClass = "patient-class";

// A Bundle of type searchset with one Basic per topic (GET SubscriptionTopic, or
// Basic?code=SubscriptionTopic).
std::string topicsBundleJson();
// One Basic resource; kNotFound for a name that is not a topic.
Result<std::string> topicJson(std::string_view name);

}  // namespace courier::subscriptions
