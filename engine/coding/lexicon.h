// Lexicon: the words of the text coder, loaded from mappings/coding:
// abbreviations (query side), word variants (both sides), stop and default
// words, negation and uncertainty cues, terms with no default code, episode words.
//
// tokenize() turns a title or a phrase into canonical words with flags, the
// same way on both sides, so that "Diabetic", "diabetes" and "DIABETES" meet.
// Immutable after load; safe to share between threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/core/result.h"

namespace courier::coding {

struct WordToken {
  std::string text;   // canonical form; negated words carry a leading '~'
  uint8_t flags = 0;

  static constexpr uint8_t kOptional = 1;  // in parentheses/brackets, or a variant
  static constexpr uint8_t kDefault = 2;   // an unspecified/default axis of a title
  static constexpr uint8_t kMain = 4;      // the index main term, or a word that changes the kind of
                                           // code (history, screening, congenital…)
};

// Transparent hashing so lookups by string_view do not allocate.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// What tokenize() decides about one lower-case word on its own (its canonical
// form and the lists it is in). A caller that tokenizes many titles with one
// thread (the text coder's build) passes one cache, so each distinct word is
// looked up once instead of four or five hash lookups per occurrence.
struct LexWord {
  std::string canonical;
  bool stop = false;
  bool is_default = false;  // of the canonical form
  bool strong = false;      // of the canonical form
};
using LexWordCache = StringMap<LexWord>;

class Lexicon {
 public:
  // Reads abbreviations.tsv, synonyms.tsv and text_rules.tsv from `dir`.
  static Result<Lexicon> load(const std::string& dir);

  // Lower-cases and splits a phrase into words and punctuation marks (",", ";",
  // "(", ")"), expanding shorthand (longest match first): "T2DM w/ CKD 3a" ->
  // [type, 2, diabetes, mellitus, with, chronic, kidney, disease, 3a].
  std::vector<std::string> expand(std::string_view phrase) const;
  // The same words as views, appended to `out` (the text coder's hot path: no
  // string per word). A view points into `lowered`, which this sets to the
  // phrase lower-cased and the caller keeps unchanged while it uses the views,
  // or into this lexicon's expansions.
  void expand(std::string_view phrase, std::string& lowered, std::vector<std::string_view>& out) const;

  // Canonical, de-pluralized form of one lower-case word.
  std::string canonical(std::string_view word) const;

  // Appends the tokens of `text` (a title, or words joined by spaces). `cache`,
  // if given, remembers per-word lookups; the tokens are the same with or without.
  void tokenize(std::string_view text, std::vector<WordToken>& out, uint8_t extra_flags = 0,
                LexWordCache* cache = nullptr) const;

  // Length in words of the cue starting at words[at], or 0.
  size_t negationAt(std::span<const std::string_view> words, size_t at) const;
  size_t uncertaintyAt(std::span<const std::string_view> words, size_t at) const;

  // The physician query for a term that has no default code, or nullptr.
  const std::string* noDefaultQuery(std::string_view words_joined) const;
  bool isEpisodeWord(std::string_view word) const { return episode_.count(word) != 0; }
  bool isStop(std::string_view word) const { return stop_.count(word) != 0; }
  bool isDefaultWord(std::string_view canonical_word) const { return default_.count(canonical_word) != 0; }

 private:
  size_t cueAt(const std::vector<std::vector<std::string>>& cues, std::span<const std::string_view> words,
               size_t at) const;

  StringMap<std::vector<std::string>> abbreviations_;  // key: words joined by ' '
  size_t max_abbreviation_words_ = 1;
  // First word of each shorthand of several words -> the most words of one.
  StringMap<size_t> abbreviation_starts_;
  StringMap<std::string> synonyms_;
  StringSet stop_;
  StringSet default_;
  StringSet episode_;
  StringSet strong_;
  std::vector<std::vector<std::string>> negation_;
  std::vector<std::vector<std::string>> uncertain_;
  StringMap<std::string> no_default_;
};

}  // namespace courier::coding
