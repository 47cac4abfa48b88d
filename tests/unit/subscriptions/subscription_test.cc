#include "engine/subscriptions/subscription.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace courier::subscriptions {
namespace {

using testing::kIcd;
using testing::subscriptionJson;

TEST(ParseSubscription, CancerRegistrySubscriptionReadsEveryElement) {
  std::string channel_ext =
      R"(,"header":["Authorization: Bearer abc"],"extension":[)"
      R"({"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period","valueUnsignedInt":120},)"
      R"({"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-timeout","valueUnsignedInt":30},)"
      R"({"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count","valuePositiveInt":20}])";
  auto s = parseSubscription(subscriptionJson(
      "diagnosis", {"Condition?code=" + kIcd + "|C00-D49", "facility=GOODHEALTH&patient-class=IMP"}, "full-resource",
      "https://registry.example/notify", channel_ext));
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  EXPECT_EQ(s->topic, Topic::kDiagnosis);
  EXPECT_EQ(s->status, SubscriptionStatus::kRequested);
  EXPECT_EQ(s->channel.content, PayloadContent::kFullResource);
  EXPECT_EQ(s->channel.endpoint, "https://registry.example/notify");
  ASSERT_EQ(s->channel.headers.size(), 1u);
  EXPECT_EQ(s->channel.heartbeat_period, std::chrono::seconds(120));
  EXPECT_EQ(s->channel.timeout, std::chrono::seconds(30));
  EXPECT_EQ(s->channel.max_count, 20u);
  ASSERT_EQ(s->filters.size(), 3u);
  EXPECT_EQ(s->filters[0].key, FilterKey::kCode);
  ASSERT_EQ(s->filters[0].codes.size(), 1u);
  EXPECT_EQ(s->filters[0].codes[0].low, "C00");
  EXPECT_EQ(s->filters[0].codes[0].high, "D49");
  EXPECT_EQ(s->filters[1].key, FilterKey::kFacility);
  EXPECT_EQ(s->filters[1].values, std::vector<std::string>{"goodhealth"});
  EXPECT_EQ(s->filters[2].values, std::vector<std::string>{"I"});
  EXPECT_EQ(s->filter_criteria.size(), 2u);
}

TEST(ParseSubscription, CodeListsDefaultSystemsAndPercentEncoding) {
  auto s = parseSubscription(subscriptionJson("diagnosis", {"code=I10,e11.9,%7CC50.911"}));
  ASSERT_TRUE(s.has_value()) << s.error().toString();
  ASSERT_EQ(s->filters[0].codes.size(), 3u);
  EXPECT_EQ(s->filters[0].codes[1].low, "E119");
  EXPECT_FALSE(s->filters[0].codes[1].isRange());
  EXPECT_EQ(s->filters[0].codes[2].low, "C50911");
  // LOINC codes carry '-', so they are never ranges.
  auto lab = parseSubscription(subscriptionJson("observation-resulted", {"code=http://loinc.org|2345-7"}));
  ASSERT_TRUE(lab.has_value()) << lab.error().toString();
  EXPECT_EQ(lab->filters[0].codes[0].low, "2345-7");
  EXPECT_FALSE(lab->filters[0].codes[0].isRange());
}

TEST(ParseSubscription, WritesBackWithExtensionsAndMaskedHeaders) {
  auto s = parseSubscription(subscriptionJson("diagnosis", {"patient=Patient/123"}, "id-only",
                                              "https://r.example/n", R"(,"header":["Authorization: Bearer abc"])"));
  ASSERT_TRUE(s.has_value());
  s->id = "sub1";
  std::string json = subscriptionJson(*s);
  auto again = parseSubscription(json);
  ASSERT_TRUE(again.has_value()) << again.error().toString();
  EXPECT_EQ(again->id, "sub1");
  EXPECT_EQ(again->filters.size(), 1u);
  EXPECT_EQ(again->channel.content, PayloadContent::kIdOnly);
  EXPECT_EQ(json.find("abc"), std::string::npos);
  EXPECT_NE(subscriptionJson(*s, true).find("Bearer abc"), std::string::npos);
}

struct BadCase {
  const char* what;
  std::string json;
  const char* path;
};

TEST(ParseSubscription, EveryRejectionNamesItsElement) {
  const std::string ok = subscriptionJson("diagnosis");
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string j = ok;
    auto at = j.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return j.replace(at, from.size(), to);
  };
  const std::vector<BadCase> cases = {
      {"not json", "{", "Subscription"},
      {"wrong type", R"({"resourceType":"Patient"})", "Subscription.resourceType"},
      {"no status", replace(R"("status":"requested",)", ""), "Subscription.status"},
      {"bad status", replace(R"("status":"requested")", R"("status":"on")"), "Subscription.status"},
      {"no reason", replace(R"("reason":"test",)", ""), "Subscription.reason"},
      {"unknown topic", replace("SubscriptionTopic/diagnosis", "SubscriptionTopic/weather"), "Subscription.criteria"},
      {"no channel", R"({"resourceType":"Subscription","status":"requested","reason":"r","criteria":"http://courier.example/fhir/SubscriptionTopic/diagnosis"})",
       "Subscription.channel"},
      {"email channel", replace(R"("type":"rest-hook")", R"("type":"email")"), "Subscription.channel.type"},
      {"http endpoint", replace("https://registry.example/notify", "http://registry.example/notify"),
       "Subscription.channel.endpoint"},
      {"no endpoint", replace(R"("endpoint":"https://registry.example/notify",)", ""), "Subscription.channel.endpoint"},
      {"xml payload", replace(R"("payload":"application/fhir+json")", R"("payload":"application/fhir+xml")"),
       "Subscription.channel.payload"},
      {"bad content", replace(R"("valueCode":"id-only")", R"("valueCode":"everything")"),
       "Subscription.channel.payload.extension[0].valueCode"},
      {"bad id", replace(R"({"resourceType":"Subscription",)", R"({"resourceType":"Subscription","id":"a b",)"),
       "Subscription.id"},
      {"header injection", replace(R"("type":"rest-hook")", R"("type":"rest-hook","header":["X: a\r\nY: b"])"),
       "Subscription.channel.header[0]"},
      {"zero max count",
       replace(R"("type":"rest-hook")",
               R"("type":"rest-hook","extension":[{"url":"http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count","valuePositiveInt":0}])"),
       "Subscription.channel.extension[0].valuePositiveInt"},
      {"unknown filter", subscriptionJson("diagnosis", {"weather=rain"}),
       "Subscription.criteria.extension[0].valueString"},
      {"wrong resource", subscriptionJson("diagnosis", {"code=I10", "Observation?code=I10"}),
       "Subscription.criteria.extension[1].valueString"},
      {"wrong code system", subscriptionJson("diagnosis", {"code=http://loinc.org|2345-7"}),
       "Subscription.criteria.extension[0].valueString"},
      {"backwards range", subscriptionJson("diagnosis", {"code=D49-C00"}),
       "Subscription.criteria.extension[0].valueString"},
      {"bad patient class", subscriptionJson("diagnosis", {"patient-class=spaceship"}),
       "Subscription.criteria.extension[0].valueString"},
      {"empty value", subscriptionJson("diagnosis", {"specialty=oncology,"}),
       "Subscription.criteria.extension[0].valueString"},
  };
  for (const BadCase& c : cases) {
    auto s = parseSubscription(c.json);
    ASSERT_FALSE(s.has_value()) << c.what;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_EQ(s.error().location, c.path) << c.what;
    EXPECT_EQ(s.error().message.rfind(std::string(c.path) + ": ", 0), 0u) << c.what << ": " << s.error().message;
  }
}

TEST(ParseSubscription, HttpEndpointMessageSaysWhyForFullResource) {
  auto s = parseSubscription(subscriptionJson("diagnosis", {}, "full-resource", "http://registry.example/n"));
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("https://"), std::string::npos);
  EXPECT_NE(s.error().message.find("full-resource"), std::string::npos);
  EXPECT_EQ(s.error().message.find("registry.example"), std::string::npos);  // no input echoed
}

TEST(FhirInstant, ReadsZonesAndFractions) {
  using std::chrono::sys_days;
  using namespace std::chrono;
  const auto noon = sys_days(year(2026) / 5 / 1) + hours(12);
  EXPECT_EQ(parseFhirInstant("2026-05-01T12:00:00Z"), noon);
  EXPECT_EQ(parseFhirInstant("2026-05-01T08:00:00-04:00"), noon);
  EXPECT_EQ(parseFhirInstant("2026-05-01T14:30:00+02:30"), noon);
  EXPECT_EQ(parseFhirInstant("2026-05-01T12:00:00.25Z"), noon + milliseconds(250));
  for (const char* bad : {"2026-05-01", "2026-05-01T12:00Z", "2026-05-01T12:00:00", "2026-02-30T12:00:00Z",
                          "2026-05-01T24:00:00Z", "2026-05-01T12:00:00.Z", "2026-05-01T12:00:00+0200",
                          "2026-05-01T12:00:00Zx", ""}) {
    EXPECT_FALSE(parseFhirInstant(bad)) << bad;
  }
}

TEST(Subscription, EndMustBeAnInstant) {
  std::string j = subscriptionJson("diagnosis");
  const std::string at = R"("reason":"test",)";
  auto with = [&](const std::string& end) {
    std::string s = j;
    s.insert(s.find(at) + at.size(), R"("end":")" + end + "\",");
    return parseSubscription(s);
  };
  auto ok = with("2030-01-01T00:00:00Z");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->end, "2030-01-01T00:00:00Z");
  ASSERT_TRUE(ok->end_time.has_value());
  EXPECT_NE(subscriptionJson(*ok).find(R"("end":"2030-01-01T00:00:00Z")"), std::string::npos);
  auto bad = with("2030-01-01");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().location, "Subscription.end");
}

}  // namespace
}  // namespace courier::subscriptions
