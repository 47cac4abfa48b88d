// NK1/AL1/GT1 in the record and the FHIR Bundle, OBX-5 repetitions, and
// recordFromBytes/recordsFromBytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "engine/record/from_bytes.h"
#include "engine/record/from_fhir.h"
#include "engine/record/to_fhir.h"

namespace courier::record {
namespace {

const std::string kHeader = "MSH|^~\\&|APP|FAC|R|RF|20260115083000-0500||ADT^A04|C1|P|2.5.1\rPID|1||M1^^^FAC^MR||FAM^GIV\r";

CanonicalRecord convert(const std::string& text) {
  auto d = recordFromBytes(text);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().toString());
  return d ? std::move(d->record) : CanonicalRecord{};
}

// Resources of one type in a Bundle.
std::vector<const rapidjson::Value*> resources(const rapidjson::Document& b, std::string_view type) {
  std::vector<const rapidjson::Value*> out;
  for (const auto& e : b["entry"].GetArray())
    if (std::string_view(e["resource"]["resourceType"].GetString()) == type) out.push_back(&e["resource"]);
  return out;
}

std::string fullUrlOf(const rapidjson::Document& b, std::string_view type) {
  for (const auto& e : b["entry"].GetArray())
    if (std::string_view(e["resource"]["resourceType"].GetString()) == type) return e["fullUrl"].GetString();
  return {};
}

TEST(RecordContent, NextOfKinKeepsNameRelationshipPhonesAndSources) {
  auto rec = convert(kHeader +
                     "NK1|1|KIN^PAT|SPO^Spouse^HL70063|1 ROAD^^TOWN^IL^60000|^PRN^PH^^1^217^5550112|^^PH^^1^217^5550113|C\r"
                     "NK1|2|OTHER^ONE|MTH\r");
  ASSERT_EQ(rec.contacts.size(), 2u);
  const Contact& c = rec.contacts[0];
  EXPECT_EQ(c.name.family.value, "KIN");
  EXPECT_EQ(c.name.family.source, "NK1-2.1.1");  // XPN-1 is FN: its surname sub-component
  EXPECT_EQ(c.relationship.code.value, "SPO");
  EXPECT_EQ(c.role.value, "C");
  ASSERT_EQ(c.telecoms.size(), 2u);
  EXPECT_EQ(c.telecoms[0].value.value, "(217)5550112");
  EXPECT_EQ(c.telecoms[1].use.value, "WPN");  // NK1-6 is the business phone
  EXPECT_EQ(rec.contacts[1].source_segment, "NK1[2]");
  EXPECT_EQ(rec.contacts[1].relationship.code.source, "NK1[2]-3.1");

  rapidjson::Document b;
  b.Parse(toFhirBundle(rec).c_str());
  ASSERT_TRUE(b.IsObject());
  auto people = resources(b, "RelatedPerson");
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(std::string((*people[0])["patient"]["reference"].GetString()), fullUrlOf(b, "Patient"));
  EXPECT_STREQ((*people[0])["relationship"][0]["coding"][0]["code"].GetString(), "SPO");
  EXPECT_STREQ((*people[0])["relationship"][1]["coding"][0]["system"].GetString(),
               "http://terminology.hl7.org/CodeSystem/v2-0131");
}

TEST(RecordContent, AllergiesMapTypeSeverityReactionsAndOnset) {
  auto rec = convert(kHeader + "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives~Anaphylaxis|20150301\rAL1|2|FA|^Peanut\rAL1|3|DA\r");
  ASSERT_EQ(rec.allergies.size(), 2u);  // AL1 without an allergen is dropped
  const Allergy& a = rec.allergies[0];
  EXPECT_EQ(a.allergen.code.value, "70618");
  ASSERT_EQ(a.reactions.size(), 2u);
  EXPECT_EQ(a.reactions[1].source, "AL1-5[2]");
  EXPECT_EQ(a.onset.value, "20150301");

  rapidjson::Document b;
  b.Parse(toFhirBundle(rec).c_str());
  auto allergies = resources(b, "AllergyIntolerance");
  ASSERT_EQ(allergies.size(), 2u);
  const rapidjson::Value& r = *allergies[0];
  EXPECT_STREQ(r["type"].GetString(), "allergy");
  EXPECT_STREQ(r["category"][0].GetString(), "medication");
  EXPECT_STREQ(r["criticality"].GetString(), "high");
  EXPECT_STREQ(r["onsetDateTime"].GetString(), "2015-03-01");
  EXPECT_EQ(r["reaction"][0]["manifestation"].Size(), 2u);
  EXPECT_STREQ(r["reaction"][0]["severity"].GetString(), "severe");
  EXPECT_STREQ((*allergies[1])["code"]["text"].GetString(), "Peanut");
  EXPECT_STREQ((*allergies[1])["category"][0].GetString(), "food");
}

TEST(RecordContent, GuarantorIsThePatientOrARelatedPerson) {
  auto rec = convert(kHeader + "GT1|1|G1|FAM^GIV|||||||P|SEL||20260101|20261231\rGT1|2|G2|PAYING^PARENT||||||||MTH\r");
  ASSERT_EQ(rec.guarantors.size(), 2u);
  EXPECT_TRUE(rec.guarantors[0].is_patient);
  EXPECT_FALSE(rec.guarantors[1].is_patient);
  EXPECT_EQ(rec.guarantors[1].person.name.family.source, "GT1[2]-3.1.1");

  rapidjson::Document b;
  b.Parse(toFhirBundle(rec).c_str());
  auto accounts = resources(b, "Account");
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(std::string((*accounts[0])["guarantor"][0]["party"]["reference"].GetString()), fullUrlOf(b, "Patient"));
  EXPECT_STREQ((*accounts[0])["guarantor"][0]["period"]["start"].GetString(), "2026-01-01");
  EXPECT_EQ(std::string((*accounts[1])["guarantor"][0]["party"]["reference"].GetString()), fullUrlOf(b, "RelatedPerson"));
  EXPECT_EQ(resources(b, "RelatedPerson").size(), 1u);
}

TEST(RecordContent, ContactsAllergiesAndGuarantorsComeBackFromFhir) {
  auto rec = convert(kHeader +
                     "NK1|1|KIN^PAT|SPO^Spouse^HL70063||^PRN^PH^^1^217^5550112||C\r"
                     "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives|20150301\r"
                     "GT1|1|G1|FAM^GIV||||||||SEL\rGT1|2|G2|PAYING^PARENT||||||||MTH\r");
  auto back = fromFhirJson(toFhirBundle(rec));
  ASSERT_TRUE(back.has_value()) << back.error().toString();
  ASSERT_EQ(back->contacts.size(), 1u);  // the guarantor's RelatedPerson is not a contact
  EXPECT_EQ(back->contacts[0].name.family.value, "KIN");
  EXPECT_EQ(back->contacts[0].relationship.code.value, "SPO");
  EXPECT_EQ(back->contacts[0].role.value, "C");
  ASSERT_EQ(back->allergies.size(), 1u);
  EXPECT_EQ(back->allergies[0].allergen.code.value, "70618");
  EXPECT_EQ(back->allergies[0].type.value, "DA");
  EXPECT_EQ(back->allergies[0].severity.value, "SV");
  ASSERT_EQ(back->allergies[0].reactions.size(), 1u);
  EXPECT_EQ(back->allergies[0].onset.value, "20150301");
  ASSERT_EQ(back->guarantors.size(), 2u);
  EXPECT_TRUE(back->guarantors[0].is_patient);
  EXPECT_EQ(back->guarantors[1].person.name.family.value, "PAYING");
  EXPECT_EQ(back->guarantors[1].number.value.value, "G2");
}

TEST(RecordContent, RepeatedObxValuesAreAllKept) {
  auto rec = convert(kHeader +
                     "OBX|1|NM|8867-4^Heart rate^LN||72~75~71|/min^^UCUM|||||F\r"
                     "OBX|2|CWE|18769-0^Susc^LN||S^Susceptible^HL70078~R^Resistant^HL70078||||||F\r"
                     "OBX|3|ST|8251-1^Comment^LN||first~second||||||F\r"
                     "OBX|4|NM|2345-7^Glucose^LN||98|mg/dL^^UCUM||||F\r");
  ASSERT_EQ(rec.observations.size(), 4u);
  const Observation& hr = rec.observations[0];
  EXPECT_EQ(hr.value.value, "72");
  ASSERT_EQ(hr.repeats.size(), 2u);
  EXPECT_EQ(hr.repeats[1].value, "71");
  EXPECT_EQ(hr.repeats[1].source, "OBX-5[3].1");
  ASSERT_EQ(rec.observations[1].coded_repeats.size(), 1u);
  EXPECT_EQ(rec.observations[1].coded_repeats[0].code.value, "R");
  EXPECT_EQ(rec.observations[2].value.value, "first\nsecond");  // text: lines of one value
  EXPECT_TRUE(rec.observations[3].repeats.empty());

  rapidjson::Document b;
  b.Parse(toFhirBundle(rec).c_str());
  auto obs = resources(b, "Observation");
  ASSERT_EQ(obs.size(), 4u);
  // obs-7: with components carrying the Observation's code, no value on the Observation.
  EXPECT_FALSE(obs[0]->HasMember("valueQuantity"));
  ASSERT_EQ((*obs[0])["component"].Size(), 3u);
  EXPECT_EQ((*obs[0])["component"][2]["valueQuantity"]["value"].GetInt(), 71);
  EXPECT_STREQ((*obs[0])["component"][2]["code"]["coding"][0]["code"].GetString(), "8867-4");
  EXPECT_STREQ((*obs[1])["component"][1]["valueCodeableConcept"]["coding"][0]["code"].GetString(), "R");
  EXPECT_STREQ((*obs[2])["valueString"].GetString(), "first\nsecond");
  EXPECT_FALSE(obs[2]->HasMember("component"));
  EXPECT_TRUE(obs[3]->HasMember("valueQuantity"));

  // FHIR → record gives the repetitions back on one observation.
  auto back = fromFhirJson(toFhirBundle(rec));
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->observations.size(), 4u);
  EXPECT_EQ(back->observations[0].value.value, "72");
  ASSERT_EQ(back->observations[0].repeats.size(), 2u);
  EXPECT_EQ(back->observations[0].repeats[1].value, "71");
  ASSERT_EQ(back->observations[1].coded_repeats.size(), 1u);
}

