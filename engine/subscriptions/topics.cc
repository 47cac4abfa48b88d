#include "engine/subscriptions/topics.h"

#include <array>

#include "engine/fhir/json.h"

namespace courier::subscriptions {
namespace {

using fhir::JsonWriter;
using fhir::writeField;
using fhir::writeKey;

constexpr std::array<CodeSystemId, 1> kDiagnosisSystems{CodeSystemId::kIcd10Cm};
constexpr std::array<CodeSystemId, 2> kProcedureSystems{CodeSystemId::kHcpcs, CodeSystemId::kIcd10Pcs};
constexpr std::array<CodeSystemId, 1> kVaccineSystems{CodeSystemId::kCvx};
constexpr std::array<CodeSystemId, 1> kLabSystems{CodeSystemId::kLoinc};
constexpr std::array<CodeSystemId, 2> kClaimSystems{CodeSystemId::kIcd10Cm, CodeSystemId::kHcpcs};

constexpr std::array<TopicInfo, kTopicCount> kTopics{{
    {Topic::kEncounterStart, "encounter-start", "Encounter started",
     "An encounter began: an admission, registration or pre-admission (HL7 v2 ADT A01/A04/A05) or an "
     "Encounter received with a start and no end. `code` filters on the encounter's diagnoses.",
     "Encounter", true, false, kDiagnosisSystems},
    {Topic::kEncounterEnd, "encounter-end", "Encounter ended",
     "An encounter ended: a discharge (ADT A03) or an encounter update that carries a discharge time. "
     "`code` filters on the encounter's diagnoses.",
     "Encounter", false, true, kDiagnosisSystems},
    {Topic::kDiagnosis, "diagnosis", "Diagnosis recorded or changed",
     "A Condition (encounter diagnosis) was recorded or changed; `code` filters on its ICD-10-CM code "
     "as coded by Courier, e.g. C00-D49 for neoplasms.",
     "Condition", true, true, kDiagnosisSystems},
    {Topic::kProcedure, "procedure", "Procedure performed",
     "A Procedure was recorded; `code` filters on its HCPCS/CPT or ICD-10-PCS code.", "Procedure", true, true,
     kProcedureSystems},
    {Topic::kImmunization, "immunization", "Immunization given",
     "A vaccine administration was recorded (HL7 v2 VXU or any RXA); `code` filters on the CVX code.",
     "Immunization", true, true, kVaccineSystems},
    {Topic::kObservationResulted, "observation-resulted", "Observation resulted",
     "A final or corrected result arrived (HL7 v2 ORU, OBX-11 F or C); `code` filters on the LOINC code.",
     "Observation", true, true, kLabSystems},
    {Topic::kClaimProduced, "claim-produced", "Claim produced",
     "Courier produced a coded claim; `code` filters on its ICD-10-CM diagnoses and HCPCS/CPT lines.", "Claim",
     true, false, kClaimSystems},
}};

constexpr std::string_view kXver = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.";

struct FilterDoc {
  std::string_view key;
  std::string_view description;
};
constexpr std::array<FilterDoc, 5> kFilters{{
    {kFilterPatient, "The patient: Patient/<id>, where <id> is the medical record number (PID-3 of type MR, "
                     "else the first identifier)."},
    {kFilterCode, "A code, a comma-separated list of codes, or a range such as C00-D49 (ICD-10-CM, ICD-10-PCS "
                  "and HCPCS only), each optionally prefixed with its system URI and '|'."},
    {kFilterSpecialty, "The clinical specialty Courier derived for the record (e.g. oncology, cardiology); "
                       "a comma-separated list matches any."},
    {kFilterFacility, "The sending facility (HL7 v2 MSH-4); a comma-separated list matches any."},
    {kFilterPatientClass, "The patient class (HL7 v2 table 0004: I, O, E, P, R, B; or the FHIR codes IMP, "
                          "AMB, EMER, PRENC)."},
}};

void stringExtension(JsonWriter& w, std::string_view url, std::string_view value_key, std::string_view value) {
  w.StartObject();
  writeField(w, "url", url);
  writeField(w, value_key, value);
  w.EndObject();
}

void writeTopic(JsonWriter& w, const TopicInfo& t) {
  std::string url = topicUrl(t.topic);
  std::string resource_url = std::string("http://hl7.org/fhir/StructureDefinition/").append(t.resource);
  w.StartObject();
  writeField(w, "resourceType", "Basic");
  writeField(w, "id", t.name);
  writeKey(w, "extension");
  w.StartArray();
  stringExtension(w, std::string(kXver).append("url"), "valueUri", url);
  stringExtension(w, std::string(kXver).append("name"), "valueString", t.name);
  stringExtension(w, std::string(kXver).append("title"), "valueString", t.title);
  stringExtension(w, std::string(kXver).append("status"), "valueCode", "active");
  stringExtension(w, std::string(kXver).append("description"), "valueMarkdown", t.description);

  w.StartObject();
  writeField(w, "url", std::string(kXver).append("resourceTrigger"));
  writeKey(w, "extension");
  w.StartArray();
  stringExtension(w, "description", "valueMarkdown", t.title);
  stringExtension(w, "resource", "valueUri", resource_url);
  if (t.on_create) stringExtension(w, "supportedInteraction", "valueCode", "create");
  if (t.on_update) stringExtension(w, "supportedInteraction", "valueCode", "update");
  w.EndArray();
  w.EndObject();

  for (const FilterDoc& f : kFilters) {
    w.StartObject();
    writeField(w, "url", std::string(kXver).append("canFilterBy"));
    writeKey(w, "extension");
    w.StartArray();
    std::string description(f.description);
    if (f.key == kFilterCode) {
      description.append(" Systems: ");
      for (std::size_t i = 0; i < t.code_systems.size(); ++i) {
        if (i > 0) description.append(", ");
        description.append(codeSystemUri(t.code_systems[i]));
      }
      description.append(" (the first is assumed when none is given).");
    }
    stringExtension(w, "description", "valueMarkdown", description);
    stringExtension(w, "resource", "valueUri", resource_url);
    stringExtension(w, "filterParameter", "valueString", f.key);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();

  writeKey(w, "code");
  w.StartObject();
  writeKey(w, "coding");
  w.StartArray();
  w.StartObject();
  writeField(w, "system", "http://hl7.org/fhir/fhir-types");
  writeField(w, "code", "SubscriptionTopic");
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

}  // namespace

std::string_view codeSystemUri(CodeSystemId system) {
  switch (system) {
    case CodeSystemId::kIcd10Cm: return "http://hl7.org/fhir/sid/icd-10-cm";
    case CodeSystemId::kIcd10Pcs: return "http://www.cms.gov/Medicare/Coding/ICD10";
    case CodeSystemId::kHcpcs: return "urn:oid:2.16.840.1.113883.6.285";
    case CodeSystemId::kCvx: return "http://hl7.org/fhir/sid/cvx";
    case CodeSystemId::kLoinc: return "http://loinc.org";
  }
  return "";
}

std::optional<CodeSystemId> codeSystemFromUri(std::string_view uri) {
  for (std::size_t i = 0; i < kCodeSystemCount; ++i) {
    auto s = static_cast<CodeSystemId>(i);
    if (uri == codeSystemUri(s)) return s;
  }
  if (uri == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" ||
      uri == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" || uri == "http://www.ama-assn.org/go/cpt")
    return CodeSystemId::kHcpcs;
  if (uri == "https://loinc.org") return CodeSystemId::kLoinc;
  return std::nullopt;
}

bool codeSystemHasRanges(CodeSystemId system) {
  return system == CodeSystemId::kIcd10Cm || system == CodeSystemId::kIcd10Pcs || system == CodeSystemId::kHcpcs;
}

std::span<const TopicInfo> allTopics() { return kTopics; }

const TopicInfo& topicInfo(Topic topic) { return kTopics[static_cast<std::size_t>(topic)]; }

std::optional<Topic> topicFromName(std::string_view name) {
  for (const TopicInfo& t : kTopics)
    if (t.name == name) return t.topic;
  return std::nullopt;
}

std::optional<Topic> topicFromUrl(std::string_view url) {
  if (auto bar = url.find('|'); bar != std::string_view::npos) url = url.substr(0, bar);
  if (url.size() <= kTopicBase.size() || url.substr(0, kTopicBase.size()) != kTopicBase) return std::nullopt;
  return topicFromName(url.substr(kTopicBase.size()));
}

std::string topicUrl(Topic topic) { return std::string(kTopicBase).append(topicInfo(topic).name); }

std::string topicsBundleJson() {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeField(w, "resourceType", "Bundle");
  writeField(w, "type", "searchset");
  writeKey(w, "total");
  w.Uint(static_cast<unsigned>(kTopics.size()));
  writeKey(w, "entry");
  w.StartArray();
  for (const TopicInfo& t : kTopics) {
    w.StartObject();
    writeField(w, "fullUrl", std::string(kFhirBase).append("Basic/").append(t.name));
    writeKey(w, "resource");
    writeTopic(w, t);
    writeKey(w, "search");
    w.StartObject();
    writeField(w, "mode", "match");
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::string> topicJson(std::string_view name) {
  auto topic = topicFromName(name);
  if (!topic) return Unexpected(Error(ErrorCode::kNotFound, "no such SubscriptionTopic", "SubscriptionTopic"));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  writeTopic(w, topicInfo(*topic));
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace courier::subscriptions
