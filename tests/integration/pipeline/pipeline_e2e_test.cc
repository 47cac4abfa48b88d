// The whole pipeline end to end, with a real `courier serve` process: a hospital sends
// synthetic DFT^P03 over MLLP/TLS; Courier stores, codes and routes them to a fake insurer
// (FHIR Claims over HTTPS, refusing with 503 + Retry-After for the first part of the run),
// to 837P files, and the oncology cases to a fake registry (MLLP/TLS).
//
// Every claim is recognised by a marker the test puts in IN1-8 (group number "QX<n>"),
// which both the FHIR Claim (Coverage.class) and the 837P (SBR03) carry, so the test knows
// which sent message a delivery belongs to without reading Courier's store.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <rapidjson/document.h>

#include "adapters/mllp/ack_mapping.h"
#include "adapters/mllp/client.h"
#include "engine/claims/x12_check.h"
#include "tests/integration/pipeline/fake_receivers.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPatients = 6;
constexpr int kPerPatient = 10;
constexpr int kMessages = kPatients * kPerPatient;  // markers 0..59
constexpr int kReviewMarker = 99;                   // the message with an uncodable diagnosis

// Patients 0 and 1 have breast cancer (C50.911: the registry's), the others I10/E11.9.
bool oncology(int patient) { return patient < 2; }
int patientOf(int marker) { return marker == kReviewMarker ? kPatients : marker % kPatients; }
std::string controlIdOf(int marker) { return idOf("CTL", marker); }

std::string markerText(int marker) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "QX%05d", marker);
  return buf;
}

