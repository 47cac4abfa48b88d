// pipeline: end-to-end throughput of `courier serve`, MLLP/TLS in -> store -> record ->
// code -> route -> two destinations (an HTTPS insurer taking FHIR Claims and an MLLP/TLS
// registry taking the HL7 v2 message), both fakes in this process on 127.0.0.1 that answer
// at once. Durable at both ends: the store and the outboxes are SQLite with fsync.
//
// It makes certificates into --work-dir, writes a config, starts `courier serve`, sends
// --messages synthetic DFT^P03 over --connections TLS connections with --window
// messages in flight each, and times (a) until every message was acknowledged (ingest)
// and (b) until both receivers had every message (end to end). The serve process's RSS
// is sampled all along; the CPU time per message of the serve process and of this one
// (serve_cpu_us_per_msg, bench_cpu_us_per_msg) is taken over the timed part.
//
// --backlog N: the insurer refuses everything (503, so its queue never moves) while N
// messages are sent; waits until the pipeline has routed all N (the registry keeps
// delivering, so it has them all), samples --hold seconds more with the N claims waiting,
// and reports the serve process's RSS every second (routed_s: when all were routed).
//
// Prints one JSON object.
//
//   pipeline --messages 100000 --connections 8 --window 64
//   pipeline --backlog 200000
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "adapters/mllp/client.h"
#include "adapters/mllp/framer.h"
#include "tests/integration/pipeline/fake_receivers.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  long long messages = 100000;
  long long backlog = 0;
  int hold = 30;  // backlog mode: seconds sampled after everything was routed
  int connections = 8;
  int window = 64;
  int workers = 0;
  int batch = 512;
  std::string work_dir = "/tmp/courier-bench-pipeline";
  std::string courier = COURIER_EXE;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// VmRSS of a process in MiB (0 when it is gone).
double rssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// CPU time (user + system, all threads) a process has used, in seconds (0 when it is gone).
double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A DFT^P03 of February 2026 for one of 1000 patients, two HCPCS charges, billable.
std::string message(long long n) {
  const long long p = n % 1000;
  const bool cancer = n % 4 == 0;
  const std::string id = "B" + std::to_string(n);
  std::string m = "MSH|^~\\&|BILLING|SYNTHCLINIC|COURIER|HUB|20260210093000-0500||DFT^P03^DFT_P03|" + id + "|P|2.5.1\r";
  m += "EVN|P03|20260210093000-0500\r";
  m += "PID|1||MRN" + std::to_string(100000 + p) + "^^^SYNTHCLINIC^MR||SAMPLE^PAT||19700101|" + (cancer ? "F" : "M") +
       "|||100 TEST ST^^SPRINGFIELD^IL^62701^USA^H\r";
  m += "PV1|1|O|CLINIC4||||5678^PHYSICIAN^PAT||||||||||||V" + std::to_string(n) + "\r";
  m += cancer ? "DG1|1||C50.911^Malignant neoplasm of right female breast^I10||20260210|F\r"
              : "DG1|1||I10^Essential (primary) hypertension^I10||20260210|F\r"
                "DG1|2||E11.9^Type 2 diabetes mellitus without complications^I10||20260210|F\r";
  m += "FT1|1|||20260210|20260210|CG|CDM7001^Dexamethasone inj^CDM|||4|8.00||||||||||||||J1100^Dexamethasone^HCPCS\r";
  m += "FT1|2|||20260210|20260210|CG|CDM7002^Ondansetron inj^CDM|||2||3.50|||||||||||||J2405^Ondansetron^HCPCS\r";
  m += "IN1|1|PLAN01^Synthetic Health PPO|SYNPAYER01|Synthetic Health Plan||||GRP5000||||||||SAMPLE^PAT|SEL||||||"
       "|||||||||||||MEMB" + std::to_string(p) + "\r";
  return m;
}

