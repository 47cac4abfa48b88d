#include "engine/pipeline/subscription_registry.h"

#include <ctime>
#include <mutex>
#include <utility>

#include "engine/core/log.h"

namespace courier::pipeline {

namespace sub = courier::subscriptions;

std::string fhirInstant(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];  // 24 bytes in practice; room for any int the format could print
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string subscriptionDestination(std::string_view id) { return "subscription/" + std::string(id); }

std::string_view subscriptionIdOf(std::string_view destination) {
  constexpr std::string_view kPrefix = "subscription/";
  if (destination.substr(0, kPrefix.size()) != kPrefix) return {};
  return destination.substr(kPrefix.size());
}

std::vector<std::pair<std::string, std::string>> channelHeaders(const subscriptions::Channel& channel) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& h : channel.headers) {
    std::size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::size_t v = h.find_first_not_of(' ', colon + 1);
    out.emplace_back(h.substr(0, colon), v == std::string::npos ? std::string() : h.substr(v));
  }
  return out;
}

std::chrono::milliseconds channelTimeout(const subscriptions::Channel& channel) {
  return channel.timeout ? std::chrono::duration_cast<std::chrono::milliseconds>(*channel.timeout)
                         : std::chrono::milliseconds(std::chrono::seconds(10));
}

config::DestinationConfig subscriptionDestinationConfig(const config::SubscriptionsConfig& cfg,
                                                        const subscriptions::SubscriptionSpec& s) {
  config::DestinationConfig d;
  d.name = subscriptionDestination(s.id);
  d.kind = config::DestinationKind::kHttps;
  d.format = config::PayloadFormat::kFhirBundle;
  d.url = s.channel.endpoint;
  d.method = "POST";
  d.headers = channelHeaders(s.channel);
  d.tls.ca_files = cfg.ca_files;
  d.response_timeout = channelTimeout(s.channel);
  d.retry = cfg.retry;
  return d;
}

std::optional<sub::SubscriptionStatus> subscriptionStatusFromName(std::string_view name) {
  for (auto s : {sub::SubscriptionStatus::kRequested, sub::SubscriptionStatus::kActive, sub::SubscriptionStatus::kError,
                 sub::SubscriptionStatus::kOff}) {
    if (sub::subscriptionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

SubscriptionRegistry::SubscriptionRegistry(sub::NotificationOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Result<void> SubscriptionRegistry::load(store::WorkStore& work) {
  auto stored = work.listSubscriptions();
  if (!stored) return Unexpected(stored.error());
  std::unique_lock lock(mu_);
  matcher_ = sub::Matcher();
  entries_.clear();
  for (const auto& r : *stored) {
    auto spec = sub::parseSubscription(r.json);
    auto status = subscriptionStatusFromName(r.status);
    if (!spec || !status) {
      logger("subscriptions")->warn("subscription {}: stored resource does not parse; skipped", r.id);
      continue;
    }
    spec->id = r.id;
    spec->status = *status;
    if (*status != sub::SubscriptionStatus::kOff) (void)matcher_.add(*spec);
    entries_.emplace(r.id, Entry{std::move(*spec), r.events_since_start, r.reason});
  }
  return Ok();
}

void SubscriptionRegistry::put(sub::SubscriptionSpec spec, std::uint64_t events, std::string reason) {
  std::unique_lock lock(mu_);
  const std::string id = spec.id;
  matcher_.remove(id);
  if (spec.status != sub::SubscriptionStatus::kOff) (void)matcher_.add(spec);
  entries_.insert_or_assign(id, Entry{std::move(spec), events, std::move(reason)});
}

void SubscriptionRegistry::remove(std::string_view id) {
  std::unique_lock lock(mu_);
  matcher_.remove(id);
  if (auto it = entries_.find(id); it != entries_.end()) entries_.erase(it);
}

bool SubscriptionRegistry::setStatus(std::string_view id, sub::SubscriptionStatus status, std::string reason) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  const bool was_off = it->second.spec.status == sub::SubscriptionStatus::kOff;
  it->second.spec.status = status;
  it->second.reason = std::move(reason);
  if (status == sub::SubscriptionStatus::kOff) matcher_.remove(id);
  else if (was_off) (void)matcher_.add(it->second.spec);
  else (void)matcher_.update(it->second.spec);
  return true;
}

std::optional<sub::SubscriptionSpec> SubscriptionRegistry::spec(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.spec;
}

std::optional<sub::SubscriptionState> SubscriptionRegistry::state(std::string_view id) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return sub::SubscriptionState{it->second.spec.id, it->second.spec.topic, it->second.spec.status, it->second.events,
                                it->second.reason};
}

std::vector<sub::SubscriptionSpec> SubscriptionRegistry::all() const {
  std::shared_lock lock(mu_);
  std::vector<sub::SubscriptionSpec> out;
  for (const auto& [id, e] : entries_) out.push_back(e.spec);
  return out;
}

bool SubscriptionRegistry::empty() const {
  std::shared_lock lock(mu_);
  return entries_.empty();
}

std::vector<std::string> SubscriptionRegistry::match(const sub::Event& event) const {
  std::shared_lock lock(mu_);
  thread_local std::vector<std::string_view> ids;
  matcher_.match(event, ids);
  return std::vector<std::string>(ids.begin(), ids.end());
}

std::optional<SubscriptionRegistry::Assigned> SubscriptionRegistry::assign(std::string_view id) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.spec.status == sub::SubscriptionStatus::kOff) return std::nullopt;
  Entry& e = it->second;
  if (e.spec.end_time && *e.spec.end_time <= clock_.now()) return std::nullopt;
  ++e.events;
  return Assigned{sub::SubscriptionState{e.spec.id, e.spec.topic, e.spec.status, e.events, e.reason},
                  e.spec.channel.content};
}

std::map<std::string, std::uint64_t, std::less<>> SubscriptionRegistry::counters() const {
  std::shared_lock lock(mu_);
  std::map<std::string, std::uint64_t, std::less<>> out;
  for (const auto& [id, e] : entries_) out.emplace(id, e.events);
  return out;
}

void SubscriptionRegistry::restore(const std::map<std::string, std::uint64_t, std::less<>>& counters) {
  std::unique_lock lock(mu_);
  for (const auto& [id, n] : counters) {
    if (auto it = entries_.find(id); it != entries_.end()) it->second.events = n;
  }
}

}  // namespace courier::pipeline
