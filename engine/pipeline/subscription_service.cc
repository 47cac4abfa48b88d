#include "engine/pipeline/subscription_service.h"

#include <random>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "engine/core/log.h"

namespace courier::pipeline {

namespace sub = courier::subscriptions;

namespace {

constexpr std::size_t kMaxEventsPerQuery = 1000;

std::string newId() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "sub-";
  for (int i = 0; i < 16; ++i) id += kHex[rng() & 15];
  return id;
}

Error notFound(std::string_view id) {
  return Error(ErrorCode::kNotFound, "no Subscription/" + std::string(id) + " for this client");
}

std::string statusText(sub::SubscriptionStatus s) { return std::string(sub::subscriptionStatusName(s)); }

// A subscription that would already have ended is a mistake of the client's, not a
// subscription to turn off at once.
Result<void> checkEnd(const sub::SubscriptionSpec& spec, std::chrono::system_clock::time_point now) {
  if (spec.end_time && *spec.end_time <= now) {
    return Unexpected(Error(ErrorCode::kInvalidArgument,
                            "Subscription.end: is not in the future; a subscription must end after it starts",
                            "Subscription.end"));
  }
  return Ok();
}

}  // namespace

SubscriptionService::SubscriptionService(store::WorkStore& work, SubscriptionRegistry& registry, HookPost hook,
                                         Changed on_changed, const Clock& clock)
    : work_(work), registry_(registry), hook_(std::move(hook)), on_changed_(std::move(on_changed)), clock_(clock) {}

Result<store::SubscriptionRecord> SubscriptionService::owned(std::string_view owner, std::string_view id) {
  auto rec = work_.getSubscription(std::string(id));
  if (!rec) return Unexpected(rec.error());
  if (!*rec || (*rec)->owner != owner) return Unexpected(notFound(id));
  return std::move(**rec);
}

void SubscriptionService::handshake(sub::SubscriptionSpec& spec, std::string& reason) {
  const std::string now = fhirInstant(std::chrono::system_clock::now());
  sub::SubscriptionState state{spec.id, spec.topic, sub::SubscriptionStatus::kRequested, 0, {}};
  if (auto st = registry_.state(spec.id)) state.events_since_start = st->events_since_start;
  auto r = hook_ ? hook_(spec.channel, sub::handshakeBundle(state, now, registry_.notificationOptions()))
                 : Result<int>(Unexpected(Error(ErrorCode::kUnavailable, "no rest-hook client")));
  if (r && *r >= 200 && *r < 300) {
    spec.status = sub::SubscriptionStatus::kActive;
    reason.clear();
  } else {
    spec.status = sub::SubscriptionStatus::kError;
    reason = r ? "handshake answered HTTP " + std::to_string(*r) : "handshake failed: " + r.error().message;
  }
}

Result<sub::CreatedSubscription> SubscriptionService::create(std::string_view owner, std::string_view body) {
  auto spec = sub::parseSubscription(body);
  if (!spec) return Unexpected(spec.error());
  if (auto r = checkEnd(*spec, clock_.now()); !r) return Unexpected(r.error());
  spec->id = newId();
  spec->status = sub::SubscriptionStatus::kRequested;
  store::SubscriptionRecord rec;
  rec.id = spec->id;
  rec.owner = std::string(owner);
  rec.json = sub::subscriptionJson(*spec, /*include_header_values=*/true);
  rec.status = statusText(spec->status);
  if (auto r = work_.createSubscription(rec); !r) return Unexpected(r.error());
  registry_.put(*spec, 0);
  std::string reason;
  handshake(*spec, reason);
  if (auto r = setStatus(spec->id, spec->status, reason); !r) return Unexpected(r.error());
  logger("subscriptions")->info("subscription {} ({}) {}", spec->id, sub::topicInfo(spec->topic).name,
                                statusText(spec->status));
  return sub::CreatedSubscription{spec->id, sub::subscriptionJson(*spec)};
}

