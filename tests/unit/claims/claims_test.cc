// Claims from synthetic DFT^P03 messages: golden FHIR Claims and 837P (regenerated with
// COURIER_UPDATE_GOLDEN=1), the structure checker, and the records that must not be billed.
#include "engine/claims/claims.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "engine/claims/x12_check.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"

namespace courier::claims {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(COURIER_SOURCE_DIR) / "tests" / "data" / "claims";

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares with the golden file, or rewrites it when COURIER_UPDATE_GOLDEN=1.
void expectGolden(const std::string& actual, const std::string& name) {
  fs::path path = kData / name;
  const char* update = std::getenv("COURIER_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run with COURIER_UPDATE_GOLDEN=1";
  EXPECT_EQ(actual, readFile(path)) << "differs from " << path << " (COURIER_UPDATE_GOLDEN=1 rewrites it)";
}

record::CanonicalRecord recordFrom(const std::string& file) {
  std::string bytes = readFile(kData / file);
  auto msg = hl7v2::Message::parseOwned(bytes);
  EXPECT_TRUE(msg.has_value()) << file;
  if (!msg) return {};
  auto rec = record::fromHl7v2(*msg);
  EXPECT_TRUE(rec.has_value()) << file;
  return rec ? *rec : record::CanonicalRecord{};
}

coding::AssignedCode code(std::string c, coding::CodeSystem system, std::string display) {
  coding::AssignedCode a;
  a.code = std::move(c);
  a.system = system;
  a.display = std::move(display);
  a.method = coding::CodingMethod::kSource;
  a.confidence = 1.0;
  return a;
}

coding::CodingResult coded(std::vector<coding::AssignedCode> codes) {
  coding::CodingResult r;
  r.codes = std::move(codes);
  return r;
}

// What the RecordCoder would say for the office visit: every code as sent, confirmed.
coding::CodedRecord officeCoding() {
  using coding::CodeSystem;
  coding::CodedRecord c;
  c.date_of_service = coding::ServiceDate{2026, 2, 10};
  c.diagnoses.push_back(coded({code("E11.9", CodeSystem::kIcd10Cm, "Type 2 diabetes mellitus without complications")}));
  c.diagnoses.push_back(coded({code("I10", CodeSystem::kIcd10Cm, "Essential (primary) hypertension")}));
  c.charges.push_back(coded({code("G0439", CodeSystem::kHcpcs, "Ppps, subseq visit")}));
  c.charges.push_back(coded({code("36415", CodeSystem::kHcpcs, "")}));
  c.charges.push_back(coded({code("J1885", CodeSystem::kHcpcs, "Ketorolac tromethamine inj")}));
  return c;
}

coding::CodedRecord inpatientCoding() {
  using coding::CodeSystem;
  coding::CodedRecord c;
  c.date_of_service = coding::ServiceDate{2026, 2, 10};
  c.diagnoses.push_back(coded({code("J18.9", CodeSystem::kIcd10Cm, "Pneumonia, unspecified organism")}));
  c.charges.push_back(coded({code("99232", CodeSystem::kHcpcs, "")}));
  return c;
}

config::ClaimParties parties() {
  config::ClaimParties p;
  p.submitter_id = "COURIERSUB01";
  p.submitter_name = "Synthetic Clinic Billing";
  p.submitter_contact = "Billing Desk";
  p.submitter_phone = "555-010-0199";
  p.receiver_id = "SYNCLEARING";
  p.receiver_name = "Synthetic Clearinghouse";
  p.billing_npi = "1234567893";
  p.billing_name = "Synthetic Clinic";
  p.billing_tax_id = "12-3456789";
  p.billing_address = "1 Example Plaza";
  p.billing_city = "Springfield";
  p.billing_state = "IL";
  p.billing_zip = "627010001";
  p.payer_id = "SYNDEFAULT";
  p.payer_name = "Synthetic Default Payer";
  p.usage = 'T';
  return p;
}

// 2026-02-11 14:05:00 UTC.
std::chrono::system_clock::time_point created() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1770818700));
}

class ClaimsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    office_ = recordFrom("dft_p03_office.hl7");
    inpatient_ = recordFrom("dft_p03_inpatient.hl7");
    office_coded_ = officeCoding();
    inpatient_coded_ = inpatientCoding();
  }
  ClaimInput officeInput() { return {&office_, &office_coded_, "courier-1001-synthetic-payer", 1001}; }
  ClaimInput inpatientInput() { return {&inpatient_, &inpatient_coded_, "courier-1002-synthetic-payer", 1002}; }

  record::CanonicalRecord office_, inpatient_;
  coding::CodedRecord office_coded_, inpatient_coded_;
};

