// courier serve: run the listeners of a config file until SIGTERM/SIGINT.
//
// Start-up: load the config (every problem reported with file:line:col, exit 1), make the
// development certificates into <data-dir>/certs/ when the config names certificates
// there that do not exist yet (certs/make_dev_certs.sh; logged), open the store, bind the
// listeners (MLLP and HTTPS) and write their bound ports to <data-dir>/courier.ports ("<name> <port>" per
// line, written atomically once every listener is bound; tests and scripts wait for it).
// An http listener whose token file is <data-dir>/dev-token gets a random development
// bearer token written there on first run (logged, the token itself never is).
//
// Then the pipeline (engine/pipeline): the work store, the coder (mappings from
// $COURIER_MAPPINGS_DIR or the source tree), the router, one deliverer per destination
// with its sink (adapters/mllp, adapters/http, adapters/file). Unless `pipeline.enabled`
// is false, every stored message is coded, routed and queued for its destinations, and
// matched against the registries' FHIR Subscriptions (one deliverer per subscription,
// heartbeats when idle).
//
// Shutdown (SIGTERM, SIGINT), two phases: stop accepting connections and frames, answer
// every frame already read (the store commits them), close the store (drains), stop the
// pipeline and the deliverers (what is left waits in the outboxes), then close the
// connections and exit 0.
#include <malloc.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <system_error>
#include <vector>
#include <unistd.h>

#include <pthread.h>

#include "adapters/file/file_sink.h"
#include "adapters/http/https_client.h"
#include "adapters/http/https_sink.h"
#include "adapters/http/server.h"
#include "adapters/http/token_file.h"
#include "adapters/mllp/mllp_sink.h"
#include "adapters/mllp/server.h"
#include "cli/commands.h"
#include "cli/site_maps.h"
#include "engine/coding/mappings_dir.h"
#include "engine/coding/record_coder.h"
#include "engine/config/config.h"
#include "engine/core/log.h"
#include "engine/metrics/metrics.h"
#include "engine/pipeline/deliverer.h"
#include "engine/pipeline/pipeline.h"
#include "engine/pipeline/subscription_registry.h"
#include "engine/pipeline/subscription_service.h"
#include "engine/routing/router.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store_factory.h"
#include "engine/store/work_store.h"

