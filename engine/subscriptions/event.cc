#include "engine/subscriptions/event.h"

#include "engine/record/to_fhir.h"

namespace courier::subscriptions {
namespace {

std::string_view codingSystemUri(coding::CodeSystem system) {
  switch (system) {
    case coding::CodeSystem::kIcd10Cm: return codeSystemUri(CodeSystemId::kIcd10Cm);
    case coding::CodeSystem::kIcd10Pcs: return codeSystemUri(CodeSystemId::kIcd10Pcs);
    case coding::CodeSystem::kHcpcs: return codeSystemUri(CodeSystemId::kHcpcs);
    case coding::CodeSystem::kIcd9Cm: return "http://hl7.org/fhir/sid/icd-9-cm";
  }
  return "";
}

void addCoded(const coding::CodingResult& result, std::vector<std::string>& out) {
  for (const coding::AssignedCode& c : result.codes)
    if (!c.code.empty()) out.push_back(std::string(codingSystemUri(c.system)).append("|").append(c.code));
}

// A code as sent: the HL7 table 0396 name (or a URI) mapped to a FHIR system URI.
void addSent(const record::Code& code, std::string_view default_system, std::vector<std::string>& out) {
  if (code.code.empty()) return;
  std::string_view sent = code.system.value;
  std::string_view system = sent.empty() ? default_system : record::fhirSystemFor(sent);
  if (system.empty() && sent.find(':') != std::string_view::npos) system = sent;  // already a URI
  if (system.empty()) return;
  out.push_back(std::string(system).append("|").append(code.code.value));
}

const std::string_view kIcd10Cm = "http://hl7.org/fhir/sid/icd-10-cm";

void diagnosisCodes(const record::CanonicalRecord& rec, const coding::CodedRecord* coded, std::size_t i,
                    std::vector<std::string>& out) {
  if (coded != nullptr && i < coded->diagnoses.size() && !coded->diagnoses[i].codes.empty()) {
    addCoded(coded->diagnoses[i], out);
    return;
  }
  addSent(rec.diagnoses[i].code, kIcd10Cm, out);
}

bool in(std::string_view v, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set)
    if (v == s) return true;
  return false;
}

}  // namespace

std::string patientRefFor(const record::CanonicalRecord& rec) {
  if (!rec.has_patient) return {};
  const record::Identifier* chosen = nullptr;
  for (const record::Identifier& id : rec.patient.identifiers) {
    if (id.value.empty()) continue;
    if (id.type.value == "MR") {
      chosen = &id;
      break;
    }
    if (chosen == nullptr) chosen = &id;
  }
  if (chosen == nullptr) return {};
  return std::string("Patient/").append(chosen->value.value);
}

std::vector<Event> eventsFor(const record::CanonicalRecord& rec, const coding::CodedRecord* coded,
                             std::span<const std::string> specialties, bool claim_produced) {
  Event base;
  base.record = &rec;
  base.specialties.assign(specialties.begin(), specialties.end());
  base.facility = rec.sending_facility.value;
  if (rec.has_encounter) base.patient_class = rec.encounter.patient_class.value;
  base.patient_ref = patientRefFor(rec);

  std::vector<Event> events;
  auto raise = [&](Topic topic, std::string_view focus_type, int index, bool update) -> Event& {
    Event& e = events.emplace_back(base);
    e.topic = topic;
    e.focus_type.assign(focus_type);
    e.focus_index = index;
    e.is_update = update;
    return e;
  };

  const bool from_fhir = rec.message_type.value == "FHIR";
  const std::string_view type = rec.message_type.value;
  const std::string_view trigger = rec.trigger.value;
  const bool adt = type == "ADT";
  const bool start_trigger = adt && in(trigger, {"A01", "A04", "A05"});
  const bool discharged = rec.has_encounter && !rec.encounter.discharge_time.empty();

  std::vector<std::string> all_diagnoses;
  for (std::size_t i = 0; i < rec.diagnoses.size(); ++i) diagnosisCodes(rec, coded, i, all_diagnoses);

  if (rec.has_encounter) {
    bool starts = from_fhir ? !discharged : start_trigger;
    bool ends = from_fhir ? discharged : adt && (trigger == "A03" || (discharged && !start_trigger));
    if (starts) raise(Topic::kEncounterStart, "Encounter", -1, false).codes = all_diagnoses;
    if (ends) raise(Topic::kEncounterEnd, "Encounter", -1, true).codes = all_diagnoses;
  }

  const bool update = adt && trigger == "A08";
  for (std::size_t i = 0; i < rec.diagnoses.size(); ++i) {
    Event& e = raise(Topic::kDiagnosis, "Condition", static_cast<int>(i), update);
    diagnosisCodes(rec, coded, i, e.codes);
  }

  for (std::size_t i = 0; i < rec.procedures.size(); ++i) {
    Event& e = raise(Topic::kProcedure, "Procedure", static_cast<int>(i), update);
    if (coded != nullptr && i < coded->procedures.size() && !coded->procedures[i].codes.empty())
      addCoded(coded->procedures[i], e.codes);
    else
      addSent(rec.procedures[i].code, {}, e.codes);
  }

  for (std::size_t i = 0; i < rec.immunizations.size(); ++i) {
    Event& e = raise(Topic::kImmunization, "Immunization", static_cast<int>(i), false);
    addSent(rec.immunizations[i].vaccine, codeSystemUri(CodeSystemId::kCvx), e.codes);
  }

  if (type == "ORU" || from_fhir) {
    for (std::size_t i = 0; i < rec.observations.size(); ++i) {
      const std::string& status = rec.observations[i].status.value;
      if (status != "F" && status != "C") continue;
      Event& e = raise(Topic::kObservationResulted, "Observation", static_cast<int>(i), status == "C");
      addSent(rec.observations[i].code, {}, e.codes);
    }
  }

  if (claim_produced) {
    Event& e = raise(Topic::kClaimProduced, "Claim", -1, false);
    e.codes = all_diagnoses;
    for (std::size_t i = 0; i < rec.charges.size(); ++i) {
      const record::Charge& c = rec.charges[i];
      if (coded != nullptr && i < coded->charges.size() && !coded->charges[i].codes.empty()) {
        addCoded(coded->charges[i], e.codes);
      } else {
        addSent(c.hcpcs, codeSystemUri(CodeSystemId::kHcpcs), e.codes);
      }
      for (const record::Code& d : c.diagnoses) addSent(d, kIcd10Cm, e.codes);
    }
  }
  return events;
}

}  // namespace courier::subscriptions