TEST_F(ClaimsTest, FixturesReadAsExpected) {
  ASSERT_EQ(office_.diagnoses.size(), 2u);
  ASSERT_EQ(office_.charges.size(), 3u);
  EXPECT_EQ(office_.charges[2].amount.value, "12.25");
  EXPECT_EQ(office_.charges[2].modifiers.size(), 1u);
  ASSERT_EQ(office_.coverages.size(), 1u);
  EXPECT_EQ(inpatient_.encounter.patient_class.value, "I");
}

TEST_F(ClaimsTest, OfficeVisitIsClaimable) {
  auto ok = checkClaimable(officeInput());
  EXPECT_TRUE(ok.has_value()) << (ok ? "" : ok.error().toString());
}

TEST_F(ClaimsTest, FhirClaimGolden) {
  auto office = toFhirClaim(officeInput(), parties());
  ASSERT_TRUE(office.has_value()) << office.error().toString();
  expectGolden(*office + "\n", "dft_p03_office.claim.json");
  auto inpatient = toFhirClaim(inpatientInput(), parties());
  ASSERT_TRUE(inpatient.has_value()) << inpatient.error().toString();
  expectGolden(*inpatient + "\n", "dft_p03_inpatient.claim.json");
}

TEST_F(ClaimsTest, FhirClaimContent) {
  auto json = toFhirClaim(officeInput(), parties());
  ASSERT_TRUE(json.has_value());
  rapidjson::Document d;
  d.Parse(json->c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["resourceType"].GetString(), "Claim");
  EXPECT_STREQ(d["type"]["coding"][0]["code"].GetString(), "professional");
  EXPECT_STREQ(d["identifier"][0]["system"].GetString(), "urn:courier:claim");
  EXPECT_STREQ(d["identifier"][0]["value"].GetString(), "courier-1001-synthetic-payer");
  EXPECT_STREQ(d["created"].GetString(), "2026-02-10T09:30:00-05:00");
  EXPECT_STREQ(d["diagnosis"][1]["diagnosisCodeableConcept"]["coding"][0]["code"].GetString(), "I10");
  const auto& items = d["item"];
  ASSERT_EQ(items.Size(), 3u);
  // FT1-19 names I10 (diagnosis 2) on line 1, both on line 2; line 3 names none: the first up to 4.
  EXPECT_EQ(items[0]["diagnosisSequence"].Size(), 1u);
  EXPECT_EQ(items[0]["diagnosisSequence"][0].GetInt(), 2);
  EXPECT_EQ(items[1]["diagnosisSequence"].Size(), 2u);
  EXPECT_EQ(items[2]["diagnosisSequence"].Size(), 2u);
  // FT1-12 is a unit amount: 2 x 12.25.
  EXPECT_DOUBLE_EQ(items[2]["net"]["value"].GetDouble(), 24.5);
  EXPECT_DOUBLE_EQ(items[2]["unitPrice"]["value"].GetDouble(), 12.25);
  EXPECT_STREQ(items[2]["modifier"][0]["coding"][0]["code"].GetString(), "JZ");
  EXPECT_DOUBLE_EQ(d["total"]["value"].GetDouble(), 218.0);
  // The same claim id gives the same resource id on every retry.
  auto again = toFhirClaim(officeInput(), parties());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *json);

  auto inpatient = toFhirClaim(inpatientInput(), parties());
  ASSERT_TRUE(inpatient.has_value());
  rapidjson::Document i;
  i.Parse(inpatient->c_str());
  EXPECT_STREQ(i["type"]["coding"][0]["code"].GetString(), "institutional");
}

TEST_F(ClaimsTest, X12Golden) {
  std::vector<ClaimInput> inputs = {officeInput(), inpatientInput()};
  auto x12 = toX12_837P(inputs, parties(), created());
  ASSERT_TRUE(x12.has_value()) << x12.error().toString();
  expectGolden(*x12, "dft_p03.837p.x12");
}

