#include "engine/record/from_fhir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/to_fhir.h"

namespace courier::record {
namespace {

std::string readFixture(const std::string& name) {
  std::ifstream in(std::string(COURIER_SOURCE_DIR) + "/tests/data/fhir/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CanonicalRecord convertFixture(const std::string& name) {
  auto rec = fromFhirJson(readFixture(name));
  EXPECT_TRUE(rec.has_value()) << name << ": " << (rec ? "" : rec.error().toString());
  return rec ? std::move(*rec) : CanonicalRecord{};
}

// --- Bundles of every kind -------------------------------------------------

TEST(RecordFromFhir, SyntheaTransactionBundle) {
  CanonicalRecord rec = convertFixture("Luigi_Wiegand_e27d88b0-c5e5-4042-ad49-184f6a900ee3.json");
  EXPECT_EQ(rec.trigger.value, "transaction");
  ASSERT_TRUE(rec.has_patient);
  EXPECT_EQ(rec.patient.sex.value, "M");
  EXPECT_EQ(rec.patient.sex.source, "Bundle.entry[0].resource.gender");
  EXPECT_EQ(rec.patient.birth_date.value, "20201020");
  ASSERT_FALSE(rec.patient.names.empty());
  EXPECT_EQ(rec.patient.names[0].family.value, "Wiegand");
  EXPECT_EQ(rec.patient.names[0].use.value, "L");
  ASSERT_TRUE(rec.has_encounter);
  EXPECT_EQ(rec.encounter.patient_class.value, "O");  // AMB
  EXPECT_EQ(rec.encounter.admit_time.value, "20201020191903+0000");
  // 31 Observations; the blood pressures add their components.
  EXPECT_GT(rec.observations.size(), 31u);
  const Observation& height = rec.observations[0];
  EXPECT_EQ(height.code.code.value, "8302-2");
  EXPECT_EQ(height.code.system.value, "LN");
  EXPECT_EQ(height.code.code.source, "Bundle.entry[4].resource.code.coding[0].code");
  EXPECT_EQ(height.value_type.value, "NM");
  EXPECT_EQ(height.value.value, "52.692030001960916");  // the JSON number's text, unrounded
  EXPECT_EQ(height.units.code.value, "cm");
  EXPECT_EQ(height.units.system.value, "UCUM");
  EXPECT_EQ(height.status.value, "F");
  bool saw_component = false;
  for (const Observation& o : rec.observations)
    if (o.source_segment.find(".component[") != std::string::npos) saw_component = true;
  EXPECT_TRUE(saw_component);
  ASSERT_EQ(rec.immunizations.size(), 12u);
  EXPECT_EQ(rec.immunizations[0].vaccine.system.value, "CVX");
  EXPECT_EQ(rec.immunizations[0].completion_status.value, "CP");
  EXPECT_EQ(rec.procedures.size(), 2u);
  EXPECT_FALSE(rec.procedures[0].time.empty());  // performedPeriod.start
  EXPECT_FALSE(rec.charges.empty());              // Claim items
}

TEST(RecordFromFhir, TransactionBundleTakesTheFirstPatient) {
  CanonicalRecord rec = convertFixture("Bundle-bundle-transaction.json");
  EXPECT_EQ(rec.message_id.value, "bundle-transaction");
  ASSERT_TRUE(rec.has_patient);
  EXPECT_EQ(rec.patient.names[0].family.value, "Chalmers");
  EXPECT_EQ(rec.patient.names[0].given.size(), 2u);
  EXPECT_EQ(rec.patient.birth_date.value, "19741225");
  EXPECT_EQ(rec.patient.source_segment, "Bundle.entry[0].resource");
}

TEST(RecordFromFhir, MessageBundleTakesTheEventAndSourceFromMessageHeader) {
  CanonicalRecord rec = convertFixture("Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json");
  EXPECT_EQ(rec.trigger.value, "patient-link");
  EXPECT_EQ(rec.trigger.source, "Bundle.entry[0].resource.eventCoding.code");
  EXPECT_EQ(rec.sending_application.value, "http://example.org/clients/ehr-lite");
  EXPECT_EQ(rec.sent_time.value, "20150714111533+1000");
  ASSERT_TRUE(rec.has_patient);
  ASSERT_FALSE(rec.patient.identifiers.empty());
  EXPECT_EQ(rec.patient.identifiers[0].value.value, "654321");
  EXPECT_EQ(rec.patient.identifiers[0].type.value, "MR");
  EXPECT_EQ(rec.patient.identifiers[0].assigning_authority.value, "0.1.2.3.4.5.6.7");  // urn:oid: dropped
}

TEST(RecordFromFhir, BatchOfRequestsWithoutResourcesIsEmptyNotAnError) {
  CanonicalRecord rec = convertFixture("Bundle-bundle-request-medsallergies.json");
  EXPECT_EQ(rec.trigger.value, "batch");
  EXPECT_FALSE(rec.has_patient);
  EXPECT_TRUE(rec.diagnoses.empty());
}

TEST(RecordFromFhir, DocumentReferenceAndReferencesByAbsoluteUrl) {
  CanonicalRecord rec = convertFixture("Bundle-xds.json");
  ASSERT_EQ(rec.documents.size(), 1u);
  EXPECT_EQ(rec.documents[0].unique_id.value, "urn:oid:129.6.58.92.88336");
  EXPECT_EQ(rec.documents[0].type.value, "History and Physical");
  EXPECT_EQ(rec.documents[0].time.value, "20130701231133+1000");
  ASSERT_TRUE(rec.has_patient);  // fullUrl http://localhost:9556/svc/fhir/Patient/a2
  EXPECT_EQ(rec.patient.names[0].family.value, "Doe");
}

TEST(RecordFromFhir, SingleResourcesUseTypeSlashIdPaths) {
  CanonicalRecord enc = convertFixture("Encounter-f201.json");
  ASSERT_TRUE(enc.has_encounter);
  EXPECT_EQ(enc.encounter.patient_class.value, "O");
  EXPECT_EQ(enc.encounter.patient_class.source, "Encounter/f201.class.code");

  CanonicalRecord claim = convertFixture("Claim-MED-00050.json");
  ASSERT_GE(claim.diagnoses.size(), 2u);
  EXPECT_EQ(claim.diagnoses[0].code.code.value, "M96.1");
  EXPECT_EQ(claim.diagnoses[0].code.code.source, "Claim/MED-00050.diagnosis[0].diagnosisCodeableConcept.coding[0].code");
  // ICD-10 (WHO) has no HL7 name here: the URI is kept, not passed off as ICD-10-CM.
  EXPECT_EQ(claim.diagnoses[0].code.system.value, "http://hl7.org/fhir/sid/icd-10");
  EXPECT_EQ(claim.diagnoses[0].rank.value, "1");
  EXPECT_FALSE(claim.charges.empty());

  CanonicalRecord imm = convertFixture("Immunization-example.json");
  ASSERT_EQ(imm.immunizations.size(), 1u);
  EXPECT_EQ(imm.immunizations[0].vaccine.code.value, "FLUVAX");
  EXPECT_EQ(imm.immunizations[0].lot.value, "AAJN11K");
  EXPECT_EQ(imm.immunizations[0].time.value, "20130110");
  EXPECT_EQ(imm.immunizations[0].dose.value, "5");
  EXPECT_EQ(imm.immunizations[0].site.code.value, "LA");

  CanonicalRecord cov = convertFixture("Coverage_CoverageEx1.json");
  ASSERT_EQ(cov.coverages.size(), 1u);
  EXPECT_EQ(cov.coverages[0].member_id.value, "888009335");
  EXPECT_EQ(cov.coverages[0].group_number.value, "MCHMO1");
  EXPECT_EQ(cov.coverages[0].plan.code.value, "GR5");
  EXPECT_EQ(cov.coverages[0].payer_name.value, "UPMC Health Plan");
}

TEST(RecordFromFhir, ChargeItemConditionAndEncounterLinksInsideACollection) {
  const std::string json = R"({
    "resourceType": "Bundle", "type": "collection",
    "entry": [
      {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1", "gender": "female"}},
      {"fullUrl": "urn:uuid:dr", "resource": {"resourceType": "Practitioner", "id": "dr",
        "identifier": [{"value": "D7"}], "name": [{"family": "Attend", "given": ["Ann"]}]}},
      {"fullUrl": "urn:uuid:e1", "resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
        "class": {"code": "IMP"}, "participant": [{"type": [{"coding": [{"code": "ATND"}]}],
        "individual": {"reference": "Practitioner/dr"}}],
        "diagnosis": [{"condition": {"reference": "urn:uuid:c1"}, "use": {"coding": [{"code": "AD"}]}, "rank": 1}]}},
      {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Condition", "id": "c1",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I21.4"}], "text": "NSTEMI"},
        "recordedDate": "2026-03-01"}},
      {"resource": {"resourceType": "ChargeItem", "status": "billable",
        "extension": [{"url": "urn:courier:fhir:extension:procedure-modifier", "valueCode": "59"}],
        "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"},
                            {"system": "urn:local:cdm", "code": "CDM100"}]},
        "quantity": {"value": 2}, "priceOverride": {"value": 125.00, "currency": "USD"},
        "occurrenceDateTime": "2026-03-01T10:00:00Z"}}
    ]})";
  auto rec = fromFhirJson(json);
  ASSERT_TRUE(rec.has_value()) << rec.error().toString();
  EXPECT_EQ(rec->patient.sex.value, "F");
  EXPECT_EQ(rec->encounter.patient_class.value, "I");
  EXPECT_EQ(rec->encounter.attending.id.value, "D7");
  EXPECT_EQ(rec->encounter.attending.family.value, "Attend");
  ASSERT_EQ(rec->diagnoses.size(), 1u);
  EXPECT_EQ(rec->diagnoses[0].code.system.value, "I10");
  EXPECT_EQ(rec->diagnoses[0].text.value, "NSTEMI");
  EXPECT_EQ(rec->diagnoses[0].type.value, "A");
  EXPECT_EQ(rec->diagnoses[0].rank.value, "1");
  ASSERT_EQ(rec->charges.size(), 1u);
  const Charge& c = rec->charges[0];
  EXPECT_EQ(c.hcpcs.code.value, "99213");
  EXPECT_EQ(c.hcpcs.system.value, "C4");
  EXPECT_EQ(c.chargemaster.code.value, "CDM100");
  EXPECT_EQ(c.amount.value, "125.00");  // decimal precision kept
  EXPECT_EQ(c.quantity.value, "2");
  ASSERT_EQ(c.modifiers.size(), 1u);
  EXPECT_EQ(c.modifiers[0].value, "59");
  EXPECT_EQ(c.modifiers[0].source, "Bundle.entry[4].resource.extension[0].valueCode");
  EXPECT_EQ(c.transaction_date.value, "20260301100000+0000");
  // The record goes back out as a FHIR Bundle with the unknown system kept as its URI.
  std::string bundle = toFhirBundle(*rec);
  EXPECT_NE(bundle.find("\"urn:local:cdm\""), std::string::npos);
  EXPECT_NE(bundle.find("\"2026-03-01T10:00:00+00:00\""), std::string::npos);
}