TEST(RecordFromBytes, DetectsTheFormat) {
  EXPECT_EQ(detectFormat(" \r\n{\"resourceType\":\"Patient\"}"), InputFormat::kFhirJson);
  EXPECT_EQ(detectFormat(kHeader), InputFormat::kHl7v2);
  auto hl7 = recordFromBytes(kHeader);
  ASSERT_TRUE(hl7.has_value());
  EXPECT_EQ(hl7->format, InputFormat::kHl7v2);
  ASSERT_TRUE(hl7->message.has_value());
  EXPECT_EQ(hl7->message->controlId(), "C1");
  auto fhir = recordFromBytes("{\"resourceType\":\"Patient\",\"id\":\"p\",\"gender\":\"male\"}");
  ASSERT_TRUE(fhir.has_value());
  EXPECT_EQ(fhir->format, InputFormat::kFhirJson);
  EXPECT_FALSE(fhir->message.has_value());
  EXPECT_EQ(fhir->record.patient.sex.value, "M");
}

TEST(RecordFromBytes, ErrorsAreLocated) {
  auto no_pid = recordFromBytes("MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5\r");
  ASSERT_FALSE(no_pid.has_value());
  EXPECT_EQ(no_pid.error().code, ErrorCode::kParse);
  EXPECT_EQ(no_pid.error().location, "PID");
  auto trailing = recordFromBytes("{\"resourceType\":\"Patient\"} {");
  ASSERT_FALSE(trailing.has_value());
  EXPECT_EQ(trailing.error().code, ErrorCode::kParse);

  int seen = 0;
  auto many = recordsFromBytes(kHeader + "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C2|P|2.5\r", {},
                               [&](DecodedRecord&) { ++seen; });
  ASSERT_FALSE(many.has_value());
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(many.error().location, "message 2: PID");

  std::vector<std::string> sexes;
  auto docs = recordsFromBytes("{\"resourceType\":\"Patient\",\"gender\":\"male\"}\n{\"resourceType\":\"Patient\",\"gender\":\"female\"}\n{",
                               {}, [&](DecodedRecord& d) { sexes.push_back(d.record.patient.sex.value); });
  ASSERT_FALSE(docs.has_value());
  EXPECT_EQ(sexes, (std::vector<std::string>{"M", "F"}));
  EXPECT_EQ(docs.error().location.rfind("document 3", 0), 0u) << docs.error().location;
}

}  // namespace
}  // namespace courier::record