TEST_F(ClaimsTest, X12Structure) {
  std::vector<ClaimInput> inputs = {officeInput(), inpatientInput()};
  auto x12 = toX12_837P(inputs, parties(), created());
  ASSERT_TRUE(x12.has_value());
  EXPECT_EQ(x12->find('\n'), 106u);  // the ISA, terminator included, then the line break
  auto check = checkX12Interchange(*x12);
  ASSERT_TRUE(check.has_value()) << check.error().toString();
  EXPECT_EQ(check->control, "000001001");
  EXPECT_EQ(check->groups, 1);
  ASSERT_EQ(check->transactions.size(), 2u);
  EXPECT_EQ(check->transactions[0].control, "1001");
  EXPECT_EQ(check->transactions[0].hl_count, 2);
  ASSERT_EQ(check->transactions[0].claims.size(), 1u);
  EXPECT_EQ(check->transactions[0].claims[0].claim_id, "courier-1001-synthetic-payer");
  EXPECT_EQ(check->transactions[0].claims[0].lines, 3);
  EXPECT_EQ(check->transactions[0].claims[0].diagnoses, 2);
  EXPECT_EQ(check->transactions[1].claims[0].lines, 1);
  EXPECT_NE(x12->find("CLM*courier-1001-synthetic-payer*218***11:B:1*Y*A*Y*Y~"), std::string::npos);
  EXPECT_NE(x12->find("HI*ABK:E119*ABF:I10~"), std::string::npos);
  EXPECT_NE(x12->find("SV1*HC:J1885:JZ*24.5*UN*2***1:2~"), std::string::npos);
  EXPECT_NE(x12->find("SV1*HC:G0439*175*UN*1***2~"), std::string::npos);
  EXPECT_NE(x12->find("CLM*courier-1002-synthetic-payer*110***21:B:1*Y*A*Y*Y~"), std::string::npos);
  EXPECT_NE(x12->find("SBR*P*18*GRP5000******CI~"), std::string::npos);
  EXPECT_NE(x12->find("NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*SYNPAYER01~"), std::string::npos);
}

TEST_F(ClaimsTest, X12DelimitersInTextAreStripped) {
  office_.patient.names[0].family.value = "O*BRIEN~SMITH:JR^";
  office_.patient.addresses[0].lines[0].value = "1 MAIN ST\r\nSUITE*9";
  ClaimInput in = officeInput();
  auto x12 = toX12_837P(std::span(&in, 1), parties(), created());
  ASSERT_TRUE(x12.has_value());
  EXPECT_NE(x12->find("NM1*IL*1*O BRIEN SMITH JR*JORDAN*Q***MI*MEMB123456~"), std::string::npos) << *x12;
  EXPECT_NE(x12->find("N3*1 MAIN ST SUITE 9*APT 2~"), std::string::npos);
  EXPECT_TRUE(checkX12Interchange(*x12).has_value());
}

TEST_F(ClaimsTest, X12RejectsBadInputs) {
  std::vector<ClaimInput> same = {officeInput(), inpatientInput()};
  same[1].control_number = 1001 + 999'999'999;  // folds onto the first one's
  auto dup = toX12_837P(same, parties(), created());
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("control number repeats"), std::string::npos);

  ClaimInput bad = officeInput();
  bad.claim_id = "has*star";
  EXPECT_FALSE(toX12_837P(std::span(&bad, 1), parties(), created()).has_value());
  bad.claim_id = std::string(39, 'x');
  EXPECT_FALSE(toX12_837P(std::span(&bad, 1), parties(), created()).has_value());
  bad = officeInput();
  bad.control_number = 0;
  EXPECT_FALSE(toX12_837P(std::span(&bad, 1), parties(), created()).has_value());

  config::ClaimParties no_npi = parties();
  no_npi.billing_npi.clear();
  ClaimInput good = officeInput();
  auto e = toX12_837P(std::span(&good, 1), no_npi, created());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().location, "claim.billing_npi");
  EXPECT_FALSE(toFhirClaim(good, no_npi).has_value());

  // No payer id anywhere: the coverage's (IN1-3) is missing and the destination has none.
  config::ClaimParties no_payer = parties();
  no_payer.payer_id.clear();
  office_.coverages[0].payer_id.value.clear();
  e = toX12_837P(std::span(&good, 1), no_payer, created());
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().location, "claim.payer_id");
  // The destination's payer stands in for a coverage without one.
  auto x12 = toX12_837P(std::span(&good, 1), parties(), created());
  ASSERT_TRUE(x12.has_value());
  EXPECT_NE(x12->find("NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*SYNDEFAULT~"), std::string::npos);
}

TEST_F(ClaimsTest, ControlNumbersFold) {
  ClaimInput in = officeInput();
  in.control_number = 999'999'999LL * 3 + 7;
  auto x12 = toX12_837P(std::span(&in, 1), parties(), created());
  ASSERT_TRUE(x12.has_value());
  auto check = checkX12Interchange(*x12);
  ASSERT_TRUE(check.has_value()) << check.error().toString();
  EXPECT_EQ(check->control, "000000007");
  EXPECT_EQ(check->transactions[0].control, "0007");
}

// --- not claimable ---------------------------------------------------------------------