void writeConfig(const fs::path& file, const fs::path& certs, const Options& o, std::uint16_t insurer,
                 std::uint16_t registry) {
  std::ofstream out(file);
  const std::string ca = (certs / "ca.crt").string();
  out << "data_dir: ./var\nlog_level: warn\nstore: {kind: sqlite, path: courier.db}\n"
      << "listeners:\n  - name: mllp-in\n    address: 127.0.0.1\n    port: 0\n    tls:\n      enabled: true\n"
      << "      cert_file: " << (certs / "server.crt").string() << "\n      key_file: " << (certs / "server.key").string()
      << "\n      ca_file: " << ca << "\n      client_certs: optional\n"
      << "pipeline: {enabled: true, workers: " << o.workers << ", batch: " << o.batch << "}\n"
      << "destinations:\n"
      << "  - name: insurer\n    kind: https\n    format: fhir-claim\n    url: https://127.0.0.1:" << insurer
      << "/fhir/Claim\n    tls: {ca_files: [\"" << ca << "\"]}\n"
      << "    retry: {initial_backoff: 100ms, max_backoff: 1s}\n"
      << "    claim: {submitter_id: BENCHHOSP, submitter_name: Bench Hospital, submitter_contact: Billing,\n"
      << "            submitter_phone: \"5555550100\", receiver_id: BENCHPAYER, receiver_name: Bench Plan,\n"
      << "            billing_npi: \"1234567893\", billing_name: Bench Hospital, billing_tax_id: 12-3456789,\n"
      << "            billing_address: 1 Bench Street, billing_city: Springfield, billing_state: IL,\n"
      << "            billing_zip: \"627010001\", payer_id: BENCHPAYER, payer_name: Bench Plan, usage: T}\n"
      << "  - name: registry\n    kind: mllp\n    format: hl7v2\n    host: 127.0.0.1\n    port: " << registry
      << "\n    tls: {ca_files: [\"" << ca << "\"]}\n    retry: {initial_backoff: 100ms, max_backoff: 1s}\n"
      << "routes:\n  - name: all\n    destinations: [insurer, registry]\n";
}

