// TextCoder: proposes ICD-10-CM codes for a diagnosis written as words
// (DG1-4, Condition.code.text, a problem-list entry), the way a coder works:
//
//  1. Expand clinician shorthand (mappings/coding/abbreviations.tsv).
//  2. Negated ("no evidence of", "denies") -> nothing. Uncertain ("rule out",
//     "probable") -> nothing in outpatient records; coded as established for
//     inpatient ones. Terms with no default code ("urosepsis") -> review with a
//     physician query.
//  3. Find the main term and sub-terms in the Alphabetic Index (FY2025 + FY2017,
//     "see" references followed, nonessential modifiers optional) and the
//     titles/inclusion terms of the Tabular List; score every candidate by the
//     words it explains, the specific words it would add, and the default
//     (unspecified, NOS, "without") axes it takes.
//  4. Complete an index code to a billable code of the release in force
//     (laterality, 7th character, the default sub-code), never emitting a header.
//  5. Add the codes the Tabular asks for when the text supports them ("use
//     additional code", "code also", "code first", index manifestation codes in
//     brackets), drop Excludes1 conflicts, and flag what needs a person.
//
// Immutable after build(); code() is const and safe from many threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/coding/code_sets.h"
#include "engine/coding/coding_result.h"
#include "engine/coding/service_date.h"
#include "engine/core/result.h"

namespace courier::coding {

enum class EncounterSetting { kOutpatient, kInpatient };

struct TextCodingOptions {
  std::optional<ServiceDate> date;  // date of service (discharge date for inpatient)
  EncounterSetting setting = EncounterSetting::kOutpatient;
};

class TextCoder {
 public:
  // Reads mappings/coding (lexicon) and mappings/codesets (index, notes).
  // `sets` must outlive the coder.
  static Result<std::unique_ptr<TextCoder>> build(const CodeSets& sets, const std::string& mappings_dir);
  ~TextCoder();

  CodingResult code(std::string_view phrase, const TextCodingOptions& options = {}) const;

  size_t documentCount() const;
  size_t memoryBytes() const;

  // For tests: false makes code() accumulate every posting list doc by doc, as
  // before long lists were also kept in impact order; results must not change.
  // Not for a coder other threads are using.
  void setImpactOrderForTesting(bool on);
  // For tests: true makes code() score the shortlist by merging each doc's
  // words with the query's, as before the branch-free scoring through a
  // per-word table; results must not change. Not for a coder in use.
  void setMergeScoringForTesting(bool on);

  struct Impl;

 private:
  explicit TextCoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::coding