// The marker in a claim (FHIR or 837P), or -1.
int markerIn(std::string_view body) {
  const auto at = body.find("QX");
  if (at == std::string_view::npos || at + 7 > body.size()) return -1;
  int n = 0;
  for (char c : body.substr(at + 2, 5)) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// A DFT^P03 of February 2026 (ICD-10-CM FY2026, HCPCS October 2025): HCPCS Level II
// charges only (CPT would go to review), one or two diagnoses.
std::string makeDft(int marker, std::string_view diagnosis_override = {}) {
  if (marker == kReviewMarker && diagnosis_override.empty()) diagnosis_override = "NOTACODE^^I10";
  const int p = patientOf(marker);
  const std::string mrn = idOf("MRN7000", p);
  const std::string day = "202602" + std::string(marker % 20 < 10 ? "0" : "") + std::to_string(marker % 20 + 1);
  std::string m = "MSH|^~\\&|BILLING|SYNTHCLINIC|COURIER|HUB|" + day + "093000-0500||DFT^P03^DFT_P03|" +
                  controlIdOf(marker) + "|P|2.5.1\r";
  m += "EVN|P03|" + day + "093000-0500\r";
  m += "PID|1||" + mrn + "^^^SYNTHCLINIC^MR||SAMPLE^PAT" + std::to_string(p) + "||19700101|" +
       (oncology(p) ? "F" : "M") + "|||100 TEST ST^^SPRINGFIELD^IL^62701^USA^H\r";
  m += "PV1|1|O|CLINIC4||||5678^PHYSICIAN^PAT||||||||||||" + idOf("V", 800000 + marker) + "\r";
  if (!diagnosis_override.empty()) {
    m += "DG1|1||" + std::string(diagnosis_override) + "||" + day + "|F\r";
  } else if (oncology(p)) {
    m += "DG1|1||C50.911^Malignant neoplasm of unspecified site of right female breast^I10||" + day + "|F\r";
  } else {
    m += "DG1|1||I10^Essential (primary) hypertension^I10||" + day + "|F\r";
    m += "DG1|2||E11.9^Type 2 diabetes mellitus without complications^I10||" + day + "|F\r";
  }
  m += "FT1|1|||" + day + "|" + day +
       "|CG|CDM7001^Dexamethasone inj^CDM|||4|8.00||||||||||||||J1100^Dexamethasone sodium phosphate^HCPCS\r";
  m += "FT1|2|||" + day + "|" + day +
       "|CG|CDM7002^Ondansetron inj^CDM|||2||3.50|||||||||||||J2405^Ondansetron hcl injection^HCPCS\r";
  if (marker % 3 == 0) {
    m += "FT1|3|||" + day + "|" + day +
         "|CG|CDM7003^Flu vaccine admin^CDM|||1|25.00||||||||||||||G0008^Admin influenza virus vac^HCPCS\r";
  }
  m += "IN1|1|PLAN01^Synthetic Health PPO|SYNPAYER01|Synthetic Health Plan||||" + markerText(marker) +
       "||||||||SAMPLE^PAT" + std::to_string(p) + "|SEL|||||||||||||||||||" + idOf("MEMB", 5000 + p) + "\r";
  return m;
}

// The serve config: one MLLP/TLS listener and the three destinations of
// deploy/examples/insurer-claims.yaml, pointed at the fakes, with short retries.
fs::path writeConfig(const fs::path& dir, std::uint16_t insurer_port, std::uint16_t registry_port,
                     const fs::path& claims_dir) {
  const fs::path file = dir / "courier.yaml";
  const std::string ca = (certDir() / "ca.crt").string();
  std::ofstream out(file);
  out << "data_dir: ./var\n"
         "io_threads: 2\n"
         "store: {kind: sqlite, path: courier.db}\n"
         "listeners:\n"
         "  - name: mllp-hospital\n"
         "    address: 127.0.0.1\n"
         "    port: 0\n"
         "    tls:\n"
         "      enabled: true\n"
      << "      cert_file: " << (certDir() / "server.crt").string() << "\n"
      << "      key_file: " << (certDir() / "server.key").string() << "\n"
      << "      ca_file: " << ca << "\n"
      << "      client_certs: optional\n"
         "pipeline: {enabled: true, workers: 2, batch: 64}\n"
         "destinations:\n"
         "  - name: insurer\n"
         "    kind: https\n"
         "    format: fhir-claim\n"
      << "    url: https://127.0.0.1:" << insurer_port << "/fhir/Claim\n"
      << "    tls: {ca_files: [\"" << ca << "\"]}\n"
      << "    connect_timeout: 2s\n"
         "    response_timeout: 5s\n"
         "    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n"
         "    claim: &parties\n"
         "      submitter_id: TESTHOSP\n"
         "      submitter_name: Test Hospital\n"
         "      submitter_contact: Billing\n"
         "      submitter_phone: \"5555550100\"\n"
         "      receiver_id: TESTPAYER\n"
         "      receiver_name: Test Plan\n"
         "      billing_npi: \"1234567893\"\n"
         "      billing_name: Test Hospital\n"
         "      billing_tax_id: 12-3456789\n"
         "      billing_address: 1 Test Street\n"
         "      billing_city: Springfield\n"
         "      billing_state: IL\n"
         "      billing_zip: \"627010001\"\n"
         "      payer_id: TESTPAYER\n"
         "      payer_name: Test Plan\n"
         "      usage: T\n"
         "  - name: claims-837p\n"
         "    kind: file\n"
         "    format: x12-837p\n"
      << "    directory: " << claims_dir.string() << "\n"
      << "    one_file_per_message: true\n"
         "    claim: *parties\n"
         "  - name: registry\n"
         "    kind: mllp\n"
         "    format: hl7v2\n"
         "    host: 127.0.0.1\n"
      << "    port: " << registry_port << "\n"
      << "    tls: {ca_files: [\"" << ca << "\"]}\n"
      << "    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n"
         "routes:\n"
         // No `coded: billable` here (the example config has it): a message that needs
         // review would then match no route and never reach the worklist (see the report
         // of issue 6); the claim destinations hold such a message by themselves.
         "  - name: coded-charges\n"
         "    match: {message_types: [DFT^P03], has_charges: true}\n"
         "    destinations: [insurer, claims-837p]\n"
         "  - name: oncology-cases\n"
         "    match:\n"
         "      codes: [{icd10cm: C00-D49}]\n"
         "    destinations: [registry]\n";
  return file;
}

// stdout of `courier <args> --data-dir <data_dir>`; the exit status in *status.
std::string runCli(const std::string& args, const fs::path& data_dir, int* status = nullptr) {
  const std::string cmd = std::string(COURIER_EXE) + " " + args + " --data-dir '" + data_dir.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = ::pclose(p);
  if (status != nullptr) *status = st;
  return out;
}

std::vector<rapidjson::Document> jsonLines(const std::string& text) {
  std::vector<rapidjson::Document> docs;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (!d.HasParseError() && d.IsObject()) docs.push_back(std::move(d));
  }
  return docs;
}

