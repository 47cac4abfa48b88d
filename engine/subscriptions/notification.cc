#include "engine/subscriptions/notification.h"

#include <rapidjson/document.h>

#include <unordered_set>

#include "engine/fhir/ids.h"
#include "engine/fhir/json.h"
#include "engine/record/to_fhir.h"

namespace courier::subscriptions {

using fhir::JsonWriter;
using fhir::writeField;
using fhir::writeKey;
using rapidjson::Value;

namespace {

constexpr std::string_view kProfileBase = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/";

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

const Value* stringMember(const Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
}

void collectReferences(const Value& v, std::vector<std::string_view>& out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (view(it->name) == "reference" && it->value.IsString()) out.push_back(view(it->value));
      else collectReferences(it->value, out);
    }
  } else if (v.IsArray()) {
    for (const Value& x : v.GetArray()) collectReferences(x, out);
  }
}

void profile(JsonWriter& w, std::string_view name) {
  writeKey(w, "meta");
  w.StartObject();
  writeKey(w, "profile");
  w.StartArray();
  fhir::writeString(w, std::string(kProfileBase).append(name));
  w.EndArray();
  w.EndObject();
}

void requestResponse(JsonWriter& w, std::string_view method, std::string_view url, std::string_view status) {
  writeKey(w, "request");
  w.StartObject();
  writeField(w, "method", method);
  writeField(w, "url", url);
  w.EndObject();
  writeKey(w, "response");
  w.StartObject();
  writeField(w, "status", status);
  w.EndObject();
}

// Resources a focus brings along: who and where, never other clinical items. A registry
// subscribed to neoplasms receives the Condition, its Patient and Encounter, and not the
// patient's other diagnoses that the Encounter lists.
bool isContextType(std::string_view type) {
  for (std::string_view t : {"Patient", "Encounter", "Practitioner", "PractitionerRole", "Organization", "Location",
                             "ServiceRequest", "Coverage"})
    if (type == t) return true;
  return false;
}

using UrlSet = std::unordered_set<std::string_view>;

// True when `v` holds, at any depth, a urn:uuid reference to a resource not in the Bundle.
bool refersOutside(const Value& v, const UrlSet& listed) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (it->value.IsString() && view(it->name) == "reference") {
        std::string_view ref = view(it->value);
        if (ref.substr(0, 9) == "urn:uuid:" && !listed.contains(ref)) return true;
      } else if (refersOutside(it->value, listed)) {
        return true;
      }
    }
  } else if (v.IsArray()) {
    for (const Value& x : v.GetArray())
      if (refersOutside(x, listed)) return true;
  }
  return false;
}

// Writes `v` without what points outside the Bundle: a Reference to an unlisted resource is
// left out, and so is every array element that holds one (Encounter.diagnosis[i] naming a
// Condition that is not sent); an array or object left empty is left out, as FHIR requires.
void writePruned(JsonWriter& w, const Value& v, const UrlSet& listed);

bool writesSomething(const Value& v, const UrlSet& listed) {
  if (v.IsArray()) {
    for (const Value& x : v.GetArray())
      if (!refersOutside(x, listed)) return true;
    return false;
  }
  if (v.IsObject()) {
    if (v.HasMember("reference")) return !refersOutside(v, listed);
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it)
      if (writesSomething(it->value, listed)) return true;
    return false;
  }
  return true;
}

void writePruned(JsonWriter& w, const Value& v, const UrlSet& listed) {
  if (v.IsArray()) {
    w.StartArray();
    for (const Value& x : v.GetArray())
      if (!refersOutside(x, listed)) writePruned(w, x, listed);
    w.EndArray();
  } else if (v.IsObject()) {
    w.StartObject();
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      if (!writesSomething(it->value, listed)) continue;
      w.Key(it->name.GetString(), it->name.GetStringLength());
      writePruned(w, it->value, listed);
    }
    w.EndObject();
  } else {
    v.Accept(w);
  }
}

std::string subscriptionUrl(const SubscriptionState& sub, const NotificationOptions& opts) {
  std::string url = opts.fhir_base;
  if (!url.empty()) url += '/';
  return url.append("Subscription/").append(sub.id);
}

}  // namespace

