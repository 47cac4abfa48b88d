#include "engine/coding/record_coder.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "tests/unit/coding/coding_fixture.h"

namespace courier::coding {
namespace {

using testing::dataDir;
using testing::mappingsDir;

// One coder for the whole binary, with the chargemaster fixture as its site crosswalk.
const RecordCoder& coder() {
  static std::unique_ptr<RecordCoder> c = [] {
    RecordCoderOptions opt;
    opt.crosswalk_files = std::vector<std::string>{dataDir() + "/chargemaster.csv"};
    auto r = RecordCoder::load(mappingsDir(), opt);
    if (!r) {
      ADD_FAILURE() << r.error().toString();
      std::abort();
    }
    return std::move(*r);
  }();
  return *c;
}

// One segment from field number -> encoded value, so tests name fields instead of counting bars.
std::string seg(const std::string& id, const std::map<int, std::string>& fields) {
  std::string out = id;
  int last = fields.empty() ? 0 : fields.rbegin()->first;
  for (int i = 1; i <= last; ++i) {
    out += '|';
    auto it = fields.find(i);
    if (it != fields.end()) out += it->second;
  }
  return out + "\r";
}

std::string msh(const std::string& type, const std::string& time = "20260302101500") {
  return "MSH|^~\\&|BILLING|FAC|COURIER|FAC|" + time + "||" + type + "|CTL1|P|2.5.1\r" +
         "PID|1||TEST0001^^^FAC^MR||TESTPATIENT^ALPHA||19700101|F\r";
}

std::string pv1(const std::string& patient_class, const std::string& admit = "", const std::string& discharge = "") {
  return seg("PV1", {{1, "1"}, {2, patient_class}, {44, admit}, {45, discharge}});
}

std::string dg1(int set_id, const std::string& code, const std::string& text = "", const std::string& time = "") {
  return seg("DG1", {{1, std::to_string(set_id)}, {3, code}, {4, text}, {5, time}, {6, "F"}});
}

std::string ft1(const std::string& date, const std::string& cdm, const std::string& hcpcs = "",
                const std::string& modifiers = "") {
  return seg("FT1", {{1, "1"}, {4, date}, {6, "CG"}, {7, cdm}, {10, "1"}, {25, hcpcs}, {26, modifiers}});
}

// The record and the bytes its Message viewed while converting.
record::CanonicalRecord recordOf(const std::string& hl7) {
  auto msg = hl7v2::Message::parse(hl7);
  EXPECT_TRUE(msg.has_value());
  auto rec = record::fromHl7v2(*msg);
  EXPECT_TRUE(rec.has_value()) << rec.error().toString();
  return std::move(*rec);
}

TEST(RecordCoderTest, DftWithValidCodesIsBillable) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "E11.9^Type 2 diabetes^I10") +
                      dg1(2, "I10^Hypertension^ICD-10-CM") +
                      dg1(3, "J18.9^Pneumonia^http://hl7.org/fhir/sid/icd-10-cm") +
                      ft1("20260301", "CDM1001^Flu shot^CDM", "G0008^Flu admin^HCPCS") +
                      ft1("20260301", "", "J1100^Dexamethasone^HCPCS"));
  CodedRecord out = coder().code(rec);
  ASSERT_TRUE(out.date_of_service);
  EXPECT_EQ(*out.date_of_service, (ServiceDate{2026, 3, 1}));  // FT1-4 before MSH-7
  ASSERT_EQ(out.diagnoses.size(), 3u);
  ASSERT_EQ(out.charges.size(), 2u);
  for (const auto& d : out.diagnoses) {
    ASSERT_EQ(d.codes.size(), 1u);
    EXPECT_EQ(d.codes[0].method, CodingMethod::kSource);
    EXPECT_EQ(d.codes[0].release, "ICD-10-CM FY2026");
    EXPECT_FALSE(d.review) << d.reason;
  }
  EXPECT_EQ(out.diagnoses[1].codes[0].code, "I10");
  EXPECT_EQ(out.charges[0].codes[0].code, "G0008");
  EXPECT_EQ(out.charges[0].codes[0].system, CodeSystem::kHcpcs);
  EXPECT_FALSE(out.needsReview());
  EXPECT_TRUE(out.allBillable());
  auto all = out.allCodes();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0]->code, "E11.9");  // diagnoses first
  EXPECT_EQ(all[4]->code, "J1100");
}

