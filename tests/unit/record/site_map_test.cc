#include "engine/record/site_map.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <rapidjson/document.h>

#include "engine/record/from_bytes.h"
#include "engine/record/record_json.h"
#include "engine/record/to_fhir.h"

namespace courier::record {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kMsg =
    "MSH|^~\\&|REGSYS|NORTHSIDE|R|RF|20260212090000-0500||ADT^A04|Z1|P|2.5.1\r"
    "PID|1||M1^^^NORTHSIDE^MR||FAM^GIV\r"
    "ZPI|1|L1~L2|555-0100|Local text\r"
    "IN1|1|P1|PAY1|PAYER ONE\r"
    "ZIN|M-1\r"
    "IN1|2|P2|PAY2|PAYER TWO\r"
    "ZIN|M-2\r";

CanonicalRecord mapped(const std::string& map_text, const std::string& msg = kMsg) {
  auto map = SiteMap::parse(map_text, "test.csv");
  EXPECT_TRUE(map.has_value()) << (map ? "" : map.error().front().toString());
  SiteMaps maps;
  if (map) maps.add("", "", std::move(*map));
  DecodeOptions options;
  options.site_maps = &maps;
  auto d = recordFromBytes(msg, options);
  EXPECT_TRUE(d.has_value());
  return d ? std::move(d->record) : CanonicalRecord{};
}

TEST(SiteMap, ListElementsTakeEveryRepetitionWithItsSource) {
  auto rec = mapped("ZPI-2, patient.identifier, type=PI, system=urn:oid:1.2.3\nZPI-3,patient.telecom,use=PRN,equipment=CP\n");
  ASSERT_EQ(rec.patient.identifiers.size(), 3u);  // PID-3 + two ZPI-2 repetitions
  EXPECT_EQ(rec.patient.identifiers[1].value.value, "L1");
  EXPECT_EQ(rec.patient.identifiers[2].value.source, "ZPI-2[2]");
  EXPECT_EQ(rec.patient.identifiers[2].type.value, "PI");
  EXPECT_EQ(rec.patient.identifiers[2].assigning_authority.value, "1.2.3");
  ASSERT_EQ(rec.patient.telecoms.size(), 1u);
  EXPECT_EQ(rec.patient.telecoms[0].equipment.value, "CP");
  std::string bundle = toFhirBundle(rec);
  EXPECT_NE(bundle.find("\"system\":\"urn:oid:1.2.3\",\"value\":\"L2\""), std::string::npos) << bundle;
}

TEST(SiteMap, CoverageElementsFollowTheirIn1AndScalarsReplace) {
  auto rec = mapped("ZIN-1, coverage.member_id\nZPI-4, encounter.hospital_service\n");
  ASSERT_EQ(rec.coverages.size(), 2u);
  EXPECT_EQ(rec.coverages[0].member_id.value, "M-1");
  EXPECT_EQ(rec.coverages[1].member_id.value, "M-2");
  EXPECT_EQ(rec.coverages[1].member_id.source, "ZIN[2]-1");
  // No PV1: the mapped element creates the encounter.
  EXPECT_TRUE(rec.has_encounter);
  EXPECT_EQ(rec.encounter.hospital_service.value, "Local text");
}

TEST(SiteMap, ExplicitOccurrenceAndRepetitionSelectOneValue) {
  auto rec = mapped("ZIN[2]-1, coverage.group_number\nZPI-2[2], patient.identifier\n");
  EXPECT_TRUE(rec.coverages[0].group_number.empty());
  EXPECT_EQ(rec.coverages[1].group_number.value, "M-2");
  ASSERT_EQ(rec.patient.identifiers.size(), 2u);
  EXPECT_EQ(rec.patient.identifiers[1].value.value, "L2");
}

TEST(SiteMap, ExtensionsReachFhirAndRecordJson) {
  auto rec = mapped("ZPI-4, patient.extension, url=http://example.org/fhir/x\n");
  ASSERT_EQ(rec.patient.extensions.size(), 1u);
  rapidjson::Document b;
  b.Parse(toFhirBundle(rec).c_str());
  const auto& patient = b["entry"][0]["resource"];
  ASSERT_TRUE(patient.HasMember("extension"));
  EXPECT_STREQ(patient["extension"][0]["url"].GetString(), "http://example.org/fhir/x");
  EXPECT_STREQ(patient["extension"][0]["valueString"].GetString(), "Local text");
  EXPECT_NE(toRecordJson(rec).find("\"source\":\"ZPI-4\""), std::string::npos);
}

TEST(SiteMap, SelectionBySender) {
  SiteMaps maps;
  maps.add("OTHER", "", *SiteMap::parse("ZPI-4, patient.extension, url=urn:a\n", "a.csv"));
  maps.add("NORTHSIDE", "REGSYS", *SiteMap::parse("ZPI-4, patient.extension, url=urn:b\n", "b.csv"));
  DecodeOptions options;
  options.site_maps = &maps;
  auto d = recordFromBytes(kMsg, options);
  ASSERT_TRUE(d.has_value());
  ASSERT_EQ(d->record.patient.extensions.size(), 1u);
  EXPECT_EQ(d->record.patient.extensions[0].url, "urn:b");
  EXPECT_EQ(maps.select("NORTHSIDE", "OTHERAPP"), nullptr);
}

TEST(SiteMap, ErrorsNameFileLineAndColumn) {
  auto map = SiteMap::parse(
      "# comment\n"
      "ZPI-3, patient.identifer\n"          // unknown element
      "ZP-3, patient.identifier\n"          // bad path
      "ZPI-4, patient.extension\n"          // no url
      "ZPI-5, patient.telecom, colour=red\n"  // unknown option
      "ZPI-6\n"                              // no element
      "ZPI-7, patient.extension, url=not a uri\n",
      "sites/x.csv");
  ASSERT_FALSE(map.has_value());
  const SiteMapErrors& e = map.error();
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].location, "sites/x.csv:2:8");
  EXPECT_NE(e[0].message.find("patient.identifer"), std::string::npos);
  EXPECT_EQ(e[1].location, "sites/x.csv:3:1");
  EXPECT_EQ(e[2].location, "sites/x.csv:4:8");
  EXPECT_NE(e[2].message.find("url"), std::string::npos);
  EXPECT_EQ(e[3].location, "sites/x.csv:5:25");
  EXPECT_NE(e[3].message.find("use and equipment"), std::string::npos);
  EXPECT_EQ(e[4].location, "sites/x.csv:6:6");
  EXPECT_EQ(e[5].location, "sites/x.csv:7:27");
  for (const Error& one : e) EXPECT_EQ(one.code, ErrorCode::kConfig);
}

