// subscription_delivery: notification throughput of the real delivery path of FHIR
// subscriptions (issue 7: "bounded by the receivers, not by Courier").
//
// What runs is what `courier serve` runs for subscriptions: an SQLite work store (WAL,
// durable commits), a SubscriptionRegistry and SubscriptionService (each subscription
// created through it, so with a real HTTPS handshake), and one pipeline::Deliverer per
// subscription with the HTTPS sink (adapters/http) POSTing to its rest-hook endpoint,
// telling the service of every settled item (deliverySucceeded / deliveryFailed).
//
// The receivers are one HTTPS server on 127.0.0.1 (the development server certificate,
// trusted through the generated CA as subscriptions.ca_files does), a thread per connection
// (TCP_NODELAY), answering 200 after --delay-ms, one request at a time per connection. (The
// HTTPS sink pipelines a batch in windows that never hold two items of one patient; every
// notification here is about the fixture's one patient, so each goes alone.) They run in a
// child process forked before any thread is made, so this process's CPU time (getrusage) is
// Courier's alone.
//
// Also printed: record_calls and record_commits (WorkStore::attemptCommitStats), how the
// deliverers' rounds became commits, each one fdatasync (group commit).
//
// Steps: --subs subscriptions are created; --events notifications per subscription (real
// id-only or full-resource event-notification Bundles for the diagnoses of
// tests/data/record/adt_a01.hl7, numbered by the registry) are enqueued in outbox
// `subscription/<id>`, interleaved as the pipeline would; then the deliverers start and
// the clock runs until every notification is recorded delivered. Reported: notifications/s,
// what the receivers could take at most (subs x 1000 / delay-ms: one request at a time
// per subscription), and Courier's CPU per notification.
//
// --store shared: every deliverer uses one WorkStore connection, as `courier serve` wires
// subscription deliverers; --store own: a connection per deliverer.
// --sink-only: the baseline. No store and no Deliverer: a thread per subscription calls the
// same HTTPS sink with the same Bundles back to back. What the delivery path costs over a
// bare client is the difference between the two runs.
//
// Prints one JSON object.
//
//   bench_subscription_delivery --subs 50 --events 200 --delay-ms 0
//   bench_subscription_delivery --subs 50 --events 40 --delay-ms 5
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/http/https_client.h"
#include "adapters/http/https_sink.h"
#include "engine/core/log.h"
#include "engine/hl7v2/message.h"
#include "engine/pipeline/deliverer.h"
#include "engine/pipeline/subscription_registry.h"
#include "engine/pipeline/subscription_service.h"
#include "engine/record/from_hl7v2.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/work_store.h"
#include "engine/subscriptions/event.h"
#include "engine/subscriptions/notification.h"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace sub = courier::subscriptions;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
using namespace courier;

struct Options {
  int subs = 50;
  int events = 200;
  int delay_ms = 0;
  std::string payload = "id-only";
  std::string store = "shared";
  bool sink_only = false;
  int batch = 64;  // DelivererOptions::batch: items per round (the sink pipelines them)
  std::string work_dir = "/tmp/courier-bench-subscriptions";
};

double cpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// ---- the receivers (child process) -----------------------------------------------------

void serveConnection(tcp::socket socket, asio::ssl::context& ctx, int delay_ms) {
  boost::system::error_code ec;
  // As HTTP servers do: without it, answers to pipelined requests wait for the client's
  // delayed ACK (Nagle), and the receiver, not Courier, is what is measured.
  socket.set_option(tcp::no_delay(true), ec);
  asio::ssl::stream<tcp::socket> stream(std::move(socket), ctx);
  stream.handshake(asio::ssl::stream_base::server, ec);
  boost::beast::flat_buffer buf;
  while (!ec) {
    bhttp::request<bhttp::string_body> req;
    bhttp::read(stream, buf, req, ec);
    if (ec) break;
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = "{}";
    res.prepare_payload();
    bhttp::write(stream, res, ec);
    if (!req.keep_alive()) break;
  }
}

[[noreturn]] void runReceivers(const fs::path& certs, int delay_ms, int port_pipe) {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  ctx.use_certificate_chain_file((certs / "server.crt").string());
  ctx.use_private_key_file((certs / "server.key").string(), asio::ssl::context::pem);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acceptor.listen(1024);
  const std::uint16_t port = acceptor.local_endpoint().port();
  if (::write(port_pipe, &port, sizeof port) != sizeof port) std::_Exit(1);
  ::close(port_pipe);
  for (;;) {
    boost::system::error_code ec;
    tcp::socket s(io);
    acceptor.accept(s, ec);
    if (ec) continue;
    std::thread([s = std::move(s), &ctx, delay_ms]() mutable { serveConnection(std::move(s), ctx, delay_ms); })
        .detach();
  }
}

