// Fake receivers for end-to-end runs of `courier serve` (tests/integration/pipeline and
// bench/pipeline.cc): an insurer (HTTPS, one Beast server thread) and a registry (MLLP
// over TLS, answers AA to every frame). Both bind 127.0.0.1 port 0, keep connections
// alive, and remember what they got.
//
// Thread-safety: the accessors may be called from any thread while the receiver runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace courier::testing {

// One HTTP request as the insurer saw it, in arrival order.
struct InsurerRequest {
  std::string idempotency_key;
  std::string body;
  int status = 0;  // what the insurer answered
};

class FakeInsurer {
 public:
  // `cert_dir` holds server.crt and server.key. `record_bodies` false keeps only counts
  // (the benchmark): no bodies, no keys.
  explicit FakeInsurer(const std::filesystem::path& cert_dir, bool record_bodies = true);
  ~FakeInsurer();
  FakeInsurer(const FakeInsurer&) = delete;
  FakeInsurer& operator=(const FakeInsurer&) = delete;

  std::uint16_t port() const;
  // While busy, every request is answered 503 with Retry-After: 1; otherwise 201.
  void setBusy(bool busy) { busy_ = busy; }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t refused() const { return refused_; }
  std::uint64_t accepted() const { return accepted_; }
  // Distinct idempotency keys answered 201 (when recording).
  std::size_t acceptedKeys() const;
  std::vector<InsurerRequest> seen() const;

  struct Impl;

 private:
  std::atomic<bool> busy_{false};
  std::atomic<std::uint64_t> requests_{0}, refused_{0}, accepted_{0};
  std::unique_ptr<Impl> impl_;
};

class FakeRegistry {
 public:
  explicit FakeRegistry(const std::filesystem::path& cert_dir, bool record_messages = true);
  ~FakeRegistry();
  FakeRegistry(const FakeRegistry&) = delete;
  FakeRegistry& operator=(const FakeRegistry&) = delete;

  std::uint16_t port() const;
  std::uint64_t received() const { return received_; }
  // Every message received (raw payload), in arrival order.
  std::vector<std::string> messages() const;

  struct Impl;

 private:
  std::atomic<std::uint64_t> received_{0};
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::testing