// --- Malformed input: located errors, never a crash ---------------------------

Error errorOf(const std::string& json) {
  auto rec = fromFhirJson(json);
  EXPECT_FALSE(rec.has_value()) << json.substr(0, 80);
  return rec ? Error{} : rec.error();
}

TEST(RecordFromFhir, NotJsonIsAParseErrorWithTheOffset) {
  Error e = errorOf(R"({"resourceType": "Patient", )");
  EXPECT_EQ(e.code, ErrorCode::kParse);
  EXPECT_EQ(e.location.rfind("offset ", 0), 0u);
  EXPECT_EQ(errorOf("").code, ErrorCode::kParse);
  EXPECT_EQ(errorOf(R"({"resourceType": "Patient"} trailing)").code, ErrorCode::kParse);
  EXPECT_EQ(errorOf("{\"resourceType\": \"Patient\", \"gender\": \"\xff\xfe\"}").code, ErrorCode::kParse);  // not UTF-8
}

TEST(RecordFromFhir, WrongShapesNameTheFailingElement) {
  Error e = errorOf(R"([{"resourceType": "Patient"}])");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  e = errorOf(R"({"id": "x"})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.location, "resourceType");
  e = errorOf(R"({"resourceType": 42})");
  EXPECT_EQ(e.location, "resourceType");
  e = errorOf(R"({"resourceType": "Bundle", "entry": {"resource": {}}})");
  EXPECT_EQ(e.location, "Bundle.entry");
  e = errorOf(R"({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}, 7]})");
  EXPECT_EQ(e.location, "Bundle.entry[1]");
  e = errorOf(R"({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]})");
  EXPECT_EQ(e.location, "Bundle.entry[0].resource.resourceType");
  e = errorOf(R"({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}},
      {"resource": {"resourceType": "Condition", "code": {"coding": "I21.4"}}}]})");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.location, "Bundle.entry[1].resource.code.coding");
  e = errorOf(R"({"resourceType": "Patient", "id": "p", "name": [{"given": ["A", {"x": 1}]}]})");
  EXPECT_EQ(e.location, "Patient/p.name[0].given[1]");
  e = errorOf(R"({"resourceType": "Patient", "gender": {"code": "male"}})");
  EXPECT_EQ(e.location, "Patient.gender");
  e = errorOf(R"({"resourceType": "Observation", "valueQuantity": [1]})");
  EXPECT_EQ(e.location, "Observation.valueQuantity");
  e = errorOf(R"({"resourceType": "DocumentReference", "content": [{"attachment": {"data": "%%%"}}]})");
  EXPECT_EQ(e.location, "DocumentReference.content[0].attachment.data");
  // The error text carries no values.
  EXPECT_EQ(e.message.find("%%%"), std::string::npos);
}