TEST(RecordCoderTest, UndottedAndSystemlessCodesAreNormalized) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "E119^^I10") + dg1(2, "e785") +
                      dg1(3, "N390^^I10C"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.diagnoses.size(), 3u);
  ASSERT_EQ(out.diagnoses[0].codes.size(), 1u);
  EXPECT_EQ(out.diagnoses[0].codes[0].code, "E11.9");
  EXPECT_EQ(out.diagnoses[0].codes[0].method, CodingMethod::kNormalized);
  ASSERT_EQ(out.diagnoses[1].codes.size(), 1u);
  EXPECT_EQ(out.diagnoses[1].codes[0].code, "E78.5");
  ASSERT_EQ(out.diagnoses[2].codes.size(), 1u);
  EXPECT_EQ(out.diagnoses[2].codes[0].code, "N39.0");
  EXPECT_TRUE(out.allBillable());
}

TEST(RecordCoderTest, Icd9TranslatedThroughTheGem) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "599.0^UTI^I9C") + dg1(2, "401.9^HTN^I9"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.diagnoses.size(), 2u);
  ASSERT_EQ(out.diagnoses[0].codes.size(), 1u);
  EXPECT_EQ(out.diagnoses[0].codes[0].code, "N39.0");
  EXPECT_EQ(out.diagnoses[0].codes[0].method, CodingMethod::kGem);
  EXPECT_FALSE(out.diagnoses[0].review);
  EXPECT_TRUE(out.diagnoses[1].review);  // one-to-many in the GEM
  EXPECT_TRUE(out.needsReview());
  EXPECT_FALSE(out.allBillable());
}

TEST(RecordCoderTest, TextOnlyDiagnosisIsCodedFromWords) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "", "urinary tract infection") +
                      dg1(2, "", "no evidence of pneumonia") + dg1(3, "", "rule out pneumonia"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.diagnoses.size(), 3u);
  ASSERT_EQ(out.diagnoses[0].codes.size(), 1u);
  EXPECT_EQ(out.diagnoses[0].codes[0].code, "N39.0");
  EXPECT_EQ(out.diagnoses[0].codes[0].method, CodingMethod::kText);
  // Negated and (outpatient) uncertain: nothing coded, a person decides.
  EXPECT_TRUE(out.diagnoses[1].review);
  EXPECT_TRUE(out.diagnoses[1].codes.empty());
  EXPECT_NE(out.diagnoses[1].reason.find("negated"), std::string::npos);
  EXPECT_TRUE(out.diagnoses[2].review);
  EXPECT_NE(out.diagnoses[2].reason.find("uncertain"), std::string::npos);
}

TEST(RecordCoderTest, UncertainInpatientDiagnosisIsCodedAsEstablished) {
  auto rec = recordOf(msh("ADT^A03") + pv1("I", "20260220", "20260225") + dg1(1, "", "probable pneumonia"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.diagnoses.size(), 1u);
  ASSERT_FALSE(out.diagnoses[0].codes.empty()) << out.diagnoses[0].reason;
  EXPECT_EQ(out.diagnoses[0].codes[0].code, "J18.9");
}

TEST(RecordCoderTest, InvalidCodesGoToReview) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "E11^Diabetes^I10") + dg1(2, "E11.99^^I10") +
                      dg1(3, "E11^^I10", "type 2 diabetes mellitus"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.diagnoses.size(), 3u);
  // A header: review with the billable codes under it as alternatives.
  EXPECT_TRUE(out.diagnoses[0].review);
  EXPECT_FALSE(out.diagnoses[0].alternatives.empty());
  EXPECT_NE(out.diagnoses[0].reason.find("not billable"), std::string::npos);
  EXPECT_TRUE(out.diagnoses[1].review);
  // With text, the text coder proposes codes, but the item stays in review.
  EXPECT_TRUE(out.diagnoses[2].review);
  ASSERT_FALSE(out.diagnoses[2].codes.empty());
  EXPECT_EQ(out.diagnoses[2].codes[0].code, "E11.9");
  EXPECT_FALSE(out.allBillable());
}

