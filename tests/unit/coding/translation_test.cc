#include <gtest/gtest.h>

#include "engine/coding/code_translator.h"
#include "engine/coding/crosswalk.h"
#include "engine/coding/gem_map.h"
#include "engine/coding/tabular_notes.h"
#include "tests/unit/coding/coding_fixture.h"

namespace courier::coding {
namespace {

using testing::codeSets;
using testing::dataDir;
using testing::mappingsDir;

constexpr ServiceDate kDate{2026, 3, 1};

const GemMap& gems() {
  static GemMap g = [] {
    auto r = GemMap::load(mappingsDir() + "/codesets/gem_2018_i9_to_i10.txt.gz");
    if (!r) std::abort();
    return std::move(*r);
  }();
  return g;
}

TEST(GemMapTest, Loads) {
  EXPECT_EQ(gems().size(), 24860u);
  auto rows = gems().targets("4019");
  ASSERT_EQ(rows.size(), 2u);  // I10 and I16.9
  EXPECT_TRUE(rows[0].approximate);
  EXPECT_TRUE(gems().targets("9999999").empty());
}

TEST(CodeTranslatorTest, Icd9ExactSingleMapIsApplied) {
  CodeTranslator t(codeSets(), &gems());
  CodingResult r = t.fromIcd9("599.0", kDate);  // 5990 -> N39.0, flags 00000
  ASSERT_EQ(r.codes.size(), 1u);
  EXPECT_EQ(r.codes[0].code, "N39.0");
  EXPECT_EQ(r.codes[0].method, CodingMethod::kGem);
  EXPECT_FALSE(r.review);
}

TEST(CodeTranslatorTest, Icd9OneToManyAndApproximateGoToReview) {
  CodeTranslator t(codeSets(), &gems());
  CodingResult many = t.fromIcd9("401.9", kDate);
  EXPECT_TRUE(many.review);
  EXPECT_TRUE(many.codes.empty());
  EXPECT_EQ(many.alternatives.size(), 2u);
  CodingResult approx = t.fromIcd9("250.00", kDate);
  EXPECT_TRUE(approx.review);
  ASSERT_EQ(approx.codes.size(), 1u);
  EXPECT_EQ(approx.codes[0].code, "E11.9");
  CodingResult unknown = t.fromIcd9("999.99", kDate);
  EXPECT_TRUE(unknown.review);
  EXPECT_TRUE(unknown.codes.empty());
}

TEST(CodeTranslatorTest, SourceCodesAreCheckedAndNormalized) {
  CodeTranslator t(codeSets(), &gems());
  CodingResult same = t.fromSource(CodeSystem::kIcd10Cm, "E11.9", kDate);
  ASSERT_EQ(same.codes.size(), 1u);
  EXPECT_EQ(same.codes[0].method, CodingMethod::kSource);
  CodingResult norm = t.fromSource(CodeSystem::kIcd10Cm, "e119", kDate);
  ASSERT_EQ(norm.codes.size(), 1u);
  EXPECT_EQ(norm.codes[0].code, "E11.9");
  EXPECT_EQ(norm.codes[0].method, CodingMethod::kNormalized);
  CodingResult header = t.fromSource(CodeSystem::kIcd10Cm, "E11", kDate);
  EXPECT_TRUE(header.review);
  EXPECT_TRUE(header.codes.empty());
  EXPECT_FALSE(header.alternatives.empty());
  CodingResult placeholder = t.fromSource(CodeSystem::kIcd10Cm, "S0990A", kDate);
  ASSERT_FALSE(placeholder.alternatives.empty());
  EXPECT_EQ(placeholder.alternatives[0].code, "S09.90XA");
}

TEST(CrosswalkTest, CsvEquivalenceAndModifiers) {
  auto cw = Crosswalk::load(dataDir() + "/chargemaster.csv");
  ASSERT_TRUE(cw) << cw.error().toString();
  CodeTranslator t(codeSets(), nullptr);
  ServiceDate d{2025, 11, 1};
  CodingResult flu = t.fromCrosswalk(*cw, "urn:site:cdm", "CDM1001", d);
  ASSERT_EQ(flu.codes.size(), 1u);
  EXPECT_EQ(flu.codes[0].code, "G0008");
  EXPECT_EQ(flu.codes[0].method, CodingMethod::kCrosswalk);
  EXPECT_FALSE(flu.review);
  CodingResult orthosis = t.fromCrosswalk(*cw, "", "CDM2002", d);
  ASSERT_EQ(orthosis.codes.size(), 1u);
  EXPECT_EQ(orthosis.codes[0].modifiers, std::vector<std::string>{"RT"});
  // "wider" is not applied without review.
  CodingResult wider = t.fromCrosswalk(*cw, "", "CDM3003", d);
  EXPECT_TRUE(wider.review);
  EXPECT_TRUE(wider.codes.empty());
  EXPECT_EQ(wider.alternatives.size(), 1u);
  // Two targets: a person chooses.
  EXPECT_TRUE(t.fromCrosswalk(*cw, "", "CDM4004", d).review);
  // "unmatched": no equivalent.
  CodingResult none = t.fromCrosswalk(*cw, "", "CDM5005", d);
  EXPECT_TRUE(none.review);
  EXPECT_TRUE(none.codes.empty());
  // A target terminated before the date of service is never applied.
  CodingResult term = t.fromCrosswalk(*cw, "", "CDM6006", d);
  EXPECT_TRUE(term.review);
  EXPECT_TRUE(term.codes.empty());
  // A modifier that is not a HCPCS modifier.
  EXPECT_TRUE(t.fromCrosswalk(*cw, "", "CDM7007", d).review);
  // Unknown local code.
  EXPECT_TRUE(t.fromCrosswalk(*cw, "", "NOPE", d).review);
}

TEST(CrosswalkTest, ConceptMapEquivalenceRespected) {
  auto cw = Crosswalk::load(dataDir() + "/lab_conceptmap.json");
  ASSERT_TRUE(cw) << cw.error().toString();
  CodeTranslator t(codeSets(), nullptr);
  CodingResult htn = t.fromCrosswalk(*cw, "urn:site:lab", "DX-HTN", kDate);
  ASSERT_EQ(htn.codes.size(), 1u);
  EXPECT_EQ(htn.codes[0].code, "I10");
  CodingResult narrower = t.fromCrosswalk(*cw, "urn:site:lab", "DX-DM", kDate);
  EXPECT_TRUE(narrower.review);
  EXPECT_TRUE(narrower.codes.empty());
  EXPECT_TRUE(t.fromCrosswalk(*cw, "urn:site:lab", "DX-NONE", kDate).review);
  CodingResult mod = t.fromCrosswalk(*cw, "urn:site:cdm", "CDM2002", ServiceDate{2025, 11, 1});
  ASSERT_EQ(mod.codes.size(), 1u);
  EXPECT_EQ(mod.codes[0].modifiers, std::vector<std::string>{"LT"});
  // Source system must match when given.
  EXPECT_TRUE(t.fromCrosswalk(*cw, "urn:other", "DX-HTN", kDate).review);
}

TEST(CrosswalkTest, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(Crosswalk::parseConceptMap("[1,2]", "x"));
  EXPECT_FALSE(Crosswalk::parseConceptMap("{\"resourceType\":\"Patient\"}", "x"));
  EXPECT_FALSE(Crosswalk::parseConceptMap("{\"resourceType\":\"ConceptMap\",\"group\":[{\"target\":7}]}", "x"));
  EXPECT_FALSE(Crosswalk::parseConceptMap("{not json", "x"));
  auto bad = Crosswalk::parseCsv("h\na,b\n", "f.csv");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().location, "f.csv:2");
  EXPECT_FALSE(Crosswalk::parseCsv("h\ns,c,nosuchsystem,X,equivalent\n", "f.csv"));
  EXPECT_FALSE(Crosswalk::parseCsv("h\ns,c,hcpcs,X,maybe\n", "f.csv"));
}

TEST(TabularNotesTest, ParsesCodeReferences) {
  auto r = TabularNotes::parseReferences("stage of chronic kidney disease (N18.1-N18.6)");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].contains(packCode("N1831")));
  EXPECT_TRUE(r[0].contains(packCode("N186")));
  EXPECT_FALSE(r[0].contains(packCode("N189")));
  auto hf = TabularNotes::parseReferences("type of heart failure (I50.-)");
  ASSERT_EQ(hf.size(), 1u);
  EXPECT_TRUE(hf[0].contains(packCode("I509")));
  EXPECT_FALSE(hf[0].contains(packCode("I519")));
  auto two = TabularNotes::parseReferences("hypertensive CKD (I12.-, I13.-) and insulin (Z79.4)");
  EXPECT_EQ(two.size(), 3u);
  EXPECT_TRUE(TabularNotes::parseReferences("no codes here, A1C level").empty());
}

TEST(TabularNotesTest, NotesInheritFromAncestors) {
  auto notes = TabularNotes::load(mappingsDir() + "/codesets/icd10cm_tabular_notes_2021.tsv.gz");
  ASSERT_TRUE(notes);
  auto ex = notes->notesFor("E1122", NoteKind::kExcludes1);  // from E11
  bool type1 = false;
  for (const auto* n : ex) {
    for (const auto& rg : n->ranges) type1 = type1 || rg.contains(packCode("E109"));
  }
  EXPECT_TRUE(type1);
}

}  // namespace
}  // namespace courier::coding