namespace courier::cli {
namespace {

namespace fs = std::filesystem;

struct ServeOptions {
  std::string config = "deploy/courier.yaml";
  std::string data_dir;
  std::string log_level;
};

// Where certs/make_dev_certs.sh is: $COURIER_CERTS_SCRIPT, beside an installed binary
// (../share/courier/certs/), or the source tree this binary was built from.
fs::path findCertScript() {
  if (const char* env = std::getenv("COURIER_CERTS_SCRIPT"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share/courier/certs/make_dev_certs.sh";
    if (fs::exists(installed, ec)) return installed;
  }
#ifdef COURIER_SOURCE_DIR
  fs::path source = fs::path(COURIER_SOURCE_DIR) / "certs/make_dev_certs.sh";
  if (fs::exists(source, ec)) return source;
#endif
  return "certs/make_dev_certs.sh";
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// Makes the development certificates when a TLS listener names files under
// <data-dir>/certs/ that are missing. Returns false (logged) when that failed.
bool ensureDevCertificates(const config::Config& cfg) {
  auto log = courier::logger("serve");
  const fs::path certs = cfg.data_dir / "certs";
  bool needed = false;
  for (const auto& l : cfg.listeners) {
    if (!l.tls.enabled) continue;
    for (const fs::path& p : {l.tls.cert_file, l.tls.key_file, l.tls.ca_file}) {
      std::error_code ec;
      if (p.empty() || fs::exists(p, ec)) continue;
      if (p.parent_path().lexically_normal() == certs.lexically_normal()) needed = true;
    }
  }
  if (!needed) return true;
  const fs::path script = findCertScript();
  log->info("first run: making development certificates (CA, server for localhost/127.0.0.1, client) in {} "
            "with {}; do not use them in production",
            certs.string(), script.string());
  const std::string cmd = "bash " + shellQuote(script.string()) + " " + shellQuote(certs.string());
  if (std::system(cmd.c_str()) != 0) {
    log->error("could not make the development certificates with {}", script.string());
    return false;
  }
  return true;
}

// Writes a random bearer token to <data-dir>/dev-token when an http listener names that
// file and it does not exist yet. Returns false (logged) when that failed.
bool ensureDevToken(const config::Config& cfg) {
  const fs::path dev = cfg.data_dir / "dev-token";
  for (const auto& l : cfg.listeners) {
    std::error_code ec;
    if (l.kind != config::ListenerKind::kHttp || l.http.token_file.lexically_normal() != dev.lexically_normal() ||
        fs::exists(dev, ec)) {
      continue;
    }
    auto log = courier::logger("serve");
    auto token = http::TokenFile::randomToken();
    if (!token) {
      log->error("could not make a development token: {}", token.error().toString());
      return false;
    }
    {
      std::ofstream out(dev, std::ios::trunc);
      out << "# development bearer token written by `courier serve` on first run; replace it in production\n"
          << *token << '\n';
      if (!out.flush()) {
        log->error("could not write the development token {}", dev.string());
        return false;
      }
    }
    fs::permissions(dev, fs::perms::owner_read | fs::perms::owner_write, ec);
    log->info("first run: wrote a development bearer token to {} (send 'Authorization: Bearer <token>' to the "
              "http listeners); do not use it in production",
              dev.string());
    return true;
  }
  return true;
}

bool writePortsFile(const fs::path& path, const config::Config& cfg, const mllp::Server& server,
                    const http::Server& https) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& l : cfg.listeners) {
      const auto port = l.kind == config::ListenerKind::kHttp ? https.port(l.name) : server.port(l.name);
      out << l.name << ' ' << port << '\n';
    }
    if (!out.flush()) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

Result<std::unique_ptr<delivery::Sink>> makeSink(const config::DestinationConfig& d) {
  switch (d.kind) {
    case config::DestinationKind::kMllp: return mllp::makeMllpSink(d);
    case config::DestinationKind::kHttps: return http::makeHttpsSink(d);
    case config::DestinationKind::kFile: return file::makeFileSink(d);
  }
  return Unexpected(Error(ErrorCode::kConfig, "unknown destination kind", d.name));
}

// The handshake: one POST to the endpoint, trusting the system CAs and subscriptions.ca_files.
Result<int> postHandshake(const config::Config& cfg, const subscriptions::Channel& channel, const std::string& body) {
  auto url = http::parseHttpsUrl(channel.endpoint);
  if (!url) return Unexpected(url.error());
  http::HttpsTarget target;
  target.host = url->host;
  target.port = url->port;
  target.tls.ca_files = cfg.subscriptions.ca_files;
  auto headers = pipeline::channelHeaders(channel);
  headers.emplace_back("Content-Type", "application/fhir+json");
  auto r = http::httpsRequest(target, "POST", url->path, headers, body, pipeline::channelTimeout(channel));
  if (!r) return Unexpected(r.error());
  return r->status;
}

// Everything after ingest: the work store, the coder, the router, one deliverer per
// destination and per active subscription, and the pipeline feeding them. Stopped after
// the store drained.
struct Processing {
  const config::Config* cfg = nullptr;
  std::unique_ptr<store::WorkStore> work;
  // One connection per destination's deliverer: reading its queue and recording tries
  // never wait behind the pipeline's batch commits on the shared connection's mutex.
  std::vector<std::unique_ptr<store::WorkStore>> delivery_work;
  std::unique_ptr<coding::RecordCoder> coder;
  std::optional<routing::Router> router;
  const record::SiteMaps* site_maps = nullptr;  // owned by runServe
  std::vector<std::unique_ptr<pipeline::Deliverer>> deliverers;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  // Subscriptions: the registry the pipeline matches against, the service the HTTP
  // listener calls, a deliverer per subscription that is active or in error.
  std::unique_ptr<pipeline::SubscriptionRegistry> registry;
  std::unique_ptr<pipeline::SubscriptionService> service;
  std::mutex subs_mu;
  std::map<std::string, std::unique_ptr<pipeline::Deliverer>> sub_deliverers;
  bool subs_stopped = false;
  std::thread heartbeats;
  std::mutex hb_mu;
  std::condition_variable hb_cv;
  bool hb_stop = false;

  void stop() {
    {
      std::lock_guard lock(hb_mu);
      hb_stop = true;
    }
    hb_cv.notify_all();
    if (heartbeats.joinable()) heartbeats.join();
    if (pipeline) pipeline->stop();
    for (auto& d : deliverers) d->stop();
    std::map<std::string, std::unique_ptr<pipeline::Deliverer>> subs;
    {
      std::lock_guard lock(subs_mu);
      subs_stopped = true;
      subs.swap(sub_deliverers);
    }
    for (auto& [id, d] : subs) d->stop();
  }

  // Starts or stops the deliverer of a subscription after a change of status.
  void subscriptionChanged(const std::string& id, const std::optional<subscriptions::SubscriptionSpec>& spec) {
    const bool deliver = spec && (spec->status == subscriptions::SubscriptionStatus::kActive ||
                                  spec->status == subscriptions::SubscriptionStatus::kError);
    std::unique_ptr<pipeline::Deliverer> gone;
    {
      std::lock_guard lock(subs_mu);
      auto it = sub_deliverers.find(id);
      if (!deliver) {
        if (it != sub_deliverers.end()) {
          gone = std::move(it->second);
          sub_deliverers.erase(it);
        }
      } else if (it == sub_deliverers.end() && !subs_stopped) {
        auto sink = http::makeHttpsSink(pipeline::subscriptionDestinationConfig(cfg->subscriptions, *spec));
        if (!sink) {
          courier::logger("serve")->warn("subscription {}: {}", id, sink.error().toString());
        } else {
          pipeline::DelivererOptions o;
          o.idle_poll = std::chrono::milliseconds(250);
          o.on_settled = [this, id](store::OutboxState state, const std::string& detail) {
            if (state == store::OutboxState::kDead)
              service->deliveryFailed(id, detail);
            else
              service->deliverySucceeded(id);
          };
          auto d = std::make_unique<pipeline::Deliverer>(
              *work, pipeline::subscriptionDestinationConfig(cfg->subscriptions, *spec), std::move(*sink), o);
          d->start();
          sub_deliverers.emplace(id, std::move(d));
        }
      }
    }
    if (gone) gone->stop();  // outside the lock: its thread may be calling back here
  }

  void wake(const std::vector<std::string>& names) {
    for (auto& d : deliverers) {
      if (std::find(names.begin(), names.end(), d->destination()) != names.end()) d->wake();
    }
    std::lock_guard lock(subs_mu);
    for (const auto& name : names) {
      auto id = std::string(pipeline::subscriptionIdOf(name));
      if (id.empty()) continue;
      if (service) service->noteSent(id, std::chrono::steady_clock::now());
      if (auto it = sub_deliverers.find(id); it != sub_deliverers.end()) it->second->wake();
    }
  }

  // Prometheus text for /metrics (counters since start; queue depths via `courier outbox stats`).
  std::string renderMetrics() const {
    std::string out;
    if (!pipeline) return out;
    const auto s = pipeline->stats();
    out += "# HELP courier_pipeline_messages_total Messages the pipeline worked out, by outcome.\n";
    out += "# TYPE courier_pipeline_messages_total counter\n";
    for (auto [name, n] : {std::pair{"routed", s.routed}, std::pair{"no-route", s.no_route},
                           std::pair{"held-for-review", s.held}, std::pair{"failed", s.failed}}) {
      out += std::string("courier_pipeline_messages_total{outcome=\"") + name + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP courier_outbox_enqueued_total Deliveries enqueued by the pipeline.\n";
    out += "# TYPE courier_outbox_enqueued_total counter\n";
    out += "courier_outbox_enqueued_total " + std::to_string(s.enqueued) + "\n";
    out += "# HELP courier_deliveries_total Delivery tries, by destination and result.\n";
    out += "# TYPE courier_deliveries_total counter\n";
    for (const auto& d : deliverers) {
      const auto ds = d->stats();
      for (auto [name, n] : {std::pair{"delivered", ds.delivered}, std::pair{"retry", ds.retried},
                             std::pair{"dead", ds.dead}}) {
        out += "courier_deliveries_total{destination=\"" + d->destination() + "\",result=\"" + name + "\"} " +
               std::to_string(n) + "\n";
      }
    }
    return out;
  }
};

// Before the listeners: the work store, the subscriptions held in it and the service the
// http listener answers /fhir/Subscription with (reading them is quick; the coder is not).
Result<void> openSubscriptions(const config::Config& cfg, Processing& p) {
  p.cfg = &cfg;
  if (!cfg.pipeline.enabled || cfg.store.kind != config::StoreKind::kSqlite) return Ok();
  auto work = store::openSqliteWorkStore(store::WorkStoreOptions{cfg.store.sqlite_path});
  if (!work) return Unexpected(work.error());
  p.work = std::move(*work);
  p.registry = std::make_unique<pipeline::SubscriptionRegistry>();
  if (auto r = p.registry->load(*p.work); !r) return Unexpected(r.error());
  p.service = std::make_unique<pipeline::SubscriptionService>(
      *p.work, *p.registry,
      [&cfg](const subscriptions::Channel& c, const std::string& body) { return postHandshake(cfg, c, body); },
      [&p](const std::string& id, const std::optional<subscriptions::SubscriptionSpec>& spec) {
        p.subscriptionChanged(id, spec);
      });
  return Ok();
}

Result<void> startProcessing(const config::Config& cfg, Processing& p) {
  auto log = courier::logger("serve");
  if (!cfg.pipeline.enabled) {
    log->info("pipeline disabled in the config: messages are stored, not processed");
    return Ok();
  }
  if (cfg.store.kind != config::StoreKind::kSqlite) {
    // The pipeline's queues (outboxes, worklist) have only an SQLite implementation so
    // far: in cluster mode Courier stores and acknowledges, and processes nothing yet.
    log->warn("the pipeline runs on the SQLite store only for now; with store.kind postgres messages are stored "
              "and acknowledged but not routed");
    return Ok();
  }
  if (!p.work) return Unexpected(Error(ErrorCode::kInternal, "the work store is not open"));
  auto router = routing::Router::build(cfg);
  if (!router) return Unexpected(router.error());
  p.router.emplace(std::move(*router));
  const auto started = std::chrono::steady_clock::now();
  auto coder = coding::RecordCoder::load(coding::defaultMappingsDir());
  if (!coder) return Unexpected(coder.error());
  p.coder = std::move(*coder);
  log->info("coder loaded in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count());
  for (const auto& d : cfg.destinations) {
    auto sink = makeSink(d);
    if (!sink) return Unexpected(sink.error());
    // Its own connection, sharing the pipeline's WAL checkpointer.
    auto own = p.work->connect();
    if (!own) return Unexpected(own.error());
    p.delivery_work.push_back(std::move(*own));
    p.deliverers.push_back(std::make_unique<pipeline::Deliverer>(*p.delivery_work.back(), d, std::move(*sink)));
  }
  pipeline::PipelineOptions options;
  options.batch = cfg.pipeline.batch;
  options.workers = cfg.pipeline.workers > 0 ? cfg.pipeline.workers
                                             : std::max(1u, std::thread::hardware_concurrency());
  options.idle_poll = std::chrono::milliseconds(20);
  options.on_enqueued = [&p](const std::vector<std::string>& names) { p.wake(names); };
  options.subscriptions = p.registry.get();
  options.site_maps = p.site_maps;
  p.pipeline = std::make_unique<pipeline::Pipeline>(*p.work, cfg, *p.router, p.coder.get(), options);
  for (auto& d : p.deliverers) d->start();
  for (const auto& spec : p.registry->all()) p.subscriptionChanged(spec.id, spec);
  p.pipeline->start();
  p.heartbeats = std::thread([&p, period = cfg.subscriptions.heartbeat_check] {
    std::unique_lock lock(p.hb_mu);
    while (!p.hb_cv.wait_for(lock, period, [&p] { return p.hb_stop; })) {
      lock.unlock();
      auto due = p.service->heartbeat(std::chrono::steady_clock::now());
      if (!due.empty()) p.wake(due);
      lock.lock();
    }
  });
  log->info("pipeline running: {} routes, {} destinations, {} workers", cfg.routes.size(), cfg.destinations.size(),
            options.workers);
  return Ok();
}

// The SQLite store's own counters for /metrics: how many messages one commit carries
// (stored / commits), failed commits, and whether the WAL keeps restarting.
std::string renderStoreMetrics(const store::SqliteStoreStats& s) {
  std::string out;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(v) + "\n";
  };
  counter("courier_store_commits_total", "Grouped commits of the message store.", s.commits);
  counter("courier_store_failed_commits_total", "Commit groups rolled back (their senders got AE/CE).",
          s.failed_commits);
  counter("courier_store_messages_total", "New messages made durable.", s.messages_stored);
  counter("courier_store_checkpoints_total", "WAL checkpoints by the checkpoint thread.", s.checkpoints);
  counter("courier_store_wal_restarts_total", "Times the WAL started again from its beginning.", s.wal_restarts);
  out += "# HELP courier_store_largest_group Most messages one commit carried since start.\n"
         "# TYPE courier_store_largest_group gauge\ncourier_store_largest_group " +
         std::to_string(s.largest_batch) + "\n";
  return out;
}

void printErrors(const config::ConfigErrors& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.toString().c_str());
}

int runServe(const ServeOptions& o) {
  // glibc gives threads that allocate at once arenas of their own (up to 8 per core) and
  // keeps what is freed in each: with serve's ~20 threads RSS crept 55 MiB over 150k
  // queued messages (173 -> 228 MiB), with one arena per core 11 MiB. Unless the operator
  // chose otherwise (MALLOC_ARENA_MAX).
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    (void)mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  }
  // Block the shutdown signals before any thread starts so that every thread inherits
  // the mask and only sigwait() below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  config::LoadOptions load;
  if (!o.data_dir.empty()) load.data_dir_override = fs::path(o.data_dir);
  load.check_files = false;
  auto first = config::loadConfig(o.config, config::processEnv(), load);
  if (!first) {
    printErrors(first.error());
    return 1;
  }
  setLogLevel(o.log_level.empty() ? config::logLevelName(first->log_level) : o.log_level);
  auto log = courier::logger("serve");
  std::error_code ec;
  fs::create_directories(first->data_dir, ec);
  if (ec) {
    log->error("cannot create the data directory {}: {}", first->data_dir.string(), ec.message());
    return 1;
  }
  if (!ensureDevCertificates(*first)) return 1;
  if (!ensureDevToken(*first)) return 1;
  load.check_files = true;
  auto cfg = config::loadConfig(o.config, config::processEnv(), load);
  if (!cfg) {
    printErrors(cfg.error());
    return 1;
  }
  // The site maps are part of the config: a bad one is refused before anything listens.
  auto site_maps = loadSiteMaps(*cfg);
  if (!site_maps) {
    for (const auto& e : site_maps.error()) std::fprintf(stderr, "%s\n", e.toString().c_str());
    return 1;
  }
  const fs::path ports_file = cfg->data_dir / "courier.ports";
  fs::remove(ports_file, ec);

  auto store = store::openMessageStore(cfg->store);
  if (!store) {
    log->error("cannot open the store: {}", store.error().toString());
    return 1;
  }
  Processing processing;
  processing.site_maps = &*site_maps;
  std::vector<config::ListenerConfig> mllp_listeners, http_listeners;
  for (const auto& l : cfg->listeners) {
    (l.kind == config::ListenerKind::kHttp ? http_listeners : mllp_listeners).push_back(l);
  }
  metrics::Registry registry;
  mllp::ServerOptions server_options;
  server_options.io_threads = cfg->io_threads;
  server_options.metrics = &registry;
  auto server = mllp::Server::create(std::move(mllp_listeners), **store, server_options);
  if (!server) {
    log->error("{}", server.error().toString());
    processing.stop();
    (*store)->close();
    return 1;
  }
  http::ServerOptions http_options;
  http_options.io_threads = http_listeners.empty() ? 1 : std::max<std::size_t>(1, cfg->io_threads / 2);
  http_options.metrics = &registry;
  if (auto r = openSubscriptions(*cfg, processing); !r) {
    log->error("cannot open the work store: {}", r.error().toString());
    (*server)->stop();
    (*store)->close();
    return 1;
  }
  http_options.subscriptions = processing.service.get();
  auto https = http::Server::create(std::move(http_listeners), **store, http_options);
  if (!https) {
    log->error("{}", https.error().toString());
    processing.stop();
    (*store)->close();
    return 1;
  }
  auto started = (*server)->start();
  if (started) started = (*https)->start();
  if (!started) {
    log->error("{}", started.error().toString());
    (*https)->stop();
    (*server)->stop();
    processing.stop();
    (*store)->close();
    return 1;
  }
  // Ingest first: senders are answered as soon as the listeners are up. The pipeline
  // starts after (loading the coder takes a moment) and works off what arrived meanwhile.
  if (auto r = startProcessing(*cfg, processing); !r) {
    log->error("cannot start the pipeline: {}; stopping (stored messages wait for the next start)",
               r.error().toString());
    (*server)->stopAccepting();
    (*https)->stopAccepting();
    (void)(*server)->waitForInFlight(std::chrono::seconds(5));
    (*store)->close();
    (*https)->stop();
    (*server)->stop();
    processing.stop();
    return 1;
  }
  registry.addCollector([&processing] { return processing.renderMetrics(); });
  if (auto* sqlite = dynamic_cast<store::SqliteStore*>(store->get())) {
    registry.addCollector([sqlite] { return renderStoreMetrics(sqlite->stats()); });
  }
  if (!writePortsFile(ports_file, *cfg, **server, **https)) {
    log->warn("could not write {}", ports_file.string());
  }
  log->info("courier serving (pid {}, data dir {}); SIGTERM or Ctrl-C stops", static_cast<long>(getpid()),
            cfg->data_dir.string());

  // While waiting for a signal, hand the allocator's free pages back every 10 s. The
  // pipeline's batches (records, claims, JSON) leave free holes inside the heaps that
  // glibc keeps resident: with a million claims waiting RSS sat at 195 MiB of which 26 MiB
  // was free; malloc_trim gives those pages back (a few ms with each arena locked in turn,
  // so at most one such pause per 10 s). Once at once too: loading the coder leaves
  // ~40 MiB of freed build-time memory resident (RSS 192 MiB at start, 157 after a trim).
  (void)malloc_trim(0);
  int sig = 0;
  for (;;) {
    const timespec period{10, 0};
    sig = sigtimedwait(&signals, nullptr, &period);
    if (sig > 0) break;
    if (errno != EAGAIN && errno != EINTR) {
      log->error("waiting for signals: {}; stopping", std::strerror(errno));
      sig = SIGTERM;
      break;
    }
    const auto before = std::chrono::steady_clock::now();
    (void)malloc_trim(0);
    log->debug("malloc_trim took {} us", std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::steady_clock::now() - before)
                                             .count());
  }
  log->info("signal {}: stopping (phase 1: no new connections or frames; answering in-flight messages)", sig);
  (*server)->stopAccepting();
  (*https)->stopAccepting();
  if (!(*server)->waitForInFlight(std::chrono::seconds(30)) || !(*https)->waitForInFlight(std::chrono::seconds(5))) {
    log->warn("some frames or requests were still unanswered; their senders will resend");
  }
  log->info("phase 2: draining the store");
  (*store)->close();
  // Then the pipeline (its batch in hand is committed) and the deliverers (each finishes
  // its batch in hand within the sink's timeouts); what is left waits in the outboxes.
  processing.stop();
  (*https)->stop();
  (*server)->stop();
  const auto s = (*server)->stats();
  log->info("stopped: {} connections, {} frames, {} accepted, {} refused, {} duplicates, {} store errors",
            s.connections_accepted, s.frames, s.accepted, s.refused, s.duplicates, s.store_errors);
  fs::remove(ports_file, ec);
  return 0;
}

}  // namespace

void addServeCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the listeners of a config file until SIGTERM or Ctrl-C.");
  cmd->add_option("--config", opts->config, "Config file (YAML)")->capture_default_str();
  cmd->add_option("--data-dir", opts->data_dir, "Data directory (overrides data_dir of the config; default ./var)");
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error or off (overrides the config)");
  cmd->callback([opts, &exit_code] { exit_code = runServe(*opts); });
}

}  // namespace courier::cli