TEST(RecordFromFhir, DeepNestingAndHugeArraysDoNotCrash) {
  // 200,000 levels: the iterative parser needs no stack for them.
  std::string deep = R"({"resourceType": "Patient", "extension": )";
  deep.append(200000, '[');
  deep.append(200000, ']');
  deep += '}';
  auto rec = fromFhirJson(deep);
  EXPECT_TRUE(rec.has_value());
  std::string unbalanced(200000, '[');
  EXPECT_EQ(errorOf(unbalanced).code, ErrorCode::kParse);
  // 100,000 entries of a batch, none with a resource.
  std::string huge = R"({"resourceType": "Bundle", "type": "batch", "entry": [)";
  for (int i = 0; i < 100000; ++i) huge += i == 0 ? "{}" : ",{}";
  huge += "]}";
  rec = fromFhirJson(huge);
  ASSERT_TRUE(rec.has_value());
  EXPECT_FALSE(rec->has_patient);
}

TEST(RecordFromFhir, ConsumedStopsAfterTheFirstDocument) {
  std::string two = R"({"resourceType": "Patient", "gender": "male"}  {"resourceType": "Patient"})";
  size_t used = 0;
  auto rec = fromFhirJson(two, &used);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(two.substr(0, used), R"({"resourceType": "Patient", "gender": "male"})");
}

