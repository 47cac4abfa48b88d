#include "engine/hl7v2/ack_builder.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>

#include "engine/core/digits.h"
#include "engine/hl7v2/escape.h"

namespace courier::hl7v2 {
namespace {

// Version as comparable numbers: "2.5.1" -> 251, "2.4" -> 240. Parts are read
// by hand and clamped (sscanf's %d is undefined on out-of-range input, and the
// version comes off the wire).
int versionNumber(std::string_view v) {
  int parts[3] = {0, 0, 0};
  size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    int n = 0;
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) n = std::min(n * 10 + (v[i] - '0'), 999);
    parts[k] = n;
    if (i >= v.size() || v[i] != '.') break;
    ++i;
  }
  return parts[0] * 100 + std::min(parts[1], 9) * 10 + std::min(parts[2], 9);
}

// DTM to the second in UTC (YYYYMMDDHHMMSS+0000), appended to `out`: written by hand
// (every ACK has one; strftime and a std::string of 19 characters cost more than the rest).
void appendTimestamp(std::string& out, const Clock& clock) {
  std::time_t t = std::chrono::system_clock::to_time_t(clock.now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[14];
  char* w = putDigits(buf, std::clamp(tm.tm_year + 1900, 0, 9999), 4);
  w = putDigits(w, tm.tm_mon + 1, 2);
  w = putDigits(w, tm.tm_mday, 2);
  w = putDigits(w, tm.tm_hour, 2);
  w = putDigits(w, tm.tm_min, 2);
  w = putDigits(w, std::min(tm.tm_sec, 59), 2);
  out.append(buf, static_cast<std::size_t>(w - buf));
  out += "+0000";
}

void appendNumber(std::string& out, int n) {
  if (n > 0) out += std::to_string(n);
}

// One counter for the whole process: two builders with the same prefix made in
// the same second would otherwise hand out the same ids.
std::atomic<uint64_t> g_control_id_counter{0};

}  // namespace

std::string_view ackCode(const MessageHeader& original, AckOutcome outcome) {
  bool enhanced = original.enhancedMode();
  switch (outcome) {
    case AckOutcome::kAccept: return enhanced ? "CA" : "AA";
    case AckOutcome::kError: return enhanced ? "CE" : "AE";
    case AckOutcome::kReject: return enhanced ? "CR" : "AR";
  }
  return "AE";
}

AckBuilder::AckBuilder(std::string id_prefix, Clock& clock) : prefix_(std::move(id_prefix)), clock_(clock) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llX", static_cast<unsigned long long>(secs));
  prefix_ += buf;
}

std::string AckBuilder::nextControlId() const {
  std::string id;
  appendControlId(id);
  return id;
}

void AckBuilder::appendControlId(std::string& out) const {
  out += prefix_;
  out += '.';
  char buf[24];
  auto [end, ec] =
      std::to_chars(buf, buf + sizeof buf, g_control_id_counter.fetch_add(1, std::memory_order_relaxed) + 1);
  out.append(buf, end);
}

namespace {

// Whether an acknowledgement condition (table 0155) asks for an answer to `outcome`.
bool wanted(std::string_view when, AckOutcome outcome) {
  if (when == "NE") return false;
  if (when == "ER") return outcome != AckOutcome::kAccept;
  if (when == "SU") return outcome == AckOutcome::kAccept;
  return true;
}

std::string_view applicationCode(AckOutcome outcome) {
  switch (outcome) {
    case AckOutcome::kAccept: return "AA";
    case AckOutcome::kError: return "AE";
    case AckOutcome::kReject: return "AR";
  }
  return "AE";
}

}  // namespace

std::optional<std::string> AckBuilder::build(const MessageHeader& original, AckOutcome outcome,
                                             std::span<const AckError> errors) const {
  if (original.isAck()) return std::nullopt;
  if (original.enhancedMode() && !wanted(original.accept_ack_type, outcome)) return std::nullopt;
  return render(original, ackCode(original, outcome), errors, false);
}

std::optional<std::string> AckBuilder::buildApplication(const MessageHeader& original, AckOutcome outcome,
                                                        std::span<const AckError> errors) const {
  if (original.isAck() || original.application_ack_type.empty()) return std::nullopt;
  if (!wanted(original.application_ack_type, outcome)) return std::nullopt;
  return render(original, applicationCode(outcome), errors, true);
}

