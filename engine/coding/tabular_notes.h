// TabularNotes: the instructional notes of the ICD-10-CM Tabular List
// (excludes1, use additional code, code first, code also, inclusion terms),
// with the code ranges each note points to, so that the text coder can pair
// codes and honor Excludes1.
//
// Source: mappings/codesets/icd10cm_tabular_notes_2021.tsv.gz (FY2021 Tabular
// XML; notes added later are missing). Immutable after load.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/coding/code_key.h"
#include "engine/core/result.h"

namespace courier::coding {

enum class NoteKind : uint8_t {
  kInclusionTerm,
  kExcludes1,
  kUseAdditionalCode,
  kCodeFirst,
  kCodeAlso,
  kOther,
};

// Every code whose key lies in [low, high] (prefix ranges already widened).
struct CodeRange {
  uint64_t low = 0;
  uint64_t high = 0;
  bool contains(uint64_t key) const { return key >= low && key <= high; }
};

struct TabularNote {
  uint64_t code_key = 0;  // the code the note is attached to (undotted, packed)
  NoteKind kind = NoteKind::kOther;
  std::string text;
  std::vector<CodeRange> ranges;  // code references in parentheses
};

class TabularNotes {
 public:
  static Result<TabularNotes> load(const std::string& path);

  // Notes of `kind` on the code and on each of its ancestors (E11.22, E11.2, E11).
  std::vector<const TabularNote*> notesFor(std::string_view undotted_code, NoteKind kind) const;

  // The same notes, in the same order, passed to fn(const TabularNote&) without
  // building a vector (the text coder's hot path).
  template <typename Fn>
  void forEachNote(std::string_view undotted_code, NoteKind kind, Fn&& fn) const;

  // Inclusion terms attached to codes, for the text coder's documents.
  const std::vector<TabularNote>& all() const { return notes_; }

  // Parses "(N18.1-N18.6)", "(I50.-)", "(Z79.4)", "(I12.-, I13.-)" references.
  static std::vector<CodeRange> parseReferences(std::string_view text);

 private:
  // The notes of one kind on one code: note_ids_[first, first + count), in file order.
  struct Slot {
    uint64_t key = 0;
    uint32_t first = 0;
    uint16_t count = 0;  // 0 = empty slot
    NoteKind kind = NoteKind::kOther;
  };
  const Slot* slotFor(uint64_t key, NoteKind kind) const;
  static uint64_t mix(uint64_t key) {
    key ^= key >> 29;
    key *= 0x9E3779B97F4A7C15ULL;
    return key ^ (key >> 32);
  }

  std::vector<TabularNote> notes_;
  // Open addressing (linear probing) over (packed code, kind): the text coder
  // looks up every prefix of a code for each note kind, dozens of lookups per
  // phrase, and wants only the notes of that kind.
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<uint32_t> note_ids_;
  uint64_t kinds_ = 0;  // bit per NoteKind present at all, so absent kinds cost no lookups
};

inline const TabularNotes::Slot* TabularNotes::slotFor(uint64_t key, NoteKind kind) const {
  if (slots_.empty()) return nullptr;
  for (uint64_t h = mix(key + static_cast<uint64_t>(kind)) & mask_;; h = (h + 1) & mask_) {
    const Slot& s = slots_[h];
    if (s.count == 0) return nullptr;
    if (s.key == key && s.kind == kind) return &s;
  }
}

template <typename Fn>
void TabularNotes::forEachNote(std::string_view undotted, NoteKind kind, Fn&& fn) const {
  if ((kinds_ >> static_cast<unsigned>(kind) & 1) == 0) return;
  if (slots_.empty()) return;
  // Every prefix's slot is likely a cache miss: fetch them all before probing
  // the first, so that the misses overlap instead of following one another.
  uint64_t keys[kMaxCodeLength + 1];
  size_t n_keys = 0;
  for (size_t n = undotted.size(); n >= 3 && n_keys <= static_cast<size_t>(kMaxCodeLength); --n) {
    keys[n_keys] = packCode(undotted.substr(0, n));
    __builtin_prefetch(&slots_[mix(keys[n_keys] + static_cast<uint64_t>(kind)) & mask_]);
    ++n_keys;
  }
  for (size_t n = undotted.size(), k = 0; n >= 3; --n, ++k) {
    const Slot* s = slotFor(k < n_keys ? keys[k] : packCode(undotted.substr(0, n)), kind);
    if (s == nullptr) continue;
    for (uint32_t k = s->first; k < s->first + s->count; ++k) fn(notes_[note_ids_[k]]);
  }
}

}  // namespace courier::coding
