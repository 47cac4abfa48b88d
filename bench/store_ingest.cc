// store_ingest: messages/s through MessageStore::submit with grouped, fsynced commits.
//
// P producer threads stand in for MLLP connections: each keeps at most W messages in
// flight (submitted, not yet durable), like a sender with a window, and every message has
// a unique (facility, control id). Prints one JSON object: throughput, commits, messages
// per commit (what one fsync serves) and submit→durable latency percentiles.
//
//   store_ingest [--messages N] [--producers P] [--window W] [--size BYTES]
//                [--max-batch B] [--max-delay-us D] [--dir DIR]
//                [--store sqlite|postgres] [--conninfo LIBPQ-STRING]
//
// --store postgres writes through PostgresStore to the database of --conninfo (it must be
// empty or a Courier store; bench/run_pg_bench.sh starts a throwaway server for it).
//
// cpu_us_per_message is the whole process (producers, writer, callbacks, checkpoints);
// writer_cpu_us_per_message only the store's writer thread ("courier-store"), user + kernel.
//
// Without --dir it uses a fresh temporary directory under $TMPDIR and removes it.
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/log.h"
#include "engine/store/sqlite_store.h"
#ifdef COURIER_HAVE_POSTGRES
#include "engine/store/postgres_store.h"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using courier::store::InboundMessage;
using courier::store::SqliteStore;
using courier::store::SqliteStoreOptions;
using courier::store::StoreReceipt;

struct Options {
  std::size_t messages = 200000;
  std::size_t producers = 16;
  std::size_t window = 64;
  std::size_t size = 400;
  std::size_t max_batch = 1024;
  long max_delay_us = 1000;
  std::string dir;
  std::string store = "sqlite";
  std::string conninfo;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--messages" && (v = next())) o.messages = std::strtoull(v, nullptr, 10);
    else if (a == "--producers" && (v = next())) o.producers = std::strtoull(v, nullptr, 10);
    else if (a == "--window" && (v = next())) o.window = std::strtoull(v, nullptr, 10);
    else if (a == "--size" && (v = next())) o.size = std::strtoull(v, nullptr, 10);
    else if (a == "--max-batch" && (v = next())) o.max_batch = std::strtoull(v, nullptr, 10);
    else if (a == "--max-delay-us" && (v = next())) o.max_delay_us = std::strtol(v, nullptr, 10);
    else if (a == "--dir" && (v = next())) o.dir = v;
    else if (a == "--store" && (v = next())) o.store = v;
    else if (a == "--conninfo" && (v = next())) o.conninfo = v;
    else {
      std::fprintf(stderr, "store_ingest: unknown or incomplete option %s\n", a.c_str());
      return false;
    }
  }
  if (o.store != "sqlite" && o.store != "postgres") {
    std::fprintf(stderr, "store_ingest: --store is sqlite or postgres\n");
    return false;
  }
  if (o.store == "postgres" && o.conninfo.empty()) {
    std::fprintf(stderr, "store_ingest: --store postgres needs --conninfo\n");
    return false;
  }
  return o.producers > 0 && o.window > 0 && o.max_batch > 0;
}

// A plausible ADT^A01 padded to `size` bytes; only the control id varies.
InboundMessage makeMessage(std::size_t n, std::size_t size) {
  InboundMessage m;
  std::string id = "BENCH" + std::to_string(n);
  m.raw = "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|COURIER|HUB|20240501120000||ADT^A01^ADT_A01|" + id +
          "|P|2.5.1\rEVN|A01|20240501120000\rPID|1||PATID" + std::to_string(n % 5000) +
          "^^^GHH^MR||EVERYMAN^ADAM^A||19610615|M\rPV1|1|I|2000^2012^01\r";
  if (m.raw.size() < size) m.raw.append(size - m.raw.size(), 'Z');
  m.listener = "bench";
  m.peer_identity = "bench-client";
  m.received_at = std::chrono::system_clock::now();
  m.message_type = "ADT";
  m.trigger = "A01";
  m.control_id = std::move(id);
  m.sending_application = "ADT1";
  m.sending_facility = "GOOD HEALTH HOSPITAL";
  m.patient_id = "PATID" + std::to_string(n % 5000);
  return m;
}

