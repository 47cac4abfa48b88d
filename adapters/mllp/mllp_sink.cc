#include "adapters/mllp/mllp_sink.h"

#include <span>
#include <string>
#include <vector>

#include "adapters/mllp/ack_mapping.h"
#include "adapters/mllp/client.h"
#include "adapters/mllp/framer.h"
#include "engine/core/log.h"
#include "engine/delivery/idle_closer.h"
#include "engine/delivery/window.h"

namespace courier::mllp {

namespace {

using delivery::Delivery;
using delivery::DeliveryResult;
using delivery::DeliveryStatus;

constexpr std::size_t kWindowMessages = 512;
constexpr std::size_t kWindowBytes = std::size_t{1} << 20;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

DeliveryResult retry(std::string detail) { return {DeliveryStatus::kRetry, std::move(detail), {}, {}}; }

class MllpSink final : public delivery::Sink {
 public:
  MllpSink(const config::DestinationConfig& c, SslContextPtr tls_context)
      : config_(c), log_(logger("mllp")), idle_(c.keepalive_idle, [this] { drop(); }) {
    options_.tls = c.tls.enabled;
    options_.tls_context = std::move(tls_context);
    options_.server_name = c.tls.server_name;
    options_.connect_timeout = c.connect_timeout;
    options_.write_timeout = c.response_timeout;
  }

  ~MllpSink() override {
    idle_.stop();
    drop();
  }

  DeliveryResult deliver(const Delivery& item) override {
    std::vector<DeliveryResult> results;
    send(std::span<const Delivery>(&item, 1), results);
    return std::move(results.front());
  }

  std::vector<DeliveryResult> deliverBatch(const std::vector<Delivery>& items) override {
    std::vector<DeliveryResult> results;
    if (!items.empty()) send(items, results);
    return results;
  }

  void close() override {
    std::lock_guard<std::mutex> g(idle_.mutex());
    drop();
  }

 private:
  enum class Step { kContinue, kRepeat, kStop };

  // Sends `items` (at least one) window by window; results up to the first not delivered.
  void send(std::span<const Delivery> items, std::vector<DeliveryResult>& results) {
    auto use = idle_.use();
    results.reserve(items.size());
    // A kept connection the receiver closed while idle fails on first use; that one try
    // is repeated once on a fresh connection instead of being reported.
    bool may_repeat = false;
    std::size_t next = 0;
    while (next < items.size()) {
      if (!client_ || !client_->reusable()) {
        drop();
        if (auto r = connect(); !r) {
          results.push_back(retry(r.error().message));
          return;
        }
      } else if (next == 0) {
        may_repeat = true;
      }
      const std::size_t end = windows_.end(items, next);
      switch (sendWindow(items, next, end, results, may_repeat)) {
        case Step::kContinue: next = end; may_repeat = false; break;
        case Step::kRepeat: may_repeat = false; break;
        case Step::kStop: return;
      }
    }
  }

  Result<void> connect() {
    const std::string where = config_.host + ":" + std::to_string(config_.port);
    auto c = Client::connect(config_.host, config_.port, options_);
    if (!c) {
      std::string reason = c.error().code == ErrorCode::kTimeout
                               ? "timed out after " + ms(config_.connect_timeout)
                               : c.error().message;
      log_->warn("destination {}: cannot connect to {}: {}", config_.name, where, reason);
      return Unexpected(Error(ErrorCode::kUnavailable, "connect to " + where + ": " + reason));
    }
    client_ = std::move(*c);
    ++connection_id_;
    log_->debug("destination {}: connection {} to {} open {}", config_.name, connection_id_, where,
                client_->tlsVersion());
    return Ok();
  }

  void drop() {
    if (client_) client_->close();
    client_.reset();
  }

  // Writes items[begin, end) in one write, then reads one ACK per item, appending results
  // up to the first that is not delivered.
  Step sendWindow(std::span<const Delivery> items, std::size_t begin, std::size_t end,
                  std::vector<DeliveryResult>& results, bool may_repeat) {
    frames_.clear();
    control_ids_.clear();
    for (std::size_t i = begin; i < end; ++i) {
      Framer::appendFrame(items[i].payload, frames_);  // no frame string of its own
      control_ids_.push_back(controlIdOf(items[i].payload));
    }
    if (auto r = client_->sendRaw(frames_); !r) {
      drop();
      if (may_repeat) return Step::kRepeat;
      results.push_back(retry("send: " + r.error().message));
      return Step::kStop;
    }
    bool failed = false;
    for (std::size_t i = begin; i < end; ++i) {
      auto answer = client_->receive(config_.response_timeout);
      if (!answer) {
        const bool closed = client_->peerClosed();
        drop();
        if (closed && may_repeat && i == begin) return Step::kRepeat;
        if (!failed) {
          results.push_back(retry(answer.error().code == ErrorCode::kTimeout
                                      ? "no ACK within " + ms(config_.response_timeout)
                                      : "waiting for the ACK: " + answer.error().message));
        }
        return Step::kStop;
      }
      AckOutcome outcome = mapAck(control_ids_[i - begin], *answer, config_.on_ae, config_.on_ar);
      if (!failed) {
        if (outcome.status != DeliveryStatus::kDelivered) {
          log_->debug("destination {}: connection {} control id {}: {}", config_.name, connection_id_,
                      control_ids_[i - begin], outcome.status == DeliveryStatus::kRetry ? "retry" : "dead letter");
          failed = true;
        }
        results.push_back({outcome.status, std::move(outcome.detail), std::move(*answer), {}});
      }
      if (outcome.drop_connection) {
        drop();
        return Step::kStop;
      }
    }
    return failed ? Step::kStop : Step::kContinue;
  }

  const config::DestinationConfig config_;
  ClientOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Client> client_;
  std::uint64_t connection_id_ = 0;
  std::string frames_;                    // reused between windows
  std::vector<std::string> control_ids_;  // of the window in flight
  delivery::Windows windows_{kWindowMessages, kWindowBytes};  // never two items of one patient
  delivery::IdleCloser idle_;             // last: stops before the rest goes
};

}  // namespace

Result<std::unique_ptr<delivery::Sink>> makeMllpSink(const config::DestinationConfig& destination) {
  const std::string where = "destinations." + destination.name;
  if (destination.kind != config::DestinationKind::kMllp) {
    return Unexpected(Error(ErrorCode::kConfig, "not an mllp destination", where));
  }
  if (destination.host.empty() || destination.port == 0) {
    return Unexpected(Error(ErrorCode::kConfig, "an mllp destination needs host and port", where));
  }
  SslContextPtr ctx;
  if (destination.tls.enabled) {
    auto c = tls::makeDestinationTlsContext(destination.tls);
    if (!c) return Unexpected(Error(ErrorCode::kConfig, c.error().message, where + ".tls"));
    ctx = std::move(*c);
  }
  return std::unique_ptr<delivery::Sink>(std::make_unique<MllpSink>(destination, std::move(ctx)));
}

}  // namespace courier::mllp
