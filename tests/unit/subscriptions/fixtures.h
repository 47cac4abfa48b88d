// Shared helpers for the subscriptions tests: Subscription JSON with the backport extensions,
// and records built from HL7 v2 text.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/hl7v2/message.h"
#include "engine/record/from_hl7v2.h"
#include "engine/subscriptions/subscription.h"

namespace courier::subscriptions::testing {

inline const std::string kIcd = "http://hl7.org/fhir/sid/icd-10-cm";

// An R4 Subscription; `filters` become backport-filter-criteria extensions.
inline std::string subscriptionJson(const std::string& topic, const std::vector<std::string>& filters = {},
                                    const std::string& content = "id-only",
                                    const std::string& endpoint = "https://registry.example/notify",
                                    const std::string& extra_channel = "") {
  std::string j = R"({"resourceType":"Subscription","status":"requested","reason":"test",)";
  j += R"("criteria":"http://courier.example/fhir/SubscriptionTopic/)" + topic + "\"";
  if (!filters.empty()) {
    j += R"(,"_criteria":{"extension":[)";
    for (size_t i = 0; i < filters.size(); ++i) {
      if (i) j += ",";
      j += R"({"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria","valueString":")" +
           filters[i] + "\"}";
    }
    j += "]}";
  }
  j += R"(,"channel":{"type":"rest-hook","endpoint":")" + endpoint + "\"";
  j += R"(,"payload":"application/fhir+json","_payload":{"extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content","valueCode":")" +
       content + "\"}]}";
  j += extra_channel;
  j += "}}";
  return j;
}

inline SubscriptionSpec spec(const std::string& id, const std::string& topic,
                             const std::vector<std::string>& filters = {}) {
  auto s = parseSubscription(subscriptionJson(topic, filters));
  EXPECT_TRUE(s.has_value()) << (s.has_value() ? "" : s.error().toString());
  if (!s.has_value()) return {};
  s->id = id;
  return *s;
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// HL7 v2 text ('\n' or '\r' separated) → record. The Message views its bytes, which the
// record does not: the record holds its own strings.
inline record::CanonicalRecord recordFrom(std::string text) {
  for (char& c : text)
    if (c == '\n') c = '\r';
  auto msg = hl7v2::Message::parse(text);
  EXPECT_TRUE(msg.has_value());
  if (!msg.has_value()) return {};
  auto rec = record::fromHl7v2(*msg);
  EXPECT_TRUE(rec.has_value()) << (rec.has_value() ? "" : rec.error().toString());
  return rec.has_value() ? *rec : record::CanonicalRecord{};
}

inline record::CanonicalRecord fixture(const std::string& name) {
  return recordFrom(readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/record/" + name));
}

}  // namespace courier::subscriptions::testing
