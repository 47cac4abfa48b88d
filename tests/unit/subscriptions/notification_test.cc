#include "engine/subscriptions/notification.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "fixtures.h"

namespace courier::subscriptions {
namespace {

using testing::fixture;

constexpr const char* kNow = "2026-01-15T08:31:00-05:00";

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  EXPECT_FALSE(d.HasParseError());
  return d;
}

std::string param(const rapidjson::Value& parameters, const char* name, const char* value_key) {
  for (const auto& p : parameters["parameter"].GetArray())
    if (std::string(p["name"].GetString()) == name) return p[value_key].GetString();
  return "";
}

const rapidjson::Value* part(const rapidjson::Value& event, const char* name) {
  for (const auto& p : event["part"].GetArray())
    if (std::string(p["name"].GetString()) == name) return &p;
  return nullptr;
}

struct Fixture {
  record::CanonicalRecord rec = fixture("adt_a01.hl7");
  std::vector<Event> events = eventsFor(rec, nullptr, {}, false);
  FocusResources resources = FocusResources::fromRecord(rec).value();
  SubscriptionState sub{"registry-1", Topic::kDiagnosis, SubscriptionStatus::kActive, 12, {}};
  // The second diagnosis (E11.9) as event 12 of this subscription.
  std::vector<NotificationEvent> one() const {
    return {NotificationEvent{12, "2026-01-15T08:30:00-05:00", &events[2], &resources}};
  }
};

TEST(Notification, FullResourceCarriesTheFocusAndWhatItReferences) {
  Fixture f;
  auto json = notificationBundle(f.sub, PayloadContent::kFullResource, f.one(), kNow, {});
  ASSERT_TRUE(json.has_value()) << json.error().toString();
  auto d = parse(*json);
  EXPECT_STREQ(d["type"].GetString(), "history");
  const auto& entries = d["entry"];
  const auto& params = entries[0]["resource"];
  EXPECT_STREQ(params["resourceType"].GetString(), "Parameters");
  EXPECT_STREQ(params["parameter"][0]["valueReference"]["reference"].GetString(), "Subscription/registry-1");
  EXPECT_EQ(param(params, "topic", "valueCanonical"), topicUrl(Topic::kDiagnosis));
  EXPECT_EQ(param(params, "type", "valueCode"), "event-notification");
  EXPECT_EQ(param(params, "status", "valueCode"), "active");
  EXPECT_EQ(param(params, "events-since-subscription-start", "valueString"), "12");
  EXPECT_STREQ(entries[0]["request"]["url"].GetString(), "Subscription/registry-1/$status");

  // Focus: the second Condition of the record's Bundle, then Patient and Encounter.
  ASSERT_GE(entries.Size(), 4u);
  const auto& focus = entries[1];
  EXPECT_STREQ(focus["resource"]["resourceType"].GetString(), "Condition");
  EXPECT_STREQ(focus["resource"]["code"]["coding"][0]["code"].GetString(), "E11.9");
  EXPECT_STREQ(focus["request"]["method"].GetString(), "POST");
  EXPECT_STREQ(focus["response"]["status"].GetString(), "201");
  const rapidjson::Value* event = nullptr;
  for (const auto& p : params["parameter"].GetArray())
    if (std::string(p["name"].GetString()) == "notification-event") event = &p;
  ASSERT_NE(event, nullptr);
  EXPECT_STREQ((*part(*event, "event-number"))["valueString"].GetString(), "12");
  EXPECT_STREQ((*part(*event, "focus"))["valueReference"]["reference"].GetString(), focus["fullUrl"].GetString());
  std::vector<std::string> types;
  for (size_t i = 2; i < entries.Size(); ++i) types.push_back(entries[i]["resource"]["resourceType"].GetString());
  EXPECT_NE(std::find(types.begin(), types.end(), "Patient"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "Encounter"), types.end());
  EXPECT_EQ(std::find(types.begin(), types.end(), "Condition"), types.end());  // not the other diagnosis
}

TEST(Notification, IdOnlyListsTheFocusWithoutItsContent) {
  Fixture f;
  NotificationOptions opts{"https://courier.example.org/fhir"};
  auto json = notificationBundle(f.sub, PayloadContent::kIdOnly, f.one(), kNow, opts);
  ASSERT_TRUE(json.has_value());
  auto d = parse(*json);
  ASSERT_EQ(d["entry"].Size(), 2u);
  const auto& focus = d["entry"][1];
  EXPECT_FALSE(focus.HasMember("resource"));
  std::string url = focus["fullUrl"].GetString();
  EXPECT_EQ(url.rfind("https://courier.example.org/fhir/Condition/", 0), 0u);
  EXPECT_EQ(json->find("TESTPATIENT"), std::string::npos);
  EXPECT_STREQ(d["entry"][0]["request"]["url"].GetString(),
               "https://courier.example.org/fhir/Subscription/registry-1/$status");
}

TEST(Notification, EmptyCarriesOnlyTheStatus) {
  Fixture f;
  auto json = notificationBundle(f.sub, PayloadContent::kEmpty, f.one(), kNow, {});
  ASSERT_TRUE(json.has_value());
  auto d = parse(*json);
  ASSERT_EQ(d["entry"].Size(), 1u);
  EXPECT_EQ(json->find("\"focus\""), std::string::npos);
  EXPECT_NE(json->find("event-number"), std::string::npos);
}

TEST(Notification, EncounterUpdateIsAPut) {
  Fixture f;
  Event end = f.events[0];
  end.topic = Topic::kEncounterEnd;
  end.is_update = true;
  std::vector<NotificationEvent> events{{3, kNow, &end, &f.resources}};
  auto json = notificationBundle(f.sub, PayloadContent::kIdOnly, events, kNow, {});
  ASSERT_TRUE(json.has_value());
  auto d = parse(*json);
  std::string url = d["entry"][1]["request"]["url"].GetString();
  EXPECT_STREQ(d["entry"][1]["request"]["method"].GetString(), "PUT");
  EXPECT_EQ(url.rfind("Encounter/", 0), 0u);
}

TEST(Notification, AClaimFromElsewhereCanBeTheFocus) {
  Fixture f;
  ASSERT_TRUE(f.resources.addResource(R"({"resourceType":"Claim","id":"claim-1","status":"active"})").has_value());
  Event claim;
  claim.topic = Topic::kClaimProduced;
  claim.focus_type = "Claim";
  std::vector<NotificationEvent> events{{1, kNow, &claim, &f.resources}};
  auto json = notificationBundle(f.sub, PayloadContent::kFullResource, events, kNow, {});
  ASSERT_TRUE(json.has_value());
  EXPECT_NE(json->find("\"fullUrl\":\"urn:uuid:claim-1\""), std::string::npos);
}

// claim-produced with the Claim engine/claims writes (its golden file): full-resource
// carries the Claim itself and the record's Patient and Encounter; id-only its reference.
TEST(Notification, AClaimProducedCarriesTheClaimAndItsContext) {
  record::CanonicalRecord rec = testing::recordFrom(
      testing::readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.hl7"));
  auto resources = FocusResources::fromRecord(rec);
  ASSERT_TRUE(resources.has_value());
  const std::string claim =
      testing::readFile(std::string(COURIER_SOURCE_DIR) + "/tests/data/claims/dft_p03_office.claim.json");
  ASSERT_TRUE(resources->addResource(claim).has_value());
  const std::string claim_id = parse(claim)["id"].GetString();
  std::vector<Event> events = eventsFor(rec, nullptr, {}, true);
  const Event* produced = nullptr;
  for (const Event& e : events)
    if (e.topic == Topic::kClaimProduced) produced = &e;
  ASSERT_NE(produced, nullptr);
  SubscriptionState sub{"payer-1", Topic::kClaimProduced, SubscriptionStatus::kActive, 1, {}};
  std::vector<NotificationEvent> one{{1, kNow, produced, &*resources}};

  auto full = notificationBundle(sub, PayloadContent::kFullResource, one, kNow, {});
  ASSERT_TRUE(full.has_value()) << full.error().toString();
  auto d = parse(*full);
  // status, Claim, Patient, Encounter, then whom the Encounter names (its Practitioner)
  ASSERT_GE(d["entry"].Size(), 4u);
  const auto& focus = d["entry"][1];
  EXPECT_STREQ(focus["resource"]["resourceType"].GetString(), "Claim");
  EXPECT_EQ(focus["resource"]["id"].GetString(), claim_id);
  EXPECT_TRUE(focus["resource"].HasMember("item"));  // the whole Claim, not a stub
  EXPECT_STREQ(focus["request"]["method"].GetString(), "POST");
  EXPECT_STREQ(focus["request"]["url"].GetString(), "Claim");
  EXPECT_STREQ(d["entry"][2]["resource"]["resourceType"].GetString(), "Patient");
  EXPECT_STREQ(d["entry"][3]["resource"]["resourceType"].GetString(), "Encounter");
  const auto& ev = d["entry"][0]["resource"]["parameter"][5];
  EXPECT_EQ(std::string(part(ev, "focus")->operator[]("valueReference")["reference"].GetString()),
            "urn:uuid:" + claim_id);
  int context = 0;
  for (const auto& p : ev["part"].GetArray()) context += std::string(p["name"].GetString()) == "additional-context";
  EXPECT_EQ(context, static_cast<int>(d["entry"].Size()) - 2);
  for (rapidjson::SizeType e = 2; e < d["entry"].Size(); ++e) {
    const std::string type = d["entry"][e]["resource"]["resourceType"].GetString();
    EXPECT_TRUE(type != "Condition" && type != "Procedure" && type != "Observation") << type;
    EXPECT_STREQ(d["entry"][e]["request"]["method"].GetString(), "GET");
  }

  auto ids = notificationBundle(sub, PayloadContent::kIdOnly, one, kNow, {"https://courier.example/fhir"});
  ASSERT_TRUE(ids.has_value());
  auto i = parse(*ids);
  ASSERT_EQ(i["entry"].Size(), 2u);
  EXPECT_EQ(std::string(i["entry"][1]["fullUrl"].GetString()), "https://courier.example/fhir/Claim/" + claim_id);
  EXPECT_FALSE(i["entry"][1].HasMember("resource"));
}

TEST(Notification, MissingFocusIsAnError) {
  Fixture f;
  Event ghost = f.events[2];
  ghost.focus_index = 40;
  std::vector<NotificationEvent> events{{1, kNow, &ghost, &f.resources}};
  auto json = notificationBundle(f.sub, PayloadContent::kIdOnly, events, kNow, {});
  ASSERT_FALSE(json.has_value());
  EXPECT_EQ(json.error().code, ErrorCode::kNotFound);
  std::vector<NotificationEvent> bare{{1, kNow, &f.events[2], nullptr}};
  EXPECT_EQ(notificationBundle(f.sub, PayloadContent::kIdOnly, bare, kNow, {}).error().code,
            ErrorCode::kInvalidArgument);
}

// to_fhir writes one Condition per diagnosis, in order: the focus lookup relies on it.
TEST(Notification, RecordBundleHasOneResourcePerItemInOrder) {
  Fixture f;
  std::string ids[2];
  for (int i = 0; i < 2; ++i) {
    auto json = notificationBundle(f.sub, PayloadContent::kIdOnly,
                                   std::vector<NotificationEvent>{{1, kNow, &f.events[static_cast<size_t>(1 + i)], &f.resources}},
                                   kNow, {});
    ASSERT_TRUE(json.has_value());
    ids[i] = parse(*json)["entry"][1]["fullUrl"].GetString();
  }
  EXPECT_NE(ids[0], ids[1]);
}

TEST(Notification, HandshakeHeartbeatAndStatus) {
  SubscriptionState sub{"s1", Topic::kImmunization, SubscriptionStatus::kRequested, 0, {}};
  auto hs = parse(handshakeBundle(sub, kNow, {}));
  EXPECT_EQ(param(hs["entry"][0]["resource"], "type", "valueCode"), "handshake");
  EXPECT_EQ(hs["entry"].Size(), 1u);
  sub.status = SubscriptionStatus::kActive;
  sub.events_since_start = 41;
  auto hb = parse(heartbeatBundle(sub, kNow, {}));
  EXPECT_EQ(param(hb["entry"][0]["resource"], "type", "valueCode"), "heartbeat");
  EXPECT_EQ(param(hb["entry"][0]["resource"], "events-since-subscription-start", "valueString"), "41");
  SubscriptionState broken{"s2", Topic::kDiagnosis, SubscriptionStatus::kError, 7, "endpoint refused 5 times"};
  std::vector<SubscriptionState> both{sub, broken};
  auto st = parse(statusJson(both, kNow, {}));
  EXPECT_STREQ(st["type"].GetString(), "searchset");
  ASSERT_EQ(st["entry"].Size(), 2u);
  EXPECT_EQ(param(st["entry"][1]["resource"], "type", "valueCode"), "query-status");
  EXPECT_EQ(param(st["entry"][1]["resource"], "status", "valueCode"), "error");
}

}  // namespace
}  // namespace courier::subscriptions
