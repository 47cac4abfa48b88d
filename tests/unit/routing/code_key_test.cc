#include "engine/routing/code_key.h"

#include <gtest/gtest.h>

namespace courier::routing {
namespace {

bool in(std::string_view range, std::string_view code) {
  auto r = CodeRangeKey::parse(range);
  auto k = CodeKey::from(code);
  EXPECT_TRUE(r.has_value()) << range;
  EXPECT_TRUE(k.has_value()) << code;
  return r && k && r->contains(*k);
}

TEST(RoutingCodeKeyTest, NormalizesToDotlessUpperCase) {
  EXPECT_EQ(CodeKey::from("e11.9")->view(), "E119");
  EXPECT_EQ(CodeKey::from(" C50.911 ")->view(), "C50911");
  EXPECT_EQ(CodeKey::from("0DTJ4ZZ")->view(), "0DTJ4ZZ");
  EXPECT_FALSE(CodeKey::from(""));
  EXPECT_FALSE(CodeKey::from("."));
  EXPECT_FALSE(CodeKey::from("C50-9"));
  EXPECT_FALSE(CodeKey::from("ABCDEFGHI"));  // longer than any code routing compares
}

TEST(RoutingCodeKeyTest, ShortBoundsCoverTheirSubtree) {
  EXPECT_TRUE(in("C00-D49", "C00"));
  EXPECT_TRUE(in("C00-D49", "C50.911"));
  EXPECT_TRUE(in("C00-D49", "D49.9"));
  EXPECT_TRUE(in("C00-D49", "d49"));
  EXPECT_FALSE(in("C00-D49", "D50.0"));
  EXPECT_FALSE(in("C00-D49", "B99.9"));
  EXPECT_TRUE(in("O00-O9A", "O9A.111"));  // 'A' sorts after the digits
  EXPECT_TRUE(in("O00-O9A", "O99.89"));
  EXPECT_FALSE(in("O00-O9A", "P00"));
  EXPECT_TRUE(in("J0000-J9999", "J9035"));
  EXPECT_FALSE(in("J0000-J9999", "K0001"));
  EXPECT_TRUE(in("C50", "C50.911"));  // one category
  EXPECT_FALSE(in("C50", "C51"));
  EXPECT_TRUE(in("C50.9-C50", "C50.911"));
  EXPECT_TRUE(in("Z51.0-Z51.1", "Z51.11"));
  EXPECT_FALSE(in("Z51.0-Z51.1", "Z51.81"));
  EXPECT_FALSE(CodeRangeKey::parse("C00-C10-C20"));
}

TEST(RoutingCodeKeyTest, RecognizesSentSystems) {
  EXPECT_EQ(sentSystem(""), SentSystem::kUnnamed);
  EXPECT_EQ(sentSystem("I10"), SentSystem::kIcd10Cm);
  EXPECT_EQ(sentSystem("ICD-10-CM"), SentSystem::kIcd10Cm);
  EXPECT_EQ(sentSystem("http://hl7.org/fhir/sid/icd-10-cm"), SentSystem::kIcd10Cm);
  EXPECT_EQ(sentSystem("I10P"), SentSystem::kIcd10Pcs);
  EXPECT_EQ(sentSystem("HCPCS"), SentSystem::kHcpcs);
  EXPECT_EQ(sentSystem("C4"), SentSystem::kHcpcs);
  EXPECT_EQ(sentSystem("I9C"), std::nullopt);
  EXPECT_EQ(sentSystem("LN"), std::nullopt);
}

}  // namespace
}  // namespace courier::routing
