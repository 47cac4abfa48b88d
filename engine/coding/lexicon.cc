#include "engine/coding/lexicon.h"

#include <algorithm>

#include "engine/coding/gzip_file.h"

namespace courier::coding {

// std::string == "literal" measures the literal and calls compare() on every
// word; a string_view literal compares the sizes first (tokenize() runs these
// tests on every word of 600,000 titles at start-up).
using namespace std::string_view_literals;

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::vector<std::string> splitWords(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur.push_back(lower(c));
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string join(const std::vector<std::string>& w, size_t from, size_t n) {
  std::string s;
  for (size_t i = from; i < from + n; ++i) {
    if (i > from) s.push_back(' ');
    s += w[i];
  }
  return s;
}

// Calls fn(fields) for each data row of a TSV (skips '#' comments and the header).
template <typename Fn>
Result<void> eachRow(const std::string& path, Fn&& fn) {
  auto text = readCompressedFile(path);
  if (!text) return Unexpected(text.error());
  std::string_view t = *text;
  bool header = true;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string_view::npos) end = t.size();
    std::string_view line = t.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string_view> f;
    size_t s = 0;
    while (true) {
      size_t tab = line.find('\t', s);
      f.push_back(line.substr(s, tab == std::string_view::npos ? std::string_view::npos : tab - s));
      if (tab == std::string_view::npos) break;
      s = tab + 1;
    }
    fn(f);
  }
  return Ok();
}

}  // namespace

Result<Lexicon> Lexicon::load(const std::string& dir) {
  Lexicon lx;
  auto r = eachRow(dir + "/abbreviations.tsv", [&](const std::vector<std::string_view>& f) {
    if (f.size() < 2) return;
    auto key = splitWords(f[0]);
    if (key.empty()) return;
    lx.max_abbreviation_words_ = std::max(lx.max_abbreviation_words_, key.size());
    lx.abbreviations_[join(key, 0, key.size())] = splitWords(f[1]);
  });
  if (!r) return Unexpected(r.error());
  r = eachRow(dir + "/synonyms.tsv", [&](const std::vector<std::string_view>& f) {
    if (f.size() >= 2) lx.synonyms_[std::string(f[0])] = std::string(f[1]);
  });
  if (!r) return Unexpected(r.error());
  r = eachRow(dir + "/text_rules.tsv", [&](const std::vector<std::string_view>& f) {
    if (f.size() < 2) return;
    std::string_view kind = f[0];
    auto words = splitWords(f[1]);
    if (words.empty()) return;
    if (kind == "stop") {
      lx.stop_.insert(join(words, 0, words.size()));
    } else if (kind == "default") {
      lx.default_.insert(words[0]);
    } else if (kind == "negation") {
      lx.negation_.push_back(words);
    } else if (kind == "uncertain") {
      lx.uncertain_.push_back(words);
    } else if (kind == "strong") {
      lx.strong_.insert(words[0]);
    } else if (kind == "episode") {
      lx.episode_.insert(words[0]);
    } else if (kind == "no_default" && f.size() >= 3) {
      lx.no_default_[join(words, 0, words.size())] = std::string(f[2]);
    }
  });
  if (!r) return Unexpected(r.error());
  for (const auto& [key, words] : lx.abbreviations_) {
    const size_t space = key.find(' ');
    if (space == std::string::npos) continue;
    const size_t n = static_cast<size_t>(std::count(key.begin(), key.end(), ' ')) + 1;
    size_t& longest = lx.abbreviation_starts_[key.substr(0, space)];
    longest = std::max(longest, n);
  }
  // Longest cues first, so "no evidence of" wins over "no".
  auto longest = [](const auto& a, const auto& b) { return a.size() > b.size(); };
  std::stable_sort(lx.negation_.begin(), lx.negation_.end(), longest);
  std::stable_sort(lx.uncertain_.begin(), lx.uncertain_.end(), longest);
  // Default words are compared in canonical form.
  StringSet canon;
  for (const auto& w : lx.default_) canon.insert(lx.canonical(w));
  lx.default_.insert(canon.begin(), canon.end());
  canon.clear();
  for (const auto& w : lx.strong_) canon.insert(lx.canonical(w));
  lx.strong_.insert(canon.begin(), canon.end());
  return lx;
}

std::vector<std::string> Lexicon::expand(std::string_view phrase) const {
  std::string lowered;
  std::vector<std::string_view> views;
  expand(phrase, lowered, views);
  return std::vector<std::string>(views.begin(), views.end());
}