std::string AckBuilder::render(const MessageHeader& original, std::string_view code,
                               std::span<const AckError> errors, bool application) const {
  const Delimiters& d = original.delimiters;
  const char f = d.field;
  const int version = versionNumber(original.version);
  std::string out;
  out.reserve(256);

  out += "MSH";
  out += f;
  for (char c : {d.component, d.repetition, d.escape, d.subcomponent, d.truncation})
    if (c != '\0') out += c;
  for (const std::string* s : {&original.receiving_application, &original.receiving_facility,
                               &original.sending_application, &original.sending_facility}) {
    out += f;
    out += *s;
  }
  out += f;
  appendTimestamp(out, clock_);
  out += f;  // MSH-8 security
  out += f;
  out += "ACK";
  if (!original.trigger_event.empty()) {
    out += d.component;
    out += original.trigger_event;
    if (version >= 231 || original.version.empty()) {
      out += d.component;
      out += "ACK";
    }
  }
  out += f;
  appendControlId(out);
  out += f;
  out += original.processing_id.empty() ? std::string_view("P") : std::string_view(original.processing_id);
  out += f;
  out += original.version.empty() ? std::string_view("2.5.1") : std::string_view(original.version);
  if (application || !original.charset.empty()) {
    out.append(3, f);  // MSH-13, MSH-14, then MSH-15
    if (application) out += "AL";
    out += f;
    if (application) out += "NE";
    if (!original.charset.empty()) {
      out.append(2, f);
      out += original.charset;
    }
  }
  out += '\r';

  out += "MSA";
  out += f;
  out += code;
  out += f;
  out += original.control_id;
  const bool modern = version >= 250 || original.version.empty();
  if (!modern && !errors.empty()) {
    out += f;
    appendEncoded(errors[0].message, d, out);
  }
  out += '\r';

  if (errors.empty()) return out;
  if (modern) {
    for (const AckError& e : errors) {
      out += "ERR";
      out += f;  // ERR-1 (withdrawn in 2.5)
      out += f;
      const ErrorLocation& l = e.location;
      if (!l.segment.empty()) {
        // ERR-2: segment ^ sequence ^ field ^ repetition ^ component ^ sub-component
        std::string erl = l.segment;
        int parts[5] = {l.segment_seq > 0 ? l.segment_seq : 1, l.field, l.field > 0 ? (l.repetition > 0 ? l.repetition : 1) : 0,
                        l.component, l.subcomponent};
        int last = 0;
        for (int k = 0; k < 5; ++k)
          if (parts[k] > 0) last = k + 1;
        for (int k = 0; k < last; ++k) {
          erl += d.component;
          appendNumber(erl, parts[k]);
        }
        out += erl;
      }
      out += f;
      out += std::to_string(static_cast<int>(e.condition));
      out += d.component;
      appendEncoded(conditionText(e.condition), d, out);
      out += d.component;
      out += "HL70357";
      out += f;
      out += e.severity;
      out.append(4, f);  // ERR-5 … ERR-7 empty, then ERR-8
      appendEncoded(e.message, d, out);
      out += '\r';
    }
    return out;
  }
  // v2.1–v2.4: ERR-1 (ELD) repeated: segment ^ sequence ^ field ^ code & text & HL70357
  const char sub = d.subcomponent != '\0' ? d.subcomponent : '&';
  out += "ERR";
  out += f;
  bool first = true;
  for (const AckError& e : errors) {
    if (!first) out += d.repetition;
    first = false;
    out += e.location.segment;
    out += d.component;
    appendNumber(out, e.location.segment.empty() ? 0 : (e.location.segment_seq > 0 ? e.location.segment_seq : 1));
    out += d.component;
    appendNumber(out, e.location.field);
    out += d.component;
    out += std::to_string(static_cast<int>(e.condition));
    out += sub;
    appendEncoded(conditionText(e.condition), d, out);
    out += sub;
    out += "HL70357";
  }
  out += '\r';
  return out;
}

}  // namespace courier::hl7v2