Result<std::string> SubscriptionService::update(std::string_view owner, std::string_view id, std::string_view body) {
  auto rec = owned(owner, id);
  if (!rec) return Unexpected(rec.error());
  auto spec = sub::parseSubscription(body);
  if (!spec) return Unexpected(spec.error());
  if (auto r = checkEnd(*spec, clock_.now()); !r) return Unexpected(r.error());
  if (!spec->id.empty() && spec->id != id) {
    return Unexpected(Error(ErrorCode::kInvalidArgument, "Subscription.id: must match the id in the URL",
                            "Subscription.id"));
  }
  spec->id = std::string(id);
  const auto counters = registry_.counters();
  auto it = counters.find(id);
  registry_.put(*spec, it == counters.end() ? rec->events_since_start : it->second);
  std::string reason;
  // Asked to be active again (after an error, or with a new endpoint): prove the endpoint.
  if (spec->status == sub::SubscriptionStatus::kRequested || spec->status == sub::SubscriptionStatus::kActive) {
    handshake(*spec, reason);
  }
  if (auto r = work_.updateSubscription(spec->id, statusText(spec->status), reason,
                                        sub::subscriptionJson(*spec, true));
      !r) {
    return Unexpected(r.error());
  }
  if (auto r = setStatus(spec->id, spec->status, reason); !r) return Unexpected(r.error());
  return sub::subscriptionJson(*spec);
}

Result<std::string> SubscriptionService::read(std::string_view owner, std::string_view id) {
  auto rec = owned(owner, id);
  if (!rec) return Unexpected(rec.error());
  auto spec = registry_.spec(id);
  if (!spec) {
    auto parsed = sub::parseSubscription(rec->json);
    if (!parsed) return Unexpected(parsed.error());
    spec = std::move(*parsed);
    spec->id = std::string(id);
    if (auto s = subscriptionStatusFromName(rec->status)) spec->status = *s;
  }
  return sub::subscriptionJson(*spec);
}

Result<void> SubscriptionService::remove(std::string_view owner, std::string_view id) {
  auto rec = owned(owner, id);
  if (!rec) return Unexpected(rec.error());
  registry_.remove(id);
  auto r = work_.deleteSubscription(std::string(id));
  if (!r) return Unexpected(r.error());
  {
    std::lock_guard lock(mu_);
    if (auto it = last_sent_.find(id); it != last_sent_.end()) last_sent_.erase(it);
  }
  if (on_changed_) on_changed_(std::string(id), std::nullopt);
  return Ok();
}

Result<std::string> SubscriptionService::status(std::string_view owner, std::string_view id) {
  auto rec = owned(owner, id);
  if (!rec) return Unexpected(rec.error());
  auto state = registry_.state(id);
  if (!state) return Unexpected(notFound(id));
  return sub::statusJson(std::span(&*state, 1), fhirInstant(std::chrono::system_clock::now()),
                         registry_.notificationOptions());
}

