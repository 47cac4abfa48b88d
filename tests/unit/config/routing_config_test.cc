// The pipeline, destinations and routes sections: a full valid file, and each mistake a
// user can make, reported at its position with its key path.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "tests/unit/config/config_fixtures.h"

namespace courier::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

using testing::all;
using testing::envOf;
using testing::kData;
using testing::TempDir;

// 1-based line and column of the first occurrence of `needle` in `text`.
std::pair<int, int> at(std::string_view text, std::string_view needle) {
  std::size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string_view::npos) << needle;
  int line = 1, col = 1;
  for (std::size_t i = 0; i < pos; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// Some error sits at `where`, its key path is `key` and its message contains `text`.
::testing::AssertionResult hasError(const ConfigErrors& errors, std::pair<int, int> where, std::string_view key,
                                    std::string_view text) {
  for (const auto& e : errors) {
    if (e.line == where.first && e.column == where.second && e.key_path == key &&
        e.message.find(text) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure() << "no error at " << where.first << ":" << where.second << " " << key
                                       << " containing '" << text << "' in:\n"
                                       << all(errors);
}

// Prefix for snippets: a data dir that exists and a listener the routes may name.
constexpr std::string_view kHead =
    "data_dir: /tmp\n"
    "listeners:\n"
    "  - name: mllp-main\n"
    "    tls: {enabled: false}\n";

Result<Config, ConfigErrors> parse(const std::string& text, bool check_files = false) {
  return parseConfig(text, "t.yaml", envOf({{"HOST", "registry.test"}}), LoadOptions{std::nullopt, check_files});
}

TEST(RoutingConfigTest, LoadsAFullExample) {
  TempDir dir;
  for (const char* f : {"certs/insurer-ca.crt", "certs/registry-ca.crt", "certs/client.crt", "certs/client.key",
                        "insurer-token"}) {
    dir.touch(f);
  }
  auto loaded = loadConfig(kData / "routing_full.yaml",
                           envOf({{"TEST_DATA_DIR", dir.path().string()},
                                  {"INSURER_URL", "https://claims.example.test/fhir"},
                                  {"REGISTRY_HOST", "registry.example.test"},
                                  {"REGISTRY_PORT", "2576"}}));
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  const Config& c = *loaded;
  EXPECT_TRUE(c.pipeline.enabled);
  EXPECT_EQ(c.pipeline.workers, 4u);
  EXPECT_EQ(c.pipeline.batch, 256u);
  ASSERT_EQ(c.destinations.size(), 4u);

  const DestinationConfig& ins = c.destinations[0];
  EXPECT_EQ(ins.name, "insurer-fhir");
  EXPECT_EQ(ins.kind, DestinationKind::kHttps);
  EXPECT_EQ(ins.format, PayloadFormat::kFhirClaim);
  EXPECT_EQ(ins.url, "https://claims.example.test/fhir");
  EXPECT_EQ(ins.method, "PUT");
  ASSERT_EQ(ins.headers.size(), 1u);
  EXPECT_EQ(ins.headers[0], (std::pair<std::string, std::string>{"X-Partner", "acme"}));
  EXPECT_EQ(ins.token_file, dir.path() / "insurer-token");
  EXPECT_TRUE(ins.tls.enabled);
  EXPECT_EQ(ins.tls.ca_files, (std::vector<fs::path>{dir.path() / "certs/insurer-ca.crt"}));
  EXPECT_FALSE(ins.tls.use_system_cas);
  EXPECT_EQ(ins.tls.cert_file, dir.path() / "certs/client.crt");
  EXPECT_EQ(ins.tls.key_file, dir.path() / "certs/client.key");
  EXPECT_EQ(ins.tls.server_name, "claims.example.test");
  EXPECT_EQ(ins.connect_timeout, 2s);
  EXPECT_EQ(ins.response_timeout, 45s);
  EXPECT_EQ(ins.keepalive_idle, 90s);
  EXPECT_EQ(ins.retry.initial_backoff, 500ms);
  EXPECT_EQ(ins.retry.max_backoff, 10min);
  EXPECT_EQ(ins.retry.max_attempts, 20u);
  EXPECT_EQ(ins.retry.max_age, 48h);
  EXPECT_EQ(ins.claim.submitter_id, "COURIER01");
  EXPECT_EQ(ins.claim.submitter_phone, "5555550100");
  EXPECT_EQ(ins.claim.receiver_id, "INSURER01");
  EXPECT_EQ(ins.claim.billing_npi, "1234567893");
  EXPECT_EQ(ins.claim.billing_tax_id, "12-3456789");
  EXPECT_EQ(ins.claim.billing_zip, "627010001");
  EXPECT_EQ(ins.claim.payer_name, "Example Insurer");
  EXPECT_EQ(ins.claim.usage, 'P');

  const DestinationConfig* reg = c.findDestination("registry");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->kind, DestinationKind::kMllp);
  EXPECT_EQ(reg->host, "registry.example.test");
  EXPECT_EQ(reg->port, 2576);
  EXPECT_EQ(reg->format, PayloadFormat::kHl7v2);
  EXPECT_EQ(reg->on_ae, NakAction::kDeadLetter);
  EXPECT_EQ(reg->on_ar, NakAction::kRetry);
  EXPECT_EQ(reg->tls.ca_files, (std::vector<fs::path>{dir.path() / "certs/registry-ca.crt"}));
  EXPECT_TRUE(reg->tls.use_system_cas);
  EXPECT_EQ(reg->retry.max_age, 72h);  // default

  const DestinationConfig* files = c.findDestination("claims-files");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->kind, DestinationKind::kFile);
  EXPECT_EQ(files->format, PayloadFormat::kX12_837P);
  EXPECT_EQ(files->directory, dir.path() / "out/claims");
  EXPECT_FALSE(files->one_file_per_message);
  EXPECT_EQ(files->claim.usage, 'T');
  EXPECT_FALSE(c.findDestination("plain-feed")->tls.enabled);
  EXPECT_EQ(c.findDestination("nope"), nullptr);

  ASSERT_EQ(c.routes.size(), 2u);
  const RouteConfig& r = c.routes[0];
  EXPECT_EQ(r.name, "coded-charges-to-insurer");
  EXPECT_EQ(r.destinations, (std::vector<std::string>{"insurer-fhir", "claims-files"}));
  const RouteMatch& m = r.match;
  EXPECT_EQ(m.message_types, (std::vector<std::string>{"DFT^P03", "BAR^P01"}));
  EXPECT_EQ(m.sending_facilities, (std::vector<std::string>{"HOSP", "HOSP^1.2.3^ISO"}));
  EXPECT_EQ(m.sending_applications, (std::vector<std::string>{"EPIC"}));  // a scalar is a list of one
  EXPECT_EQ(m.listeners, (std::vector<std::string>{"mllp-main"}));
  EXPECT_EQ(m.patient_classes, (std::vector<std::string>{"I", "O"}));
  EXPECT_EQ(m.hospital_services, (std::vector<std::string>{"ONC"}));
  EXPECT_EQ(m.specialties, (std::vector<std::string>{"oncology", "hematology"}));
  EXPECT_EQ(m.has_diagnoses, true);
  EXPECT_EQ(m.has_procedures, false);
  EXPECT_EQ(m.has_charges, true);
  ASSERT_EQ(m.codes.size(), 4u);
  EXPECT_EQ(m.codes[0].system, "icd10cm");
  EXPECT_EQ(m.codes[0].from, "C00");
  EXPECT_EQ(m.codes[0].to, "D49");
  EXPECT_EQ(m.codes[1].system, "hcpcs");
  EXPECT_EQ(m.codes[1].from, "J0000");
  EXPECT_EQ(m.codes[2].from, "Q0083");  // a single code is a range of one (with its subtree)
  EXPECT_EQ(m.codes[2].to, "Q0083");
  EXPECT_EQ(m.codes[3].system, "icd10pcs");
  EXPECT_EQ(m.coded, CoderOutcome::kAllBillable);
  ASSERT_EQ(m.fields.size(), 7u);
  EXPECT_EQ(m.fields[0].path, "PV1-2");
  EXPECT_EQ(m.fields[0].op, FieldOp::kEquals);
  EXPECT_EQ(m.fields[0].values, (std::vector<std::string>{"I"}));
  EXPECT_EQ(m.fields[1].op, FieldOp::kEquals);
  EXPECT_EQ(m.fields[1].values, (std::vector<std::string>{"ICU", "CCU"}));
  EXPECT_EQ(m.fields[2].op, FieldOp::kExists);
  EXPECT_TRUE(m.fields[2].values.empty());
  EXPECT_EQ(m.fields[3].op, FieldOp::kMissing);
  EXPECT_EQ(m.fields[4].op, FieldOp::kNotEquals);
  EXPECT_EQ(m.fields[5].op, FieldOp::kPrefix);
  EXPECT_EQ(m.fields[6].path, "OBX[2]-5.1.2");

  // A route without `match` takes every message.
  const RouteConfig& all_route = c.routes[1];
  EXPECT_TRUE(all_route.match.message_types.empty());
  EXPECT_FALSE(all_route.match.has_charges.has_value());
  EXPECT_EQ(all_route.destinations, (std::vector<std::string>{"registry"}));
}

TEST(RoutingConfigTest, DefaultsWithoutTheNewSections) {
  auto loaded = parse(std::string(kHead));
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  EXPECT_TRUE(loaded->pipeline.enabled);
  EXPECT_EQ(loaded->pipeline.workers, 0u);
  EXPECT_EQ(loaded->pipeline.batch, 512u);
  EXPECT_TRUE(loaded->destinations.empty());
  EXPECT_TRUE(loaded->routes.empty());
}

TEST(RoutingConfigTest, FormatDefaultsFollowTheKind) {
  auto loaded = parse(std::string(kHead) +
                      "destinations:\n"
                      "  - {name: a, kind: mllp, host: h, port: 1}\n"
                      "  - {name: b, kind: https, url: \"https://h/x\"}\n"
                      "  - {name: c, kind: file, directory: out}\n");
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  EXPECT_EQ(loaded->destinations[0].format, PayloadFormat::kHl7v2);
  EXPECT_EQ(loaded->destinations[1].format, PayloadFormat::kFhirBundle);
  EXPECT_EQ(loaded->destinations[2].format, PayloadFormat::kNdjson);
  EXPECT_EQ(loaded->destinations[2].directory, fs::path("/tmp/out"));
}

TEST(RoutingConfigTest, PipelineMistakes) {
  const std::string text = std::string(kHead) + "pipeline: {enabled: maybe, workers: 999, batch: 0, threads: 2}\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  const auto& e = loaded.error();
  EXPECT_TRUE(hasError(e, at(text, "maybe"), "pipeline.enabled", "true or false"));
  EXPECT_TRUE(hasError(e, at(text, "999"), "pipeline.workers", "between 0 (one per core) and 256"));
  EXPECT_TRUE(hasError(e, at(text, "0, threads"), "pipeline.batch", "between 1 and 100000"));
  EXPECT_TRUE(hasError(e, at(text, "threads"), "pipeline.threads", "unknown key"));
}

TEST(RoutingConfigTest, ApplicationAcks) {
  const std::string good = std::string(kHead) +
                           "destinations:\n"
                           "  - {name: lab-acks, kind: mllp, host: h, port: 1}\n"
                           "  - {name: ack-files, kind: file, directory: acks, format: hl7v2}\n"
                           "pipeline:\n"
                           "  application_acks:\n"
                           "    - {facility: LAB, application: LABSYS, destination: lab-acks}\n"
                           "    - {destination: ack-files}\n";
  auto loaded = parse(good);
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  ASSERT_EQ(loaded->pipeline.application_acks.size(), 2u);
  EXPECT_EQ(loaded->pipeline.application_acks[0].facility, "LAB");
  EXPECT_EQ(loaded->pipeline.application_acks[0].application, "LABSYS");
  EXPECT_EQ(loaded->pipeline.application_acks[0].destination, "lab-acks");
  EXPECT_EQ(loaded->pipeline.application_acks[1].facility, "") << "matches any sender";

  const std::string bad = std::string(kHead) +
                          "destinations:\n"
                          "  - {name: lab-acks, kind: mllp, host: h, port: 1}\n"
                          "  - {name: claims, kind: file, directory: c, format: fhir-claim}\n"
                          "pipeline:\n"
                          "  application_acks:\n"
                          "    - {facility: LAB, destination: lab-acsk}\n"
                          "    - {facility: X, destination: claims}\n"
                          "    - {facility: Y}\n"
                          "    - {facility: Z, destination: lab-acks, when: AL}\n";
  auto failed = parse(bad);
  ASSERT_FALSE(failed.has_value());
  const auto& e = failed.error();
  EXPECT_TRUE(hasError(e, at(bad, "lab-acsk"), "pipeline.application_acks[0].destination",
                       "no destination is named 'lab-acsk'; did you mean 'lab-acks'?"));
  EXPECT_TRUE(hasError(e, at(bad, "claims}"), "pipeline.application_acks[1].destination", "'format: hl7v2'"));
  EXPECT_TRUE(hasError(e, at(bad, "{facility: Y}"), "pipeline.application_acks[2]", "has no 'destination'"));
  EXPECT_TRUE(hasError(e, at(bad, "when"), "pipeline.application_acks[3].when", "unknown key"));
}

TEST(RoutingConfigTest, DestinationMistakes) {
  const std::string text = std::string(kHead) +
                           "destinations:\n"
                           "  - name: ins\n"                                  // no kind
                           "  - name: ins\n"                                  // duplicate
                           "    kind: smtp\n"
                           "  - name: web\n"
                           "    kind: https\n"
                           "    url: http://insecure.test/fhir\n"
                           "    hots: x\n"
                           "  - name: web2\n"
                           "    kind: https\n"
                           "    url: ftp://x\n"
                           "    method: GET\n"
                           "    tls: {enabled: false}\n"
                           "  - name: web3\n"
                           "    kind: https\n"
                           "    headers: {Authorization: Bearer-x, Content-Type: x, \"bad header\": y}\n"
                           "  - name: mllp-no-host\n"
                           "    kind: mllp\n"
                           "    format: fhir-claim\n"
                           "    url: https://x\n"
                           "    on_ae: ignore\n"
                           "  - name: files\n"
                           "    kind: file\n"
                           "    host: x\n"
                           "    connect_timeout: 5\n"
                           "  - name: nd\n"
                           "    kind: https\n"
                           "    url: https://h\n"
                           "    format: ndjson\n"
                           "    retry: {initial_backoff: 1m, max_backoff: 1s, max_attempts: -1, max_age: forever}\n"
                           "  - name: hl\n"
                           "    kind: https\n"
                           "    url: \"https://\"\n"
                           "    format: hl7v2\n"
                           "    connect_timeout: 1h\n"
                           "  - name: \"bad name\"\n"
                           "    kind: mllp\n"
                           "    host: \"a b\"\n"
                           "    port: 70000\n"
                           "    claim: {billing_npi: 1}\n"
                           "  - just-a-string\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  const auto& e = loaded.error();
  auto second = [&](std::string_view needle, std::size_t skip) {
    std::size_t pos = 0;
    for (std::size_t i = 0; i <= skip; ++i) pos = text.find(needle, i == 0 ? 0 : pos + 1);
    return at(text.substr(0, pos) + "\x01", "\x01");
  };
  EXPECT_TRUE(hasError(e, at(text, "name: ins"), "destinations[0]", "has no 'kind'"));
  EXPECT_TRUE(hasError(e, second("ins\n", 1), "destinations[1].name", "already used by destinations[0]"));
  EXPECT_TRUE(hasError(e, at(text, "smtp"), "destinations[1].kind", "'smtp' is not one of 'mllp', 'https' or 'file'"));
  EXPECT_TRUE(hasError(e, at(text, "http://insecure"), "destinations[2].url", "must start with https://"));
  EXPECT_TRUE(hasError(e, at(text, "hots"), "destinations[2].hots", "did you mean 'host'"));
  EXPECT_TRUE(hasError(e, at(text, "ftp://"), "destinations[3].url", "must start with https://"));
  EXPECT_TRUE(hasError(e, at(text, "GET"), "destinations[3].method", "POST"));
  EXPECT_TRUE(hasError(e, at(text, "false}\n  - name: web3"), "destinations[3].tls.enabled", "always use TLS"));
  EXPECT_TRUE(hasError(e, at(text, "name: web3"), "destinations[4]", "needs a 'url'"));
  EXPECT_TRUE(hasError(e, at(text, "Authorization"), "destinations[4].headers.Authorization", "token_file"));
  EXPECT_TRUE(hasError(e, at(text, "Content-Type"), "destinations[4].headers.Content-Type", "sets the"));
  EXPECT_TRUE(hasError(e, at(text, "\"bad header\""), "destinations[4].headers.bad header", "not a header name"));
  EXPECT_TRUE(hasError(e, at(text, "name: mllp-no-host"), "destinations[5]", "needs a 'host'"));
  EXPECT_TRUE(hasError(e, at(text, "name: mllp-no-host"), "destinations[5]", "needs a 'port'"));
  EXPECT_TRUE(hasError(e, at(text, "fhir-claim"), "destinations[5].format",
                       "fhir-claim cannot be sent to a mllp destination; it goes to https or file"));
  EXPECT_TRUE(hasError(e, at(text, "url: https://x"), "destinations[5].url", "applies to https destinations only"));
  EXPECT_TRUE(hasError(e, at(text, "ignore"), "destinations[5].on_ae", "'retry' or 'dead-letter'"));
  EXPECT_TRUE(hasError(e, at(text, "name: files"), "destinations[6]", "needs a 'directory'"));
  EXPECT_TRUE(hasError(e, at(text, "host: x"), "destinations[6].host", "applies to mllp destinations only"));
  EXPECT_TRUE(hasError(e, at(text, "connect_timeout: 5"), "destinations[6].connect_timeout",
                       "applies to mllp and https destinations only"));
  EXPECT_TRUE(hasError(e, at(text, "ndjson"), "destinations[7].format", "it goes to file destinations"));
  EXPECT_TRUE(hasError(e, at(text, "1s, max_attempts"), "destinations[7].retry.max_backoff",
                       "must not be shorter than initial_backoff"));
  EXPECT_TRUE(hasError(e, at(text, "-1"), "destinations[7].retry.max_attempts", "whole number"));
  EXPECT_TRUE(hasError(e, at(text, "forever"), "destinations[7].retry.max_age", "with a unit"));
  EXPECT_TRUE(hasError(e, at(text, "\"https://\""), "destinations[8].url", "no host after https://"));
  EXPECT_TRUE(hasError(e, at(text, "hl7v2"), "destinations[8].format", "it goes to mllp or file"));
  EXPECT_TRUE(hasError(e, at(text, "1h\n"), "destinations[8].connect_timeout", "between 100ms and 5m"));
  EXPECT_TRUE(hasError(e, at(text, "\"bad name\""), "destinations[9].name", "letters, digits"));
  EXPECT_TRUE(hasError(e, at(text, "\"a b\""), "destinations[9].host", "not a host name"));
  EXPECT_TRUE(hasError(e, at(text, "70000"), "destinations[9].port", "between 1 and 65535"));
  EXPECT_TRUE(hasError(e, at(text, "claim: {billing"), "destinations[9].claim",
                       "applies to destinations with format fhir-claim or x12-837p only"));
  EXPECT_TRUE(hasError(e, at(text, "just-a-string"), "destinations[10]", "expected a mapping"));
  // Sorted by position, every one located.
  for (std::size_t i = 0; i < e.size(); ++i) {
    EXPECT_GT(e[i].line, 0) << e[i].toString();
    if (i > 0) {
      EXPECT_LE(e[i - 1].line, e[i].line);
    }
  }
}

TEST(RoutingConfigTest, DestinationsIsAList) {
  const std::string text = std::string(kHead) + "destinations: {name: a}\nroutes: 3\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  EXPECT_TRUE(hasError(loaded.error(), at(text, "{name: a}"), "destinations", "expected a list of destinations"));
  EXPECT_TRUE(hasError(loaded.error(), at(text, "3\n"), "routes", "expected a list of routes"));
}

TEST(RoutingConfigTest, ClaimMistakes) {
  const std::string text = std::string(kHead) +
                           "destinations:\n"
                           "  - name: no-claim\n"
                           "    kind: https\n"
                           "    url: https://h/fhir\n"
                           "    format: fhir-claim\n"
                           "  - name: x12\n"
                           "    kind: file\n"
                           "    directory: out\n"
                           "    format: x12-837p\n"
                           "    claim:\n"
                           "      submitter_id: THIS-ID-IS-FAR-TOO-LONG\n"
                           "      billing_npi: \"123456789\"\n"
                           "      billing_tax_id: 12-345\n"
                           "      usage: X\n"
                           "      payer_idd: nobody\n"
                           "  - name: bad-check\n"
                           "    kind: file\n"
                           "    directory: out\n"
                           "    format: fhir-claim\n"
                           "    claim: {submitter_id: A, receiver_id: \"\", billing_npi: \"1234567890\"}\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  const auto& e = loaded.error();
  EXPECT_TRUE(hasError(e, at(text, "name: no-claim"), "destinations[0]", "needs a 'claim' section"));
  EXPECT_TRUE(hasError(e, at(text, "submitter_id: THIS"), "destinations[1].claim", "'receiver_id' is missing"));
  EXPECT_TRUE(hasError(e, at(text, "THIS-ID"), "destinations[1].claim.submitter_id", "at most 15 characters"));
  EXPECT_TRUE(hasError(e, at(text, "\"123456789\""), "destinations[1].claim.billing_npi", "exactly 10 digits"));
  EXPECT_TRUE(hasError(e, at(text, "12-345\n"), "destinations[1].claim.billing_tax_id", "9 digits"));
  EXPECT_TRUE(hasError(e, at(text, "X\n"), "destinations[1].claim.usage", "T (test claims) or P"));
  EXPECT_TRUE(hasError(e, at(text, "payer_idd"), "destinations[1].claim.payer_idd", "did you mean 'payer_id'"));
  EXPECT_TRUE(hasError(e, at(text, "\"\", billing"), "destinations[2].claim.receiver_id", "must not be empty"));
  EXPECT_TRUE(hasError(e, at(text, "\"1234567890\""), "destinations[2].claim.billing_npi", "wrong check digit"));
}

TEST(RoutingConfigTest, TlsFilesAreCheckedWhenAsked) {
  TempDir dir;
  dir.touch("certs/ca.crt");
  const std::string text =
      "data_dir: " + dir.path().string() +
      "\n"
      "destinations:\n"
      "  - name: reg\n"
      "    kind: mllp\n"
      "    host: ${HOST}\n"
      "    port: 2575\n"
      "    tls:\n"
      "      ca_files: [certs/ca.crt, certs/missing-ca.crt]\n"
      "      cert_file: certs/client.crt\n"
      "  - name: web\n"
      "    kind: https\n"
      "    url: https://h\n"
      "    token_file: no-token\n"
      "    tls: {use_system_cas: false}\n"
      "  - name: plain\n"
      "    kind: mllp\n"
      "    host: h\n"
      "    port: 1\n"
      "    tls: {enabled: false, ca_files: [whatever]}\n";
  auto strict = parse(text, true);
  ASSERT_FALSE(strict.has_value());
  const auto& e = strict.error();
  EXPECT_TRUE(hasError(e, at(text, "certs/missing-ca.crt"), "destinations[0].tls.ca_files[1]", "does not exist"));
  EXPECT_TRUE(hasError(e, at(text, "certs/client.crt"), "destinations[0].tls.cert_file", "does not exist"));
  EXPECT_TRUE(hasError(e, at(text, "certs/client.crt"), "destinations[0].tls.key_file", "both 'cert_file' and 'key_file'"));
  EXPECT_TRUE(hasError(e, at(text, "no-token"), "destinations[1].token_file", "does not exist"));
  EXPECT_TRUE(hasError(e, at(text, "false}"), "destinations[1].tls.use_system_cas", "list the CA"));
  EXPECT_EQ(e.size(), 5u) << all(e);

  // Without file checks only the structural problems remain; paths resolve in the data dir.
  auto deferred = parse(text, false);
  ASSERT_FALSE(deferred.has_value());
  EXPECT_EQ(deferred.error().size(), 2u) << all(deferred.error());
  const std::string fixed = text.substr(0, text.find("      cert_file")) +
                            text.substr(text.find("  - name: web"), text.find("    tls: {use") - text.find("  - name: web")) +
                            text.substr(text.find("  - name: plain"));
  auto ok = parse(fixed, false);
  ASSERT_TRUE(ok.has_value()) << all(ok.error());
  EXPECT_EQ(ok->destinations[0].host, "registry.test");
  EXPECT_EQ(ok->destinations[0].tls.ca_files,
            (std::vector<fs::path>{dir.path() / "certs/ca.crt", dir.path() / "certs/missing-ca.crt"}));
  EXPECT_EQ(ok->destinations[1].token_file, dir.path() / "no-token");
  EXPECT_FALSE(ok->destinations[2].tls.enabled);
}

TEST(RoutingConfigTest, RouteMistakes) {
  const std::string text = std::string(kHead) +
                           "destinations:\n"
                           "  - {name: registry, kind: mllp, host: h, port: 1}\n"
                           "routes:\n"
                           "  - name: r1\n"
                           "    destinations: [registri, registry, registry, elsewhere]\n"
                           "  - name: r1\n"
                           "    match: {message_type: ADT}\n"
                           "  - name: r3\n"
                           "    match:\n"
                           "      message_types: [adt, ADT^A01^ADT_A01, DFT]\n"
                           "      listeners: [mllp-mian, nowhere]\n"
                           "      specialties: [Cardiology]\n"
                           "      has_charges: sometimes\n"
                           "      coded: perfect\n"
                           "      patient_classes: []\n"
                           "      hospital_services: {a: b}\n"
                           "    destinations: []\n"
                           "  - name: r4\n"
                           "    destinations: registry\n"
                           "    match:\n"
                           "      codes:\n"
                           "        - {icd10cm: D49-C00}\n"
                           "        - {icd9: 250.00}\n"
                           "        - {icd10cm: 123}\n"
                           "        - {hcpcs: J0000-J99999}\n"
                           "        - {icd10cm: C00-C10-C20}\n"
                           "        - {icd10cm: C00, hcpcs: J0000}\n"
                           "        - {icd10cm: C50.9-C50}\n"
                           "  - name: r5\n"
                           "    destinations: registry\n"
                           "    match:\n"
                           "      fields:\n"
                           "        - {field: PV1, equals: I}\n"
                           "        - {field: PV1-0, equals: I}\n"
                           "        - {field: \"PV1-3.1x\", equals: I}\n"
                           "        - {field: PV1-2}\n"
                           "        - {field: PV1-2, equals: I, not: O}\n"
                           "        - {equals: I}\n"
                           "        - {field: PV1-2, exists: perhaps}\n"
                           "        - {field: PV1-2, in: []}\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  const auto& e = loaded.error();
  EXPECT_TRUE(hasError(e, at(text, "registri"), "routes[0].destinations[0]", "did you mean 'registry'"));
  EXPECT_TRUE(hasError(e, at(text, "registry, elsewhere"), "routes[0].destinations[2]", "listed twice"));
  EXPECT_TRUE(hasError(e, at(text, "elsewhere"), "routes[0].destinations[3]",
                       "no destination is named 'elsewhere'; the destinations are 'registry'"));
  EXPECT_TRUE(hasError(e, at(text, "r1\n    match"), "routes[1].name", "already used by routes[0]"));
  EXPECT_TRUE(hasError(e, at(text, "name: r1\n    match") , "routes[1]", "has no 'destinations'"));
  EXPECT_TRUE(hasError(e, at(text, "message_type:"), "routes[1].match.message_type", "did you mean 'message_types'"));
  EXPECT_TRUE(hasError(e, at(text, "adt,"), "routes[2].match.message_types[0]", "not a message type"));
  EXPECT_TRUE(hasError(e, at(text, "ADT^A01^ADT_A01"), "routes[2].match.message_types[1]", "like ADT or ADT^A01"));
  EXPECT_TRUE(hasError(e, at(text, "mllp-mian"), "routes[2].match.listeners[0]", "did you mean 'mllp-main'"));
  EXPECT_TRUE(hasError(e, at(text, "nowhere"), "routes[2].match.listeners[1]", "no listener is named 'nowhere'"));
  EXPECT_TRUE(hasError(e, at(text, "Cardiology"), "routes[2].match.specialties[0]", "lower-case"));
  EXPECT_TRUE(hasError(e, at(text, "sometimes"), "routes[2].match.has_charges", "true or false"));
  EXPECT_TRUE(hasError(e, at(text, "perfect"), "routes[2].match.coded", "'any', 'billable' or 'review'"));
  EXPECT_TRUE(hasError(e, at(text, "[]\n      hospital"), "routes[2].match.patient_classes", "the list is empty"));
  EXPECT_TRUE(hasError(e, at(text, "{a: b}"), "routes[2].match.hospital_services", "found a mapping"));
  EXPECT_TRUE(hasError(e, at(text, "[]\n  - name: r4"), "routes[2].destinations", "the list is empty"));
  EXPECT_TRUE(hasError(e, at(text, "D49-C00"), "routes[3].match.codes[0].icd10cm", "runs backwards"));
  EXPECT_TRUE(hasError(e, at(text, "icd9"), "routes[3].match.codes[1].icd9", "not a code system"));
  EXPECT_TRUE(hasError(e, at(text, "123}"), "routes[3].match.codes[2].icd10cm", "not an ICD-10-CM code"));
  EXPECT_TRUE(hasError(e, at(text, "J0000-J99999"), "routes[3].match.codes[3].hcpcs", "longer than a HCPCS code"));
  EXPECT_TRUE(hasError(e, at(text, "C00-C10-C20"), "routes[3].match.codes[4].icd10cm", "one '-'"));
  EXPECT_TRUE(hasError(e, at(text, "{icd10cm: C00, hcpcs"), "routes[3].match.codes[5]", "one 'system: FROM-TO' pair"));
  EXPECT_TRUE(hasError(e, at(text, "PV1, equals"), "routes[4].match.fields[0].field", "followed by '-'"));
  EXPECT_TRUE(hasError(e, at(text, "PV1-0"), "routes[4].match.fields[1].field", "field number must be 1 or more"));
  EXPECT_TRUE(hasError(e, at(text, "\"PV1-3.1x\""), "routes[4].match.fields[2].field", "unexpected 'x'"));
  EXPECT_TRUE(hasError(e, at(text, "{field: PV1-2}"), "routes[4].match.fields[3]", "say what to test"));
  EXPECT_TRUE(hasError(e, at(text, "{field: PV1-2, equals: I, not"), "routes[4].match.fields[4]", "one of equals"));
  EXPECT_TRUE(hasError(e, at(text, "{equals: I}"), "routes[4].match.fields[5]", "has no 'field'"));
  EXPECT_TRUE(hasError(e, at(text, "perhaps"), "routes[4].match.fields[6].exists", "true or false"));
  EXPECT_TRUE(hasError(e, at(text, "[]}"), "routes[4].match.fields[7].in", "the list is empty"));
  // C50.9-C50 is fine: C509's first three characters are C50.
  for (const auto& err : e) EXPECT_EQ(err.key_path.find("codes[6]"), std::string::npos) << err.toString();
}

TEST(RoutingConfigTest, RoutesNeedDestinationsDefinedSomewhere) {
  const std::string text = std::string(kHead) + "routes:\n  - name: r\n    destinations: [a]\n";
  auto loaded = parse(text);
  ASSERT_FALSE(loaded.has_value());
  EXPECT_TRUE(hasError(loaded.error(), at(text, "a]"), "routes[0].destinations[0]", "define it under 'destinations:'"));
}

TEST(RoutingConfigTest, TheInsurerClaimsExampleLoads) {
  TempDir dir;
  dir.touch("insurer-ca.pem");
  dir.touch("registry-ca.pem");
  auto env = envOf({{"COURIER_DATA_DIR", dir.path().string()},
                    {"INSURER_URL", "https://insurer.example.test/fhir/Claim"},
                    {"INSURER_CA", (dir.path() / "insurer-ca.pem").string()},
                    {"CLAIMS_DIR", (dir.path() / "claims").string()},
                    {"REGISTRY_HOST", "registry.example.test"},
                    {"REGISTRY_PORT", "6661"},
                    {"REGISTRY_CA", (dir.path() / "registry-ca.pem").string()}});
  auto loaded = loadConfig(fs::path(COURIER_SOURCE_DIR) / "deploy/examples/insurer-claims.yaml", env,
                           LoadOptions{std::nullopt, false});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error());
  const Config& c = *loaded;
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_TRUE(c.listeners[0].tls.enabled);
  ASSERT_EQ(c.destinations.size(), 3u);
  const DestinationConfig* insurer = c.findDestination("insurer");
  ASSERT_NE(insurer, nullptr);
  EXPECT_EQ(insurer->kind, DestinationKind::kHttps);
  EXPECT_EQ(insurer->format, PayloadFormat::kFhirClaim);
  EXPECT_EQ(insurer->url, "https://insurer.example.test/fhir/Claim");
  EXPECT_EQ(insurer->tls.ca_files, (std::vector<fs::path>{dir.path() / "insurer-ca.pem"}));
  const DestinationConfig* files = c.findDestination("claims-837p");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->format, PayloadFormat::kX12_837P);
  EXPECT_EQ(files->directory, dir.path() / "claims");
  const DestinationConfig* registry = c.findDestination("oncology-registry");
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->kind, DestinationKind::kMllp);
  EXPECT_EQ(registry->host, "registry.example.test");
  EXPECT_EQ(registry->port, 6661);
  EXPECT_TRUE(registry->tls.enabled);
  EXPECT_EQ(registry->tls.ca_files, (std::vector<fs::path>{dir.path() / "registry-ca.pem"}));
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].match.coded, CoderOutcome::kAllBillable);
  EXPECT_EQ(c.routes[0].match.has_charges, true);
  EXPECT_EQ(c.routes[0].destinations, (std::vector<std::string>{"insurer", "claims-837p"}));
  ASSERT_EQ(c.routes[1].match.codes.size(), 1u);
  EXPECT_EQ(c.routes[1].match.codes[0].from, "C00");
  EXPECT_EQ(c.routes[1].match.codes[0].to, "D49");

  // With file checks on, the CA files named by the variables are checked too: they exist.
  dir.touch("certs/server.crt");
  dir.touch("certs/server.key");
  dir.touch("certs/ca.crt");
  dir.touch("dev-token");
  dir.touch("insurer-token");
  auto strict = loadConfig(fs::path(COURIER_SOURCE_DIR) / "deploy/examples/insurer-claims.yaml", env,
                           LoadOptions{std::nullopt, true});
  EXPECT_TRUE(strict.has_value()) << all(strict.error());
}

