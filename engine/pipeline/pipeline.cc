#include "engine/pipeline/pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "engine/claims/claims.h"
#include "engine/core/log.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_fhir.h"
#include "engine/record/from_hl7v2.h"
#include "engine/record/record_json.h"
#include "engine/record/to_fhir.h"

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

std::optional<coding::CodedItemKind> kindOf(std::string_view name) {
  if (name == "diagnosis") return coding::CodedItemKind::kDiagnosis;
  if (name == "procedure") return coding::CodedItemKind::kProcedure;
  if (name == "charge") return coding::CodedItemKind::kCharge;
  return std::nullopt;
}

}  // namespace

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
  return PipelineStats{processed_.load(), routed_.load(), no_route_.load(), held_.load(),
                       failed_.load(),    enqueued_.load(), batches_.load(), store_errors_.load()};
}

store::ProcessedMessage Pipeline::process(const store::InboxItem& item) const {
  store::ProcessedMessage out;
  out.id = item.id;
  out.requeued = item.requeued;

  // 1. Parse into the canonical record.
  std::optional<hl7v2::Message> message;
  record::CanonicalRecord rec;
  std::string_view raw = item.raw;
  std::size_t first = raw.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && raw[first] == '{') {
    auto r = record::fromFhirJson(raw);
    if (!r) {
      out.outcome = "failed";
      out.detail = "FHIR: " + r.error().message;
      return out;
    }
    rec = std::move(*r);
  } else {
    auto m = hl7v2::Message::parse(raw);
    if (!m) {
      out.outcome = "failed";
      out.detail = "HL7 v2 " + m.error().location.toPath() + ": " + m.error().message;
      return out;
    }
    message.emplace(std::move(*m));
    auto r = record::fromHl7v2(*message);
    if (!r) {
      out.outcome = "failed";
      out.detail = r.error().message;
      if (!r.error().location.empty()) out.detail = r.error().location + ": " + out.detail;
      return out;
    }
    rec = std::move(*r);
  }

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
  if (decisions.empty()) {
    out.outcome = "no-route";
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
        if (auto ok = claims::checkClaimable(claim); !ok) {
          notes += dest->name + ": not claimable: " + ok.error().message + "; ";
          continue;
        }
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
  return out;
}

Result<std::size_t> Pipeline::runOnce() {
  auto items = work_.nextInbox(options_.batch);
  if (!items) return Unexpected(items.error());
  if (items->empty()) return std::size_t{0};
  std::vector<store::ProcessedMessage> done(items->size());
  const std::size_t n = items->size();
  const std::size_t workers = std::min(options_.workers, n);
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) done[i] = process((*items)[i]);
  } else {
    // Pure computation: any split keeps order, which is fixed at commit (inbox order).
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    auto work = [&](std::size_t w) {
      for (std::size_t i = w; i < n; i += workers) done[i] = process((*items)[i]);
    };
    for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool) t.join();
  }
  if (auto r = work_.completeInbox(done); !r) return Unexpected(r.error());
  std::set<std::string> touched;
  for (const auto& m : done) {
    ++processed_;
    if (m.outcome == "routed") ++routed_;
    else if (m.outcome == "no-route") ++no_route_;
    else if (m.outcome == "held-for-review") ++held_;
    else if (m.outcome == "failed") ++failed_;
    enqueued_ += m.outbox.size();
    for (const auto& e : m.outbox) touched.insert(e.destination);
  }
  ++batches_;
  if (options_.on_enqueued && !touched.empty()) {
    options_.on_enqueued(std::vector<std::string>(touched.begin(), touched.end()));
  }
  return n;
}

void Pipeline::loop() {
  pthread_setname_np(pthread_self(), "courier-pipe");
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
