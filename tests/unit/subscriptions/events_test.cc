#include "engine/subscriptions/event.h"

#include <gtest/gtest.h>

#include "engine/subscriptions/matcher.h"
#include "fixtures.h"

namespace courier::subscriptions {
namespace {

using testing::fixture;
using testing::kIcd;
using testing::recordFrom;

std::vector<Topic> topicsOf(const std::vector<Event>& events) {
  std::vector<Topic> out;
  for (const Event& e : events) out.push_back(e.topic);
  return out;
}

std::string withA03(std::string text) {
  text.replace(text.find("ADT^A01^ADT_A01"), 15, "ADT^A03^ADT_A03");
  text.replace(text.find("EVN|A01"), 7, "EVN|A03");
  // PV1-45, the discharge time, after PV1-44.
  auto admit = text.find("20260115080000-0500");
  text.insert(admit + 19, "|20260118100000-0500");
  return text;
}

TEST(EventsFor, AdmissionRaisesEncounterStartAndOneEventPerDiagnosisAndProcedure) {
  record::CanonicalRecord rec = fixture("adt_a01.hl7");
  std::vector<std::string> specialties{"cardiology"};
  auto events = eventsFor(rec, nullptr, specialties, false);
  EXPECT_EQ(topicsOf(events), (std::vector<Topic>{Topic::kEncounterStart, Topic::kDiagnosis, Topic::kDiagnosis,
                                                   Topic::kProcedure}));
  const Event& start = events[0];
  EXPECT_EQ(start.focus_type, "Encounter");
  EXPECT_EQ(start.patient_ref, "Patient/MRN10001");  // the MR identifier, not the SSN
  EXPECT_EQ(start.facility, "GOODHEALTH");
  EXPECT_EQ(start.patient_class, "I");
  EXPECT_EQ(start.specialties, specialties);
  EXPECT_EQ(start.codes, (std::vector<std::string>{kIcd + "|I21.4", kIcd + "|E11.9"}));
  EXPECT_EQ(events[2].focus_type, "Condition");
  EXPECT_EQ(events[2].focus_index, 1);
  EXPECT_EQ(events[2].codes, std::vector<std::string>{kIcd + "|E11.9"});
  EXPECT_EQ(events[3].codes, std::vector<std::string>{"http://www.cms.gov/Medicare/Coding/ICD10|4A023N7"});
}

TEST(EventsFor, DischargeRaisesEncounterEndAsAnUpdate) {
  std::string a01 = testing::readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/record/adt_a01.hl7");
  record::CanonicalRecord rec = recordFrom(withA03(a01));
  ASSERT_EQ(rec.trigger.value, "A03");
  ASSERT_FALSE(rec.encounter.discharge_time.empty());
  auto events = eventsFor(rec, nullptr, {}, false);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].topic, Topic::kEncounterEnd);
  EXPECT_TRUE(events[0].is_update);
  for (const Event& e : events) EXPECT_NE(e.topic, Topic::kEncounterStart);
}

TEST(EventsFor, ResultsRaiseOneEventPerFinalObservation) {
  record::CanonicalRecord rec = fixture("oru_r01.hl7");
  auto events = eventsFor(rec, nullptr, {}, false);
  // Five OBX are final; OBX 5 of the first order is preliminary.
  ASSERT_EQ(events.size(), 5u);
  for (const Event& e : events) EXPECT_EQ(e.topic, Topic::kObservationResulted);
  EXPECT_EQ(events[0].codes, std::vector<std::string>{"http://loinc.org|2345-7"});
  EXPECT_EQ(events[4].focus_index, 5);  // the hemoglobin, sixth observation of the record
  EXPECT_EQ(events[0].patient_class, "O");
}

TEST(EventsFor, VaccinationRaisesImmunizationWithCvx) {
  record::CanonicalRecord rec = fixture("vxu_v04.hl7");
  auto events = eventsFor(rec, nullptr, {}, false);
  ASSERT_EQ(events.size(), 2u);  // given and not given: the Immunization's status tells them apart
  EXPECT_EQ(events[0].topic, Topic::kImmunization);
  EXPECT_EQ(events[0].codes, std::vector<std::string>{"http://hl7.org/fhir/sid/cvx|08"});
  EXPECT_EQ(events[0].facility, "CLINIC");
  EXPECT_EQ(events[0].patient_ref, "Patient/MRN20002");
}

TEST(EventsFor, ChargesRaiseNothingUntilAClaimIsProduced) {
  record::CanonicalRecord rec = fixture("dft_p03.hl7");
  EXPECT_TRUE(eventsFor(rec, nullptr, {}, false).empty());
  auto events = eventsFor(rec, nullptr, {}, true);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].topic, Topic::kClaimProduced);
  EXPECT_EQ(events[0].focus_type, "Claim");
  // CPT lines count as HCPCS (Level I); FT1-19 diagnoses as ICD-10-CM.
  const std::string cpt = "http://www.ama-assn.org/go/cpt";
  EXPECT_EQ(events[0].codes, (std::vector<std::string>{cpt + "|99213", kIcd + "|E11.9", cpt + "|36415",
                                                       kIcd + "|E11.9"}));
  Matcher m;
  ASSERT_TRUE(m.add(testing::spec("payer", "claim-produced", {"code=urn:oid:2.16.840.1.113883.6.285|99201-99215"}))
                  .has_value());
  EXPECT_EQ(m.match(events[0]), std::vector<std::string>{"payer"});
}

TEST(EventsFor, CoderResultsReplaceTheCodesAsSent) {
  record::CanonicalRecord rec = fixture("adt_a01.hl7");
  coding::CodedRecord coded;
  coded.diagnoses.resize(2);
  coding::AssignedCode code;
  code.system = coding::CodeSystem::kIcd10Cm;
  code.code = "I21.4";
  coded.diagnoses[0].codes.push_back(code);
  code.code = "E11.65";
  coded.diagnoses[1].codes.push_back(code);
  auto events = eventsFor(rec, &coded, {}, false);
  ASSERT_EQ(events[2].topic, Topic::kDiagnosis);
  EXPECT_EQ(events[2].codes, std::vector<std::string>{kIcd + "|E11.65"});
}

// The registry scenario end to end: an admission for breast cancer reaches the cancer
// registry, one for hypertension does not.
TEST(EventsFor, CancerRegistryReceivesNeoplasmsFromAdmissions) {
  Matcher m;
  ASSERT_TRUE(m.add(testing::spec("registry", "diagnosis", {"Condition?code=" + kIcd + "|C00-D49"})).has_value());
  std::string a01 = testing::readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/record/adt_a01.hl7");
  auto count = [&](const std::string& text) {
    record::CanonicalRecord rec = recordFrom(text);
    int n = 0;
    for (const Event& e : eventsFor(rec, nullptr, {}, false)) n += static_cast<int>(m.match(e).size());
    return n;
  };
  std::string cancer = a01;
  cancer.replace(cancer.find("I21.4"), 5, "C50.911");
  EXPECT_EQ(count(cancer), 1);
  std::string hypertension = a01;
  hypertension.replace(hypertension.find("I21.4"), 5, "I10");
  EXPECT_EQ(count(hypertension), 0);
}

}  // namespace
}  // namespace courier::subscriptions
