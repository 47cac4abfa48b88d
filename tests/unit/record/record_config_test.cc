// The config's record section (site_maps) and how its entries become record::SiteMaps.
#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "engine/record/site_map.h"
#include "tests/unit/config/config_fixtures.h"

namespace courier::config {
namespace {

namespace fs = std::filesystem;
using testing::all;
using testing::envOf;
using testing::TempDir;

bool hasError(const ConfigErrors& errors, int line, int col, std::string_view key, std::string_view text) {
  for (const auto& e : errors) {
    if (e.line == line && e.column == col && e.key_path.find(key) != std::string::npos &&
        e.message.find(text) != std::string::npos)
      return true;
  }
  return false;
}

// What the pipeline does with the section: one record::SiteMaps for the process.
Result<record::SiteMaps, record::SiteMapErrors> siteMapsOf(const RecordConfig& c) {
  std::vector<record::SiteMaps::Source> sources;
  for (const SiteMapConfig& m : c.site_maps) sources.push_back({m.facility, m.application, m.file});
  return record::SiteMaps::load(sources);
}

TEST(RecordConfig, SiteMapsAreReadPerSender) {
  TempDir dir;
  fs::create_directories(dir.path() / "maps");
  std::ofstream(dir.path() / "maps/north.csv") << "ZPI-4, patient.extension, url=urn:x\n";
  auto loaded = parseConfig(
      "listeners:\n"
      "  - {name: a, tls: {enabled: false}}\n"
      "record:\n"
      "  site_maps:\n"
      "    - {facility: NORTHSIDE, application: REGSYS, file: maps/north.csv}\n"
      "    - {file: maps/north.csv}\n",
      "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  ASSERT_EQ(loaded->record.site_maps.size(), 2u);
  EXPECT_EQ(loaded->record.site_maps[0].facility, "NORTHSIDE");
  EXPECT_EQ(loaded->record.site_maps[0].application, "REGSYS");
  EXPECT_EQ(loaded->record.site_maps[0].file, dir.path() / "maps/north.csv");
  EXPECT_TRUE(loaded->record.site_maps[1].facility.empty());
  auto maps = siteMapsOf(loaded->record);
  ASSERT_TRUE(maps.has_value());
  EXPECT_NE(maps->select("NORTHSIDE", "REGSYS"), nullptr);
  EXPECT_NE(maps->select("ELSEWHERE", ""), nullptr);  // the second entry matches any sender
}

TEST(RecordConfig, MistakesAreLocated) {
  TempDir dir;
  auto loaded = parseConfig(
      "listeners:\n"
      "  - {name: a, tls: {enabled: false}}\n"
      "record:\n"
      "  site_map: x\n"
      "  site_maps:\n"
      "    - {facility: A}\n"
      "    - {file: missing.csv}\n",
      "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_FALSE(loaded.has_value());
  SCOPED_TRACE(all(loaded.error()));
  EXPECT_TRUE(hasError(loaded.error(), 4, 3, "record", "site_map"));
  EXPECT_TRUE(hasError(loaded.error(), 6, 7, "record.site_maps[0]", "no 'file'"));
  EXPECT_TRUE(hasError(loaded.error(), 7, 14, "record.site_maps[1].file", "does not exist"));
}

TEST(RecordConfig, SiteMapErrorsNameTheMapFile) {
  TempDir dir;
  std::ofstream(dir.path() / "bad.csv") << "# header\nZPI-3, patient.nickname\n";
  RecordConfig c;
  c.site_maps.push_back({"", "", dir.path() / "bad.csv"});
  auto maps = siteMapsOf(c);
  ASSERT_FALSE(maps.has_value());
  ASSERT_EQ(maps.error().size(), 1u);
  EXPECT_EQ(maps.error()[0].location, (dir.path() / "bad.csv").string() + ":2:8");
}

}  // namespace
}  // namespace courier::config
