// CanonicalRecord + CodedRecord -> FHIR R4 Claim (see claims.h).
#include <string>
#include <string_view>

#include "engine/claims/claim_model.h"
#include "engine/claims/claims.h"
#include "engine/fhir/ids.h"
#include "engine/fhir/json.h"
#include "engine/record/to_fhir.h"

namespace courier::claims {
namespace {

using detail::ClaimModel;
using fhir::JsonWriter;
using fhir::writeField;
using fhir::writeKey;
using fhir::writeString;

constexpr std::string_view kIcd10Cm = "http://hl7.org/fhir/sid/icd-10-cm";
constexpr std::string_view kHcpcs = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets";
constexpr std::string_view kCpt = "http://www.ama-assn.org/go/cpt";
constexpr std::string_view kNpi = "http://hl7.org/fhir/sid/us-npi";
constexpr std::string_view kPayerId = "urn:courier:payer-id";

// HCPCS Level I codes are CPT (four digits, then a digit, F or T); FHIR names the AMA's
// system for them. Level II codes (a letter, then four digits) are the CMS release's.
// Two-digit modifiers are CPT's, letter modifiers HCPCS Level II's.
std::string_view procedureSystem(std::string_view code) {
  if (code.size() == 5 && code[0] >= '0' && code[0] <= '9') return kCpt;
  return kHcpcs;
}
std::string_view modifierSystem(std::string_view mod) {
  if (mod.size() == 2 && mod[0] >= '0' && mod[0] <= '9' && mod[1] >= '0' && mod[1] <= '9') return kCpt;
  return kHcpcs;
}

std::string_view gender(std::string_view v) {
  if (v == "M") return "male";
  if (v == "F") return "female";
  if (v == "O" || v == "A") return "other";
  if (v == "U" || v == "N") return "unknown";
  return {};
}

// FHIR code/id values may not carry leading or trailing blanks or control characters.
bool validCode(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

class ClaimWriter {
 public:
  ClaimWriter(const ClaimInput& in, const config::ClaimParties& parties, const ClaimModel& m)
      : in_(in), rec_(*in.record), parties_(parties), m_(m), w_(buf_) {}

  std::string run();

 private:
  void coding(std::string_view system, std::string_view code, std::string_view display = {}) {
    w_.StartObject();
    writeField(w_, "system", system);
    writeField(w_, "code", code);
    writeField(w_, "display", display);
    w_.EndObject();
  }
  void codeableConcept(std::string_view key, std::string_view system, std::string_view code, std::string_view display = {}) {
    writeKey(w_, key);
    w_.StartObject();
    writeKey(w_, "coding");
    w_.StartArray();
    coding(system, code, display);
    w_.EndArray();
    w_.EndObject();
  }
  void localReference(std::string_view key, std::string_view id) {
    writeKey(w_, key);
    w_.StartObject();
    writeField(w_, "reference", std::string("#").append(id));
    w_.EndObject();
  }
  void money(std::string_view key, std::int64_t cents) {
    writeKey(w_, key);
    w_.StartObject();
    std::string v = detail::centsFhir(cents);
    writeKey(w_, "value");
    w_.RawValue(v.data(), v.size(), rapidjson::kNumberType);
    writeField(w_, "currency", "USD");
    w_.EndObject();
  }
  void number(std::string_view key, const std::string& v) {
    writeKey(w_, key);
    w_.RawValue(v.data(), v.size(), rapidjson::kNumberType);
  }
  std::string_view payerId() const {
    if (!rec_.coverages.empty() && !rec_.coverages[0].payer_id.empty()) return rec_.coverages[0].payer_id.value;
    return parties_.payer_id;
  }
  std::string_view payerName() const {
    if (!rec_.coverages.empty() && !rec_.coverages[0].payer_name.empty()) return rec_.coverages[0].payer_name.value;
    return parties_.payer_name;
  }

  void patient();
  void payer();
  void coverage();
  void items();

  const ClaimInput& in_;
  const record::CanonicalRecord& rec_;
  const config::ClaimParties& parties_;
  const ClaimModel& m_;
  // Room for a typical claim from the start (~3.2 KB with two lines): grown from
  // RapidJSON's 256 bytes by half each time it took seven reallocations per claim.
  static constexpr std::size_t kInitialBytes = 4096;
  rapidjson::StringBuffer buf_{nullptr, kInitialBytes};
  JsonWriter w_;
};

void ClaimWriter::patient() {
  const record::Patient& p = rec_.patient;
  w_.StartObject();
  writeField(w_, "resourceType", "Patient");
  writeField(w_, "id", "patient");
  bool any_id = false;
  for (const record::Identifier& id : p.identifiers) any_id |= !id.value.empty();
  if (any_id) {
    writeKey(w_, "identifier");
    w_.StartArray();
    for (const record::Identifier& id : p.identifiers) {
      if (id.value.empty()) continue;
      w_.StartObject();
      if (validCode(id.type.value)) codeableConcept("type", "http://terminology.hl7.org/CodeSystem/v2-0203", id.type.value);
      writeField(w_, "value", id.value.value);
      if (!id.assigning_authority.empty()) {
        writeKey(w_, "assigner");
        w_.StartObject();
        writeField(w_, "display", id.assigning_authority.value);
        w_.EndObject();
      }
      w_.EndObject();
    }
    w_.EndArray();
  }
  if (!p.names.empty() && (!p.names[0].family.empty() || !p.names[0].given.empty())) {
    const record::Name& n = p.names[0];
    writeKey(w_, "name");
    w_.StartArray();
    w_.StartObject();
    writeField(w_, "family", n.family.value);
    bool any_given = false;
    for (const record::Sourced& g : n.given) any_given |= !g.empty();
    if (any_given) {
      writeKey(w_, "given");
      w_.StartArray();
      for (const record::Sourced& g : n.given)
        if (!g.empty()) writeString(w_, g.value);
      w_.EndArray();
    }
    w_.EndObject();
    w_.EndArray();
  }
  writeField(w_, "gender", gender(p.sex.value));
  writeField(w_, "birthDate", record::hl7ToFhirDate(p.birth_date.value));
  if (!p.addresses.empty()) {
    const record::Address& a = p.addresses[0];
    writeKey(w_, "address");
    w_.StartArray();
    w_.StartObject();
    bool any_line = false;
    for (const record::Sourced& l : a.lines) any_line |= !l.empty();
    if (any_line) {
      writeKey(w_, "line");
      w_.StartArray();
      for (const record::Sourced& l : a.lines)
        if (!l.empty()) writeString(w_, l.value);
      w_.EndArray();
    }
    writeField(w_, "city", a.city.value);
    writeField(w_, "state", a.state.value);
    writeField(w_, "postalCode", a.postal_code.value);
    writeField(w_, "country", a.country.value);
    w_.EndObject();
    w_.EndArray();
  }
  w_.EndObject();
}

void ClaimWriter::payer() {
  w_.StartObject();
  writeField(w_, "resourceType", "Organization");
  writeField(w_, "id", "payer");
  if (!payerId().empty()) {
    writeKey(w_, "identifier");
    w_.StartArray();
    w_.StartObject();
    writeField(w_, "system", kPayerId);
    writeField(w_, "value", payerId());
    w_.EndObject();
    w_.EndArray();
  }
  writeField(w_, "name", payerName().empty() ? std::string_view("unknown payer") : std::string_view(payerName()));
  w_.EndObject();
}

void ClaimWriter::coverage() {
  w_.StartObject();
  writeField(w_, "resourceType", "Coverage");
  writeField(w_, "id", "coverage");
  writeField(w_, "status", "active");
  const record::Coverage* c = rec_.coverages.empty() ? nullptr : &rec_.coverages[0];
  if (c != nullptr) writeField(w_, "subscriberId", c->member_id.value);
  localReference("beneficiary", "patient");
  // The subscriber is the patient (SBR02 18 in the 837P), whatever IN1-17 said.
  codeableConcept("relationship", "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self");
  writeKey(w_, "payor");
  w_.StartArray();
  w_.StartObject();
  writeField(w_, "reference", "#payer");
  w_.EndObject();
  w_.EndArray();
  if (c != nullptr && !c->group_number.empty()) {
    writeKey(w_, "class");
    w_.StartArray();
    w_.StartObject();
    codeableConcept("type", "http://terminology.hl7.org/CodeSystem/coverage-class", "group");
    writeField(w_, "value", c->group_number.value);
    w_.EndObject();
    w_.EndArray();
  }
  w_.EndObject();
}

void ClaimWriter::items() {
  writeKey(w_, "item");
  w_.StartArray();
  int seq = 0;
  for (const detail::ClaimLine& l : m_.lines) {
    w_.StartObject();
    writeKey(w_, "sequence");
    w_.Int(++seq);
    writeKey(w_, "diagnosisSequence");
    w_.StartArray();
    for (int p : l.diagnosis_pointers) w_.Int(p);
    w_.EndArray();
    codeableConcept("productOrService", procedureSystem(l.hcpcs), l.hcpcs, l.display);
    if (!l.modifiers.empty()) {
      writeKey(w_, "modifier");
      w_.StartArray();
      for (const std::string& mod : l.modifiers) {
        w_.StartObject();
        writeKey(w_, "coding");
        w_.StartArray();
        coding(modifierSystem(mod), mod);
        w_.EndArray();
        w_.EndObject();
      }
      w_.EndArray();
    }
    writeField(w_, "servicedDate", detail::fhirDate(l.service_date));
    codeableConcept("locationCodeableConcept", "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set",
            m_.place_of_service);
    writeKey(w_, "quantity");
    w_.StartObject();
    number("value", detail::milliText(l.units_milli));
    w_.EndObject();
    // unitPrice x quantity = net; a unit price that is not a whole number of cents is left out.
    if ((l.charge_cents * 1000) % l.units_milli == 0) money("unitPrice", l.charge_cents * 1000 / l.units_milli);
    money("net", l.charge_cents);
    w_.EndObject();
  }
  w_.EndArray();
}

std::string ClaimWriter::run() {
  w_.StartObject();
  writeField(w_, "resourceType", "Claim");
  writeField(w_, "id", fhir::deterministicUuid("urn:courier:claim|" + in_.claim_id));
  writeKey(w_, "contained");
  w_.StartArray();
  patient();
  payer();
  coverage();
  w_.EndArray();
  writeKey(w_, "identifier");
  w_.StartArray();
  w_.StartObject();
  writeField(w_, "system", "urn:courier:claim");
  writeField(w_, "value", in_.claim_id);
  w_.EndObject();
  w_.EndArray();
  writeField(w_, "status", "active");
  codeableConcept("type", "http://terminology.hl7.org/CodeSystem/claim-type", m_.inpatient ? "institutional" : "professional");
  writeField(w_, "use", "claim");
  localReference("patient", "patient");
  if (!m_.first_service_date.empty()) {
    writeKey(w_, "billablePeriod");
    w_.StartObject();
    writeField(w_, "start", detail::fhirDate(m_.first_service_date));
    writeField(w_, "end", detail::fhirDate(m_.last_service_date));
    w_.EndObject();
  }
  std::string created = record::hl7ToFhirDateTime(rec_.sent_time.value);
  if (created.empty()) created = detail::fhirDate(m_.date_of_service);
  writeField(w_, "created", created);
  writeKey(w_, "insurer");
  w_.StartObject();
  writeField(w_, "reference", "#payer");
  writeField(w_, "display", payerName());
  w_.EndObject();
  writeKey(w_, "provider");
  w_.StartObject();
  writeKey(w_, "identifier");
  w_.StartObject();
  writeField(w_, "system", kNpi);
  writeField(w_, "value", parties_.billing_npi);
  w_.EndObject();
  writeField(w_, "display", parties_.billing_name);
  w_.EndObject();
  codeableConcept("priority", "http://terminology.hl7.org/CodeSystem/processpriority", "normal");
  writeKey(w_, "diagnosis");
  w_.StartArray();
  int seq = 0;
  for (const detail::ClaimDiagnosis& d : m_.diagnoses) {
    w_.StartObject();
    writeKey(w_, "sequence");
    w_.Int(++seq);
    writeKey(w_, "diagnosisCodeableConcept");
    w_.StartObject();
    writeKey(w_, "coding");
    w_.StartArray();
    coding(kIcd10Cm, d.code, d.display);
    w_.EndArray();
    w_.EndObject();
    if (seq == 1) {
      writeKey(w_, "type");
      w_.StartArray();
      w_.StartObject();
      writeKey(w_, "coding");
      w_.StartArray();
      coding("http://terminology.hl7.org/CodeSystem/ex-diagnosistype", "principal");
      w_.EndArray();
      w_.EndObject();
      w_.EndArray();
    }
    w_.EndObject();
  }
  w_.EndArray();
  writeKey(w_, "insurance");
  w_.StartArray();
  w_.StartObject();
  writeKey(w_, "sequence");
  w_.Int(1);
  writeKey(w_, "focal");
  w_.Bool(true);
  localReference("coverage", "coverage");
  w_.EndObject();
  w_.EndArray();
  items();
  money("total", m_.total_cents);
  w_.EndObject();
  return std::string(buf_.GetString(), buf_.GetSize());
}

}  // namespace

Result<std::string> toFhirClaim(const ClaimInput& input, const config::ClaimParties& parties) {
  auto model = detail::buildClaimModel(input);
  if (!model) return Unexpected(std::move(model).error());
  if (input.claim_id.empty())
    return Unexpected(Error(ErrorCode::kInvalidArgument, "the claim has no claim id"));
  if (parties.billing_npi.empty())
    return Unexpected(Error(ErrorCode::kInvalidArgument, "the destination names no billing provider NPI", "claim.billing_npi"));
  ClaimWriter writer(input, parties, *model);
  return writer.run();
}

}  // namespace courier::claims
