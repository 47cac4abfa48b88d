#include "engine/subscriptions/matcher.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "fixtures.h"

namespace courier::subscriptions {
namespace {

using testing::kIcd;
using testing::spec;

Event diagnosisEvent(std::vector<std::string> codes, std::string patient = "Patient/MRN1") {
  Event e;
  e.topic = Topic::kDiagnosis;
  e.codes = std::move(codes);
  e.patient_ref = std::move(patient);
  e.facility = "GOODHEALTH";
  e.patient_class = "I";
  e.specialties = {"Oncology"};
  return e;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Matcher, CancerRegistryRangeTakesNeoplasmsOnly) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("cancer", "diagnosis", {"Condition?code=" + kIcd + "|C00-D49"})).has_value());
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|C50.911"})), std::vector<std::string>{"cancer"});
  EXPECT_TRUE(m.match(diagnosisEvent({kIcd + "|I10"})).empty());
  // The upper bound is a prefix: D49.511 is in C00-D49, D50.0 is not; C00 itself is.
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|D49.511"})).size(), 1u);
  EXPECT_TRUE(m.match(diagnosisEvent({kIcd + "|D50.0"})).empty());
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|C00.0"})).size(), 1u);
  EXPECT_TRUE(m.match(diagnosisEvent({kIcd + "|B99.9"})).empty());
  // Undotted as a coder might send it; a code of another system never matches.
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|C50911"})).size(), 1u);
  EXPECT_TRUE(m.match(diagnosisEvent({"http://hl7.org/fhir/sid/icd-9-cm|174.9"})).empty());
}

TEST(Matcher, OverlappingRangesAndExactCodes) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("neoplasm", "diagnosis", {"code=C00-D49"})).has_value());
  ASSERT_TRUE(m.add(spec("breast", "diagnosis", {"code=C50-C50"})).has_value());
  ASSERT_TRUE(m.add(spec("one", "diagnosis", {"code=C50.911,I10"})).has_value());
  ASSERT_TRUE(m.add(spec("cardio", "diagnosis", {"code=I00-I99"})).has_value());
  EXPECT_EQ(sorted(m.match(diagnosisEvent({kIcd + "|C50.911"}))),
            (std::vector<std::string>{"breast", "neoplasm", "one"}));
  EXPECT_EQ(sorted(m.match(diagnosisEvent({kIcd + "|C50.912"}))), (std::vector<std::string>{"breast", "neoplasm"}));
  EXPECT_EQ(sorted(m.match(diagnosisEvent({kIcd + "|I10"}))), (std::vector<std::string>{"cardio", "one"}));
  // Two codes in one event: each subscription once.
  EXPECT_EQ(sorted(m.match(diagnosisEvent({kIcd + "|C50.911", kIcd + "|I10"}))),
            (std::vector<std::string>{"breast", "cardio", "neoplasm", "one"}));
}

TEST(Matcher, PatientSpecialtyFacilityAndClassFilters) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("pat", "diagnosis", {"patient=Patient/MRN1"})).has_value());
  ASSERT_TRUE(m.add(spec("onc", "diagnosis", {"specialty=oncology,hematology"})).has_value());
  ASSERT_TRUE(m.add(spec("fac", "diagnosis", {"facility=goodhealth"})).has_value());
  ASSERT_TRUE(m.add(spec("inp", "diagnosis", {"patient-class=inpatient"})).has_value());
  ASSERT_TRUE(m.add(spec("all", "diagnosis")).has_value());
  Event e = diagnosisEvent({kIcd + "|I10"});
  EXPECT_EQ(sorted(m.match(e)), (std::vector<std::string>{"all", "fac", "inp", "onc", "pat"}));
  e.patient_ref = "Patient/MRN2";
  e.specialties = {"cardiology"};
  e.facility = "OTHERPLACE";
  e.patient_class = "o";
  EXPECT_EQ(m.match(e), std::vector<std::string>{"all"});
}

TEST(Matcher, FiltersAreAndedValuesOred) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("both", "diagnosis", {"code=C00-D49", "patient=Patient/MRN1,Patient/MRN3",
                                               "facility=GOODHEALTH"}))
                  .has_value());
  ASSERT_TRUE(m.add(spec("one-string", "diagnosis", {"code=C00-D49&specialty=oncology"})).has_value());
  EXPECT_EQ(sorted(m.match(diagnosisEvent({kIcd + "|C50.911"}))), (std::vector<std::string>{"both", "one-string"}));
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|C50.911"}, "Patient/MRN3")).size(), 2u);
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|C50.911"}, "Patient/MRN2")), std::vector<std::string>{"one-string"});
  EXPECT_TRUE(m.match(diagnosisEvent({kIcd + "|I10"})).empty());
  Event other_fac = diagnosisEvent({kIcd + "|C50.911"});
  other_fac.facility = "ELSEWHERE";
  other_fac.specialties.clear();
  EXPECT_TRUE(m.match(other_fac).empty());
}

