#include "engine/routing/specialty.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "engine/routing/specialty_table.h"
#include "tests/unit/routing/fixtures.h"

namespace courier::routing {
namespace {

using testing::assigned;
using testing::hl7;
using testing::parse;
using testing::result;
using testing::seg;
using Names = std::vector<std::string>;

const std::string kMsh = "MSH|^~\\&|EPIC|HOSP|REG|REG|20260301120000||ADT^A01|MSG0001|P|2.5.1";
const std::string kPid = "PID|1||MRN001^^^HOSP^MR||TEST^PATIENT||19700101|F";

std::uint64_t diagnosisBit(std::string_view code) {
  return SpecialtyTable::builtIn().forDiagnosis(*CodeKey::from(code));
}
std::uint64_t bitOf(std::string_view name) {
  return std::uint64_t{1} << *SpecialtyTable::builtIn().find(name);
}

TEST(SpecialtyTableTest, TheBuiltInTableLoads) {
  const SpecialtyTable& t = SpecialtyTable::builtIn();
  ASSERT_GE(t.names().size(), 12u);
  EXPECT_TRUE(std::is_sorted(t.names().begin(), t.names().end()));
  EXPECT_EQ(std::adjacent_find(t.names().begin(), t.names().end()), t.names().end());
  for (const char* n : {"cardiology", "oncology", "gastroenterology", "nephrology", "neurology", "pulmonology",
                        "orthopedics", "endocrinology", "obstetrics", "infectious-disease", "psychiatry",
                        "dermatology", "urology", "internal-medicine", "surgery"}) {
    EXPECT_TRUE(t.find(n).has_value()) << n;
  }
}

TEST(SpecialtyTableTest, DiagnosisChaptersAndTheirExceptions) {
  EXPECT_EQ(diagnosisBit("I21.4"), bitOf("cardiology"));
  EXPECT_EQ(diagnosisBit("I63.9"), bitOf("neurology"));  // strokes are neurology, not cardiology
  EXPECT_EQ(diagnosisBit("I69.354"), bitOf("neurology"));
  EXPECT_EQ(diagnosisBit("I70.0"), bitOf("cardiology"));
  EXPECT_EQ(diagnosisBit("C50.911"), bitOf("oncology"));
  EXPECT_EQ(diagnosisBit("D49.9"), bitOf("oncology"));
  EXPECT_EQ(diagnosisBit("D50.0"), bitOf("hematology"));
  EXPECT_EQ(diagnosisBit("K21.9"), bitOf("gastroenterology"));
  EXPECT_EQ(diagnosisBit("N18.6"), bitOf("nephrology"));
  EXPECT_EQ(diagnosisBit("G40.909"), bitOf("neurology"));
  EXPECT_EQ(diagnosisBit("J44.1"), bitOf("pulmonology"));
  EXPECT_EQ(diagnosisBit("M17.11"), bitOf("orthopedics"));
  EXPECT_EQ(diagnosisBit("M05.79"), bitOf("rheumatology"));
  EXPECT_EQ(diagnosisBit("S72.001A"), bitOf("orthopedics"));  // fracture of femur
  EXPECT_EQ(diagnosisBit("S06.0X0A"), 0u);                     // concussion: not a fracture
  EXPECT_EQ(diagnosisBit("E11.9"), bitOf("endocrinology"));
  EXPECT_EQ(diagnosisBit("O9A.111"), bitOf("obstetrics"));
  EXPECT_EQ(diagnosisBit("O80"), bitOf("obstetrics"));
  EXPECT_EQ(diagnosisBit("A41.9"), bitOf("infectious-disease"));
  EXPECT_EQ(diagnosisBit("B20"), bitOf("infectious-disease"));
  EXPECT_EQ(diagnosisBit("F32.9"), bitOf("psychiatry"));
  EXPECT_EQ(diagnosisBit("L40.0"), bitOf("dermatology"));
  EXPECT_EQ(diagnosisBit("Z51.11"), bitOf("oncology"));
  EXPECT_EQ(diagnosisBit("Z00.00"), 0u);
  EXPECT_EQ(diagnosisBit("R07.9"), 0u);
}

TEST(SpecialtyTableTest, HospitalServices) {
  const SpecialtyTable& t = SpecialtyTable::builtIn();
  EXPECT_EQ(t.forService("CAR"), bitOf("cardiology"));
  EXPECT_EQ(t.forService(" cardiology "), bitOf("cardiology"));
  EXPECT_EQ(t.forService("MED"), bitOf("internal-medicine"));
  EXPECT_EQ(t.forService("SUR"), bitOf("surgery"));
  EXPECT_EQ(t.forService("URO"), bitOf("urology"));
  EXPECT_EQ(t.forService("PUL"), bitOf("pulmonology"));
  EXPECT_EQ(t.forService("Infectious Disease"), bitOf("infectious-disease"));
  EXPECT_EQ(t.forService("XYZ"), 0u);
  EXPECT_EQ(t.forService(""), 0u);
}

TEST(SpecialtyTableTest, ParseErrorsNameTheLine) {
  EXPECT_TRUE(SpecialtyTable::parse("# only comments\n\n").has_value());
  auto two = SpecialtyTable::parse("service,CAR,cardiology\nservice,CAR\n");
  ASSERT_FALSE(two.has_value());
  EXPECT_EQ(two.error().location, "specialties.csv:2");
  auto source = SpecialtyTable::parse("loinc,1234-5,lab\n");
  ASSERT_FALSE(source.has_value());
  EXPECT_NE(source.error().message.find("'service' or 'icd10cm'"), std::string::npos);
  EXPECT_FALSE(SpecialtyTable::parse("icd10cm,D49-C00,oncology\n").has_value());
  EXPECT_FALSE(SpecialtyTable::parse("icd10cm,123-456,x\n").has_value());
  EXPECT_FALSE(SpecialtyTable::parse("service,CAR,Cardiology\n").has_value());
  EXPECT_FALSE(SpecialtyTable::parse("service,CAR,cardiology\nservice,car,surgery\n").has_value());
  auto ok = SpecialtyTable::parse("icd10cm,C00-D49,oncology\nservice,ONC,oncology\nservice,CAR,cardiology\n");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->names(), (Names{"cardiology", "oncology"}));
  EXPECT_EQ(ok->namesOf(3), (Names{"cardiology", "oncology"}));
}

TEST(DeriveSpecialtiesTest, FromServiceAndSentCodes) {
  auto p = parse(hl7({kMsh, kPid, seg("PV1", {{1, "1"}, {2, "I"}, {10, "CAR"}}),
                      seg("DG1", {{1, "1"}, {3, "I21.4^NSTEMI^I10"}}), seg("DG1", {{1, "2"}, {3, "I63.9^Stroke^I10"}}),
                      seg("DG1", {{1, "3"}, {3, "C34.90^Lung cancer"}}),        // unnamed system: taken
                      seg("DG1", {{1, "4"}, {3, "250.00^Diabetes^I9C"}}),       // ICD-9: ignored
                      seg("DG1", {{1, "5"}, {3, "E11.9^Diabetes^LOCAL"}})}));   // local system: ignored
  EXPECT_EQ(deriveSpecialties(p->record, nullptr), (Names{"cardiology", "neurology", "oncology"}));
}

TEST(DeriveSpecialtiesTest, AssignedCodesReplaceSentOnes) {
  auto p = parse(hl7({kMsh, kPid, seg("PV1", {{1, "1"}, {2, "O"}}),
                      seg("DG1", {{1, "1"}, {3, "428.0^Heart failure^I9C"}})}));
  EXPECT_TRUE(deriveSpecialties(p->record, nullptr).empty());
  coding::CodedRecord coded;
  coded.diagnoses.push_back(result({assigned("I50.9"), assigned("J0000", coding::CodeSystem::kHcpcs)}));
  EXPECT_EQ(deriveSpecialties(p->record, &coded), (Names{"cardiology"}));
  // Coded, the sent codes no longer count, even readable ones.
  auto q = parse(hl7({kMsh, kPid, seg("DG1", {{1, "1"}, {3, "C50.911^^I10"}})}));
  coding::CodedRecord none;
  none.diagnoses.push_back(result({}, true));
  EXPECT_TRUE(deriveSpecialties(q->record, &none).empty());
  EXPECT_EQ(deriveSpecialties(q->record, nullptr), (Names{"oncology"}));
}

TEST(DeriveSpecialtiesTest, NothingKnown) {
  auto p = parse(hl7({kMsh, kPid}));
  EXPECT_TRUE(deriveSpecialties(p->record, nullptr).empty());
}

}  // namespace
}  // namespace courier::routing
