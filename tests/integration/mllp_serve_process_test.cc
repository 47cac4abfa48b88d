// `courier serve` as a child process: SIGKILL under load loses no acknowledged message,
// SIGTERM drains, restarts find an intact database; and `courier send` against it.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <signal.h>
#include <thread>

#include "adapters/mllp/client.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;

// One sender: unique control ids `<prefix>-<n>`, up to `window` in flight, until `stop`
// or the connection fails. Records every id answered AA; counts other answers.
struct Loader {
  std::string prefix;
  std::vector<std::string> acked;
  int negative = 0;  // answers other than AA
  std::thread thread;
};

void runLoader(Loader& l, std::uint16_t port, const std::atomic<bool>& stop, std::atomic<int>& total_acked,
               int window = 16) {
  auto c = mllp::Client::connect("127.0.0.1", port, tlsClient(true));
  if (!c) return;
  std::deque<std::string> waiting;
  int n = 0;
  while (true) {
    while (!stop && static_cast<int>(waiting.size()) < window) {
      std::string id = idOf(l.prefix + "-", n++);
      if (!(*c)->send(makeMessage(id)).has_value()) return;
      waiting.push_back(std::move(id));
    }
    if (waiting.empty()) return;
    auto answer = (*c)->receive(15s);
    if (!answer) return;  // killed or closed: what is still waiting was never acknowledged
    Ack a = parseAck(*answer);
    if (a.code == "AA" && a.control_id == waiting.front()) {
      l.acked.push_back(waiting.front());
      total_acked++;
    } else {
      l.negative++;
    }
    waiting.pop_front();
  }
}

std::string integrityCheck(const fs::path& db) {
  sqlite3* h = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return result;
}

std::map<std::string, int> storedCounts(const fs::path& db) {
  std::map<std::string, int> counts;
  for (const auto& m : readAll(db)) counts[m.control_id]++;
  return counts;
}

TEST(ServeProcessTest, SigkillUnderLoadLosesNoAcknowledgedMessage) {
  const fs::path dir = makeTempDir("crash");
  const fs::path cfg = writeServeConfig(dir);
  const fs::path data = dir / "var";
  const fs::path db = data / "courier.db";
  std::vector<std::string> all_acked;
  constexpr int kKills = 4;
  for (int round = 0; round < kKills; ++round) {
    ServeProcess serve = startServe(cfg, data, dir / "serve.log");
    ASSERT_NE(serve.port, 0) << "courier serve did not come up; see " << (dir / "serve.log");
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    std::vector<std::unique_ptr<Loader>> loaders;
    for (int t = 0; t < 4; ++t) {
      auto l = std::make_unique<Loader>();
      l->prefix = idOf(idOf("K", round) + "T", t);
      loaders.push_back(std::move(l));
    }
    for (auto& l : loaders) l->thread = std::thread([&, p = l.get()] { runLoader(*p, serve.port, stop, acked); });
    // Kill at a different depth each round, while messages are in flight.
    const int kill_after = 300 + 400 * round;
    EXPECT_TRUE(waitUntil([&] { return acked.load() >= kill_after; }, 60s));
    serve.child->signal(SIGKILL);
    auto status = serve.child->wait(20s);
    stop = true;
    for (auto& l : loaders) l->thread.join();
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFSIGNALED(*status));
    for (auto& l : loaders) {
      EXPECT_EQ(l->negative, 0);
      all_acked.insert(all_acked.end(), l->acked.begin(), l->acked.end());
    }
    // Every acknowledged message (this round and every earlier one) is there exactly once.
    // The store is read after the kill, as the restarted server will see it.
    auto counts = storedCounts(db);
    int missing = 0;
    int doubled = 0;
    for (const auto& id : all_acked) {
      auto it = counts.find(id);
      if (it == counts.end()) missing++;
      else if (it->second != 1) doubled++;
    }
    EXPECT_EQ(missing, 0) << "round " << round;
    EXPECT_EQ(doubled, 0) << "round " << round;
    std::printf("[ crash    ] round %d: killed after %d acks; %zu acked in total, %zu stored, 0 missing\n", round,
                acked.load(), all_acked.size(), counts.size());
  }
  EXPECT_EQ(integrityCheck(db), "ok");
  // After the last kill: it restarts, takes new messages, and re-sent ones are duplicates.
  ServeProcess serve = startServe(cfg, data, dir / "serve.log");
  ASSERT_NE(serve.port, 0);
  auto c = mllp::Client::connect("127.0.0.1", serve.port, tlsClient(true));
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE((*c)->send(makeMessage(all_acked.front())).has_value());
  auto again = (*c)->receive(10s);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(parseAck(*again).code, "AA");
  (*c)->close();
  serve.child->signal(SIGTERM);
  auto status = serve.child->wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_EQ(storedCounts(db)[all_acked.front()], 1);
}

