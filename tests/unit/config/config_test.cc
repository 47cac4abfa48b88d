#include "engine/config/config.h"
#include "tests/unit/config/config_fixtures.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

namespace courier::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::all;
using testing::envOf;
using testing::kData;
using testing::TempDir;

// True when some error sits at line:col and its key path and message contain the texts.
bool hasError(const ConfigErrors& errors, int line, int col, std::string_view key, std::string_view text) {
  for (const auto& e : errors) {
    if (e.line == line && e.column == col && e.key_path.find(key) != std::string::npos &&
        e.message.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ConfigTest, LoadsEverySectionWithVariables) {
  TempDir dir;
  for (const char* f : {"certs/server.crt", "certs/server.key", "certs/ca.crt"}) dir.touch(f);
  auto loaded = loadConfig(kData / "valid_full.yaml",
                           envOf({{"TEST_DATA_DIR", dir.path().string()}, {"TEST_PORT", "2600"}}));
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  const Config& c = *loaded;
  EXPECT_EQ(c.data_dir, dir.path());
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.io_threads, 2u);
  EXPECT_EQ(c.store.kind, StoreKind::kSqlite);
  EXPECT_EQ(c.store.sqlite_path, dir.path() / "db/courier.db");
  EXPECT_EQ(c.store.max_pending, 5000u);
  EXPECT_EQ(c.store.group_commit.max_batch, 256u);
  EXPECT_EQ(c.store.group_commit.max_delay, 500us);
  ASSERT_EQ(c.listeners.size(), 2u);

  const ListenerConfig& l = c.listeners[0];
  EXPECT_EQ(l.name, "mllp-main");
  EXPECT_EQ(l.kind, ListenerKind::kMllp);
  EXPECT_EQ(l.address, "127.0.0.1");
  EXPECT_EQ(l.port, 2600);
  EXPECT_TRUE(l.tls.enabled);
  EXPECT_EQ(l.tls.cert_file, dir.path() / "certs/server.crt");
  EXPECT_EQ(l.tls.key_file, dir.path() / "certs/server.key");
  EXPECT_EQ(l.tls.ca_file, dir.path() / "certs/ca.crt");
  EXPECT_EQ(l.tls.client_certs, ClientCertMode::kRequired);
  ASSERT_EQ(l.allowed_clients.size(), 2u);
  EXPECT_EQ(l.allowed_clients[0].identity, "lab-system");
  EXPECT_EQ(l.allowed_clients[0].sending_facilities, (std::vector<std::string>{"LAB", "LAB^1.2.3^ISO"}));
  EXPECT_EQ(l.allowed_clients[1].sending_facilities, (std::vector<std::string>{"*"}));
  EXPECT_EQ(l.limits.max_frame_bytes, 2u << 20);
  EXPECT_EQ(l.limits.max_connections, 64u);
  EXPECT_EQ(l.limits.idle_timeout, 10min);
  EXPECT_EQ(l.limits.read_timeout, 15s);
  EXPECT_EQ(l.ack.policy, AckPolicy::kEnhanced);
  EXPECT_TRUE(l.ack.mllp_commit_acks);

  const ListenerConfig* plain = c.findListener("plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->tls.enabled);
  EXPECT_EQ(plain->port, 0);
  EXPECT_EQ(plain->address, "0.0.0.0");
  EXPECT_EQ(c.findListener("nope"), nullptr);
}

TEST(ConfigTest, DefaultsAreSane) {
  auto loaded = loadConfig(kData / "minimal.yaml", envOf({}));
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  const Config& c = *loaded;
  EXPECT_EQ(c.data_dir, (fs::current_path() / "var").lexically_normal());
  EXPECT_EQ(c.store.sqlite_path, c.data_dir / "courier.db");
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.io_threads, 0u);
  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerConfig& l = c.listeners[0];
  EXPECT_EQ(l.address, "127.0.0.1");
  EXPECT_EQ(l.port, 2575);
  EXPECT_FALSE(l.tls.enabled);
  EXPECT_EQ(l.limits.max_frame_bytes, 1u << 20);
  EXPECT_EQ(l.limits.read_timeout, 30s);
  EXPECT_EQ(l.ack.policy, AckPolicy::kAuto);
  EXPECT_FALSE(l.ack.mllp_commit_acks);
}

TEST(ConfigTest, ReportsEveryProblemAtOnceWithItsPosition) {
  TempDir dir;
  auto loaded = loadConfig(kData / "many_errors.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_FALSE(loaded.has_value());
  const ConfigErrors& e = loaded.error();
  SCOPED_TRACE(all(e));
  EXPECT_TRUE(hasError(e, 2, 12, "log_level", "'loud' is not one of"));
  EXPECT_TRUE(hasError(e, 3, 13, "io_threads", "whole number"));
  EXPECT_TRUE(hasError(e, 4, 1, "stor", "did you mean 'store'"));
  EXPECT_TRUE(hasError(e, 8, 16, "store.group_commit.max_batch", "between 1 and 100000"));
  EXPECT_TRUE(hasError(e, 9, 16, "store.group_commit.max_delay", "with a unit"));
  EXPECT_TRUE(hasError(e, 12, 11, "listeners[0].port", "between 1 and 65535"));
  EXPECT_TRUE(hasError(e, 14, 18, "listeners[0].tls.cert_file", "does not exist"));
  EXPECT_TRUE(hasError(e, 14, 7, "listeners[0].tls.key_file", "does not exist"));
  EXPECT_TRUE(hasError(e, 15, 21, "listeners[0].tls.client_certs", "'sometimes'"));
  EXPECT_TRUE(hasError(e, 17, 21, "listeners[0].limits.read_timeout", "with a unit"));
  EXPECT_TRUE(hasError(e, 18, 24, "listeners[0].limits.max_frame_bytes", "size in bytes"));
  EXPECT_TRUE(hasError(e, 19, 11, "listeners[1].name", "already used by listeners[0]"));
  EXPECT_TRUE(hasError(e, 20, 14, "listeners[1].address", "not an IP address"));
  EXPECT_TRUE(hasError(e, 21, 11, "listeners[1].port", "UNSET_PORT_VARIABLE is not set"));
  EXPECT_TRUE(hasError(e, 25, 7, "listeners[1].allowed_clients", "client_certs set to optional or required"));
  EXPECT_TRUE(hasError(e, 25, 9, "listeners[1].allowed_clients[0].sending_facilities", "list the sending facilities"));
  EXPECT_TRUE(hasError(e, 29, 16, "listeners[2].tls.enabled", "true or false"));
  EXPECT_TRUE(hasError(e, 31, 11, "listeners[3].port", "already used by listeners[2]"));
  EXPECT_TRUE(hasError(e, 35, 7, "listeners[3].ack.comit_acks", "unknown key"));
  // In file order, and printable as file:line:col.
  for (std::size_t i = 1; i < e.size(); ++i) {
    EXPECT_LE(e[i - 1].line, e[i].line);
  }
  EXPECT_EQ(e.front().toString().rfind((kData / "many_errors.yaml").string() + ":2:12: log_level: ", 0), 0u);
  EXPECT_EQ(e.front().toError().code, ErrorCode::kConfig);
}

TEST(ConfigTest, SyntaxErrorIsLocated) {
  auto loaded = loadConfig(kData / "syntax_error.yaml", envOf({}));
  ASSERT_FALSE(loaded.has_value());
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_GE(loaded.error()[0].line, 4);
  EXPECT_NE(loaded.error()[0].message.find("not well formed"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsOneError) {
  auto loaded = loadConfig(kData / "does_not_exist.yaml", envOf({}));
  ASSERT_FALSE(loaded.has_value());
  ASSERT_EQ(loaded.error().size(), 1u);
  EXPECT_EQ(loaded.error()[0].line, 0);
  EXPECT_NE(loaded.error()[0].toString().find("does_not_exist.yaml: the config file does not exist."),
            std::string::npos);
}

TEST(ConfigTest, ExpandsVariables) {
  auto env = envOf({{"HOST", "10.0.0.1"}, {"EMPTY", ""}, {"NAME", "feed"}});
  auto loaded = parseConfig(
      "data_dir: /tmp/a$$b\n"
      "listeners:\n"
      "  - name: ${NAME}-${UNSET:-a}-${EMPTY:-b}\n"
      "    address: ${HOST:-127.0.0.1}\n"
      "    tls: {enabled: false}\n",
      "t.yaml", env);
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  EXPECT_EQ(loaded->listeners[0].name, "feed-a-b");
  EXPECT_EQ(loaded->data_dir, "/tmp/a$b");
  EXPECT_EQ(loaded->listeners[0].address, "10.0.0.1");

  auto bad = parseConfig(
      "data_dir: ${EMPTY}/x\n"   // set but empty and no default: allowed (plain ${} keeps empty)
      "log_level: ${LEVEL\n"
      "io_threads: ${1BAD}\n",
      "t.yaml", env);
  ASSERT_FALSE(bad.has_value());
  SCOPED_TRACE(all(bad.error()));
  EXPECT_TRUE(hasError(bad.error(), 2, 12, "log_level", "is not closed"));
  EXPECT_TRUE(hasError(bad.error(), 3, 13, "io_threads", "not a valid variable reference"));
  EXPECT_EQ(bad.error().size(), 2u);
}

TEST(ConfigTest, DataDirOverrideMovesRelativePaths) {
  TempDir dir;
  dir.touch("certs/server.crt");
  dir.touch("certs/server.key");
  auto loaded = parseConfig(
      "data_dir: /nonexistent/elsewhere\n"
      "listeners:\n"
      "  - name: a\n",
      "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  EXPECT_EQ(loaded->data_dir, dir.path());
  EXPECT_EQ(loaded->store.sqlite_path, dir.path() / "courier.db");
  // TLS is on by default, with the development certificates in <data-dir>/certs.
  EXPECT_TRUE(loaded->listeners[0].tls.enabled);
  EXPECT_EQ(loaded->listeners[0].tls.cert_file, dir.path() / "certs/server.crt");
  EXPECT_EQ(loaded->listeners[0].tls.key_file, dir.path() / "certs/server.key");
}

TEST(ConfigTest, FileChecksCanBeDeferred) {
  TempDir dir;
  const char* text =
      "listeners:\n"
      "  - name: a\n"
      "    tls:\n"
      "      client_certs: optional\n";
  auto strict = parseConfig(text, "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_FALSE(strict.has_value());
  EXPECT_EQ(strict.error().size(), 3u) << all(strict.error());  // cert, key, CA
  auto deferred = parseConfig(text, "t.yaml", envOf({}), LoadOptions{dir.path(), false});
  ASSERT_TRUE(deferred.has_value()) << all(deferred.error());
  EXPECT_EQ(deferred->listeners[0].tls.ca_file, dir.path() / "certs/ca.crt");
}

TEST(ConfigTest, TheDeployedDefaultIsValid) {
  TempDir dir;
  for (const char* f : {"certs/server.crt", "certs/server.key", "certs/ca.crt", "dev-token"}) dir.touch(f);
  auto loaded = loadConfig(fs::path(COURIER_SOURCE_DIR) / "deploy/courier.yaml", envOf({}),
                           LoadOptions{dir.path(), true});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  ASSERT_EQ(loaded->listeners.size(), 2u);
  const ListenerConfig& fhir = loaded->listeners[1];
  EXPECT_EQ(fhir.kind, ListenerKind::kHttp);
  EXPECT_EQ(fhir.port, 8443);
  EXPECT_EQ(fhir.address, "127.0.0.1");
  EXPECT_EQ(fhir.http.token_file, dir.path() / "dev-token");
  const ListenerConfig& l = loaded->listeners[0];
  EXPECT_EQ(l.address, "127.0.0.1");
  EXPECT_EQ(l.port, 2575);
  EXPECT_TRUE(l.tls.enabled);
  EXPECT_EQ(l.tls.client_certs, ClientCertMode::kOptional);
  EXPECT_EQ(l.tls.cert_file, dir.path() / "certs/server.crt");
  EXPECT_EQ(loaded->store.sqlite_path, dir.path() / "courier.db");

  // Without the certificates and the token, each missing file is one located error
  // (three per listener, the token file, and subscriptions.ca_files).
  TempDir empty;
  auto missing = loadConfig(fs::path(COURIER_SOURCE_DIR) / "deploy/courier.yaml", envOf({}),
                            LoadOptions{empty.path(), true});
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().size(), 8u) << all(missing.error());
}

TEST(ConfigTest, StructuralMistakes) {
  auto empty = parseConfig("", "t.yaml", envOf({}));
  ASSERT_FALSE(empty.has_value());
  EXPECT_NE(empty.error()[0].message.find("empty"), std::string::npos);

  auto list = parseConfig("- a\n- b\n", "t.yaml", envOf({}));
  ASSERT_FALSE(list.has_value());
  EXPECT_NE(list.error()[0].message.find("top level must be a mapping"), std::string::npos);

  auto twice = parseConfig("log_level: info\nlog_level: warn\nlisteners: 3\n", "t.yaml", envOf({}));
  ASSERT_FALSE(twice.has_value());
  SCOPED_TRACE(all(twice.error()));
  EXPECT_TRUE(hasError(twice.error(), 2, 1, "log_level", "appears twice"));
  EXPECT_TRUE(hasError(twice.error(), 3, 12, "listeners", "expected a list of listeners"));

  auto nameless = parseConfig("listeners:\n  - port: 1\n    tls: {enabled: false}\n", "t.yaml", envOf({}));
  ASSERT_FALSE(nameless.has_value());
  EXPECT_TRUE(hasError(nameless.error(), 2, 5, "listeners[0]", "no 'name'"));
}

TEST(ConfigTest, HttpListenerSection) {
  TempDir dir;
  dir.touch("certs/server.crt");
  dir.touch("certs/server.key");
  dir.touch("certs/ca.crt");
  dir.touch("tokens");
  const std::string text =
      "listeners:\n"
      "  - name: fhir\n"
      "    kind: http\n"
      "    http:\n"
      "      token_file: tokens\n"
      "      max_body_bytes: 64KiB\n"
      "      request_timeout: 5s\n";
  auto loaded = parseConfig(text, "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_TRUE(loaded) << all(loaded.error());
  const ListenerConfig& l = loaded->listeners.at(0);
  EXPECT_EQ(l.kind, ListenerKind::kHttp);
  EXPECT_EQ(l.port, 8443);
  EXPECT_EQ(l.http.token_file, dir.path() / "tokens");
  EXPECT_EQ(l.http.max_body_bytes, 64u * 1024);
  EXPECT_EQ(l.http.request_timeout, 5s);

  auto bad = parseConfig(
      "listeners:\n"
      "  - name: fhir\n"
      "    kind: http\n"
      "    ack:\n"
      "      mode: auto\n"
      "    http:\n"
      "      token_file: missing-tokens\n"
      "      max_body: 1\n"
      "  - name: mllp\n"
      "    port: 2576\n"
      "    http:\n"
      "      token_file: tokens\n",
      "t.yaml", envOf({}), LoadOptions{dir.path(), true});
  ASSERT_FALSE(bad);
  EXPECT_TRUE(hasError(bad.error(), 5, 7, "listeners[0].ack", "mllp listeners only")) << all(bad.error());
  EXPECT_TRUE(hasError(bad.error(), 7, 19, "listeners[0].http.token_file", "does not exist")) << all(bad.error());
  EXPECT_TRUE(hasError(bad.error(), 8, 7, "listeners[0].http.max_body", "unknown key 'max_body'"))
      << all(bad.error());
  EXPECT_TRUE(hasError(bad.error(), 12, 7, "listeners[1].http", "kind: http")) << all(bad.error());

  auto unauthenticated = parseConfig("listeners:\n  - name: fhir\n    kind: http\n", "t.yaml", envOf({}),
                                     LoadOptions{dir.path(), true});
  ASSERT_FALSE(unauthenticated);
  EXPECT_TRUE(hasError(unauthenticated.error(), 2, 5, "listeners[0]", "must authenticate")) << all(unauthenticated.error());
}

}  // namespace
}  // namespace courier::config
