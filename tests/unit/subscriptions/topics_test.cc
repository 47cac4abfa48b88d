#include "engine/subscriptions/topics.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace courier::subscriptions {
namespace {

TEST(Topics, EveryTopicHasOneCanonicalUrlThatReadsBack) {
  ASSERT_EQ(allTopics().size(), kTopicCount);
  for (const TopicInfo& t : allTopics()) {
    std::string url = topicUrl(t.topic);
    EXPECT_EQ(url, std::string(kTopicBase) + std::string(t.name));
    EXPECT_EQ(topicFromUrl(url), t.topic);
    EXPECT_EQ(topicFromUrl(url + "|1.0"), t.topic);
    EXPECT_FALSE(t.code_systems.empty());
  }
  EXPECT_EQ(topicFromUrl("http://courier.example/fhir/SubscriptionTopic/nope"), std::nullopt);
  EXPECT_EQ(topicFromUrl("http://other.example/SubscriptionTopic/diagnosis"), std::nullopt);
  EXPECT_EQ(topicUrl(Topic::kDiagnosis), "http://courier.example/fhir/SubscriptionTopic/diagnosis");
}

TEST(Topics, BundleHoldsABasicPerTopicWithTriggerAndFilters) {
  rapidjson::Document d;
  std::string json = topicsBundleJson();
  d.Parse(json.c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "searchset");
  ASSERT_EQ(d["entry"].Size(), kTopicCount);
  const auto& basic = d["entry"][2]["resource"];
  EXPECT_STREQ(basic["resourceType"].GetString(), "Basic");
  EXPECT_STREQ(basic["code"]["coding"][0]["code"].GetString(), "SubscriptionTopic");
  int triggers = 0, filters = 0;
  for (const auto& ext : basic["extension"].GetArray()) {
    std::string url = ext["url"].GetString();
    if (url.ends_with(".resourceTrigger")) {
      ++triggers;
      EXPECT_NE(json.find("http://hl7.org/fhir/StructureDefinition/Condition"), std::string::npos);
    }
    if (url.ends_with(".canFilterBy")) ++filters;
    if (url.ends_with(".url")) {
      EXPECT_STREQ(ext["valueUri"].GetString(), topicUrl(Topic::kDiagnosis).c_str());
    }
  }
  EXPECT_EQ(triggers, 1);
  EXPECT_EQ(filters, 5);  // patient, code, specialty, facility, patient-class
}

TEST(Topics, TopicJsonFindsByNameOrSaysNotFound) {
  auto one = topicJson("immunization");
  ASSERT_TRUE(one.has_value());
  EXPECT_NE(one->find("http://hl7.org/fhir/sid/cvx"), std::string::npos);
  auto none = topicJson("nothing");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

TEST(Topics, CodeSystemAliases) {
  EXPECT_EQ(codeSystemFromUri("http://www.ama-assn.org/go/cpt"), CodeSystemId::kHcpcs);
  EXPECT_EQ(codeSystemFromUri("https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"), CodeSystemId::kHcpcs);
  EXPECT_EQ(codeSystemFromUri("http://loinc.org"), CodeSystemId::kLoinc);
  EXPECT_EQ(codeSystemFromUri("http://snomed.info/sct"), std::nullopt);
}

}  // namespace
}  // namespace courier::subscriptions