TEST(RecordCoderTest, ReleaseChosenByDischargeDate) {
  // B88.01 is new in FY2026; S30.1XXA was deleted from FY2026.
  const std::string dx = dg1(1, "B88.01^^I10") + dg1(2, "S30.1XXA^^I10");
  auto fy2026 = coder().code(recordOf(msh("ADT^A03", "20251003") + pv1("I", "20250925", "20251001") + dx));
  ASSERT_TRUE(fy2026.date_of_service);
  EXPECT_EQ(*fy2026.date_of_service, (ServiceDate{2025, 10, 1}));
  EXPECT_FALSE(fy2026.diagnoses[0].review);
  EXPECT_EQ(fy2026.diagnoses[0].release, "ICD-10-CM FY2026");
  EXPECT_TRUE(fy2026.diagnoses[1].review);

  auto fy2025 = coder().code(recordOf(msh("ADT^A03", "20251003") + pv1("I", "20250925", "20250930") + dx));
  EXPECT_EQ(*fy2025.date_of_service, (ServiceDate{2025, 9, 30}));
  EXPECT_TRUE(fy2025.diagnoses[0].review);
  EXPECT_FALSE(fy2025.diagnoses[1].review);
  EXPECT_EQ(fy2025.diagnoses[1].release, "ICD-10-CM FY2025");

  // Outpatient: the discharge date does not decide; the admit date (PV1-44) does.
  auto outpatient = coder().code(recordOf(msh("ADT^A03", "20251003") + pv1("O", "20250925", "20251001") + dx));
  EXPECT_EQ(*outpatient.date_of_service, (ServiceDate{2025, 9, 25}));
  // Nothing but MSH-7.
  auto sent = coder().code(recordOf(msh("ADT^A08", "20251003") + dx));
  EXPECT_EQ(*sent.date_of_service, (ServiceDate{2025, 10, 3}));
}

TEST(RecordCoderTest, ChargeWithHcpcsCarriesModifiers) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "M25.531^^I10") +
                      ft1("20251115", "", "L3908^Orthosis^HCPCS", "RT~59") +
                      ft1("20251115", "", "L3908^Orthosis^HCPCS", "ZZ"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.charges.size(), 2u);
  ASSERT_EQ(out.charges[0].codes.size(), 1u);
  EXPECT_EQ(out.charges[0].codes[0].code, "L3908");
  EXPECT_EQ(out.charges[0].codes[0].modifiers, (std::vector<std::string>{"RT", "59"}));
  EXPECT_FALSE(out.charges[0].review);
  // Not a HCPCS modifier: review, saying which.
  EXPECT_TRUE(out.charges[1].review);
  EXPECT_NE(out.charges[1].reason.find("ZZ"), std::string::npos);
}

TEST(RecordCoderTest, ChargemasterOnlyGoesThroughTheCrosswalk) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "Z23^^I10") + ft1("20251101", "CDM1001^Flu^CDM") +
                      ft1("20251101", "CDM2002^Orthosis^CDM", "", "59") + ft1("20251101", "CDM3003^Dex^CDM") +
                      ft1("20251101", "CDM9999^Unknown^CDM") + ft1("20251101", ""));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.charges.size(), 5u);
  ASSERT_EQ(out.charges[0].codes.size(), 1u);
  EXPECT_EQ(out.charges[0].codes[0].code, "G0008");
  EXPECT_EQ(out.charges[0].codes[0].method, CodingMethod::kCrosswalk);
  EXPECT_FALSE(out.charges[0].review);
  // The crosswalk's modifier first, then FT1-26.
  ASSERT_EQ(out.charges[1].codes.size(), 1u);
  EXPECT_EQ(out.charges[1].codes[0].modifiers, (std::vector<std::string>{"RT", "59"}));
  EXPECT_TRUE(out.charges[2].review);  // "wider"
  EXPECT_TRUE(out.charges[3].review);
  EXPECT_NE(out.charges[3].reason.find("crosswalk"), std::string::npos);
  EXPECT_TRUE(out.charges[4].review);
  EXPECT_NE(out.charges[4].reason.find("FT1-7"), std::string::npos);
}

TEST(RecordCoderTest, ProceduresAndCpt) {
  auto rec = recordOf(msh("BAR^P01") + pv1("I", "20260210", "20260214") +
                      seg("PR1", {{1, "1"}, {3, "0DTJ4ZZ^Appendectomy^I10P"}, {5, "20260211"}}) +
                      seg("PR1", {{1, "2"}, {3, "99213^Office visit^C4"}, {5, "20260211"}}) +
                      seg("PR1", {{1, "3"}, {3, "G0008^^HCPCS"}, {5, "20260211"}}) +
                      ft1("20260211", "", "99213^Office visit^CPT"));
  CodedRecord out = coder().code(rec);
  ASSERT_EQ(out.procedures.size(), 3u);
  ASSERT_EQ(out.procedures[0].codes.size(), 1u);
  EXPECT_EQ(out.procedures[0].codes[0].system, CodeSystem::kIcd10Pcs);
  EXPECT_FALSE(out.procedures[0].review);
  EXPECT_TRUE(out.procedures[1].review);
  EXPECT_EQ(out.procedures[1].reason, "CPT is not licensed in Courier's code sets");
  EXPECT_FALSE(out.procedures[2].review);
  ASSERT_EQ(out.charges.size(), 1u);
  EXPECT_EQ(out.charges[0].reason, "CPT is not licensed in Courier's code sets");
}

