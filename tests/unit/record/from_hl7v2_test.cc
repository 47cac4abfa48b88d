#include "engine/record/from_hl7v2.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/hl7v2/message.h"

namespace courier::record {
namespace {

Result<CanonicalRecord> convert(const std::string& text) {
  auto msg = hl7v2::Message::parse(text);
  EXPECT_TRUE(msg.has_value());
  return fromHl7v2(*msg);
}

// One segment from field number → encoded value, so that tests name field numbers
// instead of counting bars.
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

const std::string kAdt =
    "MSH|^~\\&|APP|FAC|R|RF|20260115083000-0500||ADT^A01|C1|P|2.5.1\r"
    "PID|1||M1^^^FAC^MR~S1^^^SSA^SS||FAM^GIV^MID||19700304|F\r" +
    seg("PV1", {{1, "1"}, {2, "I"}, {3, "W^1^A"}, {7, "9^DOC^D"}, {10, "MED"}, {19, "V1"}, {36, "01"},
                {44, "20260115080000-0500"}}) +
    seg("DG1", {{1, "1"}, {3, "I21.4^NSTEMI^I10"}, {5, "20260115"}, {6, "A"}, {15, "1"}, {26, "Y"}}) +
    seg("DG1", {{1, "2"}, {3, "E11.9^T2DM^I10"}, {5, "20260115"}, {6, "W"}, {15, "2"}});

TEST(RecordFromHl7v2, PatientIdentifiersKeepAuthorityTypeAndSource) {
  auto rec = convert(kAdt);
  ASSERT_TRUE(rec.has_value());
  ASSERT_EQ(rec->patient.identifiers.size(), 2u);
  const Identifier& mrn = rec->patient.identifiers[0];
  EXPECT_EQ(mrn.value.value, "M1");
  EXPECT_EQ(mrn.value.source, "PID-3.1");
  EXPECT_EQ(mrn.type.value, "MR");
  EXPECT_EQ(mrn.assigning_authority.value, "FAC");
  EXPECT_EQ(rec->patient.identifiers[1].value.source, "PID-3[2].1");
  ASSERT_EQ(rec->patient.names.size(), 1u);
  EXPECT_EQ(rec->patient.names[0].given.size(), 2u);
  EXPECT_EQ(rec->patient.birth_date.value, "19700304");
}

TEST(RecordFromHl7v2, RepeatedDiagnosesCarryTheirOwnSegmentOccurrence) {
  auto rec = convert(kAdt);
  ASSERT_TRUE(rec.has_value());
  ASSERT_EQ(rec->diagnoses.size(), 2u);
  EXPECT_EQ(rec->diagnoses[1].code.code.value, "E11.9");
  EXPECT_EQ(rec->diagnoses[1].code.code.source, "DG1[2]-3.1");
  EXPECT_EQ(rec->diagnoses[0].present_on_admission.value, "Y");
  EXPECT_EQ(rec->diagnoses[1].rank.value, "2");
}

TEST(RecordFromHl7v2, EncounterFields) {
  auto rec = convert(kAdt);
  ASSERT_TRUE(rec.has_value());
  ASSERT_TRUE(rec->has_encounter);
  EXPECT_EQ(rec->encounter.patient_class.value, "I");
  EXPECT_EQ(rec->encounter.attending.family.value, "DOC");
  EXPECT_EQ(rec->encounter.hospital_service.value, "MED");
  EXPECT_EQ(rec->encounter.discharge_disposition.value, "01");
  EXPECT_EQ(rec->encounter.admit_time.source, "PV1-44.1");
}

TEST(RecordFromHl7v2, MessageWithoutPidIsALocatedError) {
  auto rec = convert("MSH|^~\\&|A|B|C|D|20260101||ADT^A08|C2|P|2.5\rPV1|1|I\r");
  ASSERT_FALSE(rec.has_value());
  EXPECT_EQ(rec.error().code, ErrorCode::kParse);
  EXPECT_EQ(rec.error().location, "PID");
}

TEST(RecordFromHl7v2, ObservationsBelongToTheirOrder) {
  auto rec = convert(
      "MSH|^~\\&|A|B|C|D|20260101||ORU^R01|C3|P|2.5\r"
      "PID|1||M1\r"
      "OBR|1|P1||A^Panel A^LN|||20260101\r"
      "OBX|1|NM|X^x^LN||1.5|mg||H|||F\r"
      "OBR|2|P2||B^Panel B^LN\r"
      "OBX|1|CWE|Y^y^LN||POS^Positive^L||||||F\r");
  ASSERT_TRUE(rec.has_value());
  ASSERT_EQ(rec->orders.size(), 2u);
  ASSERT_EQ(rec->observations.size(), 2u);
  EXPECT_EQ(rec->observations[0].order_index, 1);
  EXPECT_EQ(rec->observations[0].effective_time.value, "20260101");  // from OBR-7
  EXPECT_EQ(rec->observations[1].order_index, 2);
  EXPECT_EQ(rec->observations[1].coded_value.code.value, "POS");
  EXPECT_EQ(rec->observations[1].source_segment, "OBX[2]");
}

TEST(RecordFromHl7v2, ChargesAndImmunizations) {
  auto rec = convert(
      "MSH|^~\\&|A|B|C|D|20260101||DFT^P03|C4|P|2.5\r"
      "PID|1||M1\r" +
      seg("FT1", {{1, "1"}, {4, "20260117"}, {6, "CG"}, {7, "CDM1^Visit^CDM"}, {10, "2"}, {11, "125.00"},
                    {19, "E11.9^^I10"}, {25, "99213^^C4"}, {26, "25~59"}}) +
      seg("RXA", {{1, "0"}, {2, "1"}, {3, "20260110"}, {5, "08^HepB^CVX"}, {6, "0.5"}, {7, "mL"}, {15, "LOT1"},
                  {20, "CP"}}) +
      "RXR|IM^^HL70162|LA^^HL70163\r");
  ASSERT_TRUE(rec.has_value());
  ASSERT_EQ(rec->charges.size(), 1u);
  const Charge& c = rec->charges[0];
  EXPECT_EQ(c.chargemaster.code.value, "CDM1");
  EXPECT_EQ(c.hcpcs.code.value, "99213");
  ASSERT_EQ(c.modifiers.size(), 2u);
  EXPECT_EQ(c.modifiers[1].source, "FT1-26[2].1");
  EXPECT_EQ(c.amount.value, "125.00");
  ASSERT_EQ(rec->immunizations.size(), 1u);
  EXPECT_EQ(rec->immunizations[0].vaccine.code.value, "08");
  EXPECT_EQ(rec->immunizations[0].lot.value, "LOT1");
  EXPECT_EQ(rec->immunizations[0].site.code.value, "LA");
}

}  // namespace
}  // namespace courier::record
