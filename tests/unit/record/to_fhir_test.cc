#include "engine/record/to_fhir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <rapidjson/document.h>

#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/record_json.h"

namespace courier::record {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string bundleFor(const std::string& text) {
  auto msg = hl7v2::Message::parse(text);
  if (!msg) return {};
  auto rec = fromHl7v2(*msg);
  if (!rec) return {};
  return toFhirBundle(*rec);
}

TEST(RecordFhirTime, Conversions) {
  EXPECT_EQ(hl7ToFhirDate("19700304"), "1970-03-04");
  EXPECT_EQ(hl7ToFhirDate("197003"), "1970-03");
  EXPECT_EQ(hl7ToFhirDate("19701304"), "");
  EXPECT_EQ(hl7ToFhirDateTime("20260115083000-0500"), "2026-01-15T08:30:00-05:00");
  EXPECT_EQ(hl7ToFhirDateTime("202601150830+0100"), "2026-01-15T08:30:00+01:00");
  EXPECT_EQ(hl7ToFhirDateTime("20260115083000"), "2026-01-15");  // no offset: date only
  EXPECT_EQ(hl7ToFhirDateTime("20260115083000.1234+0000"), "2026-01-15T08:30:00.1234+00:00");
  EXPECT_EQ(hl7ToFhirInstant("20260115"), "");
  EXPECT_EQ(hl7ToFhirDateTime("garbage"), "");
}

TEST(RecordToFhir, RepeatedSegmentsGetDistinctIdsAndReferencesResolve) {
  std::string json = bundleFor(
      "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5\r"
      "PID|1||M1\r"
      "PV1|1|I\r"
      "DG1|1||I21.4^^I10\r"
      "DG1|2||I21.4^^I10\r");
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError());
  ASSERT_TRUE(d.IsObject() && d.HasMember("entry") && d["entry"].IsArray());
  std::set<std::string> urls;
  for (const auto& e : d["entry"].GetArray()) {
    ASSERT_TRUE(e.IsObject() && e.HasMember("fullUrl") && e["fullUrl"].IsString());
    EXPECT_TRUE(urls.insert(e["fullUrl"].GetString()).second) << "duplicate " << e["fullUrl"].GetString();
  }
  EXPECT_EQ(urls.size(), 4u);  // Patient, Encounter, 2 Conditions
  size_t pos = 0;
  int refs = 0;
  while ((pos = json.find("\"reference\":\"", pos)) != std::string::npos) {
    pos += 13;
    std::string ref = json.substr(pos, json.find('"', pos) - pos);
    EXPECT_TRUE(urls.count(ref)) << ref;
    ++refs;
  }
  EXPECT_GT(refs, 4);
}

TEST(RecordToFhir, IdsAreDeterministicAndDifferAcrossMessages) {
  const std::string a = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C1|P|2.5\rPID|1||M1\r";
  const std::string b = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01|C2|P|2.5\rPID|1||M1\r";
  EXPECT_EQ(bundleFor(a), bundleFor(a));
  rapidjson::Document da, db;
  da.Parse(bundleFor(a).c_str());
  db.Parse(bundleFor(b).c_str());
  ASSERT_TRUE(da.IsObject() && db.IsObject());
  EXPECT_NE(std::string(da["entry"][0]["fullUrl"].GetString()), std::string(db["entry"][0]["fullUrl"].GetString()));
}

TEST(RecordToFhir, MessagesWithoutControlIdStillGetDistinctIds) {
  const std::string a = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01||P|2.5\rPID|1||M1\r";
  const std::string b = "MSH|^~\\&|A|B|C|D|20260101||ADT^A01||P|2.5\rPID|1||M2\r";
  rapidjson::Document da, db;
  da.Parse(bundleFor(a).c_str());
  db.Parse(bundleFor(b).c_str());
  ASSERT_TRUE(da.IsObject() && db.IsObject());
  EXPECT_NE(std::string(da["entry"][0]["fullUrl"].GetString()), std::string(db["entry"][0]["fullUrl"].GetString()));
  EXPECT_EQ(bundleFor(a), bundleFor(a));
}

// Golden files: tests/data/record/<case>.hl7 → <case>.expected.json (the Bundle) and
// <case>.record.json (the canonical record). Set COURIER_UPDATE_GOLDEN=1 to rewrite them.
TEST(RecordToFhir, GoldenFiles) {
  fs::path dir = fs::path(COURIER_SOURCE_DIR) / "tests/data/record";
  bool update = std::getenv("COURIER_UPDATE_GOLDEN") != nullptr;
  int cases = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".hl7" || entry.path().stem().string().rfind("no_", 0) == 0) continue;
    ++cases;
    std::string input = readFile(entry.path());
    auto msg = hl7v2::Message::parse(input);
    ASSERT_TRUE(msg.has_value()) << entry.path();
    auto rec = fromHl7v2(*msg);
    ASSERT_TRUE(rec.has_value()) << entry.path() << ": " << rec.error().toString();
    fs::path stem = entry.path().parent_path() / entry.path().stem();
    const std::pair<std::string, std::string> outputs[] = {
        {stem.string() + ".expected.json", toFhirBundle(*rec)},
        {stem.string() + ".record.json", toRecordJson(*rec)},
    };
    for (const auto& [path, actual] : outputs) {
      if (update) {
        rapidjson::Document doc;
        doc.Parse(actual.c_str());
        std::ofstream(path) << actual << "\n";
        continue;
      }
      ASSERT_TRUE(fs::exists(path)) << path;
      rapidjson::Document want, got;
      want.Parse(readFile(path).c_str());
      got.Parse(actual.c_str());
      ASSERT_FALSE(want.HasParseError()) << path;
      ASSERT_FALSE(got.HasParseError()) << path;
      EXPECT_TRUE(want == got) << path << "\nactual: " << actual;
    }
  }
  EXPECT_GE(cases, 5);
}

}  // namespace
}  // namespace courier::record
