// The store section: kind sqlite (default) or postgres with its conninfo and pool.
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "tests/unit/config/config_fixtures.h"

namespace courier::config {
namespace {

const auto& vars = testing::envOf;

Result<Config, ConfigErrors> parse(const std::string& yaml, EnvLookup env = vars({})) {
  return parseConfig(yaml, "t.yaml", env, LoadOptions{std::nullopt, false});
}

// True when one error sits at line:col with this key path and a message containing `text`.
bool has(const ConfigErrors& errors, int line, int col, const std::string& key, const std::string& text) {
  for (const auto& e : errors) {
    if (e.line == line && e.column == col && e.key_path == key && e.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

using testing::all;

TEST(StoreConfigTest, PostgresWithConninfoFromTheEnvironment) {
  auto c = parse(
      "store:\n"
      "  kind: postgres\n"
      "  postgres: {conninfo: \"${COURIER_PG:-host=127.0.0.1 port=5432 dbname=courier}\", pool: 8}\n");
  ASSERT_TRUE(c.has_value()) << all(c.error());
  EXPECT_EQ(c->store.kind, StoreKind::kPostgres);
  EXPECT_EQ(c->store.postgres.conninfo, "host=127.0.0.1 port=5432 dbname=courier");
  EXPECT_EQ(c->store.postgres.pool, 8u);

  auto set = parse("store:\n  kind: postgres\n  postgres:\n    conninfo: ${COURIER_PG}\n",
                   vars({{"COURIER_PG", "host=db1,db2 target_session_attrs=read-write"}}));
  ASSERT_TRUE(set.has_value()) << all(set.error());
  EXPECT_EQ(set->store.postgres.conninfo, "host=db1,db2 target_session_attrs=read-write");
  EXPECT_EQ(set->store.postgres.pool, 4u);
}

TEST(StoreConfigTest, PostgresMistakesAreLocated) {
  auto none = parse("store:\n  kind: postgres\n");
  ASSERT_FALSE(none.has_value());
  EXPECT_TRUE(has(none.error(), 2, 9, "store.postgres", "needs a 'postgres' section")) << all(none.error());

  auto empty = parse("store:\n  kind: postgres\n  postgres:\n    conninfo: \"\"\n    pool: 0\n    host: x\n");
  ASSERT_FALSE(empty.has_value());
  EXPECT_TRUE(has(empty.error(), 4, 15, "store.postgres.conninfo", "required")) << all(empty.error());
  EXPECT_TRUE(has(empty.error(), 5, 11, "store.postgres.pool", "between 1 and 64")) << all(empty.error());
  EXPECT_TRUE(has(empty.error(), 6, 5, "store.postgres.host", "")) << all(empty.error());

  auto missing = parse("store:\n  kind: postgres\n  postgres:\n    pool: 2\n");
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(has(missing.error(), 4, 5, "store.postgres.conninfo", "required")) << all(missing.error());

  auto mixed = parse("store:\n  kind: postgres\n  path: x.db\n  postgres: {conninfo: host=h}\n");
  ASSERT_FALSE(mixed.has_value());
  EXPECT_TRUE(has(mixed.error(), 3, 9, "store.path", "sqlite' only")) << all(mixed.error());

  auto sqlite = parse("store:\n  kind: sqlite\n  postgres: {conninfo: host=h}\n");
  ASSERT_FALSE(sqlite.has_value());
  EXPECT_TRUE(has(sqlite.error(), 3, 13, "store.postgres", "postgres' only")) << all(sqlite.error());

  auto kind = parse("store:\n  kind: mysql\n");
  ASSERT_FALSE(kind.has_value());
  EXPECT_TRUE(has(kind.error(), 2, 9, "store.kind", "'postgres'")) << all(kind.error());
}

// The cluster example loads: several hosts, and libpq keeps only the writable one.
TEST(StoreConfigTest, TheClusterExampleLoads) {
  auto c = loadConfig(std::filesystem::path(COURIER_SOURCE_DIR) / "deploy/examples/cluster.yaml", vars({}),
                      LoadOptions{std::nullopt, false});
  ASSERT_TRUE(c.has_value()) << all(c.error());
  EXPECT_EQ(c->store.kind, StoreKind::kPostgres);
  EXPECT_NE(c->store.postgres.conninfo.find("host=db1.internal,db2.internal,db3.internal"), std::string::npos);
  EXPECT_NE(c->store.postgres.conninfo.find("target_session_attrs=read-write"), std::string::npos);
}

}  // namespace
}  // namespace courier::config