TEST(Matcher, TopicMustMatch) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("enc", "encounter-start", {"patient=Patient/MRN1"})).has_value());
  ASSERT_TRUE(m.add(spec("any-dx", "diagnosis")).has_value());
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|I10"})), std::vector<std::string>{"any-dx"});
  Event start = diagnosisEvent({});
  start.topic = Topic::kEncounterStart;
  EXPECT_EQ(m.match(start), std::vector<std::string>{"enc"});
  start.topic = Topic::kEncounterEnd;
  EXPECT_TRUE(m.match(start).empty());
}

TEST(Matcher, RemoveAndUpdateChangeWhatMatches) {
  Matcher m;
  ASSERT_TRUE(m.add(spec("a", "diagnosis", {"code=C00-D49"})).has_value());
  ASSERT_TRUE(m.add(spec("b", "diagnosis", {"code=C00-D49"})).has_value());
  EXPECT_EQ(m.add(spec("a", "diagnosis")).error().code, ErrorCode::kAlreadyExists);
  Event cancer = diagnosisEvent({kIcd + "|C50.911"});
  EXPECT_EQ(m.match(cancer).size(), 2u);
  EXPECT_TRUE(m.remove("a"));
  EXPECT_FALSE(m.remove("a"));
  EXPECT_EQ(m.match(cancer), std::vector<std::string>{"b"});
  ASSERT_TRUE(m.update(spec("b", "diagnosis", {"code=I10"})).has_value());
  EXPECT_TRUE(m.match(cancer).empty());
  EXPECT_EQ(m.match(diagnosisEvent({kIcd + "|I10"})), std::vector<std::string>{"b"});
  EXPECT_EQ(m.update(spec("zzz", "diagnosis")).error().code, ErrorCode::kNotFound);
  // A freed slot is reused without leaking the old subscription's index entries.
  ASSERT_TRUE(m.add(spec("c", "diagnosis", {"patient=Patient/MRN9"})).has_value());
  EXPECT_TRUE(m.match(cancer).empty());
  EXPECT_EQ(m.size(), 2u);
  ASSERT_NE(m.find("c"), nullptr);
  EXPECT_EQ(m.find("a"), nullptr);
}

// The indexes only narrow: for many random subscriptions, the Matcher agrees with checking
// every subscription one by one.
TEST(Matcher, AgreesWithALinearScan) {
  std::vector<SubscriptionSpec> specs;
  const char* ranges[] = {"C00-D49", "C50-C50", "E08-E13", "I00-I99", "I10", "J45.909", "C50.911,E11.9", "A00-B99"};
  const char* patients[] = {"Patient/MRN1", "Patient/MRN2", "Patient/MRN3"};
  const char* specialties[] = {"oncology", "cardiology"};
  Matcher m;
  unsigned seed = 7;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> filters;
    if (next() % 2) filters.push_back(std::string("code=") + ranges[next() % 8]);
    if (next() % 4 == 0) filters.push_back(std::string("patient=") + patients[next() % 3]);
    if (next() % 3 == 0) filters.push_back(std::string("specialty=") + specialties[next() % 2]);
    if (next() % 5 == 0) filters.push_back("facility=GOODHEALTH");
    if (next() % 6 == 0) filters.push_back("patient-class=O");
    std::string id = "s";
    id += std::to_string(i);
    specs.push_back(spec(id, "diagnosis", filters));
    ASSERT_TRUE(m.add(specs.back()).has_value());
  }
  const char* codes[] = {"C50.911", "I10", "E11.9", "D49.2", "Z00.00", "A01.1", "C50.912", "J45.909"};
  for (int k = 0; k < 200; ++k) {
    Event e = diagnosisEvent({kIcd + "|" + codes[next() % 8]}, patients[next() % 3]);
    e.specialties = {specialties[next() % 2]};
    e.patient_class = next() % 2 ? "I" : "O";
    std::vector<std::string> expected;
    for (const SubscriptionSpec& s : specs) {
      Matcher one;
      ASSERT_TRUE(one.add(s).has_value());
      if (!one.match(e).empty()) expected.push_back(s.id);
    }
    EXPECT_EQ(sorted(m.match(e)), sorted(expected));
  }
}

}  // namespace
}  // namespace courier::subscriptions