struct FocusResources::Impl {
  struct Resource {
    std::string type, id, full_url;
    const Value* value = nullptr;
  };
  rapidjson::Document doc;
  std::vector<rapidjson::Document> extra;
  std::vector<Resource> resources;

  const Resource* byFullUrl(std::string_view url) const {
    for (const Resource& r : resources)
      if (r.full_url == url) return &r;
    return nullptr;
  }
  const Resource* focus(std::string_view type, int index) const {
    int seen = 0;
    for (const Resource& r : resources) {
      if (r.type != type) continue;
      if (index < 0 || seen == index) return &r;
      ++seen;
    }
    return nullptr;
  }
  Result<void> add(const Value& resource, std::string full_url) {
    const Value* type = stringMember(resource, "resourceType");
    const Value* id = stringMember(resource, "id");
    if (type == nullptr || id == nullptr)
      return Unexpected(Error(ErrorCode::kInvalidArgument, "a focus resource needs resourceType and id", "resource"));
    if (full_url.empty()) full_url = std::string("urn:uuid:").append(view(*id));
    resources.push_back({std::string(view(*type)), std::string(view(*id)), std::move(full_url), &resource});
    return Ok();
  }
};

FocusResources::FocusResources() : impl_(std::make_unique<Impl>()) {}
FocusResources::FocusResources(FocusResources&&) noexcept = default;
FocusResources& FocusResources::operator=(FocusResources&&) noexcept = default;
FocusResources::~FocusResources() = default;

Result<FocusResources> FocusResources::fromRecord(const record::CanonicalRecord& rec) {
  return fromBundle(record::toFhirBundle(rec));
}