// CPU seconds used so far by this process's thread named `name` (the store's writer is
// "courier-store"), from /proc; 0 when not found.
double threadCpuSeconds(const char* name) {
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::FILE* comm = std::fopen((task.path() / "comm").c_str(), "r");
    if (comm == nullptr) continue;
    char buf[64] = {};
    bool match = std::fgets(buf, sizeof buf, comm) != nullptr && std::strncmp(buf, name, std::strlen(name)) == 0 &&
                 (buf[std::strlen(name)] == '\n' || buf[std::strlen(name)] == '\0');
    std::fclose(comm);
    if (!match) continue;
    std::FILE* stat = std::fopen((task.path() / "stat").c_str(), "r");
    if (stat == nullptr) return 0;
    char line[1024] = {};
    bool ok = std::fgets(line, sizeof line, stat) != nullptr;
    std::fclose(stat);
    if (!ok) return 0;
    // Fields after the ")" that closes the name: state is field 3, utime 14, stime 15.
    const char* p = std::strrchr(line, ')');
    if (p == nullptr) return 0;
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  courier::setLogLevel("warn");

  bool temp = o.dir.empty() && o.store == "sqlite";
  if (temp) {
    std::string tmpl = (fs::temp_directory_path() / "courier-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    o.dir = tmpl;
  }
  // The store under test, and its counters in one shape.
  struct Counters {
    unsigned long long commits = 0, messages_stored = 0, largest_batch = 0;
  };
  std::unique_ptr<courier::store::MessageStore> owned;
  std::function<Counters()> counters;
  std::string error;
  if (o.store == "sqlite") {
    fs::create_directories(o.dir);
    SqliteStoreOptions so;
    so.path = fs::path(o.dir) / "courier.db";
    so.max_batch = o.max_batch;
    so.max_delay = std::chrono::microseconds(o.max_delay_us);
    so.max_pending = std::max<std::size_t>(so.max_pending, o.producers * o.window);
    auto opened = SqliteStore::open(so);
    if (opened) {
      SqliteStore* s = opened->get();
      counters = [s] {
        auto st = s->stats();
        return Counters{st.commits, st.messages_stored, st.largest_batch};
      };
      owned = std::move(*opened);
    } else {
      error = opened.error().toString();
    }
  } else {
#ifdef COURIER_HAVE_POSTGRES
    courier::store::PostgresStoreOptions po;
    po.conninfo = o.conninfo;
    po.max_batch = o.max_batch;
    po.max_delay = std::chrono::microseconds(o.max_delay_us);
    po.max_pending = std::max<std::size_t>(po.max_pending, o.producers * o.window);
    auto opened = courier::store::PostgresStore::open(po);
    if (opened) {
      courier::store::PostgresStore* s = opened->get();
      counters = [s] {
        auto st = s->stats();
        return Counters{st.commits, st.messages_stored, st.largest_batch};
      };
      owned = std::move(*opened);
    } else {
      error = opened.error().toString();
    }
#else
    error = "built without libpq: no PostgreSQL store";
#endif
  }
  if (owned == nullptr) {
    std::fprintf(stderr, "store_ingest: %s\n", error.c_str());
    return 1;
  }
  courier::store::MessageStore& store = *owned;

  // Pre-build the messages so the clock measures the store, not string building.
  std::vector<InboundMessage> prepared;
  prepared.reserve(o.messages);
  for (std::size_t i = 0; i < o.messages; ++i) prepared.push_back(makeMessage(i, o.size));

  std::vector<std::uint32_t> latency_us(o.messages);
  std::atomic<std::size_t> failed{0}, duplicates{0};
  rusage ru0{};
  ::getrusage(RUSAGE_SELF, &ru0);
  const double cpu_before =
      ru0.ru_utime.tv_sec + ru0.ru_utime.tv_usec / 1e6 + ru0.ru_stime.tv_sec + ru0.ru_stime.tv_usec / 1e6;
  const double writer_cpu_before = threadCpuSeconds("courier-store");
  const double indexer_cpu_before = threadCpuSeconds("courier-pidx");
  auto start = Clock::now();
  std::vector<std::thread> producers;
  for (std::size_t p = 0; p < o.producers; ++p) {
    producers.emplace_back([&, p] {
      std::mutex mu;
      std::condition_variable cv;
      std::size_t in_flight = 0;
      for (std::size_t i = p; i < o.messages; i += o.producers) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return in_flight < o.window; });
          ++in_flight;
        }
        auto submitted = Clock::now();
        store.submit(std::move(prepared[i]), [&, i, submitted](courier::Result<StoreReceipt> r) {
          auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - submitted).count();
          latency_us[i] = static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX));
          if (!r) ++failed;
          else if (r->duplicate) ++duplicates;
          std::lock_guard lock(mu);
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  for (auto& t : producers) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // CPU time of the whole process (producers + writer): on a shared machine this says
  // more about the store's cost than wall time does.
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6 -
               cpu_before;
  const double writer_cpu = threadCpuSeconds("courier-store") - writer_cpu_before;
  // The background patient indexer (low priority, off the ACK path); its catch-up at
  // close() is not in this figure.
  const double indexer_cpu = threadCpuSeconds("courier-pidx") - indexer_cpu_before;
  const Counters stats = counters();
  store.close();

  std::sort(latency_us.begin(), latency_us.end());
  auto pct = [&](double q) -> double {
    if (latency_us.empty()) return 0;
    return latency_us[std::min(latency_us.size() - 1, static_cast<std::size_t>(q * latency_us.size()))] / 1000.0;
  };
  std::printf(
      "{\"store\":\"%s\",\"messages\":%zu,\"producers\":%zu,\"window\":%zu,\"size_bytes\":%zu,\"max_batch\":%zu,"
      "\"max_delay_us\":%ld,\"seconds\":%.3f,\"messages_per_s\":%.0f,\"cpu_seconds\":%.3f,\"cpu_us_per_message\":%.2f,"
      "\"writer_cpu_seconds\":%.3f,\"writer_cpu_us_per_message\":%.2f,\"indexer_cpu_seconds\":%.3f,\"commits\":%llu,"
      "\"messages_per_commit\":%.1f,\"commits_per_message\":%.4f,\"largest_batch\":%llu,"
      "\"failed\":%zu,\"duplicates\":%zu,\"latency_ms\":{\"p50\":%.2f,\"p95\":%.2f,\"p99\":%.2f,\"max\":%.2f}}\n",
      o.store.c_str(), o.messages, o.producers, o.window, o.size, o.max_batch, o.max_delay_us, seconds, o.messages / seconds, cpu,
      o.messages ? cpu * 1e6 / o.messages : 0.0, writer_cpu, o.messages ? writer_cpu * 1e6 / o.messages : 0.0, indexer_cpu,
      stats.commits,
      stats.commits ? static_cast<double>(stats.messages_stored) / stats.commits : 0.0,
      o.messages ? static_cast<double>(stats.commits) / o.messages : 0.0,
      stats.largest_batch, failed.load(), duplicates.load(), pct(0.50), pct(0.95),
      pct(0.99), latency_us.empty() ? 0.0 : latency_us.back() / 1000.0);
  if (temp) {
    std::error_code ec;
    fs::remove_all(o.dir, ec);
  }
  return failed.load() == 0 ? 0 : 1;
}