pid_t spawnServe(const Options& o, const fs::path& config, const fs::path& data_dir, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<std::string> args{o.courier, "serve", "--config", config.string(), "--data-dir", data_dir.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::uint16_t waitForPort(const fs::path& ports, pid_t pid) {
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    std::ifstream in(ports);
    std::string name;
    int port = 0;
    if (in >> name >> port && port > 0) return static_cast<std::uint16_t>(port);
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return 0;
    std::this_thread::sleep_for(20ms);
  }
  return 0;
}

// Sends messages [first, first + count) over `connections` connections, `window` in
// flight on each; returns how many were acknowledged AA/CA.
long long drive(std::uint16_t port, const fs::path& ca, long long first, long long count, int connections,
                int window) {
  std::atomic<long long> next{first}, acked{0};
  const long long end = first + count;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      courier::mllp::ClientOptions co;
      co.tls = true;
      co.tls_options.ca_file = ca;
      auto client = courier::mllp::Client::connect("127.0.0.1", port, co);
      if (!client) {
        std::fprintf(stderr, "connect: %s\n", client.error().toString().c_str());
        return;
      }
      // The window is refilled once half of it was answered, its frames written at once
      // (one TLS record and one send for up to window/2 messages instead of one each):
      // the driver shares the two cores with the server it measures.
      int in_flight = 0;
      std::string burst;
      for (;;) {
        if (in_flight <= window / 2) {
          burst.clear();
          while (in_flight < window) {
            const long long n = next++;
            if (n >= end) break;
            courier::mllp::Framer::appendFrame(message(n), burst);
            ++in_flight;
          }
          if (!burst.empty() && !(*client)->sendRaw(burst)) return;
        }
        if (in_flight == 0) return;
        auto ack = (*client)->receive(60s);
        if (!ack) {
          std::fprintf(stderr, "receive: %s\n", ack.error().toString().c_str());
          return;
        }
        --in_flight;
        if (ack->find("MSA|AA|") != std::string::npos || ack->find("MSA|CA|") != std::string::npos) ++acked;
      }
    });
  }
  for (auto& t : threads) t.join();
  return acked;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"End-to-end pipeline load: MLLP/TLS in, HTTPS and MLLP/TLS out."};
  app.add_option("--messages", o.messages, "messages for the throughput run");
  app.add_option("--backlog", o.backlog, "instead: this many messages with the insurer down; report RSS");
  app.add_option("--hold", o.hold, "backlog mode: seconds to keep sampling RSS once every message was routed");
  app.add_option("--connections", o.connections);
  app.add_option("--window", o.window, "messages in flight per connection");
  app.add_option("--workers", o.workers, "pipeline.workers (0: one per core)");
  app.add_option("--batch", o.batch, "pipeline.batch");
  app.add_option("--work-dir", o.work_dir, "certificates, config and data directory (emptied first)");
  app.add_option("--courier", o.courier, "the courier executable");
  CLI11_PARSE(app, argc, argv);

  const fs::path work = o.work_dir;
  fs::remove_all(work);
  fs::create_directories(work);
  const fs::path certs = work / "certs";
  const std::string make_certs =
      "bash " COURIER_SOURCE_DIR "/certs/make_dev_certs.sh '" + certs.string() + "' > /dev/null 2>&1";
  if (std::system(make_certs.c_str()) != 0) {
    std::fprintf(stderr, "could not make certificates\n");
    return 1;
  }
  courier::testing::FakeInsurer insurer(certs, /*record_bodies=*/false);
  courier::testing::FakeRegistry registry(certs, /*record_messages=*/false);
  const bool backlog = o.backlog > 0;
  const long long total = backlog ? o.backlog : o.messages;
  insurer.setBusy(backlog);

  const fs::path config = work / "courier.yaml";
  writeConfig(config, certs, o, insurer.port(), registry.port());
  const pid_t pid = spawnServe(o, config, work / "var", work / "serve.log");
  const std::uint16_t port = waitForPort(work / "var/courier.ports", pid);
  if (port == 0) {
    std::fprintf(stderr, "courier serve did not start; see %s\n", (work / "serve.log").c_str());
    return 1;
  }
  // The coder loads after the listeners: wait for it (one message through) so that the
  // timing is of the steady state.
  if (drive(port, certs / "ca.crt", -1, 1, 1, 1) != 1) return 1;
  const auto warm_deadline = Clock::now() + 120s;
  while (registry.received() < 1 && Clock::now() < warm_deadline) std::this_thread::sleep_for(10ms);
  const double rss_start = rssMiB(pid);
  // From here on, so that neither the serve's start-up nor the certificates count.
  const double serve_cpu_start = cpuSeconds(pid);
  const double bench_cpu_start = cpuSeconds(getpid());

  std::atomic<bool> sampling{true};
  std::atomic<double> rss_peak{rss_start};
  std::vector<std::pair<double, double>> rss_samples;  // (seconds, MiB), backlog mode
  const auto t0 = Clock::now();
  std::thread sampler([&] {
    while (sampling) {
      const double r = rssMiB(pid);
      if (r > rss_peak) rss_peak = r;
      if (backlog) rss_samples.emplace_back(seconds(Clock::now() - t0), r);
      std::this_thread::sleep_for(backlog ? 1000ms : 100ms);
    }
  });
  const long long acked = drive(port, certs / "ca.crt", 0, total, o.connections, o.window);
  const auto t_acked = Clock::now();
  double e2e = 0;
  if (!backlog) {
    const auto deadline = Clock::now() + 600s;
    while ((insurer.accepted() < static_cast<std::uint64_t>(total) + 1 ||
            registry.received() < static_cast<std::uint64_t>(total) + 1) &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    e2e = seconds(Clock::now() - t0);
  } else {
    // The million must be waiting, not still in the inbox: wait until the pipeline has
    // routed every message (the registry, which keeps delivering, has them all), then
    // keep sampling a while with the insurer's whole queue waiting.
    const auto deadline = Clock::now() + 3600s;
    while (registry.received() < static_cast<std::uint64_t>(total) + 1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    e2e = seconds(Clock::now() - t0);
    std::this_thread::sleep_for(std::chrono::seconds(o.hold));
  }
  const double serve_cpu = cpuSeconds(pid) - serve_cpu_start;
  const double bench_cpu = cpuSeconds(getpid()) - bench_cpu_start;
  sampling = false;
  sampler.join();
  const double rss_end = rssMiB(pid);
  ::kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);

  const double ingest = seconds(t_acked - t0);
  std::printf("{\"mode\":\"%s\",\"messages\":%lld,\"acked\":%lld,\"connections\":%d,\"window\":%d,"
              "\"ingest_s\":%.2f,\"ingest_msgs_per_s\":%.0f,",
              backlog ? "backlog" : "throughput", total, acked, o.connections, o.window, ingest, acked / ingest);
  if (!backlog) {
    std::printf("\"end_to_end_s\":%.2f,\"end_to_end_msgs_per_s\":%.0f,\"insurer_accepted\":%llu,"
                "\"registry_received\":%llu,",
                e2e, total / e2e, static_cast<unsigned long long>(insurer.accepted()),
                static_cast<unsigned long long>(registry.received()));
  } else {
    std::printf("\"routed_s\":%.2f,\"insurer_refused\":%llu,\"registry_received\":%llu,\"rss_samples_mib\":[",
                e2e, static_cast<unsigned long long>(insurer.refused()),
                static_cast<unsigned long long>(registry.received()));
    for (std::size_t i = 0; i < rss_samples.size(); ++i) {
      std::printf("%s[%.0f,%.1f]", i ? "," : "", rss_samples[i].first, rss_samples[i].second);
    }
    std::printf("],");
  }
  // CPU per message until every message was through (backlog: routed), of `courier
  // serve` and of this process (driver, fake insurer and registry): on a shared machine a
  // steadier figure than the rate, which moves with whatever else runs.
  std::printf("\"serve_cpu_us_per_msg\":%.1f,\"bench_cpu_us_per_msg\":%.1f,", serve_cpu * 1e6 / total,
              bench_cpu * 1e6 / total);
  std::printf("\"rss_start_mib\":%.1f,\"rss_peak_mib\":%.1f,\"rss_end_mib\":%.1f}\n", rss_start, rss_peak.load(),
              rss_end);
  return 0;
}
