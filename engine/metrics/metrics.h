// Metrics: a small process-wide registry of what the adapters did, rendered in the
// Prometheus text format (version 0.0.4) for `GET /metrics`.
//
// Counters are keyed by listener and message type ("FHIR^Patient", "ADT^A01"); rejections
// also by reason (an HTTP status or an HL7 error code). Latencies go into fixed-bucket
// histograms. Never put PHI in a label: listener names, types and codes only.
//
// Threading: every method is thread-safe. Updates take one short mutex (a map lookup and
// an add); that is noise beside a TLS record and a store commit. Render from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace courier::metrics {

class Registry {
 public:
  Registry();

  void received(std::string_view listener, std::string_view type);
  void rejected(std::string_view listener, std::string_view type, std::string_view reason);
  // A message stored (or found a duplicate) and answered positively, with one lock: the
  // stored or duplicate counter; the ACK latency, from request/frame read to the answer;
  // the store latency, from MessageStore::submit to its result back on the adapter's thread
  // (the grouped commit as the adapter sees it).
  void acknowledged(std::string_view listener, std::string_view type, bool duplicate,
                    std::chrono::nanoseconds ack_latency, std::chrono::nanoseconds store_latency);

  // Label values come from what senders send (MSH-9, a resource type). Past this many
  // distinct label sets per counter, new ones are counted under type "other", so a sender
  // cycling through made-up types cannot grow the registry without bound.
  static constexpr std::size_t kMaxSeries = 512;
  void connectionOpened(std::string_view listener);
  void connectionClosed(std::string_view listener);

  std::uint64_t receivedCount(std::string_view listener, std::string_view type) const;
  std::uint64_t storedCount(std::string_view listener, std::string_view type) const;
  std::int64_t openConnections(std::string_view listener) const;

  // Adds text rendered by someone else (the pipeline and the outboxes keep their own
  // counters) at the end of every renderPrometheus(). The function must be thread-safe
  // and must not call back into this registry.
  void addCollector(std::function<std::string()> collect);

  // The whole registry in the Prometheus text exposition format.
  std::string renderPrometheus() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative counts per bound, like Prometheus
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };
  void observe(Histogram& h, std::chrono::nanoseconds latency);
  Histogram& ackHistogram(std::string_view listener);

  // Keys are tuples of strings, found by tuples of string_views (both compared as views),
  // so counting allocates nothing once a series exists.
  struct ViewLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return views(a) < views(b);
    }
    template <typename... T>
    static auto views(const std::tuple<T...>& t) {
      return std::apply([](const auto&... part) { return std::tuple{std::string_view(part)...}; }, t);
    }
  };
  using Key2 = std::tuple<std::string, std::string>;
  using Key3 = std::tuple<std::string, std::string, std::string>;
  mutable std::mutex mu_;
  std::vector<double> bounds_;  // seconds
  std::map<Key2, std::uint64_t, ViewLess> received_, stored_, duplicates_;
  std::map<Key3, std::uint64_t, ViewLess> rejected_;
  std::vector<std::function<std::string()>> collectors_;
  std::map<std::string, Histogram, std::less<>> ack_latency_;
  Histogram store_latency_;
  std::map<std::string, std::int64_t, std::less<>> connections_;
};

}  // namespace courier::metrics