Result<std::string> SubscriptionService::events(std::string_view owner, std::string_view id,
                                                std::optional<std::uint64_t> since,
                                                std::optional<std::uint64_t> until) {
  auto rec = owned(owner, id);
  if (!rec) return Unexpected(rec.error());
  auto state = registry_.state(id);
  if (!state) return Unexpected(notFound(id));
  const std::uint64_t from = since.value_or(1);
  const std::uint64_t to = until.value_or(state->events_since_start);
  auto stored = work_.subscriptionEvents(std::string(id), from, to, kMaxEventsPerQuery);
  if (!stored) return Unexpected(stored.error());
  const std::string now = fhirInstant(std::chrono::system_clock::now());
  // The skeleton: a query-event Bundle with the current status and no events; then every
  // stored notification's notification-event parameters and entries, in number order.
  auto skeleton = sub::notificationBundle(*state, sub::PayloadContent::kEmpty, {}, now,
                                          registry_.notificationOptions(), sub::NotificationType::kQueryEvent);
  if (!skeleton) return Unexpected(skeleton.error());
  rapidjson::Document out;
  out.Parse(skeleton->data(), skeleton->size());
  if (out.HasParseError() || !out.IsObject() || !out.HasMember("entry") || !out["entry"].IsArray() ||
      out["entry"].Empty() || !out["entry"][0].IsObject() || !out["entry"][0].HasMember("resource") ||
      !out["entry"][0]["resource"].IsObject()) {
    return Unexpected(Error(ErrorCode::kInternal, "query-event skeleton is not a Bundle with a Parameters entry"));
  }
  auto& alloc = out.GetAllocator();
  rapidjson::Value& params = out["entry"][0]["resource"];
  if (!params.HasMember("parameter") || !params["parameter"].IsArray()) {
    params.AddMember("parameter", rapidjson::Value(rapidjson::kArrayType), alloc);
  }
  for (const auto& ev : *stored) {
    rapidjson::Document one;
    one.Parse(ev.notification.data(), ev.notification.size());
    if (one.HasParseError() || !one.IsObject() || !one.HasMember("entry") || !one["entry"].IsArray()) continue;
    auto& entries = one["entry"];
    for (rapidjson::SizeType i = 0; i < entries.Size(); ++i) {
      if (i == 0) {
        if (!entries[0].IsObject() || !entries[0].HasMember("resource") || !entries[0]["resource"].IsObject()) break;
        auto& p = entries[0]["resource"];
        if (!p.HasMember("parameter") || !p["parameter"].IsArray()) continue;
        for (auto& param : p["parameter"].GetArray()) {
          if (param.IsObject() && param.HasMember("name") && param["name"].IsString() &&
              std::string_view(param["name"].GetString()) == "notification-event") {
            params["parameter"].PushBack(rapidjson::Value(param, alloc), alloc);
          }
        }
        continue;
      }
      out["entry"].PushBack(rapidjson::Value(entries[i], alloc), alloc);
    }
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  out.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Result<void> SubscriptionService::setStatus(const std::string& id, sub::SubscriptionStatus status,
                                            const std::string& reason) {
  std::lock_guard lock(mu_);
  if (auto r = work_.updateSubscription(id, statusText(status), reason); !r) return r;
  registry_.setStatus(id, status, reason);
  if (on_changed_) on_changed_(id, registry_.spec(id));
  return Ok();
}

void SubscriptionService::deliveryFailed(const std::string& id, const std::string& reason) {
  auto state = registry_.state(id);
  if (!state || state->status == sub::SubscriptionStatus::kError || state->status == sub::SubscriptionStatus::kOff)
    return;
  logger("subscriptions")->warn("subscription {}: a notification was dead-lettered; status error", id);
  if (auto r = setStatus(id, sub::SubscriptionStatus::kError, "delivery failed: " + reason); !r) {
    logger("subscriptions")->warn("subscription {}: {}", id, r.error().message);
  }
}

void SubscriptionService::deliverySucceeded(const std::string& id) {
  noteSent(id, std::chrono::steady_clock::now());
  auto state = registry_.state(id);
  if (!state || state->status != sub::SubscriptionStatus::kError) return;
  logger("subscriptions")->info("subscription {}: delivered again; status active", id);
  if (auto r = setStatus(id, sub::SubscriptionStatus::kActive, ""); !r) {
    logger("subscriptions")->warn("subscription {}: {}", id, r.error().message);
  }
}

void SubscriptionService::noteSent(const std::string& id, std::chrono::steady_clock::time_point when) {
  std::lock_guard lock(mu_);
  last_sent_.insert_or_assign(id, when);
}

std::vector<std::string> SubscriptionService::expire() {
  std::vector<std::string> ended;
  const auto now = clock_.now();
  for (const auto& spec : registry_.all()) {
    if (spec.status == sub::SubscriptionStatus::kOff || !spec.end_time || *spec.end_time > now) continue;
    if (auto r = setStatus(spec.id, sub::SubscriptionStatus::kOff, "ended"); !r) {
      logger("subscriptions")->warn("subscription {}: {}", spec.id, r.error().message);
      continue;
    }
    logger("subscriptions")->info("subscription {}: its end passed; status off", spec.id);
    ended.push_back(spec.id);
  }
  return ended;
}

std::vector<std::string> SubscriptionService::heartbeat(std::chrono::steady_clock::time_point now) {
  (void)expire();
  std::vector<store::OutboxEntry> entries;
  std::vector<std::string> destinations;
  const std::string instant = fhirInstant(std::chrono::system_clock::now());
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  for (const auto& spec : registry_.all()) {
    if (spec.status != sub::SubscriptionStatus::kActive || !spec.channel.heartbeat_period) continue;
    {
      std::lock_guard lock(mu_);
      auto [it, fresh] = last_sent_.try_emplace(spec.id, now);
      if (fresh || now - it->second < *spec.channel.heartbeat_period) continue;
      it->second = now;
    }
    auto state = registry_.state(spec.id);
    if (!state) continue;
    store::OutboxEntry e;
    e.destination = subscriptionDestination(spec.id);
    e.route = "subscription-heartbeat";
    e.idempotency_key = "courier-heartbeat-" + e.destination + "-" + std::to_string(wall);
    e.content_type = "application/fhir+json";
    e.file_name = "subscription-" + spec.id + "-heartbeat.json";
    e.payload = sub::heartbeatBundle(*state, instant, registry_.notificationOptions());
    destinations.push_back(e.destination);
    entries.push_back(std::move(e));
  }
  if (auto r = work_.enqueue(entries); !r) {
    logger("subscriptions")->warn("heartbeats not enqueued: {}", r.error().message);
    return {};
  }
  return destinations;
}

}  // namespace courier::pipeline