// ---- Courier's side ----------------------------------------------------------------------

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string subscriptionJson(const std::string& endpoint, const std::string& payload) {
  return R"({"resourceType":"Subscription","status":"requested","reason":"bench",)"
         R"("criteria":"http://courier.example/fhir/SubscriptionTopic/diagnosis",)"
         R"("channel":{"type":"rest-hook","endpoint":")" +
         endpoint +
         R"(","payload":"application/fhir+json","_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":")" +
         payload + R"("}]}}})";
}

// What serve makes of a subscription, trusting the receivers' CA.
config::DestinationConfig destinationFor(const sub::SubscriptionSpec& s, const fs::path& ca) {
  config::SubscriptionsConfig cfg;
  cfg.ca_files = {ca};
  return pipeline::subscriptionDestinationConfig(cfg, s);
}

int run(const Options& o) {
  const fs::path work = o.work_dir;
  std::error_code ec;
  fs::remove(work / "courier.db", ec);
  fs::remove(work / "courier.db-wal", ec);
  fs::remove(work / "courier.db-shm", ec);
  fs::create_directories(work, ec);
  const fs::path certs = work / "certs";
  const std::string make_certs =
      "bash " COURIER_SOURCE_DIR "/certs/make_dev_certs.sh '" + certs.string() + "' > /dev/null 2>&1";
  if (std::system(make_certs.c_str()) != 0) {
    std::fprintf(stderr, "make_dev_certs.sh failed\n");
    return 1;
  }

  // The receivers, before this process makes any thread.
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    runReceivers(certs, o.delay_ms, fds[1]);
  }
  ::close(fds[1]);
  std::uint16_t port = 0;
  if (::read(fds[0], &port, sizeof port) != sizeof port) return 1;
  ::close(fds[0]);
  const double children_cpu_before = cpuSeconds(RUSAGE_CHILDREN);
  auto finish = [&](int rc) {
    ::kill(child, SIGTERM);
    ::waitpid(child, nullptr, 0);
    return rc;
  };

  courier::logger("subscriptions")->set_level(spdlog::level::warn);
  courier::logger("pipeline")->set_level(spdlog::level::warn);
  store::SqliteStoreOptions so;
  so.path = work / "courier.db";
  {
    auto s = store::SqliteStore::open(so);  // creates and migrates the schema
    if (!s) return finish(1);
    (*s)->close();
  }
  auto open_work = [&]() { return store::openSqliteWorkStore(store::WorkStoreOptions{so.path}); };
  auto work_store = open_work();
  if (!work_store) return finish(1);
  store::WorkStore& ws = **work_store;

  pipeline::SubscriptionRegistry registry;
  const fs::path ca = certs / "ca.crt";
  pipeline::SubscriptionService service(ws, registry, [&](const sub::Channel& c, const std::string& body) -> Result<int> {
    auto url = http::parseHttpsUrl(c.endpoint);
    if (!url) return Unexpected(url.error());
    http::HttpsTarget t;
    t.host = url->host;
    t.port = url->port;
    t.tls.ca_files = {ca};
    auto r = http::httpsRequest(t, "POST", url->path, {{"Content-Type", "application/fhir+json"}}, body,
                                std::chrono::seconds(10));
    if (!r) return Unexpected(r.error());
    return r->status;
  });

  const std::string endpoint = "https://127.0.0.1:" + std::to_string(port) + "/notify";
  std::vector<sub::SubscriptionSpec> specs;
  for (int i = 0; i < o.subs; ++i) {
    auto created = service.create("bench-registry", subscriptionJson(endpoint + "/" + std::to_string(i), o.payload));
    if (!created) {
      std::fprintf(stderr, "create: %s\n", created.error().toString().c_str());
      return finish(1);
    }
    auto spec = registry.spec(created->id);
    if (!spec || spec->status != sub::SubscriptionStatus::kActive) {
      std::fprintf(stderr, "subscription %s not active after its handshake\n", created->id.c_str());
      return finish(1);
    }
    specs.push_back(std::move(*spec));
  }

  // The notifications, as Pipeline::notify makes them.
  std::string hl7 = readFile(COURIER_SOURCE_DIR "/tests/data/record/adt_a01.hl7");
  for (char& c : hl7)
    if (c == '\n') c = '\r';
  auto msg = hl7v2::Message::parse(hl7);
  if (!msg) return finish(1);
  auto rec = record::fromHl7v2(*msg);
  if (!rec) return finish(1);
  auto events = sub::eventsFor(*rec, nullptr, {}, false);
  std::erase_if(events, [](const sub::Event& e) { return e.topic != sub::Topic::kDiagnosis; });
  auto focus = sub::FocusResources::fromRecord(*rec);
  if (events.empty() || !focus) return finish(1);
  const std::string now = pipeline::fhirInstant(std::chrono::system_clock::now());
  std::size_t payload_bytes = 0;
  std::vector<store::OutboxEntry> batch;
  for (int n = 0; n < o.events; ++n) {
    for (const auto& s : specs) {
      auto assigned = registry.assign(s.id);
      if (!assigned) return finish(1);
      const sub::Event& ev = events[static_cast<std::size_t>(n) % events.size()];
      sub::NotificationEvent ne{assigned->state.events_since_start, now, &ev, &*focus};
      auto bundle = sub::notificationBundle(assigned->state, assigned->content, std::span(&ne, 1), now,
                                            registry.notificationOptions());
      if (!bundle) return finish(1);
      payload_bytes += bundle->size();
      store::OutboxEntry e;
      e.destination = pipeline::subscriptionDestination(s.id);
      e.route = "subscription";
      e.patient_key = ev.patient_ref;
      e.idempotency_key = "bench-" + s.id + "-" + std::to_string(ne.event_number);
      e.content_type = "application/fhir+json";
      e.file_name = "n.json";
      e.payload = std::move(*bundle);
      batch.push_back(std::move(e));
    }
    if (batch.size() >= 2048 || n + 1 == o.events) {
      if (auto r = ws.enqueue(batch); !r) {
        std::fprintf(stderr, "enqueue: %s\n", r.error().toString().c_str());
        return finish(1);
      }
      batch.clear();
    }
  }
  const std::uint64_t total = static_cast<std::uint64_t>(o.subs) * static_cast<std::uint64_t>(o.events);

  // The deliverers, wired as `courier serve` wires them. Counted once recorded in the store.
  std::atomic<std::uint64_t> settled_ok{0}, settled_dead{0};
  std::vector<std::unique_ptr<store::WorkStore>> own;
  std::vector<std::unique_ptr<pipeline::Deliverer>> deliverers;
  for (const auto& s : specs) {
    store::WorkStore* w = &ws;
    if (o.store == "own") {
      auto c = open_work();
      if (!c) return finish(1);
      own.push_back(std::move(*c));
      w = own.back().get();
    }
    auto dest = destinationFor(s, ca);
    auto sink = http::makeHttpsSink(dest);
    if (!sink) return finish(1);
    pipeline::DelivererOptions d;
    d.idle_poll = std::chrono::milliseconds(250);
    d.batch = static_cast<std::size_t>(o.batch);
    d.on_settled = [&service, &settled_ok, &settled_dead, id = s.id](store::OutboxState state,
                                                                     const std::string& detail) {
      if (state == store::OutboxState::kDead) {
        service.deliveryFailed(id, detail);
        ++settled_dead;
      } else {
        service.deliverySucceeded(id);
        ++settled_ok;
      }
    };
    deliverers.push_back(std::make_unique<pipeline::Deliverer>(*w, dest, std::move(*sink), d));
  }

  if (o.sink_only) {
    // The same sinks and payloads without the outbox: read back once, untimed.
    std::vector<std::vector<delivery::Delivery>> items(specs.size());
    std::vector<std::unique_ptr<delivery::Sink>> sinks;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      auto due = ws.dueItems(pipeline::subscriptionDestination(specs[i].id), std::chrono::system_clock::now(),
                             static_cast<std::size_t>(o.events));
      if (!due) return finish(1);
      for (auto& item : *due) items[i].push_back(pipeline::deliveryOf(std::move(item)));
      auto sink = http::makeHttpsSink(destinationFor(specs[i], ca));
      if (!sink) return finish(1);
      sinks.push_back(std::move(*sink));
    }
    deliverers.clear();
    const double cpu0 = cpuSeconds(RUSAGE_SELF);
    const auto t0 = Clock::now();
    std::vector<std::thread> bare;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      bare.emplace_back([&, i] {
        for (const auto& d : items[i]) {
          if (sinks[i]->deliver(d).status == delivery::DeliveryStatus::kDelivered) ++settled_ok;
          else ++settled_dead;
        }
      });
    }
    for (auto& t : bare) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
    ::kill(child, SIGTERM);
    ::waitpid(child, nullptr, 0);
    const std::uint64_t ok = settled_ok;
    std::printf(
        "{\"mode\": \"sink-only\", \"subs\": %d, \"events_per_sub\": %d, \"delay_ms\": %d, \"notifications\": %llu, "
        "\"delivered\": %llu, \"seconds\": %.3f, \"notifications_per_s\": %.0f, \"receiver_capacity_per_s\": %.0f, "
        "\"courier_cpu_us_per_notification\": %.1f, \"courier_cpu_cores\": %.2f, \"receivers_cpu_s\": %.3f}\n",
        o.subs, o.events, o.delay_ms, static_cast<unsigned long long>(total), static_cast<unsigned long long>(ok), secs,
        static_cast<double>(ok) / secs, o.delay_ms > 0 ? o.subs * 1000.0 / o.delay_ms : 0.0,
        ok ? cpu * 1e6 / static_cast<double>(ok) : 0.0, cpu / secs, cpuSeconds(RUSAGE_CHILDREN) - children_cpu_before);
    return ok == total ? 0 : 1;
  }

  const double cpu0 = cpuSeconds(RUSAGE_SELF);
  const auto t0 = Clock::now();
  for (auto& d : deliverers) d->start();
  std::uint64_t delivered = 0, dead = 0;
  while (delivered + dead < total) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    delivered = settled_ok;
    dead = settled_dead;
    if (Clock::now() - t0 > std::chrono::minutes(10)) break;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = cpuSeconds(RUSAGE_SELF) - cpu0;
  std::uint64_t retried = 0;
  for (auto& d : deliverers) retried += d->stats().retried;
  // How the deliverers' records became commits (each one fdatasync of the WAL).
  store::AttemptCommitStats commits = ws.attemptCommitStats();
  for (auto& w : own) {
    auto c = w->attemptCommitStats();
    commits.calls += c.calls;
    commits.records += c.records;
    commits.commits += c.commits;
    commits.failed_commits += c.failed_commits;
  }
  for (auto& d : deliverers) d->stop();
  deliverers.clear();
  ::kill(child, SIGTERM);
  ::waitpid(child, nullptr, 0);
  const double receivers_cpu = cpuSeconds(RUSAGE_CHILDREN) - children_cpu_before;

  const double rate = static_cast<double>(delivered) / secs;
  const double capacity = o.delay_ms > 0 ? o.subs * 1000.0 / o.delay_ms : 0;
  std::printf(
      "{\"mode\": \"deliverers\", \"subs\": %d, \"events_per_sub\": %d, \"delay_ms\": %d, \"payload\": \"%s\", \"store\": \"%s\", "
      "\"notifications\": %llu, \"delivered\": %llu, \"dead\": %llu, \"retried\": %llu, \"avg_bytes\": %zu, "
      "\"seconds\": %.3f, \"notifications_per_s\": %.0f, \"receiver_capacity_per_s\": %.0f, "
      "\"courier_cpu_s\": %.3f, \"courier_cpu_us_per_notification\": %.1f, \"courier_cpu_cores\": %.2f, "
      "\"receivers_cpu_s\": %.3f, \"record_calls\": %llu, \"record_commits\": %llu, "
      "\"commits_per_notification\": %.3f}\n",
      o.subs, o.events, o.delay_ms, o.payload.c_str(), o.store.c_str(), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(dead),
      static_cast<unsigned long long>(retried), total ? payload_bytes / total : 0, secs, rate, capacity, cpu,
      delivered ? cpu * 1e6 / static_cast<double>(delivered) : 0.0, cpu / secs, receivers_cpu,
      static_cast<unsigned long long>(commits.calls), static_cast<unsigned long long>(commits.commits),
      delivered ? static_cast<double>(commits.commits) / static_cast<double>(delivered) : 0.0);
  return delivered == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"FHIR subscription notification throughput through the real delivery path"};
  app.add_option("--subs", o.subs, "subscriptions (one deliverer and one connection each)")->check(CLI::Range(1, 5000));
  app.add_option("--events", o.events, "notifications per subscription")->check(CLI::Range(1, 1000000));
  app.add_option("--delay-ms", o.delay_ms, "each receiver answers after this long")->check(CLI::Range(0, 10000));
  app.add_option("--payload", o.payload, "id-only | full-resource")->check(CLI::IsMember({"id-only", "full-resource", "empty"}));
  app.add_option("--store", o.store, "shared (as courier serve) | own connection per deliverer")
      ->check(CLI::IsMember({"shared", "own"}));
  app.add_option("--batch", o.batch, "deliverer batch (64 as in courier serve; 1: one request in flight)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--sink-only", o.sink_only, "baseline: the HTTPS sinks called back to back, no store, no deliverer");
  app.add_option("--work-dir", o.work_dir, "certificates and the SQLite store");
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