TEST(SiteMap, UnreadableFileIsAnError) {
  auto map = SiteMap::load("/nonexistent/site.csv");
  ASSERT_FALSE(map.has_value());
  EXPECT_EQ(map.error().front().location, "/nonexistent/site.csv:0:0");
}

// Golden: tests/data/record/adt_a04_zsegments.hl7 converted with its site map
// (adt_a04_zsegments.site_map.csv, a copy of mappings/sites/example_zpi.csv) gives
// .mapped.expected.json / .mapped.record.json; without it, the plain goldens that
// RecordToFhir.GoldenFiles checks. COURIER_UPDATE_GOLDEN=1 rewrites them.
TEST(SiteMap, GoldenWithAndWithoutTheMap) {
  fs::path dir = fs::path(COURIER_SOURCE_DIR) / "tests/data/record";
  std::string input = readFile(dir / "adt_a04_zsegments.hl7");
  auto maps = SiteMaps::load({{"NORTHSIDE", "REGSYS", dir / "adt_a04_zsegments.site_map.csv"}});
  ASSERT_TRUE(maps.has_value()) << maps.error().front().toString();
  // The example under mappings/sites parses too and says the same.
  EXPECT_EQ(readFile(fs::path(COURIER_SOURCE_DIR) / "mappings/sites/example_zpi.csv"),
            readFile(dir / "adt_a04_zsegments.site_map.csv"));
  DecodeOptions options;
  options.site_maps = &*maps;
  auto with = recordFromBytes(input, options);
  auto without = recordFromBytes(input);
  ASSERT_TRUE(with.has_value() && without.has_value());
  EXPECT_NE(toFhirBundle(with->record), toFhirBundle(without->record));
  bool update = std::getenv("COURIER_UPDATE_GOLDEN") != nullptr;
  const std::pair<std::string, std::string> outputs[] = {
      {"adt_a04_zsegments.mapped.expected.json", toFhirBundle(with->record)},
      {"adt_a04_zsegments.mapped.record.json", toRecordJson(with->record)},
  };
  for (const auto& [name, actual] : outputs) {
    if (update) {
      std::ofstream(dir / name) << actual << "\n";
      continue;
    }
    rapidjson::Document want, got;
    want.Parse(readFile(dir / name).c_str());
    got.Parse(actual.c_str());
    ASSERT_FALSE(want.HasParseError()) << name;
    EXPECT_TRUE(want == got) << name << "\nactual: " << actual;
  }
  // What the map adds, checked by hand rather than only against the golden file.
  const CanonicalRecord& r = with->record;
  EXPECT_EQ(r.encounter.hospital_service.value, "CARDIO");
  EXPECT_EQ(r.encounter.hospital_service.source, "PV1-52.1");
  ASSERT_EQ(r.coverages.size(), 1u);
  EXPECT_EQ(r.coverages[0].member_id.value, "ZMEMBER-991");
  EXPECT_EQ(r.coverages[0].plan.code.value, "SILVER-9");
  ASSERT_EQ(r.encounter.extensions.size(), 1u);
  EXPECT_EQ(r.encounter.extensions[0].value.value, "Ambulance");
  EXPECT_TRUE(without->record.encounter.hospital_service.empty());
}

}  // namespace
}  // namespace courier::record
