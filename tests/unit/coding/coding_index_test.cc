// The text coder's lookup structures give the same answers as the plain
// computations they replace: code-set order (run merge), manifestation codes by
// index path (path hashes), Tabular notes by code (open addressing), and
// tokenize() with a word cache.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/coding/alphabetic_index.h"
#include "engine/coding/code_key.h"
#include "engine/coding/code_set.h"
#include "engine/coding/lexicon.h"
#include "engine/coding/tabular_notes.h"
#include "tests/unit/coding/coding_fixture.h"

namespace courier::coding {
namespace {

using testing::codeSets;
using testing::mappingsDir;

ReleaseInfo testRelease() {
  ReleaseInfo r;
  r.name = "test";
  r.source_file = "test.tsv";
  return r;
}

TEST(CodeSetOrderTest, ShuffledRunsAreMergedIntoKeyOrder) {
  // Three ascending runs, as in the tabular order files (C4A after C43).
  const std::string text =
      "code\tbillable\tshort\tlong\n"
      "C43\t0\ta\ta\nC439\t1\tb\tb\nC4A\t0\tc\tc\nC4A9\t1\td\td\n"
      "C44\t0\te\te\nC449\t1\tf\tf\n"
      "A00\t0\tg\tg\nA000\t1\th\th\n";
  auto set = CodeSet::loadOrderTsv(testRelease(), text);
  ASSERT_TRUE(set) << set.error().toString();
  std::vector<std::string> order;
  for (const CodeEntry& e : set->entries()) order.emplace_back(unpackCode(e.key).view());
  EXPECT_EQ(order, (std::vector<std::string>{"A00", "A000", "C43", "C439", "C44", "C449", "C4A", "C4A9"}));
  for (const CodeEntry& e : set->entries()) {
    const CodeEntry* found = set->find(e.key);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(set->description(*found), set->description(e));
  }
}

TEST(CodeSetOrderTest, DuplicateInAnotherRunIsAnError) {
  const std::string text = "code\tbillable\tshort\tlong\nB20\t1\ta\ta\nC00\t0\tb\tb\nB20\t1\tc\tc\n";
  EXPECT_FALSE(CodeSet::loadOrderTsv(testRelease(), text));
}

TEST(CodeSetOrderTest, LoadedReleasesAreStrictlyAscending) {
  std::vector<const CodeSet*> all;
  for (const auto& s : codeSets().icd10cmReleases()) all.push_back(s.get());
  all.push_back(*codeSets().releaseFor(CodeSystem::kIcd10Pcs, std::nullopt));
  all.push_back(*codeSets().releaseFor(CodeSystem::kHcpcs, std::nullopt));
  for (const CodeSet* s : all) {
    const auto& e = s->entries();
    ASSERT_FALSE(e.empty());
    for (size_t i = 1; i < e.size(); ++i) ASSERT_LT(e[i - 1].key, e[i].key) << s->release().name << " at " << i;
  }
}

const AlphabeticIndex& index() {
  static AlphabeticIndex idx = [] {
    auto r = AlphabeticIndex::load(mappingsDir() + "/codesets/icd10cm_index_2025_flattened.csv.gz",
                                   mappingsDir() + "/codesets/icd10cm_index_2017.tsv.gz");
    if (!r) {
      ADD_FAILURE() << r.error().toString();
      std::abort();
    }
    return std::move(*r);
  }();
  return idx;
}

TEST(AlphabeticIndexTest, ManifestationByPathMatchesThePathKeys) {
  const AlphabeticIndex& idx = index();
  const auto& nodes = idx.nodes();
  // Reference: FY2017 manifestation codes by pathKey(), the last node of a path winning.
  StringMap<std::string> by_path;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].source == 17 && !nodes[i].manif.empty()) by_path[idx.pathKey(i)] = nodes[i].manif;
  }
  ASSERT_FALSE(by_path.empty());
  size_t inherited = 0;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    std::string expected = nodes[i].manif;
    if (expected.empty()) {
      auto it = by_path.find(idx.pathKey(i));
      if (it != by_path.end()) expected = it->second;
      if (!expected.empty() && nodes[i].source == 25) ++inherited;
    }
    ASSERT_EQ(idx.manifFor(i), expected) << "node " << i << " " << idx.pathKey(i);
  }
  // FY2025 paths do get the FY2017 manifestation codes (Alzheimer's disease [F02.80]).
  EXPECT_GT(inherited, 0u);
}

TEST(TabularNotesTest, NotesForMatchesAScanOfAllNotes) {
  auto notes = TabularNotes::load(mappingsDir() + "/codesets/icd10cm_tabular_notes_2021.tsv.gz");
  ASSERT_TRUE(notes) << notes.error().toString();
  const auto& all = notes->all();
  // Every code that has notes, and a child of it, for every kind.
  std::vector<std::string> codes;
  for (size_t k = 0; k < all.size(); k += 7) {
    std::string c(unpackCode(all[k].code_key).view());
    codes.push_back(c);
    if (c.size() < 7) codes.push_back(c + "9");
  }
  codes.push_back("E1122");
  codes.push_back("Z999999");
  // Reference: one scan of all notes, grouped by code and kind in file order.
  std::map<std::pair<uint64_t, NoteKind>, std::vector<const TabularNote*>> scan;
  for (const TabularNote& note : all) scan[{note.code_key, note.kind}].push_back(&note);
  for (const std::string& code : codes) {
    for (NoteKind kind : {NoteKind::kInclusionTerm, NoteKind::kExcludes1, NoteKind::kUseAdditionalCode,
                          NoteKind::kCodeFirst, NoteKind::kCodeAlso}) {
      std::vector<const TabularNote*> expected;
      for (size_t n = code.size(); n >= 3; --n) {
        auto it = scan.find({packCode(std::string_view(code).substr(0, n)), kind});
        if (it != scan.end()) expected.insert(expected.end(), it->second.begin(), it->second.end());
      }
      ASSERT_EQ(notes->notesFor(code, kind), expected) << code << " kind " << static_cast<int>(kind);
    }
  }
}

TEST(LexiconTest, WordCacheGivesTheSameTokens) {
  auto lx = Lexicon::load(mappingsDir() + "/coding");
  ASSERT_TRUE(lx) << lx.error().toString();
  LexWordCache cache;
  std::vector<WordToken> plain, cached;
  size_t titles = 0;
  auto same = [&](std::string_view text, uint8_t extra) {
    plain.clear();
    cached.clear();
    lx->tokenize(text, plain, extra);
    lx->tokenize(text, cached, extra, &cache);
    ASSERT_EQ(plain.size(), cached.size()) << text;
    for (size_t k = 0; k < plain.size(); ++k) {
      ASSERT_EQ(plain[k].text, cached[k].text) << text;
      ASSERT_EQ(plain[k].flags, cached[k].flags) << text;
    }
    ++titles;
  };
  const CodeSet& set = codeSets().latestOfficialIcd10cm();
  for (const CodeEntry& e : set.entries()) same(set.description(e), 0);
  // Qualified numbers, negation, ranges, parentheses, default and strong words.
  for (const char* t : {"Chronic kidney disease, stage 3a", "Type 2 diabetes mellitus without complications",
                        "stages 1 through 4", "Asthma (unspecified whether with hypoxia)", "history of falling",
                        "not elsewhere classified", "non-pressure chronic ulcer"}) {
    same(t, 0);
    same(t, WordToken::kOptional);
  }
  EXPECT_GT(titles, 70000u);
}

}  // namespace
}  // namespace courier::coding
