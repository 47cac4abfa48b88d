#include "engine/coding/text_coder.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/coding/coding_fixture.h"

namespace courier::coding {
namespace {

using testing::codeSets;
using testing::dataDir;
using testing::mappingsDir;

const TextCoder& coder() {
  static std::unique_ptr<TextCoder> c = [] {
    auto r = TextCoder::build(codeSets(), mappingsDir());
    if (!r) {
      ADD_FAILURE() << r.error().toString();
      std::abort();
    }
    return std::move(*r);
  }();
  return *c;
}

TextCodingOptions outpatient(ServiceDate d = {2026, 3, 1}) {
  TextCodingOptions o;
  o.date = d;
  return o;
}

std::vector<std::string> codesOf(const CodingResult& r) {
  std::vector<std::string> v;
  for (const auto& c : r.codes) v.push_back(c.code);
  return v;
}

using Codes = std::vector<std::string>;

TEST(TextCoderTest, MainTermDefaultsAndAbbreviations) {
  EXPECT_EQ(codesOf(coder().code("Essential hypertension", outpatient())), Codes{"I10"});
  EXPECT_EQ(codesOf(coder().code("HTN", outpatient())), Codes{"I10"});
  EXPECT_EQ(codesOf(coder().code("DM2", outpatient())), Codes{"E11.9"});
  EXPECT_EQ(codesOf(coder().code("Pneumonia", outpatient())), Codes{"J18.9"});
  EXPECT_EQ(codesOf(coder().code("UTI", outpatient())), Codes{"N39.0"});
  EXPECT_EQ(codesOf(coder().code("A-fib", outpatient())), Codes{"I48.91"});
}

TEST(TextCoderTest, SubTermsAndSeeReferences) {
  EXPECT_EQ(codesOf(coder().code("Paroxysmal atrial fibrillation", outpatient())), Codes{"I48.0"});
  EXPECT_EQ(codesOf(coder().code("Congestive heart failure", outpatient())), Codes{"I50.9"});
  // Cholelithiasis -- see Calculus, gallbladder
  EXPECT_EQ(codesOf(coder().code("Cholelithiasis", outpatient())), Codes{"K80.20"});
}

TEST(TextCoderTest, LateralityAndSeventhCharacter) {
  EXPECT_EQ(codesOf(coder().code("Osteoarthritis of right knee", outpatient())), Codes{"M17.11"});
  EXPECT_EQ(codesOf(coder().code("Osteoarthritis of left knee", outpatient())), Codes{"M17.12"});
  CodingResult f = coder().code("Fracture of right distal radius, initial encounter", outpatient());
  EXPECT_EQ(codesOf(f), Codes{"S52.501A"});
  EXPECT_FALSE(f.review);
  EXPECT_EQ(codesOf(coder().code("Sprain of left ankle, subsequent encounter", outpatient())), Codes{"S93.402D"});
  // No episode of care documented: proposed, but a person must confirm.
  CodingResult noep = coder().code("Sprain of left ankle", outpatient());
  EXPECT_TRUE(noep.review);
  EXPECT_FALSE(noep.query.empty());
}

TEST(TextCoderTest, PairedCodesFromTabularNotesAndIndex) {
  EXPECT_EQ(codesOf(coder().code("T2DM w/ CKD stage 3a", outpatient())), (Codes{"E11.22", "N18.31"}));
  EXPECT_EQ(codesOf(coder().code("Hypertension with chronic kidney disease stage 3b", outpatient())),
            (Codes{"I12.9", "N18.32"}));
  EXPECT_EQ(codesOf(coder().code("Hypertensive heart disease with heart failure", outpatient())),
            (Codes{"I11.0", "I50.9"}));
  // Index manifestation code in brackets: Alzheimer's G30.9 [F02.80].
  EXPECT_EQ(codesOf(coder().code("Alzheimer's disease", outpatient())), (Codes{"G30.9", "F02.80"}));
  // "Use additional code" is only followed when the text supports it: no Z79.4 here.
  EXPECT_EQ(codesOf(coder().code("Type 2 diabetes mellitus without complications", outpatient())), Codes{"E11.9"});
}

TEST(TextCoderTest, ManifestationCodeIsNeverListedAlone) {
  // N16 (in diseases classified elsewhere) has the inclusion term "Pyelonephritis";
  // alone, the word is N12 "Pyelonephritis NOS".
  EXPECT_EQ(codesOf(coder().code("Pyelonephritis", outpatient())), Codes{"N12"});
  EXPECT_EQ(codesOf(coder().code("Dementia in Alzheimer's disease", outpatient())), (Codes{"G30.9", "F02.80"}));
}

TEST(TextCoderTest, SiteShorthandAndLayTerms) {
  // The Index lists the colon under "intestine, large".
  EXPECT_EQ(codesOf(coder().code("Diverticulosis of colon", outpatient())), Codes{"K57.30"});
  EXPECT_EQ(codesOf(coder().code("Colon polyp", outpatient())), Codes{"K63.5"});
  EXPECT_EQ(codesOf(coder().code("FH breast cancer", outpatient())), Codes{"Z80.3"});
  EXPECT_EQ(codesOf(coder().code("Family history of stroke", outpatient())), Codes{"Z82.3"});
  EXPECT_EQ(codesOf(coder().code("Stroke", outpatient())), Codes{"I63.9"});
  EXPECT_EQ(codesOf(coder().code("Cold sore", outpatient())), Codes{"B00.1"});
  EXPECT_EQ(codesOf(coder().code("Generalized weakness", outpatient())), Codes{"R53.1"});
}

TEST(TextCoderTest, NegationProducesNothing) {
  for (const char* t : {"No evidence of pneumonia", "Denies chest pain", "negative for COVID-19",
                        "Patient denies fever", "ruled out DVT"}) {
    CodingResult r = coder().code(t, outpatient());
    EXPECT_TRUE(r.codes.empty()) << t;
    EXPECT_FALSE(r.review) << t;
    EXPECT_NE(r.reason.find("negated"), std::string::npos) << t;
  }
  // A negated clause after the condition is dropped, the condition kept.
  EXPECT_EQ(codesOf(coder().code("Cough, no fever", outpatient())), Codes{"R05.9"});
}

TEST(TextCoderTest, UncertaintyDependsOnSetting) {
  CodingResult out = coder().code("Rule out pneumonia", outpatient());
  EXPECT_TRUE(out.codes.empty());
  EXPECT_TRUE(coder().code("r/o MI", outpatient()).codes.empty());
  EXPECT_TRUE(coder().code("probable UTI", outpatient()).codes.empty());
  TextCodingOptions in = outpatient();
  in.setting = EncounterSetting::kInpatient;
  EXPECT_EQ(codesOf(coder().code("Rule out pneumonia", in)), Codes{"J18.9"});
}

TEST(TextCoderTest, NoDefaultTermGoesToReviewWithQuery) {
  CodingResult r = coder().code("Urosepsis", outpatient());
  EXPECT_TRUE(r.codes.empty());
  EXPECT_TRUE(r.review);
  EXPECT_NE(r.query.find("urinary tract infection"), std::string::npos);
}

TEST(TextCoderTest, GibberishGoesToReview) {
  CodingResult r = coder().code("qwxz blorp", outpatient());
  EXPECT_TRUE(r.codes.empty());
  EXPECT_TRUE(r.review);
}

TEST(TextCoderTest, ReleaseFollowsDateOfService) {
  CodingResult fy26 = coder().code("Hypertension", outpatient({2026, 9, 30}));
  EXPECT_EQ(fy26.release, "ICD-10-CM FY2026");
  CodingResult fy27 = coder().code("Hypertension", outpatient({2026, 10, 1}));
  EXPECT_NE(fy27.release.find("FY2027"), std::string::npos);
  CodingResult fy25 = coder().code("Hypertension", outpatient({2025, 9, 30}));
  EXPECT_EQ(fy25.release, "ICD-10-CM FY2025");
  CodingResult none = coder().code("Hypertension", outpatient({2019, 1, 1}));
  EXPECT_TRUE(none.review);
  EXPECT_TRUE(none.codes.empty());
}

// Never a header or an invalid code, whatever the text, on any loaded release.
TEST(TextCoderTest, EveryEmittedCodeIsBillableInTheRelease) {
  const char* phrases[] = {"Diabetes", "Fracture", "Cancer", "Anemia", "Asthma", "Headache", "Cough",
                           "Low back pain", "Depression", "Obesity", "Heart failure", "Kidney disease",
                           "Injury of head", "Lung cancer", "History of falling", "Sepsis"};
  for (ServiceDate d : {ServiceDate{2025, 3, 1}, ServiceDate{2026, 3, 1}, ServiceDate{2026, 12, 1}}) {
    auto set = codeSets().releaseFor(CodeSystem::kIcd10Cm, d);
    ASSERT_TRUE(set);
    for (const char* p : phrases) {
      CodingResult r = coder().code(p, outpatient(d));
      for (const auto& c : r.codes) {
        PlainCode pc;
        ASSERT_TRUE(normalizeCode(c.code, pc));
        const CodeEntry* e = (*set)->find(pc.key());
        ASSERT_NE(e, nullptr) << p << " -> " << c.code;
        EXPECT_TRUE(e->billable()) << p << " -> " << c.code;
        EXPECT_EQ(c.method, CodingMethod::kText);
        EXPECT_GT(c.confidence, 0.0);
        EXPECT_FALSE(c.display.empty());
      }
    }
  }
}

TEST(TextCoderTest, FiscalYearChangeIsRespected) {
  // Depression NOS is F32.A from FY2022 on (the FY2017 index said F32.9).
  EXPECT_EQ(codesOf(coder().code("Depression", outpatient())), Codes{"F32.A"});
}

// The holdout phrases and a few whose words have long posting lists.
std::vector<std::string> rankingPhrases() {
  std::vector<std::string> phrases = {"Disease", "Unspecified", "Right", "Pain", "Pain in right knee",
                                      "Disorder of left eye", "Injury", "Chronic disease of right foot",
                                      "Fracture of left femur, subsequent encounter"};
  for (const char* file : {"/holdout.tsv", "/holdout2.tsv", "/holdout3.tsv"}) {
    std::ifstream in(dataDir() + file);
    EXPECT_TRUE(in) << file;
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] != '#') phrases.push_back(line.substr(0, line.find('\t')));
    }
  }
  return phrases;
}