TEST(RecordCoderTest, OverridesMakeAHeldRecordBillable) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "E11^Diabetes^I10") + dg1(2, "I10^^I10") +
                      ft1("20260301", "CDM9999^Unknown^CDM", "", "RT"));
  CodedRecord held = coder().code(rec);
  EXPECT_TRUE(held.needsReview());
  EXPECT_FALSE(held.allBillable());

  std::vector<CodeOverride> decisions = {
      {CodedItemKind::kDiagnosis, 0, {"E11.65", "e119"}, "coder-7"},
      {CodedItemKind::kCharge, 0, {"L3908"}, "coder-7"},
  };
  CodedRecord out = coder().code(rec, decisions);
  EXPECT_FALSE(out.needsReview());
  EXPECT_TRUE(out.allBillable());
  ASSERT_EQ(out.diagnoses[0].codes.size(), 2u);
  EXPECT_EQ(out.diagnoses[0].codes[1].code, "E11.9");
  EXPECT_EQ(out.diagnoses[0].codes[0].method, CodingMethod::kReviewed);
  EXPECT_EQ(out.diagnoses[0].codes[0].confidence, 1.0);
  EXPECT_EQ(codingMethodName(CodingMethod::kReviewed), "reviewed");
  ASSERT_EQ(out.charges[0].codes.size(), 1u);
  EXPECT_EQ(out.charges[0].codes[0].modifiers, std::vector<std::string>{"RT"});  // FT1-26 kept
  // The untouched item is as the coder left it.
  EXPECT_EQ(out.diagnoses[1].codes[0].method, CodingMethod::kSource);
}

TEST(RecordCoderTest, InvalidOverrideStaysInReview) {
  auto rec = recordOf(msh("DFT^P03") + pv1("O") + dg1(1, "E11^Diabetes^I10"));
  std::vector<CodeOverride> decisions = {{CodedItemKind::kDiagnosis, 0, {"E11.9", "E11"}, "coder-7"},
                                         {CodedItemKind::kDiagnosis, 5, {"E11.9"}, "coder-7"}};
  CodedRecord out = coder().code(rec, decisions);
  ASSERT_EQ(out.diagnoses.size(), 1u);
  EXPECT_TRUE(out.diagnoses[0].review);
  EXPECT_NE(out.diagnoses[0].reason.find("E11 "), std::string::npos) << out.diagnoses[0].reason;
  EXPECT_FALSE(out.allBillable());
}

TEST(RecordCoderTest, NothingToCodeIsNotBillable) {
  CodedRecord empty = coder().code(recordOf(msh("ADT^A08") + pv1("O")));
  EXPECT_FALSE(empty.needsReview());
  EXPECT_FALSE(empty.allBillable());
  EXPECT_TRUE(empty.allCodes().empty());
  EXPECT_EQ(codedItemKindName(CodedItemKind::kCharge), "charge");
}

TEST(RecordCoderTest, NoDateOfServiceMeansReview) {
  record::CanonicalRecord rec;
  record::Diagnosis d;
  d.code.code.value = "E11.9";
  d.code.system.value = "I10";
  rec.diagnoses.push_back(d);
  CodedRecord out = coder().code(rec);
  EXPECT_FALSE(out.date_of_service);
  EXPECT_TRUE(out.diagnoses[0].review);
  EXPECT_NE(out.diagnoses[0].reason.find("no date of service"), std::string::npos);
}

TEST(RecordCoderTest, LoadsSiteCrosswalksFromTheMappingsFolder) {
  // A mappings/ without crosswalks/ loads; a missing crosswalk file is an error naming it.
  RecordCoderOptions bad;
  bad.crosswalk_files = std::vector<std::string>{dataDir() + "/no_such_crosswalk.csv"};
  auto r = RecordCoder::load(mappingsDir(), bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().toString().find("no_such_crosswalk.csv"), std::string::npos) << r.error().toString();
}

}  // namespace
}  // namespace courier::coding
