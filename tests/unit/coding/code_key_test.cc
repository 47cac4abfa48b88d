#include "engine/coding/code_key.h"

#include <gtest/gtest.h>

namespace courier::coding {
namespace {

TEST(CodeKeyTest, NormalizesSpellings) {
  for (const char* raw : {"E119", "e11.9", "E11.9 ", " e119\t", "E.119"}) {
    PlainCode c;
    ASSERT_TRUE(normalizeCode(raw, c)) << raw;
    EXPECT_EQ(c.view(), "E119") << raw;
  }
}

TEST(CodeKeyTest, RejectsNonCodes) {
  PlainCode c;
  EXPECT_FALSE(normalizeCode("", c));
  EXPECT_FALSE(normalizeCode("   ", c));
  EXPECT_FALSE(normalizeCode("E11-9", c));
  EXPECT_FALSE(normalizeCode("ABCDEFGHI", c));  // 9 characters
}

TEST(CodeKeyTest, KeyOrderIsCodeOrder) {
  EXPECT_LT(packCode("E11"), packCode("E119"));
  EXPECT_LT(packCode("E119"), packCode("E12"));
  EXPECT_LT(packCode("A000"), packCode("Z999"));
  EXPECT_EQ(unpackCode(packCode("S52501A")).view(), "S52501A");
  uint64_t p = packCode("E11");
  EXPECT_LE(prefixLow(p), packCode("E1165"));
  EXPECT_GE(prefixHigh(p, 3), packCode("E1165"));
  EXPECT_LT(prefixHigh(p, 3), packCode("E12"));
}

TEST(CodeKeyTest, DottedForms) {
  char buf[16];
  EXPECT_EQ(dottedForm(CodeSystem::kIcd10Cm, "E119", buf), "E11.9");
  EXPECT_EQ(dottedForm(CodeSystem::kIcd10Cm, "I10", buf), "I10");
  EXPECT_EQ(dottedForm(CodeSystem::kIcd10Cm, "S52501A", buf), "S52.501A");
  EXPECT_EQ(dottedForm(CodeSystem::kIcd9Cm, "25000", buf), "250.00");
  EXPECT_EQ(dottedForm(CodeSystem::kIcd9Cm, "E8809", buf), "E880.9");
  EXPECT_EQ(dottedForm(CodeSystem::kHcpcs, "G0008", buf), "G0008");
  EXPECT_EQ(dottedForm(CodeSystem::kIcd10Pcs, "0DTJ4ZZ", buf), "0DTJ4ZZ");
}

}  // namespace
}  // namespace courier::coding