void Lexicon::expand(std::string_view phrase, std::string& lowered, std::vector<std::string_view>& out) const {
  // 1. Split into words (letters, digits and the joiners / - & ' inside a word)
  //    and punctuation marks that matter to the tokenizer. A word is a run of
  //    the lower-cased phrase, so it is a view of `lowered`.
  lowered.resize(phrase.size());
  for (size_t i = 0; i < phrase.size(); ++i) lowered[i] = lower(phrase[i]);
  const std::string_view text = lowered;
  thread_local std::vector<std::string_view> raw;
  raw.clear();
  size_t start = std::string_view::npos;  // of the word being read
  auto flush = [&](size_t end) {
    if (start == std::string_view::npos) return;
    while (end > start && (text[end - 1] == '-' || text[end - 1] == '\'' || text[end - 1] == '&')) --end;
    if (end > start) raw.push_back(text.substr(start, end - start));
    start = std::string_view::npos;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (alnum(c) || ((c == '/' || c == '-' || c == '&' || c == '\'') && start != std::string_view::npos)) {
      if (start == std::string_view::npos) start = i;
    } else {
      flush(i);
      if (c == ',' || c == ';' || c == '(' || c == ')' || c == '[' || c == ']' || c == ':') {
        raw.push_back(text.substr(i, 1));
      }
    }
  }
  flush(text.size());
  // 2. Expand shorthand, longest match first.
  // The keys tried at position i are prefixes of one join of the longest: build
  // it once and look up views of it (no string per attempt).
  thread_local std::string joined;
  thread_local std::vector<size_t> ends;
  ends.resize(max_abbreviation_words_);
  for (size_t i = 0; i < raw.size();) {
    bool matched = false;
    // Only a word that starts a shorthand of several words is tried with the next ones.
    size_t longest = 1;
    if (raw.size() - i > 1) {
      if (auto it = abbreviation_starts_.find(raw[i]); it != abbreviation_starts_.end()) {
        longest = std::min(it->second, raw.size() - i);
      }
    }
    joined.clear();
    for (size_t k = 0; k < longest; ++k) {
      if (k > 0) joined.push_back(' ');
      joined += raw[i + k];
      ends[k] = joined.size();
    }
    for (size_t n = longest; n >= 1; --n) {
      std::string_view key(joined.data(), ends[n - 1]);
      auto it = abbreviations_.find(key);
      if (it == abbreviations_.end() && n == 1 && key.size() > 1 && key.back() == 's') {
        it = abbreviations_.find(key.substr(0, key.size() - 1));  // "UTIs"
      }
      if (it != abbreviations_.end()) {
        for (const std::string& w : it->second) out.push_back(w);
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back(raw[i++]);
  }
}

std::string Lexicon::canonical(std::string_view word) const {
  std::string w(word);
  if (auto it = synonyms_.find(word); it != synonyms_.end()) w = it->second;
  size_t n = w.size();
  if (n > 4 && w.compare(n - 3, 3, "ies") == 0) {
    w.replace(n - 3, 3, "y");
  } else if (n > 3 && w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i' &&
             w[n - 2] != '\'') {
    w.pop_back();
  }
  if (w.size() != n) {
    if (auto it = synonyms_.find(w); it != synonyms_.end()) return it->second;
  }
  return w;
}

void Lexicon::tokenize(std::string_view text, std::vector<WordToken>& out, uint8_t extra_flags,
                       LexWordCache* cache) const {
  int depth = 0;
  bool negated = false;
  bool after_unspecified = false;
  bool alternative = false;
  bool unspecified_clause = false;
  std::string last_word;  // a qualifier ("stage") that the next number belongs to
  int last_number = -1;
  size_t last_number_index = 0;
  int range_from = -1;
  std::string word;
  auto leadingNumber = [](std::string_view w) {
    int v = 0;
    size_t i = 0;
    while (i < w.size() && w[i] >= '0' && w[i] <= '9' && i < 4) v = v * 10 + (w[i++] - '0');
    return i == 0 ? -1 : v;
  };
  auto emit = [&](std::string text_out, uint8_t flags) {
    out.push_back(WordToken{std::move(text_out), static_cast<uint8_t>(flags | extra_flags)});
  };
  auto finishWord = [&] {
    if (word.empty()) return;
    std::string w;
    w.swap(word);
    if (w == "without"sv || w == "not"sv || w == "no"sv || w == "non"sv) {
      negated = (w != "non");
      if (w == "non"sv) emit("non", depth > 0 ? WordToken::kOptional : 0);
      return;
    }
    if (w == "with"sv) {
      negated = false;
      alternative = false;
      return;
    }
    if (w == "or"sv) {
      alternative = true;  // "bronchus or lung": what follows is an alternative
      return;
    }
    if (w == "through"sv && last_number >= 0) {
      range_from = last_number;
      out[last_number_index].flags |= WordToken::kOptional;
      return;
    }
    const LexWord* known = nullptr;
    if (cache != nullptr) {
      auto it = cache->find(w);
      if (it == cache->end()) {
        LexWord lw;
        lw.stop = stop_.count(w) != 0;
        if (!lw.stop) {
          lw.canonical = canonical(w);
          lw.is_default = default_.count(lw.canonical) != 0;
          lw.strong = strong_.count(lw.canonical) != 0;
        }
        it = cache->emplace(w, std::move(lw)).first;
      }
      known = &it->second;
      if (known->stop) return;
    } else if (stop_.count(w) != 0) {
      return;
    }
    std::string c = known != nullptr ? known->canonical : canonical(w);
    uint8_t flags = (depth > 0 || alternative) ? WordToken::kOptional : 0;
    int num = leadingNumber(c);
    // "stage 3a", "type 2": the number means something only with its word.
    std::string qualifier;
    if (num >= 0 && !last_word.empty()) {
      qualifier = last_word + ":";
      c.insert(0, qualifier);
    }
    if (num >= 0 && range_from >= 0) {
      for (int k = range_from + 1; k < num; ++k) emit(qualifier + std::to_string(k), WordToken::kOptional);
      if (range_from <= 3 && num >= 3) {
        emit(qualifier + "3a", WordToken::kOptional);
        emit(qualifier + "3b", WordToken::kOptional);
      }
      flags |= WordToken::kOptional;
      range_from = -1;
    }
    if (num < 0) {
      last_word = (c == "stage"sv || c == "type"sv || c == "grade"sv || c == "class"sv || c == "degree"sv ||
                   c == "phase"sv || c == "trimester"sv || c == "level"sv)
                      ? c
                      : std::string();
    }
    // The cache knows the lists for the canonical word, not for "stage:3a".
    const bool plain = known != nullptr && qualifier.empty();
    if ((plain ? known->is_default : default_.count(c) != 0) || after_unspecified) flags |= WordToken::kDefault;
    // "unspecified whether with hypoxia or hypercapnia", "unspecified as acute or
    // chronic": the rest of the clause is the unspecified axis.
    if (after_unspecified && (c == "whether"sv || c == "as"sv)) {
      unspecified_clause = true;
    }
    if (unspecified_clause) flags |= WordToken::kDefault;
    after_unspecified = (c == "unspecified"sv);
    if (!negated && !(flags & WordToken::kOptional) && (plain ? known->strong : strong_.count(c) != 0)) {
      flags |= WordToken::kMain;
    }
    if (negated) {
      c.insert(c.begin(), '~');
      flags |= WordToken::kDefault;
    }
    if (num >= 0) {
      last_number = num;
      last_number_index = out.size();
    } else {
      last_number = -1;
    }
    emit(std::move(c), flags);
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = lower(text[i]);
    if (alnum(c)) {
      word.push_back(c);
      continue;
    }
    if (c == '\'') {
      // alzheimer's -> alzheimer; o'brien -> obrien
      if (i + 1 < text.size() && lower(text[i + 1]) == 's' &&
          (i + 2 >= text.size() || !alnum(text[i + 2]))) {
        ++i;
      }
      continue;
    }
    finishWord();
    if (c == '(' || c == '[') ++depth;
    if ((c == ')' || c == ']') && depth > 0) --depth;
    if (c == ',' || c == ';' || c == ':' || c == ')') {
      negated = false;
      alternative = false;
      unspecified_clause = false;
    }
  }
  finishWord();
}

size_t Lexicon::cueAt(const std::vector<std::vector<std::string>>& cues, std::span<const std::string_view> words,
                      size_t at) const {
  for (const auto& cue : cues) {
    if (at + cue.size() > words.size()) continue;
    bool ok = true;
    for (size_t k = 0; k < cue.size() && ok; ++k) ok = words[at + k] == cue[k];
    if (ok) return cue.size();
  }
  return 0;
}

size_t Lexicon::negationAt(std::span<const std::string_view> words, size_t at) const {
  return cueAt(negation_, words, at);
}

size_t Lexicon::uncertaintyAt(std::span<const std::string_view> words, size_t at) const {
  return cueAt(uncertain_, words, at);
}

const std::string* Lexicon::noDefaultQuery(std::string_view words_joined) const {
  auto it = no_default_.find(words_joined);
  return it == no_default_.end() ? nullptr : &it->second;
}

}  // namespace courier::coding
