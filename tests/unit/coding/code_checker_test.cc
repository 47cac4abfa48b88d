#include "engine/coding/code_checker.h"

#include <gtest/gtest.h>

#include "tests/unit/coding/coding_fixture.h"

namespace courier::coding {
namespace {

using testing::codeSets;

constexpr ServiceDate kFy2026{2026, 3, 1};

TEST(CodeSetsTest, LoadsEveryRelease) {
  const CodeSets& s = codeSets();
  ASSERT_NE(s.icd10cmFiscalYear(2025), nullptr);
  ASSERT_NE(s.icd10cmFiscalYear(2026), nullptr);
  ASSERT_NE(s.icd10cmFiscalYear(2027), nullptr);
  // Counts published for the official files (see the shared codesets README).
  EXPECT_EQ(s.icd10cmFiscalYear(2026)->size(), 98186u);
  EXPECT_EQ(s.icd10cmFiscalYear(2026)->billableCount(), 74719u);
  EXPECT_EQ(s.icd10cmFiscalYear(2025)->size(), 97584u);
  EXPECT_EQ(s.icd10cmFiscalYear(2025)->billableCount(), 74260u);
  EXPECT_EQ(s.icd10cmFiscalYear(2027)->size(), 98403u);
  EXPECT_FALSE(s.icd10cmFiscalYear(2027)->release().official);
  EXPECT_TRUE(s.latestOfficialIcd10cm().release().official);
  EXPECT_EQ(s.latestOfficialIcd10cm().release().fiscal_year, 2026);
  EXPECT_EQ(s.icd10pcs().size(), 80029u);
  EXPECT_EQ(s.hcpcs().size(), 8846u);
}

TEST(CodeSetsTest, ReleaseChosenByDateOfServiceNotToday) {
  const CodeSets& s = codeSets();
  auto r = s.releaseFor(CodeSystem::kIcd10Cm, ServiceDate{2025, 9, 30});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->release().fiscal_year, 2025);
  r = s.releaseFor(CodeSystem::kIcd10Cm, ServiceDate{2025, 10, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->release().fiscal_year, 2026);
  r = s.releaseFor(CodeSystem::kIcd10Cm, ServiceDate{2026, 10, 1});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->release().fiscal_year, 2027);
  // No silent fallback for a year that is not loaded.
  r = s.releaseFor(CodeSystem::kIcd10Cm, ServiceDate{2019, 5, 1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  // No date: the newest official release.
  r = s.releaseFor(CodeSystem::kIcd10Cm, std::nullopt);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->release().fiscal_year, 2026);
}

TEST(CodeCheckerTest, ValidLeafInAnySpelling) {
  CodeChecker c(codeSets());
  for (const char* raw : {"E119", "e11.9", "E11.9 "}) {
    CheckResult r = c.check(CodeSystem::kIcd10Cm, raw, kFy2026);
    EXPECT_TRUE(r.valid()) << raw;
    EXPECT_EQ(r.code.view(), "E119");
    EXPECT_EQ(r.display(), "Type 2 diabetes mellitus without complications");
    EXPECT_EQ(c.describe(r).dotted, "E11.9");
  }
}

TEST(CodeCheckerTest, HeaderIsNotBillable) {
  CodeChecker c(codeSets());
  CheckResult r = c.check(CodeSystem::kIcd10Cm, "E11", kFy2026);
  EXPECT_EQ(r.status, CheckStatus::kHeader);
  EXPECT_TRUE(r.inRelease());
  EXPECT_FALSE(r.billable());
  EXPECT_FALSE(r.valid());
  CheckDetails d = c.describe(r);
  ASSERT_FALSE(d.children.empty());
  EXPECT_EQ(d.children.front(), "E11.00");
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "J18", kFy2026).status, CheckStatus::kHeader);
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "J18.9", kFy2026).status, CheckStatus::kValid);
}

TEST(CodeCheckerTest, SeventhCharacterRules) {
  CodeChecker c(codeSets());
  EXPECT_TRUE(c.check(CodeSystem::kIcd10Cm, "S52.501A", kFy2026).valid());
  CheckResult missing = c.check(CodeSystem::kIcd10Cm, "S52.501", kFy2026);
  EXPECT_EQ(missing.status, CheckStatus::kSeventhMissing);
  CheckDetails d = c.describe(missing);
  EXPECT_NE(std::find(d.seventh_characters.begin(), d.seventh_characters.end(), "A"),
            d.seventh_characters.end());
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "S52.501Z", kFy2026).status, CheckStatus::kSeventhInvalid);
  // X placeholders: S09.90XA is the code, S09.90A misses its placeholder.
  EXPECT_TRUE(c.check(CodeSystem::kIcd10Cm, "S09.90XA", kFy2026).valid());
  CheckResult ph = c.check(CodeSystem::kIcd10Cm, "S0990A", kFy2026);
  EXPECT_EQ(ph.status, CheckStatus::kPlaceholderMissing);
  EXPECT_EQ(ph.suggestion.view(), "S0990XA");
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "T07A", kFy2026).suggestion.view(), "T07XXXA");
  // A 6-character code of a 7th-character category is not billable.
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "S0990X", kFy2026).status, CheckStatus::kSeventhMissing);
}