TEST(RecordFromFhir, DateTimes) {
  EXPECT_EQ(fhirToHl7DateTime("2020"), "2020");
  EXPECT_EQ(fhirToHl7DateTime("2020-10"), "202010");
  EXPECT_EQ(fhirToHl7DateTime("2020-10-20"), "20201020");
  EXPECT_EQ(fhirToHl7DateTime("2020-10-20T19:19:03+00:00"), "20201020191903+0000");
  EXPECT_EQ(fhirToHl7DateTime("2020-10-20T19:19:03.621-05:00"), "20201020191903.621-0500");
  EXPECT_EQ(fhirToHl7DateTime("2020-10-20T19:19:03Z"), "20201020191903+0000");
  EXPECT_EQ(fhirToHl7DateTime("yesterday"), "yesterday");
  EXPECT_EQ(fhirToHl7DateTime("2020-1"), "2020-1");
  EXPECT_EQ(fhirToHl7DateTime("2020-10-20T19"), "2020-10-20T19");
}

// --- Round trip: HL7 v2 → record → FHIR Bundle → record ----------------------

// HL7 times without an offset leave as FHIR dates; compare at what FHIR can carry.
std::string when(const Sourced& s) { return hl7ToFhirDateTime(s.value); }
std::string system(const Code& c) {
  std::string_view uri = fhirSystemFor(c.system.value);
  return std::string(uri.empty() ? std::string_view(c.system.value) : uri);
}