TEST_F(ClaimsTest, ReviewNeededIsNotClaimable) {
  office_coded_.diagnoses[1].review = true;
  office_coded_.diagnoses[1].reason = "low confidence";
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "not claimable: diagnosis 2 is waiting for review");
  EXPECT_EQ(r.error().location, "DG1[2]");
  EXPECT_FALSE(toFhirClaim(officeInput(), parties()).has_value());
  std::vector<ClaimInput> inputs = {inpatientInput(), officeInput()};
  auto x12 = toX12_837P(inputs, parties(), created());
  ASSERT_FALSE(x12.has_value());
  EXPECT_EQ(x12.error().message, "claim 2: not claimable: diagnosis 2 is waiting for review");
}

TEST_F(ClaimsTest, MissingHcpcsIsNotClaimable) {
  office_coded_.charges[1].codes.clear();
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "not claimable: charge 2 has no HCPCS code");
  // A code of another system is no HCPCS code either.
  office_coded_ = officeCoding();
  office_coded_.charges[0].codes[0].system = coding::CodeSystem::kIcd10Pcs;
  r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "not claimable: charge 1 has no HCPCS code");
}

TEST_F(ClaimsTest, NoDiagnosisIsNotClaimable) {
  office_.diagnoses.clear();
  office_coded_.diagnoses.clear();
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "not claimable: the record has no ICD-10-CM diagnosis code");
}

TEST_F(ClaimsTest, EveryReasonIsNamed) {
  office_.has_patient = false;
  office_coded_.date_of_service.reset();
  office_coded_.charges[2].review = true;
  office_.charges[1].amount.value = "eighteen";
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message,
            "not claimable: the record has no patient; the record has no date of service; "
            "charge 2 has no usable amount (FT1-11 or FT1-12); charge 3 is waiting for review");
}

TEST_F(ClaimsTest, CreditsAndMismatchedCodingAreNotClaimable) {
  office_.charges[0].transaction_type.value = "CD";
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("charge 1 is a credit"), std::string::npos);
  office_ = recordFrom("dft_p03_office.hl7");
  office_coded_.charges.pop_back();
  r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("does not match the record"), std::string::npos);
  EXPECT_FALSE(checkClaimable(ClaimInput{}).has_value());
}

TEST_F(ClaimsTest, NoChargesIsNotClaimable) {
  office_.charges.clear();
  office_coded_.charges.clear();
  auto r = checkClaimable(officeInput());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "not claimable: the record has no charge line");
}

// --- the structure checker catches what receivers reject --------------------------------

class X12CheckTest : public ClaimsTest {
 protected:
  std::string good() {
    std::vector<ClaimInput> inputs = {officeInput(), inpatientInput()};
    return toX12_837P(inputs, parties(), created()).value();
  }
  static std::string replace(std::string s, const std::string& from, const std::string& to) {
    std::size_t p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    if (p != std::string::npos) s.replace(p, from.size(), to);
    return s;
  }
  static std::string failure(const std::string& x12) {
    auto r = checkX12Interchange(x12);
    return r ? std::string("accepted") : r.error().message;
  }
};

TEST_F(X12CheckTest, CatchesBrokenEnvelopes) {
  std::string x = good();
  EXPECT_EQ(failure(replace(x, "LX*3~", "LX*4~")), "LX01 does not count 1, 2, 3... within the claim");
  EXPECT_EQ(failure(replace(x, "DTP*472*D8*20260210~\n", "")), "SE01 does not count the segments from ST to SE");
  EXPECT_EQ(failure(replace(x, "SE*29*1001~", "SE*29*1002~")), "SE02 does not match ST02");
  EXPECT_EQ(failure(replace(x, "GE*2*", "GE*1*")), "GE01 does not count the transaction sets");
  EXPECT_EQ(failure(replace(x, "IEA*1*000001001", "IEA*1*000001002")), "IEA02 does not match ISA13");
  EXPECT_EQ(failure(replace(x, "HL*2*1*22*0", "HL*2*3*22*0")), "HL02 names no earlier HL");
  EXPECT_EQ(failure(replace(x, "HL*1**20*1", "HL*1**20*0")), "HL 1: HL04 does not say whether it has children");
  EXPECT_EQ(failure(replace(x, "*218***", "*219***")), "CLM02 is not the sum of the claim's SV102 charges");
  EXPECT_EQ(failure(replace(x, "ST*837*1002", "ST*837*1001")), "ST02 repeats within the group");
  EXPECT_EQ(failure(x.substr(0, 50)), "the interchange does not start with a 106-character ISA");
  EXPECT_EQ(failure(x.substr(0, x.find("GE*"))), "the interchange ends before IEA");
  EXPECT_EQ(failure(replace(x, "ZZ*COURIERSUB01   ", "ZZ*COURIERSUB01  ")), "ISA6 does not have its fixed width");
  EXPECT_EQ(failure(x), "accepted");
}

}  // namespace
}  // namespace courier::claims
