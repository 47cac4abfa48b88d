#include "engine/pipeline/pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "engine/claims/claims.h"
#include "engine/core/log.h"
#include "engine/core/thread.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_bytes.h"
#include "engine/record/record_json.h"
#include "engine/record/to_fhir.h"
#include "engine/routing/specialty.h"
#include "engine/subscriptions/event.h"
#include "engine/subscriptions/notification.h"

namespace courier::pipeline {
namespace {

bool isClaimFormat(config::PayloadFormat f) {
  return f == config::PayloadFormat::kFhirClaim || f == config::PayloadFormat::kX12_837P;
}

std::string_view contentTypeFor(config::PayloadFormat f) {
  switch (f) {
    case config::PayloadFormat::kHl7v2: return "x-application/hl7-v2+er7";
    case config::PayloadFormat::kFhirBundle:
    case config::PayloadFormat::kFhirClaim: return "application/fhir+json";
    case config::PayloadFormat::kX12_837P: return "application/edi-x12";
    case config::PayloadFormat::kNdjson: return "application/x-ndjson";
  }
  return "application/octet-stream";
}

std::string_view extensionFor(config::PayloadFormat f) {
  switch (f) {
    case config::PayloadFormat::kHl7v2: return ".hl7";
    case config::PayloadFormat::kFhirBundle:
    case config::PayloadFormat::kFhirClaim: return ".json";
    case config::PayloadFormat::kX12_837P: return ".x12";
    case config::PayloadFormat::kNdjson: return ".ndjson";
  }
  return ".dat";
}

// "E11.9 I10 | J1100" — diagnoses, then procedures and charges.
std::string codesSummary(const coding::CodedRecord& coded) {
  std::string dx, other;
  auto add = [](std::string& out, const std::vector<coding::CodingResult>& items) {
    for (const auto& r : items) {
      for (const auto& c : r.codes) {
        if (!out.empty()) out += ' ';
        out += c.code;
      }
    }
  };
  add(dx, coded.diagnoses);
  add(other, coded.procedures);
  add(other, coded.charges);
  if (other.empty()) return dx;
  return dx + " | " + other;
}

std::string sourceOf(const record::Code& code, const record::Sourced& text) {
  std::string out;
  if (!code.code.empty()) {
    out = code.code.source + ": " + code.code.value;
    if (!code.system.empty()) out += " (" + code.system.value + ")";
  }
  if (!text.empty()) {
    if (!out.empty()) out += "; ";
    out += text.source + ": " + text.value;
  }
  return out;
}

std::string suggestionsOf(const coding::CodingResult& r) {
  std::string out;
  for (const auto* list : {&r.codes, &r.alternatives}) {
    for (const auto& c : *list) {
      if (!out.empty()) out += "; ";
      out += c.code + " " + c.display;
    }
  }
  return out;
}

void addReview(const record::CanonicalRecord& rec, const coding::CodedRecord& coded,
               std::vector<store::ReviewEntry>& out) {
  auto add = [&](const char* kind, std::size_t i, const coding::CodingResult& r, std::string source) {
    if (!r.review) return;
    store::ReviewEntry e;
    e.kind = kind;
    e.item_index = static_cast<int>(i);
    e.source = std::move(source);
    e.reason = r.reason;
    e.query = r.query;
    e.suggestions = suggestionsOf(r);
    out.push_back(std::move(e));
  };
  for (std::size_t i = 0; i < coded.diagnoses.size() && i < rec.diagnoses.size(); ++i) {
    add("diagnosis", i, coded.diagnoses[i], sourceOf(rec.diagnoses[i].code, rec.diagnoses[i].text));
  }
  for (std::size_t i = 0; i < coded.procedures.size() && i < rec.procedures.size(); ++i) {
    add("procedure", i, coded.procedures[i], sourceOf(rec.procedures[i].code, rec.procedures[i].text));
  }
  for (std::size_t i = 0; i < coded.charges.size() && i < rec.charges.size(); ++i) {
    const auto& c = rec.charges[i];
    add("charge", i, coded.charges[i], sourceOf(c.hcpcs.empty() ? c.chargemaster : c.hcpcs, {}));
  }
}

// "LAB" of "LAB^2.16.840.1.113883.19.4.6^ISO".
std::string_view firstComponent(std::string_view field, char component) {
  return field.substr(0, field.find(component));
}

std::optional<coding::CodedItemKind> kindOf(std::string_view name) {
  if (name == "diagnosis") return coding::CodedItemKind::kDiagnosis;
  if (name == "procedure") return coding::CodedItemKind::kProcedure;
  if (name == "charge") return coding::CodedItemKind::kCharge;
  return std::nullopt;
}

}  // namespace

struct Pipeline::Raised {
  std::unique_ptr<record::CanonicalRecord> record;  // the events point into it
  std::unique_ptr<coding::CodedRecord> coded;
  std::vector<subscriptions::Event> events;
  std::vector<std::pair<std::size_t, std::string>> matches;  // event index, subscription id
  std::optional<subscriptions::FocusResources> focus;
};

Pipeline::Pipeline(store::WorkStore& work, const config::Config& config, const routing::Router& router,
                   const coding::RecordCoder* coder, PipelineOptions options)
    : work_(work), config_(config), router_(router), coder_(coder), options_(std::move(options)) {
  options_.batch = std::max<std::size_t>(options_.batch, 1);
  options_.workers = std::max<std::size_t>(options_.workers, 1);
}

Pipeline::~Pipeline() { stop(); }

void Pipeline::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Pipeline::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Pipeline::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

PipelineStats Pipeline::stats() const {
  return PipelineStats{processed_.load(),     routed_.load(),       no_route_.load(),
                       held_.load(),          failed_.load(),       enqueued_.load(),
                       batches_.load(),       store_errors_.load(), application_acks_.load(),
                       application_acks_unrouted_.load()};
}

store::ProcessedMessage Pipeline::process(const store::InboxItem& item) const { return processInto(item, nullptr); }

store::ProcessedMessage Pipeline::processInto(const store::InboxItem& item, Raised* raised) const {
  store::ProcessedMessage out = route(item, raised);
  acknowledge(item, out);
  return out;
}

void Pipeline::acknowledge(const store::InboxItem& item, store::ProcessedMessage& out) const {
  if (item.requeued) return;
  // Most messages ask for none (MSH-16 empty): seen without parsing their header again.
  if (auto msh16 = hl7v2::MessageHeader::rawField(item.raw, 16); msh16 && msh16->empty()) return;
  if (record::detectFormat(item.raw) != record::InputFormat::kHl7v2) return;
  const hl7v2::MessageHeader header = hl7v2::MessageHeader::salvage(item.raw);
  const bool failed = out.outcome == "failed";
  std::vector<hl7v2::AckError> errors;
  if (failed) errors.push_back({hl7v2::ErrorCondition::kApplicationError, out.detail, {}, 'E'});
  auto ack = acks_.buildApplication(header, failed ? hl7v2::AckOutcome::kReject : hl7v2::AckOutcome::kAccept,
                                    errors);
  if (!ack) return;  // MSH-16 asks for none in this case
  const std::string_view facility = firstComponent(header.sending_facility, header.delimiters.component);
  const std::string_view application = firstComponent(header.sending_application, header.delimiters.component);
  const config::ApplicationAckConfig* to = nullptr;
  for (const auto& a : config_.pipeline.application_acks) {
    if ((a.facility.empty() || a.facility == facility) && (a.application.empty() || a.application == application)) {
      to = &a;
      break;
    }
  }
  if (to == nullptr) {
    if (application_acks_unrouted_++ == 0) {
      logger("pipeline")->warn("a message asks for an application acknowledgement (MSH-16) but "
                               "pipeline.application_acks names no destination for its sender; none is sent");
    }
    if (!out.detail.empty()) out.detail += "; ";
    out.detail += "MSH-16 asks for an application acknowledgement (" + header.application_ack_type +
                  ") but pipeline.application_acks names no destination for " + std::string(application) + "/" +
                  std::string(facility);
    return;
  }
  store::OutboxEntry e;
  e.destination = to->destination;
  e.route = "application-ack";
  e.patient_key = item.patient_id;
  e.idempotency_key = "courier-" + std::to_string(item.id) + "-application-ack";
  e.content_type = contentTypeFor(config::PayloadFormat::kHl7v2);
  e.file_name = to->destination + "-" + std::to_string(item.id) + "-ack.hl7";
  e.payload = std::move(*ack);
  out.outbox.push_back(std::move(e));
}

store::ProcessedMessage Pipeline::route(const store::InboxItem& item, Raised* raised) const {
  store::ProcessedMessage out;
  out.id = item.id;
  out.requeued = item.requeued;

  // 1. Parse into the canonical record (HL7 v2 or FHIR JSON, then the site's maps).
  record::DecodeOptions decode;
  decode.site_maps = options_.site_maps;
  auto decoded = record::recordFromBytes(item.raw, decode);
  if (!decoded) {
    out.outcome = "failed";
    const bool fhir = record::detectFormat(item.raw) == record::InputFormat::kFhirJson;
    out.detail = std::string(fhir ? "FHIR" : "HL7 v2");
    if (!decoded.error().location.empty()) out.detail += " " + decoded.error().location;
    out.detail += ": " + decoded.error().message;
    return out;
  }
  record::CanonicalRecord rec = std::move(decoded->record);
  std::optional<hl7v2::Message>& message = decoded->message;

  // 2. Code, with a reviewer's decisions when the message comes back from review.
  coding::CodedRecord coded;
  if (coder_ != nullptr) {
    std::vector<coding::CodeOverride> overrides;
    for (const auto& res : item.resolved) {
      auto kind = kindOf(res.kind);
      if (!kind || res.item_index < 0) continue;
      overrides.push_back(coding::CodeOverride{*kind, static_cast<std::size_t>(res.item_index), res.codes, res.reviewer});
    }
    coded = coder_->code(rec, overrides);
    out.codes = codesSummary(coded);
  }

  // 3. Route.
  routing::RouteInput input{rec, coder_ != nullptr ? &coded : nullptr, item.listener,
                            message ? &*message : nullptr};
  auto decisions = router_.route(input);
  // Keeps what the subscription events need (the record, its codes) past this function.
  auto keep = [&] {
    if (raised == nullptr) return;
    raised->record = std::make_unique<record::CanonicalRecord>(std::move(rec));
    if (coder_ != nullptr) raised->coded = std::make_unique<coding::CodedRecord>(std::move(coded));
    raise(item, out, *raised);
  };
  if (decisions.empty()) {
    // A route may ask for billable codes (`coded: billable`): a message whose codes need
    // review then matches nothing yet. Its items go to the worklist all the same, and once
    // resolved it comes back and is routed with the reviewer's codes.
    if (coder_ != nullptr && coded.needsReview()) {
      addReview(rec, coded, out.review);
      out.outcome = "held-for-review";
      out.detail = "no route matched while codes wait for review";
    } else {
      out.outcome = "no-route";
    }
    keep();
    return out;
  }

  // 4. One payload per destination.
  const std::string patient_key = item.patient_id;
  bool held = false;
  std::string notes;
  std::optional<std::string> bundle;  // the record as FHIR, written once
  for (const auto& d : decisions) {
    const config::DestinationConfig* dest = config_.findDestination(d.destination);
    if (dest == nullptr) continue;  // config validation makes this impossible
    store::OutboxEntry e;
    e.destination = dest->name;
    e.route = d.route;
    e.patient_key = patient_key;
    e.idempotency_key = "courier-" + std::to_string(item.id) + "-" + dest->name;
    e.content_type = contentTypeFor(dest->format);
    e.file_name = dest->name + "-" + std::to_string(item.id) + std::string(extensionFor(dest->format));
    switch (dest->format) {
      case config::PayloadFormat::kHl7v2:
        e.payload = item.raw;
        e.payload_is_message = true;  // stored once, as the message
        break;
      case config::PayloadFormat::kFhirBundle:
        if (!bundle) bundle = record::toFhirBundle(rec);
        e.payload = *bundle;
        break;
      case config::PayloadFormat::kNdjson:
        e.payload = record::toRecordJson(rec);
        e.payload.erase(std::remove(e.payload.begin(), e.payload.end(), '\n'), e.payload.end());
        e.payload += '\n';
        break;
      case config::PayloadFormat::kFhirClaim:
      case config::PayloadFormat::kX12_837P: {
        claims::ClaimInput claim{&rec, &coded, e.idempotency_key, item.id};
        if (coder_ == nullptr) {
          notes += dest->name + ": no coder loaded; ";
          continue;
        }
        if (coded.needsReview()) {
          held = true;
          notes += dest->name + ": held until the review items are resolved; ";
          continue;
        }
        // The writers refuse a record that is not claimable, saying why ("not claimable:
        // charge 2 has no HCPCS code"); the claim model is built once, by the writer.
        // The interchange date (ISA09/10, BHT) is when the claim was made; the outbox
        // keeps this payload, so every try of it sends the same bytes.
        auto payload = dest->format == config::PayloadFormat::kFhirClaim
                           ? claims::toFhirClaim(claim, dest->claim)
                           : claims::toX12_837P(std::span<const claims::ClaimInput>(&claim, 1), dest->claim,
                                                std::chrono::system_clock::now());
        if (!payload) {
          notes += dest->name + ": " + payload.error().message + "; ";
          continue;
        }
        e.payload = std::move(*payload);
        break;
      }
    }
    out.outbox.push_back(std::move(e));
  }
  if (coder_ != nullptr && coded.needsReview()) addReview(rec, coded, out.review);
  if (!notes.empty()) {
    notes.resize(notes.size() - 2);
    out.detail = notes;
  }
  out.outcome = held ? "held-for-review" : (out.outbox.empty() ? "no-route" : "routed");
  keep();
  return out;
}

void Pipeline::raise(const store::InboxItem& item, store::ProcessedMessage& out, Raised& raised) const {
  const record::CanonicalRecord& rec = *raised.record;
  const coding::CodedRecord* coded = raised.coded.get();
  bool claim_produced = false;
  const store::OutboxEntry* claim_entry = nullptr;  // the first claim made (subscriptions' focus)
  const config::DestinationConfig* claim_dest = nullptr;
  for (const auto& e : out.outbox) {
    const config::DestinationConfig* dest = config_.findDestination(e.destination);
    if (dest != nullptr && isClaimFormat(dest->format)) {
      claim_produced = true;
      if (claim_entry == nullptr) {
        claim_entry = &e;
        claim_dest = dest;
      }
    }
  }
  auto specialties = routing::deriveSpecialties(rec, coded);
  raised.events = subscriptions::eventsFor(rec, coded, specialties, claim_produced);
  if (item.requeued) {
    std::erase_if(raised.events,
                  [](const subscriptions::Event& e) { return e.topic != subscriptions::Topic::kClaimProduced; });
  }
  for (std::size_t i = 0; i < raised.events.size(); ++i) {
    for (auto& id : options_.subscriptions->match(raised.events[i])) raised.matches.emplace_back(i, std::move(id));
  }
  if (raised.matches.empty()) return;
  auto focus = subscriptions::FocusResources::fromRecord(rec);
  if (!focus) return;
  // claim-produced's focus is the Claim itself: the FHIR Claim sent, or for an 837P the
  // same claim written as FHIR (same claim id, so the same Claim resource id).
  if (claim_entry != nullptr && coded != nullptr) {
    auto claim = claim_dest->format == config::PayloadFormat::kFhirClaim
                     ? Result<std::string>(claim_entry->payload)
                     : claims::toFhirClaim(claims::ClaimInput{&rec, coded, claim_entry->idempotency_key, item.id},
                                           claim_dest->claim);
    if (claim) (void)focus->addResource(*claim);
  }
  raised.focus.emplace(std::move(*focus));
}

// Sequential, in inbox order: numbers, notification Bundles, outbox entries, event rows.
void Pipeline::notify(std::vector<store::ProcessedMessage>& done, std::vector<Raised>& raised) const {
  SubscriptionRegistry& registry = *options_.subscriptions;
  const std::string now = fhirInstant(std::chrono::system_clock::now());
  for (std::size_t m = 0; m < done.size(); ++m) {
    Raised& r = raised[m];
    for (const auto& [event_index, id] : r.matches) {
      auto assigned = registry.assign(id);
      if (!assigned) continue;  // removed meanwhile
      const std::uint64_t number = assigned->state.events_since_start;
      subscriptions::NotificationEvent ne{number, now, &r.events[event_index], r.focus ? &*r.focus : nullptr};
      auto content = r.focus ? assigned->content : subscriptions::PayloadContent::kEmpty;
      auto bundle = subscriptions::notificationBundle(assigned->state, content, std::span(&ne, 1), now,
                                                      registry.notificationOptions());
      if (!bundle) {
        // The focus is not among the record's resources (a Claim): the event still counts.
        bundle = subscriptions::notificationBundle(assigned->state, subscriptions::PayloadContent::kEmpty,
                                                   std::span(&ne, 1), now, registry.notificationOptions());
      }
      if (!bundle) continue;
      store::OutboxEntry e;
      e.destination = subscriptionDestination(id);
      e.route = "subscription";
      e.patient_key = r.events[event_index].patient_ref;
      e.idempotency_key = "courier-" + std::to_string(done[m].id) + "-" + e.destination + "-" + std::to_string(number);
      e.content_type = "application/fhir+json";
      e.file_name = "subscription-" + id + "-" + std::to_string(number) + ".json";
      e.payload = *bundle;
      done[m].subscription_events.push_back(store::SubscriptionEventRecord{id, number, done[m].id, *bundle, {}});
      done[m].outbox.push_back(std::move(e));
    }
  }
}

Result<std::size_t> Pipeline::runOnce() {
  auto items = work_.nextInbox(options_.batch);
  if (!items) return Unexpected(items.error());
  if (items->empty()) return std::size_t{0};
  std::vector<store::ProcessedMessage> done(items->size());
  const std::size_t n = items->size();
  // Asked after the batch was read: a subscription made before any of its messages was
  // stored is seen. Without subscriptions no events are derived, and each record is freed
  // on the worker that built it instead of here, one after the other.
  const bool subs = options_.subscriptions != nullptr && !options_.subscriptions->empty();
  std::vector<Raised> raised(subs ? n : 0);
  // Pure computation: any split keeps order, which is fixed at commit (inbox order).
  // The pool's threads live as long as the pipeline (started by the first batch).
  if (!pool_ && options_.workers > 1) pool_ = std::make_unique<WorkerPool>(options_.workers, "courier-work", kBackgroundNice);
  const std::function<void(std::size_t)> one = [&](std::size_t i) {
    done[i] = processInto((*items)[i], subs ? &raised[i] : nullptr);
    if (subs && raised[i].matches.empty()) raised[i] = Raised{};  // notify() reads matches only
  };
  if (pool_) {
    pool_->run(n, one);
  } else {
    for (std::size_t i = 0; i < n; ++i) one(i);
  }
  std::map<std::string, std::uint64_t, std::less<>> counters;
  if (subs) {
    counters = options_.subscriptions->counters();
    notify(done, raised);
  }
  if (auto r = work_.completeInbox(done); !r) {
    // Nothing of the batch is stored: the numbers it took are given back, so the batch's
    // next run numbers the same events the same way (the store holds the same counters).
    if (subs) options_.subscriptions->restore(counters);
    return Unexpected(r.error());
  }
  std::set<std::string> touched;
  for (const auto& m : done) {
    ++processed_;
    if (m.outcome == "routed") ++routed_;
    else if (m.outcome == "no-route") ++no_route_;
    else if (m.outcome == "held-for-review") ++held_;
    else if (m.outcome == "failed") ++failed_;
    enqueued_ += m.outbox.size();
    for (const auto& e : m.outbox) {
      touched.insert(e.destination);
      if (e.route == "application-ack") ++application_acks_;  // counted once committed
    }
  }
  ++batches_;
  if (options_.on_enqueued && !touched.empty()) {
    options_.on_enqueued(std::vector<std::string>(touched.begin(), touched.end()));
  }
  return n;
}

void Pipeline::loop() {
  pthread_setname_np(pthread_self(), "courier-pipe");
  // Senders wait for ACKs, not for processing: when the CPU is short, ingest goes first
  // and the inbox (durable) absorbs the difference.
  lowerThisThreadPriority(kBackgroundNice);
  for (;;) {
    std::chrono::milliseconds wait = options_.idle_poll;
    auto r = runOnce();
    if (!r) {
      if (store_errors_++ == 0) logger("pipeline")->warn("pipeline: {}", r.error().message);
      wait = options_.store_retry;
    } else if (*r > 0) {
      std::lock_guard lock(mu_);
      if (stop_) return;
      continue;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return woken_ || stop_; });
    if (stop_) return;
    woken_ = false;
  }
}

}  // namespace courier::pipeline