TEST(CodeCheckerTest, FiscalYearBoundaryChangesTheAnswer) {
  CodeChecker c(codeSets());
  // B88.0 was billable in FY2025 and split into B88.01/B88.09 for FY2026.
  EXPECT_TRUE(c.check(CodeSystem::kIcd10Cm, "B88.0", ServiceDate{2025, 9, 30}).valid());
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "B88.0", ServiceDate{2025, 10, 1}).status, CheckStatus::kHeader);
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "B88.01", ServiceDate{2025, 9, 30}).status,
            CheckStatus::kNotInRelease);
  EXPECT_TRUE(c.check(CodeSystem::kIcd10Cm, "B88.01", ServiceDate{2025, 10, 1}).valid());
  // D69.1 becomes a header in the (rebuilt) FY2027 list.
  EXPECT_TRUE(c.check(CodeSystem::kIcd10Cm, "D69.1", ServiceDate{2026, 9, 30}).valid());
  CheckResult r27 = c.check(CodeSystem::kIcd10Cm, "D69.1", ServiceDate{2026, 10, 1});
  EXPECT_EQ(r27.status, CheckStatus::kHeader);
  EXPECT_FALSE(r27.set->release().official);
  // describe() names the releases where an invalid code is valid.
  CheckResult old = c.check(CodeSystem::kIcd10Cm, "B88.0", ServiceDate{2026, 1, 1});
  auto d = c.describe(old);
  ASSERT_EQ(d.other_releases.size(), 1u);
  EXPECT_EQ(d.other_releases[0], "ICD-10-CM FY2025");
}

TEST(CodeCheckerTest, UnknownMalformedAndNoRelease) {
  CodeChecker c(codeSets());
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "Q9999", kFy2026).status, CheckStatus::kNotInRelease);
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "E11-9", kFy2026).status, CheckStatus::kMalformed);
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "", kFy2026).status, CheckStatus::kMalformed);
  EXPECT_EQ(c.check(CodeSystem::kIcd10Cm, "E119", ServiceDate{2015, 11, 1}).status,
            CheckStatus::kNoRelease);
}

TEST(CodeCheckerTest, HcpcsEffectiveAndTerminationDates) {
  CodeChecker c(codeSets());
  CheckResult g = c.check(CodeSystem::kHcpcs, "g0008", ServiceDate{2025, 11, 1});
  EXPECT_TRUE(g.valid());
  EXPECT_EQ(g.display(), "Administration of influenza virus vaccine");
  // V5180 was terminated 2018-12-31.
  EXPECT_TRUE(c.check(CodeSystem::kHcpcs, "V5180", ServiceDate{2018, 12, 31}).valid());
  EXPECT_EQ(c.check(CodeSystem::kHcpcs, "V5180", ServiceDate{2019, 1, 1}).status, CheckStatus::kTerminated);
  // A2030 was added 2025-04-01.
  EXPECT_EQ(c.check(CodeSystem::kHcpcs, "A2030", ServiceDate{2025, 3, 31}).status,
            CheckStatus::kNotYetEffective);
  EXPECT_TRUE(c.check(CodeSystem::kHcpcs, "A2030", ServiceDate{2025, 4, 1}).valid());
  // Modifiers are codes too.
  CheckResult m = c.check(CodeSystem::kHcpcs, "LT", ServiceDate{2025, 11, 1});
  EXPECT_TRUE(m.inRelease());
  EXPECT_TRUE(m.entry->modifier());
}

TEST(CodeCheckerTest, Icd10Pcs) {
  CodeChecker c(codeSets());
  CheckResult r = c.check(CodeSystem::kIcd10Pcs, "0dtj4zz", ServiceDate{2026, 2, 1});
  EXPECT_TRUE(r.valid());
  EXPECT_EQ(r.display(), "Resection of Appendix, Percutaneous Endoscopic Approach");
  EXPECT_EQ(c.check(CodeSystem::kIcd10Pcs, "001", ServiceDate{2026, 2, 1}).status, CheckStatus::kHeader);
}

}  // namespace
}  // namespace courier::coding
