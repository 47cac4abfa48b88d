// Small synthetic HL7 v2 messages (no real patient data) turned into records, and
// CodedRecords built by hand, for the routing tests.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "engine/coding/record_coder.h"
#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"

namespace courier::routing::testing {

// Segments joined with '\r'.
inline std::string hl7(std::initializer_list<std::string> segments) {
  std::string out;
  for (const auto& s : segments) {
    out += s;
    out += '\r';
  }
  return out;
}

// A segment with the given fields set (1-based), the others empty: `seg("PV1", {{2, "I"}})`.
inline std::string seg(std::string_view id, std::initializer_list<std::pair<int, std::string_view>> fields) {
  int last = 0;
  for (const auto& f : fields) last = std::max(last, f.first);
  std::vector<std::string_view> values(static_cast<std::size_t>(last) + 1);
  for (const auto& f : fields) values[static_cast<std::size_t>(f.first)] = f.second;
  std::string out(id);
  for (int i = 1; i <= last; ++i) {
    out += '|';
    out += values[static_cast<std::size_t>(i)];
  }
  return out;
}

// A parsed message with its record; owns the bytes the Message views.
struct Parsed {
  std::string bytes;
  hl7v2::Message message;
  record::CanonicalRecord record;
};

inline std::unique_ptr<Parsed> parse(std::string bytes) {
  auto p = std::make_unique<Parsed>();
  p->bytes = std::move(bytes);
  auto msg = hl7v2::Message::parse(p->bytes);
  EXPECT_TRUE(msg.has_value());
  if (!msg) return p;
  p->message = std::move(*msg);
  auto rec = record::fromHl7v2(p->message);
  EXPECT_TRUE(rec.has_value()) << (rec ? "" : rec.error().toString());
  if (rec) p->record = std::move(*rec);
  return p;
}

inline coding::AssignedCode assigned(std::string code, coding::CodeSystem system = coding::CodeSystem::kIcd10Cm) {
  coding::AssignedCode c;
  c.code = std::move(code);
  c.system = system;
  c.method = coding::CodingMethod::kSource;
  c.confidence = 1.0;
  return c;
}

inline coding::CodingResult result(std::vector<coding::AssignedCode> codes, bool review = false) {
  coding::CodingResult r;
  r.codes = std::move(codes);
  r.review = review;
  return r;
}

}  // namespace courier::routing::testing