Result<FocusResources> FocusResources::fromBundle(std::string_view bundle_json) {
  FocusResources out;
  rapidjson::Document& doc = out.impl_->doc;
  doc.Parse(bundle_json.data(), bundle_json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return Unexpected(Error(ErrorCode::kInvalidArgument, "the record's Bundle is not a JSON object", "Bundle"));
  auto entries = doc.FindMember("entry");
  if (entries == doc.MemberEnd()) return out;
  if (!entries->value.IsArray())
    return Unexpected(Error(ErrorCode::kInvalidArgument, "Bundle.entry is not an array", "Bundle.entry"));
  for (const Value& e : entries->value.GetArray()) {
    if (!e.IsObject()) continue;
    auto res = e.FindMember("resource");
    if (res == e.MemberEnd() || !res->value.IsObject()) continue;
    const Value* full_url = stringMember(e, "fullUrl");
    auto r = out.impl_->add(res->value, full_url ? std::string(view(*full_url)) : std::string());
    if (!r) return Unexpected(std::move(r).error());
  }
  return out;
}

Result<void> FocusResources::addResource(std::string_view resource_json) {
  rapidjson::Document& d = impl_->extra.emplace_back();
  d.Parse(resource_json.data(), resource_json.size());
  if (d.HasParseError() || !d.IsObject()) {
    impl_->extra.pop_back();
    return Unexpected(Error(ErrorCode::kInvalidArgument, "the resource is not a JSON object", "resource"));
  }
  return impl_->add(d, {});
}

// Writes the Bundles; a friend of FocusResources so that it can read the resources.
struct NotificationWriter {
  using Resource = FocusResources::Impl::Resource;

  struct Entry {
    const Resource* resource;
    bool focus;
    bool update;
  };

  static void parameters(JsonWriter& w, const SubscriptionState& sub, NotificationType type,
                         std::span<const NotificationEvent> events, const std::vector<const Resource*>& focus,
                         const std::vector<std::vector<const Resource*>>& context,
                         const std::vector<std::string>& focus_urls, const NotificationOptions& opts,
                         const std::string& id) {
    w.StartObject();
    writeField(w, "resourceType", "Parameters");
    writeField(w, "id", id);
    profile(w, "backport-subscription-status-r4");
    writeKey(w, "parameter");
    w.StartArray();
    auto param = [&](std::string_view name, std::string_view value_key, std::string_view value) {
      w.StartObject();
      writeField(w, "name", name);
      writeField(w, value_key, value);
      w.EndObject();
    };
    w.StartObject();
    writeField(w, "name", "subscription");
    writeKey(w, "valueReference");
    w.StartObject();
    writeField(w, "reference", subscriptionUrl(sub, opts));
    w.EndObject();
    w.EndObject();
    param("topic", "valueCanonical", topicUrl(sub.topic));
    param("status", "valueCode", subscriptionStatusName(sub.status));
    param("type", "valueCode", notificationTypeName(type));
    // integer64 in R5, a string in the R4 profile.
    param("events-since-subscription-start", "valueString", std::to_string(sub.events_since_start));
    for (std::size_t i = 0; i < events.size(); ++i) {
      w.StartObject();
      writeField(w, "name", "notification-event");
      writeKey(w, "part");
      w.StartArray();
      param("event-number", "valueString", std::to_string(events[i].event_number));
      param("timestamp", "valueInstant", events[i].timestamp);
      if (i < focus.size() && focus[i] != nullptr) {
        w.StartObject();
        writeField(w, "name", "focus");
        writeKey(w, "valueReference");
        w.StartObject();
        writeField(w, "reference", focus_urls[i]);
        w.EndObject();
        w.EndObject();
      }
      if (i < context.size()) {
        for (const Resource* r : context[i]) {
          w.StartObject();
          writeField(w, "name", "additional-context");
          writeKey(w, "valueReference");
          w.StartObject();
          writeField(w, "reference", r->full_url);
          w.EndObject();
          w.EndObject();
        }
      }
      w.EndArray();
      w.EndObject();
    }
    if (sub.status == SubscriptionStatus::kError && !sub.error.empty()) {
      w.StartObject();
      writeField(w, "name", "error");
      writeKey(w, "valueCodeableConcept");
      w.StartObject();
      writeField(w, "text", sub.error);
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }

  static Result<std::string> bundle(const SubscriptionState& sub, PayloadContent content,
                                    std::span<const NotificationEvent> events, std::string_view timestamp,
                                    const NotificationOptions& opts, NotificationType type) {
    // Resolve every focus first, so that an error leaves nothing half written.
    std::vector<const Resource*> focus(events.size(), nullptr);
    std::vector<std::vector<const Resource*>> context(events.size());
    std::vector<std::string> focus_urls(events.size());
    std::vector<Entry> entries;
    std::unordered_set<std::string_view> listed;
    if (content != PayloadContent::kEmpty) {
      for (std::size_t i = 0; i < events.size(); ++i) {
        const NotificationEvent& ne = events[i];
        if (ne.event == nullptr || ne.resources == nullptr)
          return Unexpected(Error(ErrorCode::kInvalidArgument, "an id-only or full-resource notification needs each "
                                  "event's focus and resources", "notification-event"));
        const FocusResources::Impl& res = *ne.resources->impl_;
        const Resource* f = res.focus(ne.event->focus_type, ne.event->focus_index);
        if (f == nullptr)
          return Unexpected(Error(ErrorCode::kNotFound, "the event's focus resource is not among the record's resources",
                                  ne.event->focus_type));
        focus[i] = f;
        focus_urls[i] = content == PayloadContent::kIdOnly && !opts.fhir_base.empty()
                            ? std::string(opts.fhir_base).append("/").append(f->type).append("/").append(f->id)
                            : f->full_url;
        if (listed.insert(focus_urls[i]).second) entries.push_back({f, true, ne.event->is_update});
        if (content != PayloadContent::kFullResource) continue;
        // The resources the focus refers to, and theirs, so that every reference resolves.
        std::vector<const Resource*> queue{f};
        // A Claim stands alone (its Patient, payer and Coverage are contained), so it refers
        // to nothing in the record: its context is the record's Patient and Encounter, as
        // for the other topics' focus.
        if (f->type == "Claim") {
          for (std::string_view type : {"Patient", "Encounter"}) {
            if (const Resource* r = res.focus(type, -1)) {
              context[i].push_back(r);
              queue.push_back(r);
            }
          }
        }
        for (std::size_t q = 0; q < queue.size(); ++q) {
          std::vector<std::string_view> refs;
          collectReferences(*queue[q]->value, refs);
          for (std::string_view ref : refs) {
            const Resource* r = res.byFullUrl(ref);
            if (r == nullptr || r == f || !isContextType(r->type)) continue;
            bool seen = false;
            for (const Resource* c : context[i]) seen = seen || c == r;
            if (seen) continue;
            context[i].push_back(r);
            queue.push_back(r);
          }
        }
        for (const Resource* r : context[i])
          if (listed.insert(r->full_url).second) entries.push_back({r, false, false});
      }
    }

    std::string seed = std::string("notification|").append(sub.id).append("|").append(notificationTypeName(type));
    seed.append("|").append(std::to_string(sub.events_since_start)).append("|").append(timestamp);
    for (const NotificationEvent& ne : events) seed.append("|").append(std::to_string(ne.event_number));
    std::string params_id = fhir::deterministicUuid(seed + "|Parameters");

    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    writeField(w, "resourceType", "Bundle");
    writeField(w, "id", fhir::deterministicUuid(seed));
    profile(w, "backport-subscription-notification-r4");
    writeField(w, "type", "history");
    writeField(w, "timestamp", timestamp);
    writeKey(w, "entry");
    w.StartArray();
    w.StartObject();
    writeKey(w, "fullUrl");
    w.urnUuid(params_id);
    writeKey(w, "resource");
    parameters(w, sub, type, events, focus, context, focus_urls, opts, params_id);
    requestResponse(w, "GET", subscriptionUrl(sub, opts) + "/$status", "200");
    w.EndObject();
    for (const Entry& e : entries) {
      const Resource& r = *e.resource;
      std::string type_id = std::string(r.type).append("/").append(r.id);
      w.StartObject();
      if (content == PayloadContent::kIdOnly && !opts.fhir_base.empty())
        writeField(w, "fullUrl", std::string(opts.fhir_base).append("/").append(type_id));
      else
        writeField(w, "fullUrl", r.full_url);
      if (content == PayloadContent::kFullResource) {
        writeKey(w, "resource");
        writePruned(w, *r.value, listed);
      }
      if (!e.focus) requestResponse(w, "GET", type_id, "200");
      else if (e.update) requestResponse(w, "PUT", type_id, "200");
      else requestResponse(w, "POST", r.type, "201");
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }
};

std::string_view notificationTypeName(NotificationType type) {
  switch (type) {
    case NotificationType::kHandshake: return "handshake";
    case NotificationType::kHeartbeat: return "heartbeat";
    case NotificationType::kEventNotification: return "event-notification";
    case NotificationType::kQueryStatus: return "query-status";
    case NotificationType::kQueryEvent: return "query-event";
  }
  return "";
}

Result<std::string> notificationBundle(const SubscriptionState& sub, PayloadContent content,
                                       std::span<const NotificationEvent> events, std::string_view timestamp,
                                       const NotificationOptions& opts, NotificationType type) {
  return NotificationWriter::bundle(sub, content, events, timestamp, opts, type);
}

std::string handshakeBundle(const SubscriptionState& sub, std::string_view timestamp, const NotificationOptions& opts) {
  return NotificationWriter::bundle(sub, PayloadContent::kEmpty, {}, timestamp, opts, NotificationType::kHandshake)
      .value();
}

std::string heartbeatBundle(const SubscriptionState& sub, std::string_view timestamp, const NotificationOptions& opts) {
  return NotificationWriter::bundle(sub, PayloadContent::kEmpty, {}, timestamp, opts, NotificationType::kHeartbeat)
      .value();
}

std::string statusJson(std::span<const SubscriptionState> subs, std::string_view timestamp,
                       const NotificationOptions& opts) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  writeField(w, "resourceType", "Bundle");
  std::string seed("status|");
  seed.append(timestamp);
  for (const SubscriptionState& s : subs) seed.append("|").append(s.id).append(":").append(std::to_string(s.events_since_start));
  writeField(w, "id", fhir::deterministicUuid(seed));
  writeField(w, "type", "searchset");
  writeField(w, "timestamp", timestamp);
  writeKey(w, "total");
  w.Uint64(subs.size());
  if (!subs.empty()) {
    writeKey(w, "entry");
    w.StartArray();
    for (const SubscriptionState& s : subs) {
      std::string id = fhir::deterministicUuid(seed + "|" + s.id);
      w.StartObject();
      writeKey(w, "fullUrl");
      w.urnUuid(id);
      writeKey(w, "resource");
      NotificationWriter::parameters(w, s, NotificationType::kQueryStatus, {}, {}, {}, {}, opts, id);
      writeKey(w, "search");
      w.StartObject();
      writeField(w, "mode", "match");
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace courier::subscriptions