TEST(ServeProcessTest, SigtermDrainsAndLeavesAnIntactDatabase) {
  const fs::path dir = makeTempDir("drain");
  const fs::path cfg = writeServeConfig(dir);
  const fs::path data = dir / "var";
  const fs::path db = data / "courier.db";
  ServeProcess serve = startServe(cfg, data, dir / "serve.log");
  ASSERT_NE(serve.port, 0);
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0};
  std::vector<std::unique_ptr<Loader>> loaders;
  for (int t = 0; t < 4; ++t) {
    auto l = std::make_unique<Loader>();
    l->prefix = idOf("D", t);
    loaders.push_back(std::move(l));
  }
  for (auto& l : loaders) l->thread = std::thread([&, p = l.get()] { runLoader(*p, serve.port, stop, acked, 64); });
  EXPECT_TRUE(waitUntil([&] { return acked.load() >= 1000; }, 60s));
  serve.child->signal(SIGTERM);
  auto status = serve.child->wait(30s);
  stop = true;
  for (auto& l : loaders) l->thread.join();
  ASSERT_TRUE(status.has_value()) << "courier serve did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  auto counts = storedCounts(db);
  for (auto& l : loaders) {
    EXPECT_EQ(l->negative, 0) << "a message was answered with something other than AA during the drain";
    for (const auto& id : l->acked) EXPECT_EQ(counts[id], 1) << id;
  }
  EXPECT_EQ(integrityCheck(db), "ok");
  // Restart on the same data: it comes up and takes messages.
  ServeProcess again = startServe(cfg, data, dir / "serve.log");
  ASSERT_NE(again.port, 0);
  auto c = mllp::Client::connect("127.0.0.1", again.port, tlsClient(false));
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE((*c)->send(makeMessage("AFTERRESTART")).has_value());
  auto ack = (*c)->receive(10s);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(parseAck(*ack).code, "AA");
  again.child->signal(SIGTERM);
  ASSERT_TRUE(again.child->wait(30s).has_value());
}

TEST(ServeProcessTest, FirstRunWithTheDefaultConfigMakesDevelopmentCertificates) {
  const fs::path dir = makeTempDir("firstrun");
  const fs::path data = dir / "var";
  ::setenv("COURIER_MLLP_PORT", "0", 1);
  ::setenv("COURIER_HTTP_PORT", "0", 1);
  ServeProcess serve = startServe(fs::path(COURIER_SOURCE_DIR) / "deploy/courier.yaml", data, dir / "serve.log");
  ::unsetenv("COURIER_MLLP_PORT");
  ::unsetenv("COURIER_HTTP_PORT");
  ASSERT_NE(serve.port, 0) << "see " << (dir / "serve.log");
  for (const char* f : {"ca.crt", "server.crt", "server.key", "client.crt", "client.key"}) {
    EXPECT_TRUE(fs::exists(data / "certs" / f)) << f;
  }
  // The generated CA verifies the server (localhost and 127.0.0.1), and its client
  // certificate is accepted.
  mllp::ClientOptions o;
  o.tls = true;
  o.tls_options.ca_file = data / "certs/ca.crt";
  o.tls_options.cert_file = data / "certs/client.crt";
  o.tls_options.key_file = data / "certs/client.key";
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto c = mllp::Client::connect(host, serve.port, o);
    ASSERT_TRUE(c.has_value()) << host << ": " << c.error().toString();
    ASSERT_TRUE((*c)->send(makeMessage(std::string("FIRSTRUN-") + (host[0] == 'l' ? "L" : "I"))).has_value());
    auto ack = (*c)->receive(10s);
    ASSERT_TRUE(ack.has_value());
    EXPECT_EQ(parseAck(*ack).code, "AA");
  }
  serve.child->signal(SIGTERM);
  auto status = serve.child->wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  auto all = readAll(data / "courier.db");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].peer_identity, "courier-dev-client");
}

// Runs a command, returns (exit code, stdout).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(ServeProcessTest, CourierSendPrintsOneLinePerMessage) {
  const fs::path dir = makeTempDir("send");
  const fs::path cfg = writeServeConfig(dir);
  const fs::path data = dir / "var";
  ServeProcess serve = startServe(cfg, data, dir / "serve.log");
  ASSERT_NE(serve.port, 0);
  const fs::path fixtures = fs::path(COURIER_SOURCE_DIR) / "tests/data/hl7v2";
  const std::string base = std::string(COURIER_EXE) + " send --to 127.0.0.1:" + std::to_string(serve.port) +
                           " --ca " + (certDir() / "ca.crt").string() + " --cert " +
                           (certDir() / "client.crt").string() + " --key " + (certDir() / "client.key").string();
  // A batch file (split into its messages), pipelined.
  auto [rc, out] = run(base + " --window 8 " + (fixtures / "batch_message.hl7").string() + " " +
                       (fixtures / "single_message.hl7").string());
  EXPECT_EQ(rc, 0) << out;
  int lines = 0;
  for (char ch : out) lines += ch == '\n';
  EXPECT_GE(lines, 2) << out;
  EXPECT_EQ(out.find("\tAE\t"), std::string::npos) << out;
  // A message without control id: AE printed, exit code 1.
  const fs::path bad = dir / "bad.hl7";
  {
    std::FILE* f = std::fopen(bad.c_str(), "wb");
    std::string m = makeMessage("");
    std::fwrite(m.data(), 1, m.size(), f);
    std::fclose(f);
  }
  auto [rc2, out2] = run(base + " " + bad.string());
  EXPECT_EQ(rc2, 1) << out2;
  EXPECT_NE(out2.find("\tAE\t101"), std::string::npos) << out2;
  serve.child->signal(SIGTERM);
  ASSERT_TRUE(serve.child->wait(30s).has_value());
}

}  // namespace
}  // namespace courier::testing