// The hospital: one connection per patient, that patient's messages in order, each
// waiting for its ACK. Records which markers were acknowledged (AA/CA).
class Hospital {
 public:
  void sendAll(std::uint16_t port, const std::vector<std::vector<int>>& per_connection) {
    std::vector<std::thread> threads;
    for (const auto& markers : per_connection) {
      threads.emplace_back([this, port, markers] { sendOn(port, markers); });
    }
    for (auto& t : threads) t.join();
  }
  // Starts the connections and returns; join() waits for them.
  void start(std::uint16_t port, std::vector<std::vector<int>> per_connection) {
    for (auto& markers : per_connection) {
      threads_.emplace_back([this, port, markers = std::move(markers)] { sendOn(port, markers); });
    }
  }
  void join() {
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // Connections that reached a gate wait until open() (they send nothing more before).
  void openGate() {
    std::lock_guard<std::mutex> g(mu_);
    gate_open_ = true;
  }
  std::set<int> acked() const {
    std::lock_guard<std::mutex> g(mu_);
    return acked_;
  }
  std::vector<std::string> problems() const {
    std::lock_guard<std::mutex> g(mu_);
    return problems_;
  }

  static constexpr int kGate = -1;  // in a marker list: wait for openGate() here

 private:
  void sendOn(std::uint16_t port, const std::vector<int>& markers) {
    auto client = mllp::Client::connect("127.0.0.1", port, tlsClient());
    if (!client) {
      note("connect: " + client.error().toString());
      return;
    }
    for (int marker : markers) {
      if (marker == kGate) {
        waitUntil([&] {
          std::lock_guard<std::mutex> g(mu_);
          return gate_open_;
        }, 30s);
        continue;
      }
      if (auto s = (*client)->send(makeDft(marker)); !s) {
        note("send: " + s.error().toString());
        return;
      }
      auto ack = (*client)->receive(10s);
      if (!ack) {
        note("receive: " + ack.error().toString());
        return;
      }
      const Ack a = parseAck(*ack);
      if ((a.code != "AA" && a.code != "CA") || a.control_id != controlIdOf(marker)) {
        note("ack " + a.code + " for " + a.control_id + " " + a.err_text);
        return;
      }
      std::lock_guard<std::mutex> g(mu_);
      acked_.insert(marker);
    }
  }
  void note(std::string s) {
    std::lock_guard<std::mutex> g(mu_);
    problems_.push_back(std::move(s));
  }

  mutable std::mutex mu_;
  std::set<int> acked_;
  std::vector<std::string> problems_;
  bool gate_open_ = false;
  std::vector<std::thread> threads_;
};

// What the receivers got, checked against what was sent.
struct Delivered {
  std::map<std::string, std::set<std::string>> bodies_by_key;  // insurer: every body per key
  std::map<int, std::set<std::string>> keys_by_marker;         // insurer
  std::vector<int> accepted_order;                             // markers, by first 201
  std::map<int, std::vector<fs::path>> files_by_marker;        // 837P
  std::vector<std::string> file_errors;
  std::map<std::string, std::set<std::string>> registry_by_id;  // control id -> payloads
};

Delivered collect(const FakeInsurer& insurer, const FakeRegistry& registry, const fs::path& claims_dir) {
  Delivered d;
  std::set<std::string> accepted;
  for (const auto& r : insurer.seen()) {
    d.bodies_by_key[r.idempotency_key].insert(r.body);
    const int marker = markerIn(r.body);
    d.keys_by_marker[marker].insert(r.idempotency_key);
    if (r.status == 201 && accepted.insert(r.idempotency_key).second) d.accepted_order.push_back(marker);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(claims_dir, ec)) {
    if (e.path().extension() != ".x12") continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    auto checked = claims::checkX12Interchange(text);
    if (!checked) {
      d.file_errors.push_back(e.path().filename().string() + ": " + checked.error().toString());
    } else if (checked->transactions.size() != 1 || checked->transactions[0].claims.size() != 1) {
      d.file_errors.push_back(e.path().filename().string() + ": not one claim");
    }
    d.files_by_marker[markerIn(text)].push_back(e.path());
  }
  for (const auto& m : registry.messages()) d.registry_by_id[mllp::controlIdOf(m)].insert(m);
  return d;
}

// Each patient's claims reached the insurer in the order they were sent.
void expectOrderPerPatient(const std::vector<int>& accepted_order) {
  std::map<int, int> last;  // patient -> last marker
  for (int marker : accepted_order) {
    const int p = patientOf(marker);
    auto it = last.find(p);
    if (it != last.end()) {
      EXPECT_LT(it->second, marker) << "patient " << p << ": claim out of order";
    }
    last[p] = marker;
  }
}

// Same key, same bytes; one message, one key (nothing enqueued twice).
void expectNoConflictingDuplicates(const Delivered& d) {
  for (const auto& [key, bodies] : d.bodies_by_key) EXPECT_EQ(bodies.size(), 1u) << key << " sent with different bodies";
  for (const auto& [marker, keys] : d.keys_by_marker) {
    EXPECT_GE(marker, 0) << "a claim without its marker";
    EXPECT_EQ(keys.size(), 1u) << "marker " << marker << " under " << keys.size() << " idempotency keys";
  }
  for (const auto& [id, payloads] : d.registry_by_id) EXPECT_EQ(payloads.size(), 1u) << id;
}

// The patient's markers in order, for one connection each.
std::vector<std::vector<int>> connectionsFor(int first_half_gate = -1) {
  std::vector<std::vector<int>> conns(kPatients);
  for (int k = 0; k < kPerPatient; ++k) {
    for (int p = 0; p < kPatients; ++p) {
      if (k == first_half_gate) conns[p].push_back(Hospital::kGate);
      conns[p].push_back(p + kPatients * k);
    }
  }
  return conns;
}

std::int64_t statsColumn(const std::string& stats, const std::string& destination, int column) {
  std::istringstream in(stats);
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    std::string name;
    std::int64_t v[3] = {-1, -1, -1};
    if (l >> name >> v[0] >> v[1] >> v[2] && name == destination) return v[column];
  }
  return -1;
}

class PipelineEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir("pipeline-e2e");
    claims_dir_ = dir_ / "claims";
    data_dir_ = dir_ / "var";
    insurer_.setBusy(true);
    config_ = writeConfig(dir_, insurer_.port(), registry_.port(), claims_dir_);
  }

  ServeProcess serve() {
    auto s = startServe(config_, data_dir_, dir_ / "serve.log");
    EXPECT_GT(s.port, 0) << "courier serve did not come up; see " << (dir_ / "serve.log").string();
    return s;
  }

  fs::path dir_, claims_dir_, data_dir_, config_;
  FakeInsurer insurer_{certDir()};
  FakeRegistry registry_{certDir()};
};

TEST_F(PipelineEndToEnd, EveryClaimArrivesOnceInOrderAndTheReviewedOneAfterItsReview) {
  auto s = serve();
  ASSERT_GT(s.port, 0);

  Hospital hospital;
  auto conns = connectionsFor();
  conns.push_back({kReviewMarker});
  hospital.sendAll(s.port, conns);
  ASSERT_TRUE(hospital.problems().empty()) << hospital.problems().front();
  ASSERT_EQ(hospital.acked().size(), static_cast<std::size_t>(kMessages + 1));

  // The insurer refuses for the first part of the run: until a claim was refused.
  ASSERT_TRUE(waitUntil([&] { return insurer_.refused() >= 2; }, 20s)) << "no claim reached the insurer";
  insurer_.setBusy(false);

  const auto oncology_count = static_cast<std::size_t>(2 * kPerPatient);
  Delivered d;
  const bool all = waitUntil(
      [&] {
        d = collect(insurer_, registry_, claims_dir_);
        return d.accepted_order.size() >= kMessages && d.files_by_marker.size() >= kMessages &&
               d.registry_by_id.size() >= oncology_count;
      },
      30s);
  ASSERT_TRUE(all) << "insurer " << d.accepted_order.size() << ", files " << d.files_by_marker.size()
                   << ", registry " << d.registry_by_id.size();

  // Every claim exactly once by key, none lost, in order per patient; the held one not yet.
  EXPECT_EQ(d.accepted_order.size(), static_cast<std::size_t>(kMessages));
  expectNoConflictingDuplicates(d);
  expectOrderPerPatient(d.accepted_order);
  std::set<int> got(d.accepted_order.begin(), d.accepted_order.end());
  for (int m = 0; m < kMessages; ++m) EXPECT_TRUE(got.count(m)) << "claim " << m << " lost";
  EXPECT_FALSE(got.count(kReviewMarker));

  // 837P: one file per claim, each passing the structure check.
  EXPECT_TRUE(d.file_errors.empty()) << d.file_errors.front();
  for (int m = 0; m < kMessages; ++m) EXPECT_EQ(d.files_by_marker[m].size(), 1u) << "837P of " << m;

  // The registry got exactly the oncology messages, as they were sent.
  std::set<std::string> expected_registry;
  for (int m = 0; m < kMessages; ++m) {
    if (oncology(patientOf(m))) expected_registry.insert(controlIdOf(m));
  }
  std::set<std::string> got_registry;
  for (const auto& [id, payloads] : d.registry_by_id) {
    got_registry.insert(id);
    EXPECT_EQ(*payloads.begin(), makeDft(std::stoi(id.substr(3))));
  }
  EXPECT_EQ(got_registry, expected_registry);

  // The uncodable diagnosis waits in the worklist; resolving it sends its claim.
  int status = 0;
  auto open = jsonLines(runCli("worklist list --json", data_dir_, &status));
  ASSERT_EQ(status, 0);
  ASSERT_EQ(open.size(), 1u) << "expected one review item (the uncodable diagnosis)";
  ASSERT_TRUE(open[0].HasMember("id") && open[0]["id"].IsInt64());
  ASSERT_TRUE(open[0].HasMember("kind") && open[0]["kind"].IsString());
  EXPECT_STREQ(open[0]["kind"].GetString(), "diagnosis");
  const std::string id = std::to_string(open[0]["id"].GetInt64());
  runCli("worklist resolve " + id + " --code E11.9 --reviewer t", data_dir_, &status);
  ASSERT_EQ(status, 0);
  ASSERT_TRUE(waitUntil(
      [&] {
        d = collect(insurer_, registry_, claims_dir_);
        return d.accepted_order.size() > kMessages && d.files_by_marker.count(kReviewMarker);
      },
      20s))
      << "the reviewed claim did not arrive";
  EXPECT_EQ(d.accepted_order.back(), kReviewMarker);
  EXPECT_TRUE(d.file_errors.empty()) << d.file_errors.front();
  const auto& reviewed = d.bodies_by_key[*d.keys_by_marker[kReviewMarker].begin()];
  EXPECT_NE(reviewed.begin()->find("\"code\":\"E11.9\""), std::string::npos);
  EXPECT_TRUE(jsonLines(runCli("worklist list --json", data_dir_)).empty());

  // What the operator sees.
  const std::string stats = runCli("outbox stats", data_dir_, &status);
  ASSERT_EQ(status, 0) << stats;
  EXPECT_EQ(statsColumn(stats, "insurer", 0), 0) << stats;
  EXPECT_EQ(statsColumn(stats, "insurer", 1), kMessages + 1) << stats;
  EXPECT_EQ(statsColumn(stats, "insurer", 2), 0) << stats;
  EXPECT_EQ(statsColumn(stats, "claims-837p", 1), kMessages + 1) << stats;
  EXPECT_EQ(statsColumn(stats, "registry", 1), static_cast<std::int64_t>(oncology_count)) << stats;
  std::map<std::string, int> delivered;
  for (const auto& item : jsonLines(runCli("outbox list --json --state delivered --limit 0", data_dir_))) {
    ASSERT_TRUE(item.HasMember("destination") && item["destination"].IsString());
    ASSERT_TRUE(item.HasMember("state") && item["state"].IsString());
    EXPECT_STREQ(item["state"].GetString(), "delivered");
    ++delivered[item["destination"].GetString()];
  }
  EXPECT_EQ(delivered["insurer"], kMessages + 1);
  EXPECT_EQ(delivered["claims-837p"], kMessages + 1);
  EXPECT_EQ(delivered["registry"], static_cast<int>(oncology_count));

  s.child->signal(SIGTERM);
  auto exit = s.child->wait(15s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
}

TEST_F(PipelineEndToEnd, KilledMidRunEveryAcknowledgedClaimStillArrives) {
  auto s = serve();
  ASSERT_GT(s.port, 0);

  // Half of each patient's messages, then (at the gate) the rest while Courier is killed.
  Hospital hospital;
  hospital.start(s.port, connectionsFor(kPerPatient / 2));
  const std::size_t half = kMessages / 2;
  ASSERT_TRUE(waitUntil([&] { return hospital.acked().size() >= half && insurer_.refused() >= 1; }, 30s))
      << "acked " << hospital.acked().size() << ", refused " << insurer_.refused();
  hospital.openGate();
  waitUntil([&] { return hospital.acked().size() > half; }, 5s);
  s.child->signal(SIGKILL);
  ASSERT_TRUE(s.child->wait(10s).has_value());
  hospital.join();
  const std::set<int> acked = hospital.acked();
  ASSERT_GE(acked.size(), half);

  // Same data directory; the hospital does not send again.
  auto again = serve();
  ASSERT_GT(again.port, 0);
  insurer_.setBusy(false);
  Delivered d;
  auto arrived = [&](int m) {
    return d.keys_by_marker.count(m) && d.files_by_marker.count(m) &&
           (!oncology(patientOf(m)) || d.registry_by_id.count(controlIdOf(m)));
  };
  const bool all = waitUntil(
      [&] {
        d = collect(insurer_, registry_, claims_dir_);
        std::set<int> accepted(d.accepted_order.begin(), d.accepted_order.end());
        for (int m : acked) {
          if (!accepted.count(m) || !arrived(m)) return false;
        }
        return true;
      },
      30s);
  EXPECT_TRUE(all);
  for (int m : acked) EXPECT_TRUE(arrived(m)) << "acknowledged message " << m << " lost";
  expectNoConflictingDuplicates(d);
  expectOrderPerPatient(d.accepted_order);
  EXPECT_TRUE(d.file_errors.empty()) << d.file_errors.front();
  for (const auto& [marker, files] : d.files_by_marker) EXPECT_EQ(files.size(), 1u) << "837P of " << marker;

  // Nothing dead, and the outbox says what arrived.
  int status = 0;
  const std::string stats = runCli("outbox stats", data_dir_, &status);
  ASSERT_EQ(status, 0) << stats;
  for (const char* dest : {"insurer", "claims-837p", "registry"}) EXPECT_EQ(statsColumn(stats, dest, 2), 0) << stats;
  EXPECT_GE(statsColumn(stats, "insurer", 1), static_cast<std::int64_t>(acked.size())) << stats;

  again.child->signal(SIGTERM);
  auto exit = again.child->wait(15s);
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0);
}

}  // namespace
// MSH-16 against a real serve: the hospital asks for application acknowledgements and its
// own MLLP/TLS listener (a second fake receiver) gets them once the pipeline processed each
// message: AA for a processed one, AR with the reason for one that cannot be processed,
// nothing where MSH-16 says ER and all went well.
TEST_F(PipelineEndToEnd, ApplicationAcksReachTheSendersListener) {
  FakeRegistry hospital_listener{certDir()};
  std::string text;
  {
    std::ifstream in(config_);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::string pipeline_line = "pipeline: {enabled: true, workers: 2, batch: 64}\n";
  ASSERT_NE(text.find(pipeline_line), std::string::npos);
  text.replace(text.find(pipeline_line), pipeline_line.size(),
               "pipeline:\n"
               "  batch: 64\n"
               "  application_acks:\n"
               "    - {facility: SYNTHCLINIC, application: BILLING, destination: hospital-acks}\n");
  text.insert(text.find("routes:"), "  - name: hospital-acks\n"
                                    "    kind: mllp\n"
                                    "    host: 127.0.0.1\n"
                                    "    port: " + std::to_string(hospital_listener.port()) + "\n"
                                    "    tls: {ca_files: [\"" + (certDir() / "ca.crt").string() + "\"]}\n"
                                    "    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n");
  {
    std::ofstream out(config_, std::ios::trunc);
    out << text;
  }
  auto s = serve();
  ASSERT_GT(s.port, 0);

  const auto enhanced = [](std::string m, const std::string& msh16) {
    const std::string v = "|P|2.5.1\r";
    return m.replace(m.find(v), v.size(), "|P|2.5.1|||AL|" + msh16 + "\r");
  };
  std::string no_patient = enhanced(makeDft(7), "AL");
  no_patient.erase(no_patient.find("PID|"), no_patient.find('\r', no_patient.find("PID|")) + 1 - no_patient.find("PID|"));
  const std::vector<std::string> messages = {enhanced(makeDft(3), "AL"), enhanced(makeDft(4), "ER"), no_patient,
                                             enhanced(makeDft(5), "AL")};
  auto client = mllp::Client::connect("127.0.0.1", s.port, tlsClient());
  ASSERT_TRUE(client.has_value()) << client.error().toString();
  for (const auto& m : messages) {
    ASSERT_TRUE((*client)->send(m).has_value());
    auto ack = (*client)->receive(10s);
    ASSERT_TRUE(ack.has_value()) << ack.error().toString();
    EXPECT_EQ(parseAck(*ack).code, "CA") << "enhanced mode: the commit ack comes first, on the connection";
  }

  // deadline: the pipeline and the deliverer take their time; 3 ACKs are due.
  ASSERT_TRUE(waitUntil([&] { return hospital_listener.received() >= 3; }, 30s))
      << "application acks received: " << hospital_listener.received() << "; see " << (dir_ / "serve.log").string();
  std::map<std::string, Ack> by_id;
  for (const auto& m : hospital_listener.messages()) {
    Ack a = parseAck(m);
    by_id[a.control_id] = a;
  }
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id[controlIdOf(3)].code, "AA");
  EXPECT_EQ(by_id[controlIdOf(5)].code, "AA");
  EXPECT_EQ(by_id[controlIdOf(7)].code, "AR");
  EXPECT_NE(by_id[controlIdOf(7)].err_text.find("PID"), std::string::npos) << by_id[controlIdOf(7)].err_text;
  EXPECT_EQ(by_id.count(controlIdOf(4)), 0u) << "ER: no acknowledgement when all went well";

  // The operator sees the same outcome: `courier messages show` of the refused message.
  auto listed = jsonLines(runCli("messages list --control-id " + controlIdOf(7) + " --json", data_dir_));
  ASSERT_EQ(listed.size(), 1u);
  const std::string shown = runCli("messages show " + std::to_string(listed[0]["id"].GetInt64()), data_dir_);
  EXPECT_NE(shown.find("outcome:             failed"), std::string::npos) << shown;
  EXPECT_NE(shown.find("PID"), std::string::npos) << shown;
}

}  // namespace courier::testing