// Everything of a result that depends on the scores.
std::string flat(const CodingResult& r) {
  std::string s = std::to_string(r.review) + "|" + r.reason + "|" + r.query;
  for (const auto* list : {&r.codes, &r.alternatives}) {
    for (const auto& c : *list) s += "|" + c.code + " " + std::to_string(c.confidence) + " " + c.why;
  }
  return s;
}

// Codes every phrase in both settings with a test switch of the coder on and off and
// expects the same results; leaves the switch at `normal` (its default).
void expectSameEitherWay(const std::vector<std::string>& phrases, void (TextCoder::*set)(bool), bool normal) {
  TextCoder& c = const_cast<TextCoder&>(coder());
  for (EncounterSetting setting : {EncounterSetting::kOutpatient, EncounterSetting::kInpatient}) {
    TextCodingOptions o = outpatient();
    o.setting = setting;
    for (const auto& p : phrases) {
      (c.*set)(normal);
      std::string usual = flat(c.code(p, o));
      (c.*set)(!normal);
      std::string other = flat(c.code(p, o));
      EXPECT_EQ(usual, other) << p;
    }
  }
  (c.*set)(normal);
}

// Long posting lists are read in impact order (only the best docs that no rarer
// word touched); the ranking must be the one of reading every posting.
TEST(TextCoderTest, ImpactOrderRanksAsReadingEveryPosting) {
  const std::vector<std::string> phrases = rankingPhrases();
  ASSERT_GT(phrases.size(), 250u);
  expectSameEitherWay(phrases, &TextCoder::setImpactOrderForTesting, true);
}

// The shortlist is scored through a per-word table without branches; the
// results must be those of merging each doc's words with the query's.
TEST(TextCoderTest, TableScoringMatchesMergeScoring) {
  std::vector<std::string> phrases = rankingPhrases();
  ASSERT_GT(phrases.size(), 250u);
  // Sixty-odd distinct words: more than the table scores (merge scoring either way).
  std::string many = "pain";
  for (const char* w : {"right", "left", "knee", "hip", "foot", "chronic", "acute", "fracture", "femur"}) {
    for (int k = 0; k < 7; ++k) many += std::string(" ") + w + std::to_string(k);
  }
  phrases.push_back(many);
  expectSameEitherWay(phrases, &TextCoder::setMergeScoringForTesting, false);
}

}  // namespace
}  // namespace courier::coding
