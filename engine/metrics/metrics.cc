#include "engine/metrics/metrics.h"

#include <cstdio>

namespace courier::metrics {

namespace {

// Label values are listener names, message types and codes; escape anyway.
std::string escapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

template <typename Map>
void renderCounter(std::string& out, const char* name, const char* help, const Map& map,
                   std::initializer_list<const char*> labels) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " counter\n";
  for (const auto& [key, value] : map) {
    out += name;
    out += '{';
    std::size_t i = 0;
    std::apply(
        [&](const auto&... parts) {
          ((out += (i ? "," : ""), out += *(labels.begin() + i++), out += "=\"", out += escapeLabel(parts),
            out += '"'),
           ...);
        },
        key);
    out += "} " + std::to_string(value) + "\n";
  }
}

// Adds one to the series of `parts` (string_views), made on first use; past kMaxSeries
// series the type (the second part) becomes "other".
template <typename Map, typename... Parts>
void bump(Map& map, std::string_view listener, std::string_view type, Parts... rest) {
  auto it = map.find(std::tuple<std::string_view, std::string_view, Parts...>(listener, type, rest...));
  if (it == map.end()) {
    if (map.size() >= Registry::kMaxSeries) type = "other";
    it = map.try_emplace(typename Map::key_type(std::string(listener), std::string(type), std::string(rest)...), 0)
             .first;
  }
  ++it->second;
}

}  // namespace

Registry::Registry()
    : bounds_{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10} {
  store_latency_.buckets.assign(bounds_.size(), 0);
}

void Registry::received(std::string_view listener, std::string_view type) {
  std::lock_guard lock(mu_);
  bump(received_, listener, type);
}

void Registry::rejected(std::string_view listener, std::string_view type, std::string_view reason) {
  std::lock_guard lock(mu_);
  bump(rejected_, listener, type, reason);
}

void Registry::acknowledged(std::string_view listener, std::string_view type, bool duplicate,
                            std::chrono::nanoseconds ack_latency, std::chrono::nanoseconds store_latency) {
  std::lock_guard lock(mu_);
  bump(duplicate ? duplicates_ : stored_, listener, type);
  observe(ackHistogram(listener), ack_latency);
  observe(store_latency_, store_latency);
}

void Registry::observe(Histogram& h, std::chrono::nanoseconds latency) {
  const double s = std::chrono::duration<double>(latency).count();
  if (h.buckets.empty()) h.buckets.assign(bounds_.size(), 0);
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (s <= bounds_[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum_seconds += s;
}

Registry::Histogram& Registry::ackHistogram(std::string_view listener) {
  auto it = ack_latency_.find(listener);
  if (it == ack_latency_.end()) it = ack_latency_.emplace(std::string(listener), Histogram{}).first;
  return it->second;
}

void Registry::connectionOpened(std::string_view listener) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(listener);
  if (it == connections_.end()) it = connections_.emplace(std::string(listener), 0).first;
  ++it->second;
}

void Registry::connectionClosed(std::string_view listener) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(listener);
  if (it != connections_.end()) --it->second;
}

std::uint64_t Registry::receivedCount(std::string_view listener, std::string_view type) const {
  std::lock_guard lock(mu_);
  auto it = received_.find(std::tuple<std::string_view, std::string_view>(listener, type));
  return it == received_.end() ? 0 : it->second;
}

std::uint64_t Registry::storedCount(std::string_view listener, std::string_view type) const {
  std::lock_guard lock(mu_);
  auto it = stored_.find(std::tuple<std::string_view, std::string_view>(listener, type));
  return it == stored_.end() ? 0 : it->second;
}

std::int64_t Registry::openConnections(std::string_view listener) const {
  std::lock_guard lock(mu_);
  auto it = connections_.find(listener);
  return it == connections_.end() ? 0 : it->second;
}

std::string Registry::renderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  renderCounter(out, "courier_messages_received_total", "Messages received, by listener and type.", received_,
                {"listener", "type"});
  renderCounter(out, "courier_messages_stored_total", "Messages stored durably and acknowledged.", stored_,
                {"listener", "type"});
  renderCounter(out, "courier_messages_duplicate_total", "Messages already stored, answered again.", duplicates_,
                {"listener", "type"});
  renderCounter(out, "courier_messages_rejected_total", "Messages refused, by reason (HTTP status or error).",
                rejected_, {"listener", "type", "reason"});
  auto histogram = [&](const std::string& name, const std::string& labels, const Histogram& h) {
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      out += name + "_bucket{" + labels + sep + "le=\"" + number(bounds_[i]) + "\"} " +
             std::to_string(h.buckets.empty() ? 0 : h.buckets[i]) + "\n";
    }
    out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += name + "_sum" + braces + " " + number(h.sum_seconds) + "\n";
    out += name + "_count" + braces + " " + std::to_string(h.count) + "\n";
  };
  out += "# HELP courier_ack_latency_seconds From message read to positive answer sent (after commit).\n";
  out += "# TYPE courier_ack_latency_seconds histogram\n";
  for (const auto& [listener, h] : ack_latency_) {
    histogram("courier_ack_latency_seconds", "listener=\"" + escapeLabel(listener) + "\"", h);
  }
  out += "# HELP courier_store_commit_latency_seconds From store submit to the result back on the adapter's thread (grouped commit).\n";
  out += "# TYPE courier_store_commit_latency_seconds histogram\n";
  histogram("courier_store_commit_latency_seconds", "", store_latency_);
  out += "# HELP courier_open_connections Connections open now, by listener.\n";
  out += "# TYPE courier_open_connections gauge\n";
  for (const auto& [listener, n] : connections_) {
    out += "courier_open_connections{listener=\"" + escapeLabel(listener) + "\"} " + std::to_string(n) + "\n";
  }
  for (const auto& collect : collectors_) out += collect();
  return out;
}

void Registry::addCollector(std::function<std::string()> collect) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collect));
}

}  // namespace courier::metrics