void expectSameClinicalContent(const CanonicalRecord& a, const CanonicalRecord& b, const std::string& name) {
  SCOPED_TRACE(name);
  ASSERT_EQ(a.has_patient, b.has_patient);
  ASSERT_EQ(a.patient.identifiers.size(), b.patient.identifiers.size());
  for (size_t i = 0; i < a.patient.identifiers.size(); ++i)
    EXPECT_EQ(a.patient.identifiers[i].value.value, b.patient.identifiers[i].value.value);
  ASSERT_EQ(a.patient.names.size(), b.patient.names.size());
  for (size_t i = 0; i < a.patient.names.size(); ++i) {
    EXPECT_EQ(a.patient.names[i].family.value, b.patient.names[i].family.value);
    ASSERT_EQ(a.patient.names[i].given.size(), b.patient.names[i].given.size());
  }
  EXPECT_EQ(hl7ToFhirDate(a.patient.birth_date.value), hl7ToFhirDate(b.patient.birth_date.value));
  EXPECT_EQ(a.patient.sex.value, b.patient.sex.value);
  EXPECT_EQ(a.has_encounter, b.has_encounter);
  if (a.has_encounter) {
    EXPECT_EQ(a.encounter.patient_class.value == "B" ? "I" : a.encounter.patient_class.value,
              b.encounter.patient_class.value);
    EXPECT_EQ(when(a.encounter.admit_time), when(b.encounter.admit_time));
    EXPECT_EQ(when(a.encounter.discharge_time), when(b.encounter.discharge_time));
  }
  ASSERT_EQ(a.diagnoses.size(), b.diagnoses.size());
  for (size_t i = 0; i < a.diagnoses.size(); ++i) {
    EXPECT_EQ(a.diagnoses[i].code.code.value, b.diagnoses[i].code.code.value);
    EXPECT_EQ(system(a.diagnoses[i].code), system(b.diagnoses[i].code));
  }
  ASSERT_EQ(a.procedures.size(), b.procedures.size());
  for (size_t i = 0; i < a.procedures.size(); ++i)
    EXPECT_EQ(a.procedures[i].code.code.value, b.procedures[i].code.code.value);
  ASSERT_EQ(a.observations.size(), b.observations.size());
  for (size_t i = 0; i < a.observations.size(); ++i) {
    const Observation& x = a.observations[i];
    const Observation& y = b.observations[i];
    EXPECT_EQ(x.code.code.value, y.code.code.value);
    if (x.value_type.value == "NM") {
      EXPECT_EQ(x.value.value, y.value.value);
      EXPECT_EQ(x.units.code.value, y.units.code.value);
    }
  }
  ASSERT_EQ(a.immunizations.size(), b.immunizations.size());
  for (size_t i = 0; i < a.immunizations.size(); ++i) {
    EXPECT_EQ(a.immunizations[i].vaccine.code.value, b.immunizations[i].vaccine.code.value);
    EXPECT_EQ(a.immunizations[i].lot.value, b.immunizations[i].lot.value);
  }
  ASSERT_EQ(a.coverages.size(), b.coverages.size());
  for (size_t i = 0; i < a.coverages.size(); ++i)
    EXPECT_EQ(a.coverages[i].member_id.value, b.coverages[i].member_id.value);
  ASSERT_EQ(a.charges.size(), b.charges.size());
  for (size_t i = 0; i < a.charges.size(); ++i) {
    EXPECT_EQ(a.charges[i].hcpcs.code.value, b.charges[i].hcpcs.code.value);
    EXPECT_EQ(a.charges[i].amount.value, b.charges[i].amount.value);
  }
  ASSERT_EQ(a.documents.size(), b.documents.size());
  for (size_t i = 0; i < a.documents.size(); ++i) EXPECT_EQ(a.documents[i].text, b.documents[i].text);
}

TEST(RecordFromFhir, RoundTripOfEveryHl7Fixture) {
  int checked = 0;
  for (const auto& file : std::filesystem::directory_iterator(std::string(COURIER_SOURCE_DIR) + "/tests/data/record")) {
    if (file.path().extension() != ".hl7") continue;
    std::ifstream in(file.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();  // Message::parse views its input: keep it alive
    auto msg = hl7v2::Message::parse(bytes);
    ASSERT_TRUE(msg.has_value());
    auto first = fromHl7v2(*msg);
    if (!first) continue;  // no_pid.hl7
    std::string bundle = toFhirBundle(*first);
    auto second = fromFhirJson(bundle);
    ASSERT_TRUE(second.has_value()) << file.path() << ": " << second.error().toString();
    expectSameClinicalContent(*first, *second, file.path().filename().string());
    // And FHIR → record → FHIR is stable from then on.
    auto third = fromFhirJson(toFhirBundle(*second));
    ASSERT_TRUE(third.has_value());
    expectSameClinicalContent(*second, *third, file.path().filename().string() + " (second pass)");
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

}  // namespace
}  // namespace courier::record
