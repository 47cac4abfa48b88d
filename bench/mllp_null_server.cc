// mllp_null_server: the MLLP/TLS listener with a store that commits instantly, to measure
// the adapter alone (framing, TLS, parsing, ACKs, ordering) with bench/mllp_load.
//
//   mllp_null_server --cert server.crt --key server.key [--threads N] [--plain]
// prints "port N" once listening; stops on SIGTERM/SIGINT.
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include <pthread.h>

#include <CLI/CLI.hpp>

#include "adapters/mllp/server.h"

namespace {

using namespace courier;

// Completes submitted messages in groups from its own thread, like a store whose commit
// costs nothing.
class NullStore final : public store::MessageStore {
 public:
  NullStore() : thread_([this] { run(); }) {}
  ~NullStore() override { close(); }

  void submit(store::InboundMessage msg, store::SubmitCallback done) override {
    std::lock_guard lock(mu_);
    if (closed_) {
      done(Unexpected(Error(ErrorCode::kUnavailable, "closed")));
      return;
    }
    queue_.push_back(std::move(done));
    cv_.notify_one();
  }
  Result<std::vector<store::MessageSummary>> list(const store::MessageFilter&) override { return {}; }
  Result<store::StoredMessage> get(store::MessageId) override {
    return Unexpected(Error(ErrorCode::kNotFound, "null store"));
  }
  Result<std::int64_t> duplicateCount() override { return std::int64_t{0}; }
  void close() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_one();
    }
    thread_.join();
  }

 private:
  void run() {
    std::deque<store::SubmitCallback> batch;
    store::MessageId id = 0;
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty() && closed_) return;
        batch.swap(queue_);
      }
      for (auto& done : batch) done(store::StoreReceipt{++id, false, store::AckCode::kAA});
      batch.clear();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::SubmitCallback> queue_;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string cert, key;
  bool plain = false;
  std::size_t threads = 0;
  CLI::App app{"MLLP listener over a store that commits instantly (adapter benchmark)."};
  app.add_option("--cert", cert);
  app.add_option("--key", key);
  app.add_flag("--plain", plain);
  app.add_option("--threads", threads, "I/O threads (0: one per core)");
  CLI11_PARSE(app, argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  config::ListenerConfig l;
  l.name = "bench";
  l.port = 0;
  l.tls.enabled = !plain;
  l.tls.cert_file = cert;
  l.tls.key_file = key;
  NullStore store;
  auto server = mllp::Server::create({l}, store, {.io_threads = threads});
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().toString().c_str());
    return 1;
  }
  if (auto r = (*server)->start(); !r) {
    std::fprintf(stderr, "%s\n", r.error().toString().c_str());
    return 1;
  }
  std::printf("port %u\n", (*server)->port("bench"));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->stopAccepting();
  (*server)->waitForInFlight(std::chrono::seconds(10));
  store.close();
  (*server)->stop();
  return 0;
}