// The commented-out destinations and routes in deploy/courier.yaml stay valid: uncommented,
// they load.
TEST(RoutingConfigTest, TheDeployedDefaultsCommentedExampleLoads) {
  std::ifstream in(fs::path(COURIER_SOURCE_DIR) / "deploy/courier.yaml");
  std::string text, line;
  bool example = false;
  while (std::getline(in, line)) {
    if (line.rfind("# destinations:", 0) == 0) example = true;
    // In the example, YAML lines are "# " followed by the key or an indented line; prose
    // lines ("# Which messages ...") are left as comments.
    if (example && line.rfind("#   ", 0) == 0) line = line.substr(2);
    if (example && (line == "# destinations:" || line == "# routes:")) line = line.substr(2);
    text += line + "\n";
  }
  ASSERT_TRUE(example) << "deploy/courier.yaml has no commented-out destinations example";
  auto loaded = parseConfig(text, "courier.yaml",
                            envOf({{"REGISTRY_HOST", "registry.test"}, {"REGISTRY_PORT", "2576"},
                                   {"REGISTRY_CA", "ca.pem"}}),
                            LoadOptions{std::nullopt, false});
  ASSERT_TRUE(loaded.has_value()) << all(loaded.error()) << text;
  EXPECT_EQ(loaded->destinations.size(), 2u);
  EXPECT_EQ(loaded->routes.size(), 2u);
  EXPECT_EQ(loaded->pipeline.batch, 512u);
}

}  // namespace
}  // namespace courier::config
