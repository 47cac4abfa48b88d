#include "engine/coding/text_coder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/coding/alphabetic_index.h"
#include "engine/coding/code_key.h"
#include "engine/coding/lexicon.h"
#include "engine/coding/tabular_notes.h"

namespace courier::coding {

std::string_view codingMethodName(CodingMethod method) {
  switch (method) {
    case CodingMethod::kSource: return "source";
    case CodingMethod::kNormalized: return "normalized";
    case CodingMethod::kCrosswalk: return "crosswalk";
    case CodingMethod::kGem: return "gem";
    case CodingMethod::kText: return "text";
    case CodingMethod::kReviewed: return "reviewed";
  }
  return "unknown";
}

namespace {

constexpr uint32_t kNoToken = 0xFFFFFFFFu;
constexpr uint32_t kFlagBits = 3;  // token id << 3 | WordToken flags
constexpr uint32_t kFlagMask = 7;
constexpr double kExtraWeight = 0.35;        // a specific word the text does not say
constexpr double kDefaultExtraWeight = 0.08; // a default axis the text does not say
constexpr double kCompletionExtraWeight = 0.15;
constexpr double kOptionalExtraWeight = 0.02; // a nonessential word: only breaks ties
constexpr double kMainExtraWeight = 1.0;      // an index main term the text does not name
constexpr double kMissWeight = 0.6;           // a word of the text the doc does not explain

// Cost of a document word the text does not say, per unit of its weight.
inline double extraFactor(uint32_t token) {
  if (token & WordToken::kMain) return kMainExtraWeight;
  if (token & WordToken::kOptional) return kOptionalExtraWeight;
  if (token & WordToken::kDefault) return kDefaultExtraWeight;
  return kExtraWeight;
}
// extraFactor() of every flag combination, so docScore() looks it up without branches.
constexpr double kExtraFactorOf[kFlagMask + 1] = {
    kExtraWeight,     kOptionalExtraWeight, kDefaultExtraWeight, kOptionalExtraWeight,
    kMainExtraWeight, kMainExtraWeight,     kMainExtraWeight,    kMainExtraWeight};
static_assert(WordToken::kOptional == 1 && WordToken::kDefault == 2 && WordToken::kMain == 4);
// What a word adds to rank()'s partial score per unit of its weight when a doc has it with these flags.
inline float gainOf(uint32_t flags) { return static_cast<float>(1 + kMissWeight + extraFactor(flags)); }
constexpr size_t kShortlist = 128;  // at most this many documents are fully scored
constexpr size_t kFirstSorted = 40;  // shortlist keys sorted before full scoring starts (more if it needs them)
constexpr uint32_t kImpactMinPostings = 512;  // longer posting lists also kept in impact order
constexpr uint32_t kImpactKept = 512;         // ... their best this many postings
constexpr size_t kMaxMerged = 32;   // posting lists read per query, at most
constexpr uint32_t kBlockDocs = 512;  // doc ids accumulated at a time (power of two)
// In a block, the longest list's postings are searched for the docs touched
// instead of read when there are more than this many per touched doc.
constexpr size_t kPostingsPerSearch = 8;
constexpr uint32_t kHistBits = 12;  // leading key bits that pick a histogram bucket in rank()
constexpr size_t kHistBuckets = size_t{1} << kHistBits;
constexpr size_t kExact = 12;       // the top this many by full score are exact (>= kMaxResolves)
constexpr size_t kMaxResolves = 8;
constexpr size_t kPlans = 4;
constexpr size_t kPostingBudget = 3000;
constexpr size_t kMaxDescendants = 250;

enum class DocKind : uint8_t { kTitle, kInclusion, kIndex, kIndexSee, kNoDefault };

struct Doc {
  uint64_t code_key = 0;  // packed undotted code (may be a header or a partial "M17.1-")
  uint32_t tok_off = 0;
  uint16_t tok_n = 0;
  uint8_t code_len = 0;
  DocKind kind = DocKind::kTitle;
  uint32_t node = IndexNode::kNone;  // index node that gave the code
  // For an index doc, the node whose manifestation code goes with it
  // (AlphabeticIndex::manifNodeFor, looked up at build: a plan reads it
  // without hashing; it fills what was padding).
  uint32_t manif_node = IndexNode::kNone;
};
static_assert(sizeof(Doc) == 24);

struct QueryToken {
  uint32_t id;
  double weight;
};

struct Scored {
  uint32_t doc;
  double score;
  double matched;
};

struct Candidate {
  const CodeEntry* entry = nullptr;
  uint32_t doc = 0;
  double score = 0;
  double matched = 0;
};

// Sorts keys[0, n) in descending order with no branch that depends on the keys
// (min/max networks of 8, then merges that pick with a conditional move), into
// a per-thread buffer, which it returns. n <= kBranchFreeSort.
constexpr size_t kBranchFreeSort = 1024;
uint64_t* sortDescending(const uint64_t* keys, size_t n) {
  thread_local std::vector<uint64_t> a, b;
  const size_t padded = (n + 7) & ~size_t{7};
  if (a.size() < padded) a.resize(padded), b.resize(padded);
  std::copy(keys, keys + n, a.begin());
  std::fill(a.begin() + static_cast<long>(n), a.begin() + static_cast<long>(padded), 0);  // sorts last
  auto exchange = [](uint64_t* v, size_t i, size_t j) {
    const uint64_t x = v[i], y = v[j];
    v[i] = std::max(x, y);
    v[j] = std::min(x, y);
  };
  for (size_t g = 0; g < padded; g += 8) {
    uint64_t* v = a.data() + g;
    exchange(v, 0, 2), exchange(v, 1, 3), exchange(v, 4, 6), exchange(v, 5, 7);
    exchange(v, 0, 4), exchange(v, 1, 5), exchange(v, 2, 6), exchange(v, 3, 7);
    exchange(v, 0, 1), exchange(v, 2, 3), exchange(v, 4, 5), exchange(v, 6, 7);
    exchange(v, 2, 4), exchange(v, 3, 5);
    exchange(v, 1, 4), exchange(v, 3, 6);
    exchange(v, 1, 2), exchange(v, 3, 4), exchange(v, 5, 6);
  }
  uint64_t* src = a.data();
  uint64_t* dst = b.data();
  for (size_t width = 8; width < padded; width *= 2) {
    for (size_t lo = 0; lo < padded; lo += 2 * width) {
      const size_t mid = std::min(lo + width, padded), hi = std::min(lo + 2 * width, padded);
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        const uint64_t x = src[i], y = src[j];
        const bool take_x = x > y;
        dst[k++] = take_x ? x : y;
        i += take_x;
        j += !take_x;
      }
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    std::swap(src, dst);
  }
  return src;
}

// A float's bits as an unsigned integer that sorts in the same order.
inline uint32_t orderedBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline float fromOrderedBits(uint32_t u) {
  u = (u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

std::string dotted(std::string_view undotted) {
  char buf[16];
  return std::string(dottedForm(CodeSystem::kIcd10Cm, undotted, buf));
}

}  // namespace

// Documents under construction: one per thread, merged at the end.
struct DocBuilder {
  const Lexicon* lexicon = nullptr;
  StringMap<uint32_t> vocab;
  std::vector<std::string> words;
  std::vector<Doc> docs;
  std::vector<uint32_t> doc_tokens;
  std::unordered_map<uint64_t, uint32_t> title_doc;
  std::unordered_map<uint64_t, uint32_t> seen;  // content hash -> doc, to drop duplicates
  std::vector<WordToken> scratch;
  std::vector<uint32_t> ids;
  LexWordCache word_cache;  // this builder's thread only

  uint32_t intern(const std::string& w) {
    auto it = vocab.find(w);
    if (it != vocab.end()) return it->second;
    uint32_t id = static_cast<uint32_t>(words.size());
    vocab.emplace(w, id);
    words.push_back(w);
    return id;
  }

  void appendTokens(const std::vector<WordToken>& toks, std::vector<uint32_t>& out) {
    for (const auto& t : toks) out.push_back(intern(t.text) << kFlagBits | (t.flags & kFlagMask));
  }

  static bool codeKey(std::string_view code, uint64_t& key, uint8_t& len) {
    char buf[kMaxCodeLength + 1];
    size_t n = 0;
    for (char ch : code) {
      if (ch == '-' || ch == '.' || ch == ' ') continue;
      if (n == kMaxCodeLength) return false;
      buf[n++] = ch;
    }
    PlainCode pc;
    if (!normalizeCode(std::string_view(buf, n), pc) || pc.length < 3) return false;
    key = pc.key();
    len = pc.length;
    return true;
  }

  // `in` holds id<<2|flags in any order; it is sorted and merged in place.
  uint32_t addDoc(std::vector<uint32_t>& in, std::string_view code, DocKind kind, uint32_t node) {
    uint64_t key = 0;
    uint8_t len = 0;
    if (kind != DocKind::kNoDefault && !codeKey(code, key, len)) return kNoToken;
    std::sort(in.begin(), in.end());
    // One entry per word: required wins over optional, specific over default.
    size_t m = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (m > 0 && (in[m - 1] >> kFlagBits) == (in[i] >> kFlagBits)) {
        in[m - 1] = (in[m - 1] & (in[i] | ~3u)) | (in[i] & WordToken::kMain);
      } else {
        in[m++] = in[i];
      }
    }
    in.resize(m);
    if (in.empty() || in.size() > 0xFFFF) return kNoToken;
    uint64_t h = 1469598103934665603ULL ^ key ^ (static_cast<uint64_t>(kind == DocKind::kTitle) << 63);
    for (uint32_t v : in) h = (h ^ v) * 1099511628211ULL;
    if (kind != DocKind::kTitle) {
      auto [it, fresh] = seen.emplace(h, static_cast<uint32_t>(docs.size()));
      if (!fresh) return it->second;
    }
    Doc d;
    d.code_key = key;
    d.code_len = len;
    d.kind = kind;
    d.node = node;
    d.tok_off = static_cast<uint32_t>(doc_tokens.size());
    d.tok_n = static_cast<uint16_t>(in.size());
    doc_tokens.insert(doc_tokens.end(), in.begin(), in.end());
    docs.push_back(d);
    return static_cast<uint32_t>(docs.size() - 1);
  }

  // Appends `other`, translating its word ids into this builder's.
  void merge(DocBuilder&& other) {
    std::vector<uint32_t> map(other.words.size());
    for (size_t i = 0; i < other.words.size(); ++i) map[i] = intern(other.words[i]);
    uint32_t base = static_cast<uint32_t>(docs.size());
    for (const Doc& od : other.docs) {
      Doc d = od;
      d.tok_off = static_cast<uint32_t>(doc_tokens.size());
      for (uint32_t k = 0; k < od.tok_n; ++k) {
        uint32_t v = other.doc_tokens[od.tok_off + k];
        doc_tokens.push_back(map[v >> kFlagBits] << kFlagBits | (v & kFlagMask));
      }
      std::sort(doc_tokens.begin() + d.tok_off, doc_tokens.end());
      docs.push_back(d);
    }
    for (auto& [k, v] : other.title_doc) title_doc.emplace(k, v + base);
  }
};

struct TextCoder::Impl {
  const CodeSets* sets = nullptr;
  Lexicon lexicon;
  AlphabeticIndex index;
  TabularNotes notes;

  StringMap<uint32_t> vocab;
  std::vector<std::string> words;  // id -> word
  std::vector<float> idf;
  std::vector<Doc> docs;
  std::vector<uint32_t> doc_tokens;  // sorted by id within a doc
  std::vector<uint32_t> post_off;    // CSR postings: token -> its range in `postings`
  // One posting: the doc id and the word's WordToken flags in that doc in one
  // integer (doc << kFlagBits | flags: sorted by doc, compared with a shifted
  // doc id), beside the doc's doc_extra, so rank() reads one stream per word.
  struct Posting {
    uint32_t doc_flags;
    float extra;
  };
  static_assert(sizeof(Posting) == 8);
  std::vector<Posting> postings;
  std::unordered_map<uint64_t, uint32_t> title_doc;  // billable code -> its title doc
  // The same, per release and entry index, so the hot path needs no hashing.
  std::vector<const CodeSet*> release_sets;
  std::vector<std::vector<uint32_t>> release_title_doc;

  uint32_t titleDocOf(const CodeSet& set, const CodeEntry& e) const {
    for (size_t r = 0; r < release_sets.size(); ++r) {
      if (release_sets[r] == &set) return release_title_doc[r][static_cast<size_t>(&e - set.entries().data())];
    }
    auto it = title_doc.find(e.key);
    return it == title_doc.end() ? kNoToken : it->second;
  }
  std::vector<float> doc_extra;  // what a doc's words cost when the text says none of them
  // Long posting lists (more than kImpactMinPostings) also in impact order:
  // their best kImpactKept postings by the partial score a doc gets from that
  // word alone (the word's gain minus the doc's extra), ties by doc id.
  struct Impact {
    float single;
    uint32_t doc;
  };
  std::vector<uint32_t> impact_off;  // token -> its range in `impact` (empty: short list)
  std::vector<Impact> impact;
  bool use_impact = true;  // setImpactOrderForTesting()
  bool dense_scoring = true;  // setMergeScoringForTesting(false)
  // Per word: the partial score (before the missing words' cost) of its
  // kShortlist-th best doc by that word alone; -inf for shorter lists. Every
  // doc of the word scores at least its single-word score, so once the word's
  // list is read the shortlist's last key is at least this.
  std::vector<float> kth_single;
  uint32_t unspecified_id = kNoToken;
  // Per word id: negated ("~...") or a default word, i.e. a title word that
  // leaves an axis open rather than naming something the text must say.
  std::vector<uint8_t> leaves_axis_open;
  // Per title doc (they come first in `docs`): its first word that
  // supportedCodeIn() requires the text to say (not optional; not a default
  // word that leaves an axis open), or kNoToken when it has none, in which case
  // it has no word that counts as required either and is never supported.
  std::vector<uint32_t> title_must;

  // ---- building ----
  void tokenizeTitle(const IndexNode& n, std::vector<WordToken>& out, LexWordCache& cache) const {
    std::string_view title = n.title;
    if (n.level == 0) {
      // "Gout, gouty" / "Disease, diseased": the first group is the term, the rest variants.
      size_t comma = title.find(',');
      lexicon.tokenize(title.substr(0, comma), out, WordToken::kMain, &cache);
      if (comma != std::string_view::npos) {
        lexicon.tokenize(title.substr(comma + 1), out, WordToken::kOptional, &cache);
      }
    } else {
      lexicon.tokenize(title, out, 0, &cache);
    }
    if (!n.nemod.empty()) lexicon.tokenize(n.nemod, out, WordToken::kOptional, &cache);
  }

  // Titles of every billable code (newest official release first, then codes
  // only the other releases have).
  void buildTitleDocs(DocBuilder& b) const {
    std::vector<const CodeSet*> order = {&sets->latestOfficialIcd10cm()};
    for (const auto& s : sets->icd10cmReleases()) {
      if (s.get() != order[0]) order.push_back(s.get());
    }
    for (const CodeSet* set : order) {
      for (const CodeEntry& e : set->entries()) {
        if (!e.billable() || b.title_doc.count(e.key) != 0) continue;
        b.scratch.clear();
        lexicon.tokenize(set->description(e), b.scratch, 0, &b.word_cache);
        b.ids.clear();
        b.appendTokens(b.scratch, b.ids);
        PlainCode pc = unpackCode(e.key);
        uint32_t d = b.addDoc(b.ids, pc.view(), DocKind::kTitle, IndexNode::kNone);
        if (d != kNoToken) b.title_doc.emplace(e.key, d);
      }
    }
  }

  // Index paths (main term + sub-terms), "see" references followed one level
  // into their target, and Tabular inclusion terms.
  void buildIndexDocs(DocBuilder& b) const {
    for (const TabularNote& n : notes.all()) {
      if (n.kind != NoteKind::kInclusionTerm) continue;
      b.scratch.clear();
      lexicon.tokenize(n.text, b.scratch, 0, &b.word_cache);
      b.ids.clear();
      b.appendTokens(b.scratch, b.ids);
      b.addDoc(b.ids, unpackCode(n.code_key).view(), DocKind::kInclusion, IndexNode::kNone);
    }
    const auto& nodes = index.nodes();
    // Each title is tokenized once.
    std::vector<uint32_t> node_off(nodes.size() + 1, 0);
    std::vector<uint32_t> node_ids;
    node_ids.reserve(nodes.size() * 4);
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      b.scratch.clear();
      tokenizeTitle(nodes[i], b.scratch, b.word_cache);
      b.appendTokens(b.scratch, node_ids);
      node_off[i + 1] = static_cast<uint32_t>(node_ids.size());
    }
    auto nodeTokens = [&](uint32_t i, std::vector<uint32_t>& out) {
      out.insert(out.end(), node_ids.begin() + node_off[i], node_ids.begin() + node_off[i + 1]);
    };
    // Path hashes of the FY2025 index: where it has the same path as FY2017,
    // the newer index decides (FY2017 "Depression F32.9" vs FY2025 "F32.A").
    std::vector<uint64_t> path_hash(nodes.size(), 0);
    std::unordered_set<uint64_t> newer_paths;
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      uint64_t h = nodes[i].parent == IndexNode::kNone ? 1469598103934665603ULL : path_hash[nodes[i].parent];
      for (char ch : nodes[i].title) {
        h = (h ^ static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(ch)))) * 1099511628211ULL;
      }
      h = (h ^ '|') * 1099511628211ULL;
      path_hash[i] = h;
      if (nodes[i].source == 25) newer_paths.insert(h);
    }
    std::unordered_map<std::string, uint32_t> see_cache;
    std::vector<uint32_t> chain;
    std::vector<uint32_t> path;
    std::vector<uint32_t> all;
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      const IndexNode& n = nodes[i];
      chain.resize(n.level + 1);
      chain[n.level] = i;
      path.clear();
      for (size_t l = 0; l <= n.level; ++l) nodeTokens(chain[l], path);
      if (path.empty()) continue;
      if (n.source == 17 && newer_paths.count(path_hash[i]) != 0) continue;
      if (!n.code.empty()) {
        all = path;
        b.addDoc(all, n.code, DocKind::kIndex, i);
        continue;
      }
      bool to_condition = n.see == std::string_view("condition") || n.see == std::string_view("Condition") ||
                          n.title.find("code to condition") != std::string::npos;
      if (to_condition) {
        all = path;
        b.addDoc(all, "", DocKind::kNoDefault, i);
        continue;
      }
      if (n.see.empty()) continue;
      uint32_t target;
      if (auto it = see_cache.find(n.see); it != see_cache.end()) {
        target = it->second;
      } else {
        target = index.resolveSee(n.see);
        see_cache.emplace(n.see, target);
      }
      if (target == IndexNode::kNone || target == i) continue;
      const IndexNode& t = nodes[target];
      if (!t.code.empty()) {
        // The target's own code only when the target explains every word of
        // this term ("Hypertensive urgency, see Hypertension" leads on to
        // Hypertension > urgency, not to I10).
        std::vector<uint32_t> target_path;
        for (uint32_t a = target; a != IndexNode::kNone; a = nodes[a].parent) nodeTokens(a, target_path);
        bool covered = true;
        for (uint32_t v : path) {
          if (v & WordToken::kOptional) continue;
          bool found = false;
          for (uint32_t w : target_path) found = found || (w >> kFlagBits) == (v >> kFlagBits);
          covered = covered && found;
        }
        // A reference that shares no word with the term is a synonym ("Infection,
        // bladder, see Cystitis"); one that does says where to look further.
        bool shares = false;
        for (uint32_t v : path) {
          for (uint32_t w : target_path) shares = shares || (w >> kFlagBits) == (v >> kFlagBits);
        }
        if (covered || t.level > 0 || !shares) {  // a reference to a sub-term names the concept itself
          all = path;
          b.addDoc(all, t.code, DocKind::kIndexSee, target);
        }
      }
      // The target's sub-terms, reached through this term.
      size_t added = 0;
      for (uint32_t c = target + 1; c < t.end && added < 24; c = nodes[c].end) {
        if (nodes[c].code.empty()) continue;
        all = path;
        nodeTokens(c, all);
        b.addDoc(all, nodes[c].code, DocKind::kIndexSee, c);
        ++added;
      }
    }
  }

  void buildPostings() {
    size_t v = words.size();
    std::vector<uint32_t> df(v, 0);
    for (uint32_t t : doc_tokens) ++df[t >> kFlagBits];
    post_off.assign(v + 1, 0);
    for (size_t i = 0; i < v; ++i) post_off[i + 1] = post_off[i] + df[i];
    postings.resize(post_off[v]);
    std::vector<uint32_t> fill(post_off.begin(), post_off.end() - 1);
    for (uint32_t d = 0; d < docs.size(); ++d) {
      for (uint32_t k = 0; k < docs[d].tok_n; ++k) {
        uint32_t t = doc_tokens[docs[d].tok_off + k];
        uint32_t slot = fill[t >> kFlagBits]++;
        postings[slot].doc_flags = d << kFlagBits | (t & kFlagMask);
      }
    }
    idf.resize(v);
    const double n = static_cast<double>(docs.size());
    for (size_t i = 0; i < v; ++i) idf[i] = static_cast<float>(std::log(1.0 + n / (1.0 + df[i])));
    doc_extra.assign(docs.size(), 0.0f);
    for (uint32_t d = 0; d < docs.size(); ++d) {
      double e = 0;
      for (uint32_t k = 0; k < docs[d].tok_n; ++k) {
        uint32_t t = doc_tokens[docs[d].tok_off + k];
        e += idf[t >> kFlagBits] * extraFactor(t);
      }
      doc_extra[d] = static_cast<float>(e);
    }
    for (Posting& p : postings) p.extra = doc_extra[p.doc_flags >> kFlagBits];
    impact_off.assign(v + 1, 0);
    for (size_t i = 0; i < v; ++i) {
      const uint32_t len = post_off[i + 1] - post_off[i];
      impact_off[i + 1] = impact_off[i] + (len > kImpactMinPostings ? std::min(len, kImpactKept) : 0);
    }
    impact.resize(impact_off[v]);
    // Sorted as integers: the score's order-preserving bits inverted, then the
    // doc id, so ascending order is best score first, ties by doc id.
    std::vector<uint64_t> all;
    kth_single.assign(v, -std::numeric_limits<float>::infinity());
    for (size_t i = 0; i < v; ++i) {
      const uint32_t len = post_off[i + 1] - post_off[i];
      if (len < kShortlist) continue;
      const uint32_t kept = std::max<uint32_t>(impact_off[i + 1] - impact_off[i], kShortlist);
      all.clear();
      for (uint32_t k = post_off[i]; k < post_off[i + 1]; ++k) {
        // The same float operations as rank()'s accumulator: w * gain, minus the extra.
        const float a = idf[i] * gainOf(postings[k].doc_flags & kFlagMask);
        all.push_back(static_cast<uint64_t>(~orderedBits(a - postings[k].extra)) << 32 |
                      postings[k].doc_flags >> kFlagBits);
      }
      if (kept < all.size()) std::nth_element(all.begin(), all.begin() + kept, all.end());
      std::sort(all.begin(), all.begin() + kept);
      auto single = [](uint64_t key) { return fromOrderedBits(~static_cast<uint32_t>(key >> 32)); };
      kth_single[i] = single(all[kShortlist - 1]);
      for (uint32_t k = 0; k < impact_off[i + 1] - impact_off[i]; ++k) {
        impact[impact_off[i] + k] = Impact{single(all[k]), static_cast<uint32_t>(all[k])};
      }
    }
  }

  // ---- querying ----
  double docScore(uint32_t d, const std::vector<QueryToken>& q, double& matched) const {
    const Doc& doc = docs[d];
    const uint32_t* t = &doc_tokens[doc.tok_off];
    size_t i = 0, j = 0;
    double miss = 0, extra = 0;
    matched = 0;
    while (i < doc.tok_n || j < q.size()) {
      uint32_t tid = i < doc.tok_n ? t[i] >> kFlagBits : kNoToken;
      uint32_t qid = j < q.size() ? q[j].id : kNoToken;
      if (tid == qid) {
        matched += q[j].weight;
        ++i, ++j;
      } else if (tid < qid) {
        extra += idf[tid] * kExtraFactorOf[t[i] & kFlagMask];
        ++i;
      } else {
        miss += q[j].weight;
        ++j;
      }
    }
    return matched - kMissWeight * miss - extra;
  }

  // docScore() without a branch on the words: `q_pos` holds, per word id, 0
  // or the word's position in `q` plus one (q.size() < 64), and `q_weight`
  // 0 then the weights of q. The same sums, added in the same order (the
  // doc's words by id; then the missing query words by id), so the same score.
  double docScoreDense(uint32_t d, const std::vector<QueryToken>& q, const uint8_t* q_pos, const double* q_weight,
                       double& matched) const {
    const Doc& doc = docs[d];
    const uint32_t* t = &doc_tokens[doc.tok_off];
    double m = 0, extra = 0;
    uint64_t hit = 0;
    for (size_t i = 0; i < doc.tok_n; ++i) {
      const uint32_t v = t[i];
      const uint32_t pos = q_pos[v >> kFlagBits];
      m += q_weight[pos];  // + 0.0 when not in the query
      hit |= uint64_t{1} << pos;
      const double cost = idf[v >> kFlagBits] * kExtraFactorOf[v & kFlagMask];
      extra += pos == 0 ? cost : 0.0;  // + 0.0 when in the query
    }
    double miss = 0;
    for (uint64_t missing = ~(hit >> 1) & ((uint64_t{1} << q.size()) - 1); missing != 0; missing &= missing - 1) {
      miss += q[static_cast<size_t>(__builtin_ctzll(missing))].weight;
    }
    matched = m;
    return m - kMissWeight * miss - extra;
  }

  bool docHas(uint32_t d, uint32_t id) const {
    const Doc& doc = docs[d];
    const uint32_t* b = &doc_tokens[doc.tok_off];
    const uint32_t* e = b + doc.tok_n;
    const uint32_t* it = std::lower_bound(b, e, id << kFlagBits);
    return it != e && (*it >> kFlagBits) == id;
  }

  // Picks the billable code a doc leads to in `set`, completing headers and
  // partial codes with the sub-code whose title best fits the query.
  Candidate resolve(const Scored& s, const CodeSet& set, const std::vector<QueryToken>& q) const {
    Candidate c;
    const Doc& doc = docs[s.doc];
    c.doc = s.doc;
    c.score = s.score;
    c.matched = s.matched;
    const CodeEntry* e = set.find(doc.code_key);
    if (e != nullptr && e->billable()) {
      c.entry = e;
      return c;
    }
    PlainCode prefix = unpackCode(doc.code_key);
    std::span<const CodeEntry> span;
    while (prefix.length >= 3) {
      span = set.withPrefix(prefix.view());
      bool any = false;
      for (const CodeEntry& x : span) any = any || x.billable();
      if (any) break;
      --prefix.length;
      span = {};
    }
    double best = -1e18;
    size_t seen = 0;
    for (const CodeEntry& x : span) {
      if (!x.billable()) continue;
      if (++seen > kMaxDescendants) break;
      uint32_t td = titleDocOf(set, x);
      if (td == kNoToken) continue;
      const Doc& tdoc = docs[td];
      const uint32_t* t = &doc_tokens[tdoc.tok_off];
      double recovered = 0, extra = 0;
      size_t i = 0, j = 0;
      while (i < tdoc.tok_n) {
        uint32_t tid = t[i] >> kFlagBits;
        while (j < q.size() && q[j].id < tid) ++j;
        bool in_q = j < q.size() && q[j].id == tid;
        bool in_doc = docHas(s.doc, tid);
        if (in_q && !in_doc) recovered += q[j].weight;
        if (!in_q && !in_doc && !(t[i] & WordToken::kOptional)) {
          if (tid == unspecified_id) {
            extra -= 0.01;  // the index left this axis open and so does the text: the default
          } else {
            extra += idf[tid] * ((t[i] & WordToken::kDefault) ? kDefaultExtraWeight * 0.4 : kCompletionExtraWeight);
          }
        }
        ++i;
      }
      double score = s.score + (1 + kMissWeight) * recovered - extra;
      if (score > best + 1e-9) {
        best = score;
        c.entry = &x;
        c.score = score;
        c.matched = s.matched + recovered;
      }
    }
    return c;
  }

  void queryTokens(const std::vector<WordToken>& toks, double& unknown_words, std::vector<QueryToken>& q) const {
    q.clear();
    unknown_words = 0;
    for (const auto& t : toks) {
      auto it = vocab.find(t.text);
      if (it == vocab.end()) {
        unknown_words += 1;
        continue;
      }
      q.push_back(QueryToken{it->second, idf[it->second]});
    }
    std::sort(q.begin(), q.end(), [](const QueryToken& a, const QueryToken& b) { return a.id < b.id; });
    q.erase(std::unique(q.begin(), q.end(), [](const QueryToken& a, const QueryToken& b) { return a.id == b.id; }),
            q.end());
  }

  // The docs of word `id` that no other list touched (not `marked`), best
  // first, as rank() keys: their partial score is that word's alone, which
  // is the impact order's. Stops once kShortlist of them are out and the next
  // scores lower than the last of those, or below `score_floor` (a lower bound of
  // the shortlist's last key): no later one can reach the shortlist. False
  // when the stored part of the order ran out before that.
  template <typename Emit>
  bool longestOnly(uint32_t id, const uint64_t* marked, float miss_total, float score_floor, Emit&& emit) const {
    const Impact* it = impact.data() + impact_off[id];
    const Impact* end = impact.data() + impact_off[id + 1];
    size_t out = 0;
    float last = 0;
    for (; it != end; ++it) {
      const uint32_t d = it->doc;
      if (marked[d >> 6] & (uint64_t{1} << (d & 63))) continue;
      const float score = it->single - miss_total;
      if ((out >= kShortlist && score < last) || score < score_floor) return true;
      emit(static_cast<uint64_t>(orderedBits(score)) << 32 | ~d);
      if (++out == kShortlist) last = score;
    }
    return impact_off[id + 1] - impact_off[id] == post_off[id + 1] - post_off[id];
  }

  std::vector<Candidate> rank(const CodeSet& set, const std::vector<QueryToken>& q, double total) const {
    // 1. Rarest words first; common words only while the postings stay short
    //    (a document worth scoring almost always holds one of the rarer words).
    thread_local std::vector<QueryToken> order;
    order = q;
    std::sort(order.begin(), order.end(), [&](const QueryToken& a, const QueryToken& b) {
      return post_off[a.id + 1] - post_off[a.id] < post_off[b.id + 1] - post_off[b.id];
    });
    size_t budget = 0;
    size_t take = 0;
    for (; take < order.size(); ++take) {
      uint32_t len = post_off[order[take].id + 1] - post_off[order[take].id];
      if (take >= 2 && budget + len > kPostingBudget) break;
      budget += len;
    }
    // 2. The partial score of a document over the words read is exact: each
    //    matched word adds its weight (1 + kMissWeight: said, and not missing)
    //    plus what it would have cost as an extra (its factor in that doc); the
    //    doc's own words cost doc_extra. Words whose postings were not read can
    //    add at most `slack`.
    //    Postings are sorted by doc, so they are read one block of doc ids at a
    //    time into a dense accumulator that stays in the L1 cache (a hash table
    //    of touched docs missed it on almost every posting; merging the lists
    //    cost a comparison per list per doc).
    //    The longest list read, when it is long (a common word: "disease",
    //    "right", "unspecified"), is not accumulated doc by doc: the docs the
    //    other lists touched look it up in their block, and of the docs only it
    //    touches, whose partial score is just that word's, the best ones are read
    //    from its impact order (longestOnly() below); the rest cannot reach the
    //    shortlist. A stored impact order too short for that falls back to the
    //    plain accumulation.
    float gain[kFlagMask + 1];
    for (uint32_t f = 0; f <= kFlagMask; ++f) gain[f] = gainOf(f);
    // A word's list being read, with what it adds to a doc for each flag
    // combination (its weight times gain[]: the same float product as
    // multiplying per posting).
    struct Cursor {
      uint32_t at;
      uint32_t end;
      float add[kFlagMask + 1];
    };
    auto cursorOf = [&](const QueryToken& t) {
      Cursor c{post_off[t.id], post_off[t.id + 1], {}};
      const float w = static_cast<float>(t.weight);
      for (uint32_t f = 0; f <= kFlagMask; ++f) c.add[f] = w * gain[f];
      return c;
    };
    take = std::min(take, kMaxMerged);
    const float miss_total = static_cast<float>(kMissWeight * total);
    // A doc scoring below `score_floor` cannot reach the shortlist (kth_single):
    // it is not even kept as a key.
    float score_floor = -std::numeric_limits<float>::infinity();
    for (size_t k = 0; k < take; ++k) score_floor = std::max(score_floor, kth_single[order[k].id] - miss_total);
    double slack = 0;
    for (size_t k = take; k < order.size(); ++k) slack += order[k].weight * (1 + kMissWeight + kMainExtraWeight);
    // Touched docs as one integer each: the partial score's bits made
    // order-preserving, then the doc id inverted, so that a plain integer
    // compare orders by score, ties by doc id (the lower first).
    thread_local std::vector<uint64_t> touched;
    if (touched.size() < budget) touched.resize(budget);
    uint64_t* out_key = touched.data();
    struct Block {
      float acc[kBlockDocs] = {};  // 0 = not touched (every gain is > 0)
      float extra[kBlockDocs];
      uint16_t seen[kBlockDocs + 1];  // one spare: the branch-free append writes before it counts
      uint32_t hist[kHistBuckets] = {};  // touched docs per leading key bits (score sign, exponent, 3 bits)
      // One bit per histogram bucket holding a touched doc: the walk below
      // visits only those, and only their groups of 64 are cleared afterwards.
      uint64_t used[kHistBuckets / 64] = {};
    };
    thread_local std::unique_ptr<Block> block = std::make_unique<Block>();
    // One bit per doc: in the longest list and touched by the others (listed in `both`).
    thread_local std::vector<uint64_t> marked;
    thread_local std::vector<uint32_t> both;
    if (marked.size() < docs.size() / 64 + 1) marked.resize(docs.size() / 64 + 1);
    uint32_t* const hist = block->hist;
    uint64_t* const used = block->used;
    static_assert(kHistBuckets == 64 * 64);
    auto emit = [&](uint64_t key) {
      *out_key++ = key;
      const size_t bucket = key >> (64 - kHistBits);
      ++hist[bucket];
      used[bucket / 64] |= uint64_t{1} << (bucket % 64);
    };
    auto clearHistogram = [&] {
      for (size_t g = 0; g < kHistBuckets / 64; ++g) {
        if (used[g] != 0) std::memset(hist + g * 64, 0, sizeof(uint32_t) * 64), used[g] = 0;
      }
    };
    // Returns false when the longest list's stored impact order ran out.
    auto accumulate = [&](bool split) -> bool {
      // The hot loops below work on local copies: through the lambda's captured
      // references the compiler reloaded every pointer after each store.
      float* const acc_l = block->acc;
      float* const ext_l = block->extra;
      uint16_t* const seen_l = block->seen;
      uint32_t* const hist_l = hist;
      uint64_t* const used_l = used;
      const Posting* const p_l = postings.data();
      const float floor_l = score_floor;
      const float miss_l = miss_total;
      Cursor cursors[kMaxMerged];
      size_t n_cursors = 0;
      const size_t n_block = split ? take - 1 : take;
      for (size_t k = 0; k < n_block; ++k) {
        if (post_off[order[k].id] < post_off[order[k].id + 1]) cursors[n_cursors++] = cursorOf(order[k]);
      }
      Cursor longest{0, 0, {}};
      if (split) longest = cursorOf(order[take - 1]);
      uint64_t* const marked_l = marked.data();
      while (n_cursors > 0) {
        uint32_t first = p_l[cursors[0].at].doc_flags;
        for (size_t k = 1; k < n_cursors; ++k) first = std::min(first, p_l[cursors[k].at].doc_flags);
        const uint32_t base = (first >> kFlagBits) & ~(kBlockDocs - 1);
        // Postings compare with the block's bounds shifted like their doc ids.
        const uint32_t base_key = base << kFlagBits;
        const uint32_t limit_key = (base + kBlockDocs) << kFlagBits;
        size_t n_seen = 0;
        for (size_t k = 0; k < n_cursors;) {
          Cursor& c = cursors[k];
          const Posting* it = p_l + c.at;
          const Posting* const end = p_l + c.end;
          float add[kFlagMask + 1];
          std::memcpy(add, c.add, sizeof add);
          for (; it != end && it->doc_flags < limit_key; ++it) {
            const uint32_t df = it->doc_flags;
            const uint32_t i = (df >> kFlagBits) - base;
            // Branch-free: whether a doc was touched before is a coin toss for the predictor.
            seen_l[n_seen] = static_cast<uint16_t>(i);
            const float a = acc_l[i];
            uint32_t a_bits;  // 0.0f: an integer test is cheaper than a float compare
            std::memcpy(&a_bits, &a, sizeof a_bits);
            n_seen += a_bits == 0;
            acc_l[i] = a + add[df & kFlagMask];
            ext_l[i] = it->extra;
          }
          if (it == end) {
            c = cursors[--n_cursors];
            continue;
          }
          c.at = static_cast<uint32_t>(it - p_l);
          ++k;
        }
        if (split) {
          // The longest list adds to the docs touched in this block, and only to them.
          // Galloping from where the last block left off: the next block is
          // usually near, and a binary search over the whole rest of a long
          // list missed the cache on most of its probes.
          auto firstAtLeast = [p_l](uint32_t at, uint32_t end, uint32_t key) {
            if (at == end || p_l[at].doc_flags >= key) return at;
            uint32_t lo = at, step = 1;
            uint32_t hi = at + 1;
            while (hi < end && p_l[hi].doc_flags < key) {
              lo = hi;
              step <<= 1;
              hi = end - lo > step ? lo + step : end;
            }
            return static_cast<uint32_t>(
                std::partition_point(p_l + lo + 1, p_l + hi, [&](const Posting& p) { return p.doc_flags < key; }) - p_l);
          };
          const uint32_t at = firstAtLeast(longest.at, longest.end, base_key);
          // Those docs are marked: the longest list's own docs skip them.
          auto add = [&](uint32_t i, uint32_t df) {
            acc_l[i] += longest.add[df & kFlagMask];
            const uint32_t d = base + i;
            marked_l[d >> 6] |= uint64_t{1} << (d & 63);
            both.push_back(d);
          };
          const size_t probe = at + n_seen * kPostingsPerSearch;
          if (probe < longest.end && p_l[probe].doc_flags < limit_key) {
            // Many postings here for the docs touched: each touched doc is
            // looked up in the block's postings (a binary search that picks
            // with a conditional move) instead of reading them all.
            const uint32_t stop = firstAtLeast(static_cast<uint32_t>(probe), longest.end, limit_key);
            const uint32_t n_postings = stop - at;
            for (size_t k = 0; k < n_seen; ++k) {
              const uint32_t i = seen_l[k];
              const uint32_t last_key = (base + i) << kFlagBits | kFlagMask;
              const Posting* lo = p_l + at;
              for (uint32_t len = n_postings; len > 1;) {
                const uint32_t half = len / 2;
                lo = lo[half].doc_flags <= last_key ? lo + half : lo;
                len -= half;
              }
              // lo: the block's last posting at or below the doc, or its first.
              if ((lo->doc_flags >> kFlagBits) == base + i) add(i, lo->doc_flags);
            }
            longest.at = stop;
          } else {
            const Posting* it = p_l + at;
            for (const Posting* const it_end = p_l + longest.end; it != it_end && it->doc_flags < limit_key; ++it) {
              const uint32_t df = it->doc_flags;
              const uint32_t i = (df >> kFlagBits) - base;
              if (acc_l[i] != 0.0f) add(i, df);
            }
            longest.at = static_cast<uint32_t>(it - p_l);
          }
        }
        uint64_t* out = out_key;
        for (size_t k = 0; k < n_seen; ++k) {
          const uint32_t i = seen_l[k];
          const float score = acc_l[i] - ext_l[i] - miss_l;
          acc_l[i] = 0.0f;
          if (score >= floor_l) {
            const uint64_t key = static_cast<uint64_t>(orderedBits(score)) << 32 | ~(base + i);
            *out++ = key;
            const size_t bucket = key >> (64 - kHistBits);
            ++hist_l[bucket];
            used_l[bucket / 64] |= uint64_t{1} << (bucket % 64);
          }
        }
        out_key = out;
      }
      if (!split) return true;
      const bool complete = longestOnly(order[take - 1].id, marked.data(), miss_total, score_floor, emit);
      for (uint32_t d : both) marked[d >> 6] = 0;
      both.clear();
      return complete;
    };
    const bool split = use_impact && take >= 1 && impact_off[order[take - 1].id + 1] > impact_off[order[take - 1].id];
    if (!accumulate(split)) {
      out_key = touched.data();
      clearHistogram();
      accumulate(false);
    }
    // 3. Score fully, best partial score first, until no remaining document
    //    can enter the top kExact.
    const size_t n_touched = static_cast<size_t>(out_key - touched.data());
    const size_t shortlist = std::min(kShortlist, n_touched);
    // The shortlist is read best first, and full scoring usually stops after
    // a few dozen keys: the histogram splits the keys at two bucket bounds,
    // the best part (at least kFirstSorted keys, or all) and the rest of the
    // buckets that hold the best `shortlist`; lower keys cannot be among them.
    // Every key of a higher bucket is greater than every key of a lower one,
    // so the parts sorted one after the other are in the order of the whole;
    // the second is sorted only when the scoring reaches it. Up to
    // kBranchFreeSort keys (every phrase measured) are sorted without a branch
    // on the keys: nth_element and sort mispredicted about every other
    // comparison of these random scores.
    auto bucketWith = [&](size_t count) {
      // The highest bucket with at least `count` keys at or above it, or the
      // lowest used one when there are fewer.
      size_t bucket = 0, above = 0;
      for (size_t group = kHistBuckets / 64; group-- > 0 && above < count;) {
        for (uint64_t bits = used[group]; bits != 0 && above < count; bits &= ~(uint64_t{1} << bucket % 64)) {
          bucket = group * 64 + 63 - static_cast<size_t>(__builtin_clzll(bits));
          above += hist[bucket];
        }
      }
      return bucket;
    };
    const size_t first_bucket = bucketWith(std::min(kFirstSorted, shortlist));
    const size_t last_bucket = bucketWith(shortlist);
    clearHistogram();
    thread_local std::vector<uint64_t> rest;
    thread_local std::vector<uint64_t> ordered;
    if (rest.size() < n_touched) rest.resize(n_touched), ordered.resize(n_touched);
    size_t n_first = 0, n_rest = 0;
    {
      uint64_t* const all = touched.data();
      uint64_t* const rest_l = rest.data();
      for (size_t k = 0; k < n_touched; ++k) {
        const uint64_t key = all[k];
        const size_t bucket = key >> (64 - kHistBits);
        all[n_first] = key;  // n_first <= k: a key already read
        rest_l[n_rest] = key;
        n_first += bucket >= first_bucket;
        n_rest += bucket - last_bucket < first_bucket - last_bucket;  // last <= bucket < first
      }
    }
    auto sortInto = [](uint64_t* from, size_t n, uint64_t* to) {
      if (n <= kBranchFreeSort) {
        const uint64_t* sorted_keys = sortDescending(from, n);
        std::copy(sorted_keys, sorted_keys + n, to);
      } else {
        std::sort(from, from + n, std::greater<>());
        std::copy(from, from + n, to);
      }
    };
    uint64_t* const keys = ordered.data();
    sortInto(touched.data(), n_first, keys);
    size_t sorted = n_first;
    auto sortedThrough = [&](size_t k) {
      if (k >= sorted && n_rest > 0) {
        sortInto(rest.data(), n_rest, keys + n_first);
        sorted = n_first + n_rest;
        n_rest = 0;
      }
    };
    thread_local std::vector<Scored> scored;
    scored.clear();
    thread_local std::vector<double> best;  // min-heap of the kExact best full scores
    best.clear();
    // The shortlist is scattered over the documents: fetch each doc and its
    // words a few iterations ahead (two dependent cache misses otherwise).
    constexpr size_t kDocAhead = 8, kTokensAhead = 4;
    thread_local std::vector<uint8_t> q_pos;  // all 0 between calls
    thread_local std::vector<double> q_weight;
    const bool dense = dense_scoring && q.size() < 64;
    if (dense) {
      if (q_pos.size() < words.size()) q_pos.resize(words.size());
      q_weight.resize(q.size() + 1);
      q_weight[0] = 0.0;
      for (size_t j = 0; j < q.size(); ++j) {
        q_pos[q[j].id] = static_cast<uint8_t>(j + 1);
        q_weight[j + 1] = q[j].weight;
      }
    }
    sortedThrough(kDocAhead);
    for (size_t k = 0; k < std::min(shortlist, kDocAhead); ++k) __builtin_prefetch(&docs[~static_cast<uint32_t>(keys[k])]);
    for (size_t k = 0; k < shortlist; ++k) {
      const uint32_t d = ~static_cast<uint32_t>(keys[k]);
      if (k + kDocAhead < shortlist) {
        sortedThrough(k + kDocAhead);
        __builtin_prefetch(&docs[~static_cast<uint32_t>(keys[k + kDocAhead])]);
      }
      if (k + kTokensAhead < shortlist) {
        __builtin_prefetch(&doc_tokens[docs[~static_cast<uint32_t>(keys[k + kTokensAhead])].tok_off]);
      }
      if (best.size() == kExact && fromOrderedBits(static_cast<uint32_t>(keys[k] >> 32)) + slack < best.front() - 1e-4) {
        break;
      }
      double m;
      double sc = dense ? docScoreDense(d, q, q_pos.data(), q_weight.data(), m) : docScore(d, q, m);
      scored.push_back(Scored{d, sc, m});
      if (best.size() < kExact) {
        best.push_back(sc);
        std::push_heap(best.begin(), best.end(), std::greater<>());
      } else if (sc > best.front()) {
        std::pop_heap(best.begin(), best.end(), std::greater<>());
        best.back() = sc;
        std::push_heap(best.begin(), best.end(), std::greater<>());
      }
    }
    if (dense) {
      for (const QueryToken& t : q) q_pos[t.id] = 0;
    }
    // Step 4 reads at most kMaxResolves + 1 of them (a doc id breaks ties, so
    // the order of those is the full sort's).
    std::partial_sort(scored.begin(), scored.begin() + static_cast<long>(std::min(scored.size(), kMaxResolves + 1)),
                      scored.end(), [](const Scored& a, const Scored& b) {
                        return a.score > b.score || (a.score == b.score && a.doc < b.doc);
                      });
    // 4. Resolve to billable codes, best first; stop when no later document can
    //    beat the second-best code found (completion can at most recover the
    //    words a document misses).
    // resolve() starts with a hash look-up of each doc's code, a cache miss
    // each: start them all at once.
    for (size_t k = 0; k < std::min(scored.size(), kMaxResolves); ++k) {
      if (docs[scored[k].doc].kind != DocKind::kNoDefault) set.prefetch(docs[scored[k].doc].code_key);
    }
    std::vector<Candidate> out;
    size_t resolved = 0;
    for (const Scored& sd : scored) {
      double upper = sd.score + (1 + kMissWeight) * (total - sd.matched) + 0.05;
      if (out.size() >= 2 && upper < out[1].score) break;
      if (++resolved > kMaxResolves) break;
      Candidate c;
      if (docs[sd.doc].kind == DocKind::kNoDefault) {
        // Only when the text is that term and nothing more.
        if (sd.matched + 1e-9 < total) continue;
        c.doc = sd.doc;
        c.score = sd.score;
        c.matched = sd.matched;
      } else {
        c = resolve(sd, set, q);
        if (c.entry == nullptr) continue;
        // Index-derived docs carry the coder's defaults: a small preference.
        if (docs[sd.doc].kind == DocKind::kIndex) c.score += 0.05;
      }
      bool merged = false;
      for (Candidate& o : out) {
        if (o.entry == c.entry && o.entry != nullptr) {
          if (c.score > o.score) o = c;
          merged = true;
          break;
        }
      }
      if (!merged) out.push_back(c);
      // Best score first, ties in the order found: an insertion sort is stable
      // like std::stable_sort (so the order is the same) without its buffer,
      // and `out` is sorted but for the one candidate added or raised.
      for (size_t i = 1; i < out.size(); ++i) {
        for (size_t j = i; j > 0 && out[j - 1].score < out[j].score; --j) std::swap(out[j - 1], out[j]);
      }
    }
    return out;
  }

  // Best billable code in the ranges whose title words are all said by the text.
  const CodeEntry* supportedCodeIn(const CodeSet& set, const std::vector<CodeRange>& ranges,
                                   const std::vector<QueryToken>& q, double& best_score) const {
    const CodeEntry* best = nullptr;
    best_score = 0;
    size_t seen = 0;
    const uint32_t* set_title_docs = nullptr;
    for (size_t r = 0; r < release_sets.size(); ++r) {
      if (release_sets[r] == &set) set_title_docs = release_title_doc[r].data();
    }
    for (const CodeRange& r : ranges) {
      for (const CodeEntry& e : set.inRange(r.low, r.high)) {
        if (!e.billable()) continue;
        if (++seen > 2000) return best;
        uint32_t td = set_title_docs != nullptr ? set_title_docs[&e - set.entries().data()] : titleDocOf(set, e);
        if (td == kNoToken) continue;
        // Most titles have a word the text does not say: rejected here without
        // reading the title's words (see title_must).
        const uint32_t must = title_must[td];
        bool has_must = false;
        for (const QueryToken& t : q) has_must = has_must || t.id == must;
        if (!has_must) continue;
        const Doc& d = docs[td];
        const uint32_t* t = &doc_tokens[d.tok_off];
        double matched = 0, extra = 0;
        bool ok = true;
        size_t j = 0;
        int required = 0;
        for (size_t i = 0; i < d.tok_n && ok; ++i) {
          uint32_t tid = t[i] >> kFlagBits;
          uint32_t flags = t[i] & 3u;
          while (j < q.size() && q[j].id < tid) ++j;
          bool in_q = j < q.size() && q[j].id == tid;
          if (in_q) {
            matched += q[j].weight;
            if (!(flags & (WordToken::kOptional | WordToken::kDefault))) ++required;
          } else if (!(flags & WordToken::kOptional) &&
                     (!(flags & WordToken::kDefault) ||
                      !leaves_axis_open[tid])) {
            ok = false;  // a word the text does not support ("unspecified asthma" needs asthma)
          } else if (!(flags & WordToken::kOptional)) {
            extra += idf[tid] * kDefaultExtraWeight;
          }
        }
        if (!ok || required == 0) continue;
        double s = matched - extra;
        if (s > best_score + 1e-9) {
          best_score = s;
          best = &e;
        }
      }
    }
    return best;
  }

  AssignedCode assigned(const CodeSet& set, const CodeEntry& e, double confidence, std::string why) const {
    AssignedCode a;
    a.code = dotted(unpackCode(e.key).view());
    a.system = CodeSystem::kIcd10Cm;
    a.display = std::string(set.description(e));
    a.method = CodingMethod::kText;
    a.confidence = std::round(confidence * 100) / 100;
    a.release = set.release().name;
    a.why = std::move(why);
    return a;
  }

  std::string whyOf(uint32_t d) const {
    const Doc& doc = docs[d];
    switch (doc.kind) {
      case DocKind::kTitle: return "tabular title";
      case DocKind::kInclusion: return "tabular inclusion term";
      case DocKind::kNoDefault: return "index: no default code";
      case DocKind::kIndex:
      case DocKind::kIndexSee: {
        std::string p("index FY20");
        p += std::to_string(index.nodes()[doc.node].source);
        p += ": ";
        index.appendPathKey(doc.node, '>', p);
        return p;
      }
    }
    return {};
  }

  bool excludes1(const CodeEntry& a, const CodeEntry& b) const {
    PlainCode pa = unpackCode(a.key);
    bool hit = false;
    notes.forEachNote(pa.view(), NoteKind::kExcludes1, [&](const TabularNote& n) {
      for (const CodeRange& r : n.ranges) hit = hit || r.contains(b.key);
    });
    return hit;
  }

  // Why a code of a plan is there, kept as references: only the chosen plan's
  // reasons become text.
  struct Why {
    uint32_t doc = kNoToken;       // the document that led to the code, or
    std::string_view manif;        // the index manifestation code, or
    const TabularNote* note = nullptr;  // the Tabular note that asked for it
  };

  std::string whyText(const Why& w) const {
    if (w.doc != kNoToken) return whyOf(w.doc);
    if (w.note == nullptr) return "index manifestation code [" + std::string(w.manif) + "]";
    return std::string(w.note->kind == NoteKind::kCodeFirst  ? "code first"
                       : w.note->kind == NoteKind::kCodeAlso ? "code also"
                                                             : "use additional code") +
           " note at " + dotted(unpackCode(w.note->code_key).view());
  }

  struct Plan {
    std::vector<const CodeEntry*> codes;  // in sequence
    std::vector<Why> why;
    double score = 0;
    double matched = 0;
  };

  // The default sub-code of a manifestation code that became a header.
  const CodeEntry* defaultUnder(const CodeSet& set, PlainCode code) const {
    const CodeEntry* e = set.find(code.key());
    if (e != nullptr && e->billable()) return e;
    const CodeEntry* best = nullptr;
    for (const CodeEntry& x : set.withPrefix(code.view())) {
      if (!x.billable()) continue;
      if (best == nullptr) best = &x;
      if (set.description(x).find("unspecified") != std::string_view::npos) return &x;
    }
    return best;
  }

  Plan plan(const CodeSet& set, const Candidate& top, const std::vector<QueryToken>& q) const {
    Plan p;
    p.codes = {top.entry};
    p.why = {Why{top.doc, {}, nullptr}};
    PlainCode primary = unpackCode(top.entry->key);
    std::vector<uint32_t> explained_docs = {top.doc};
    const Doc& td = docs[top.doc];
    if (td.manif_node != IndexNode::kNone) {
      std::string_view manif = index.nodes()[td.manif_node].manif;
      PlainCode mc;
      if (!manif.empty() && normalizeCode(manif.substr(0, manif.find(',')), mc)) {
        const CodeEntry* me = defaultUnder(set, mc);
        if (me != nullptr && me->billable() && me != top.entry) {
          p.codes.push_back(me);
          p.why.push_back(Why{kNoToken, manif, nullptr});
        }
      }
    }
    for (NoteKind kind : {NoteKind::kUseAdditionalCode, NoteKind::kCodeAlso, NoteKind::kCodeFirst}) {
      notes.forEachNote(primary.view(), kind, [&](const TabularNote& note) {
        const TabularNote* n = &note;
        if (n->ranges.empty()) return;
        double s;
        const CodeEntry* e = supportedCodeIn(set, n->ranges, q, s);
        if (e == nullptr) return;
        if (std::find(p.codes.begin(), p.codes.end(), e) != p.codes.end()) return;
        PlainCode pe = unpackCode(e->key);
        if (pe.view().substr(0, 3) == primary.view().substr(0, 3)) return;
        if (excludes1(*top.entry, *e)) return;
        if (uint32_t td2 = titleDocOf(set, *e); td2 != kNoToken) explained_docs.push_back(td2);
        if (kind == NoteKind::kCodeFirst) {
          p.codes.insert(p.codes.begin(), e);
          p.why.insert(p.why.begin(), Why{kNoToken, {}, n});
        } else {
          p.codes.push_back(e);
          p.why.push_back(Why{kNoToken, {}, n});
        }
      });
    }
    double matched = 0;
    for (const QueryToken& t : q) {
      for (uint32_t d : explained_docs) {
        if (docHas(d, t.id)) {
          matched += t.weight;
          break;
        }
      }
    }
    p.matched = std::max(matched, top.matched);
    p.score = top.score + kMissWeight * (p.matched - top.matched);
    // A manifestation code ("... in diseases classified elsewhere") is never listed
    // alone or first (Guideline I.A.13): without an underlying disease from the text it
    // is the wrong reading of the words (N16 "Pyelonephritis" vs N12 "Pyelonephritis NOS").
    if (p.codes.front() == top.entry &&
        set.description(*top.entry).find("in diseases classified elsewhere") != std::string_view::npos) {
      double total = 0;
      for (const QueryToken& t : q) total += t.weight;
      p.score -= 0.5 * total;
    }
    return p;
  }

  CodingResult code(std::string_view phrase, const TextCodingOptions& opt) const;
};

CodingResult TextCoder::Impl::code(std::string_view phrase, const TextCodingOptions& opt) const {
  CodingResult result;
  auto release = sets->releaseFor(CodeSystem::kIcd10Cm, opt.date);
  if (!release) {
    result.review = true;
    result.reason = "no ICD-10-CM release is loaded for the date of service";
    return result;
  }
  const CodeSet& set = **release;
  result.release = set.release().name;

  // 1. Words, shorthand expanded; clauses split at ',' and ';'. Per-thread
  //    buffers: the words are views into `lowered` and the lexicon, and none of
  //    this allocates once a thread has coded a few phrases.
  thread_local std::string lowered;
  thread_local std::vector<std::string_view> words;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> clauses;  // [begin, end) in words
  thread_local std::vector<std::string_view> kept;
  thread_local std::string text;
  thread_local std::string plain;
  thread_local std::vector<WordToken> toks;
  thread_local std::vector<QueryToken> q;
  words.clear();
  clauses.clear();
  kept.clear();
  lexicon.expand(phrase, lowered, words);
  {
    uint32_t begin = 0;
    for (uint32_t i = 0; i < words.size(); ++i) {
      const std::string_view w = words[i];
      if (w.size() == 1 && (w[0] == ',' || w[0] == ';' || w[0] == ':')) {
        if (i > begin) clauses.emplace_back(begin, i);
        begin = i + 1;
      }
    }
    if (words.size() > begin) clauses.emplace_back(begin, static_cast<uint32_t>(words.size()));
  }
  bool uncertain = false;
  for (size_t ci = 0; ci < clauses.size(); ++ci) {
    const std::span<const std::string_view> cl(words.data() + clauses[ci].first, clauses[ci].second - clauses[ci].first);
    size_t at = 0;
    while (at < cl.size() && lexicon.isStop(cl[at])) ++at;
    size_t neg = lexicon.negationAt(cl, at);
    if (neg > 0) {
      if (ci == 0) {
        result.reason = "negated: the text says the condition is absent; nothing to code";
        return result;
      }
      continue;  // "cough, no fever": drop the negated clause
    }
    size_t unc = lexicon.uncertaintyAt(cl, at);
    if (unc > 0) {
      uncertain = true;
      at += unc;
    }
    if (!kept.empty()) kept.push_back(",");
    kept.insert(kept.end(), cl.begin() + static_cast<long>(at), cl.end());
  }
  if (uncertain && opt.setting == EncounterSetting::kOutpatient) {
    result.reason =
        "uncertain diagnosis (rule out, probable, suspected…): not coded in outpatient records; code the "
        "documented signs and symptoms instead (Guideline IV.H)";
    return result;
  }
  text.clear();
  for (const auto& w : kept) {
    if (!text.empty()) text.push_back(' ');
    text += w;
  }
  {
    plain.clear();
    for (const auto& w : kept) {
      if ((w.size() == 1 && w[0] == ',') || lexicon.isStop(w)) continue;
      if (!plain.empty()) plain.push_back(' ');
      plain += w;
    }
    if (const std::string* nq = lexicon.noDefaultQuery(plain)) {
      result.review = true;
      result.reason = "the term has no default code";
      result.query = *nq;
      return result;
    }
  }

  // 2. Query words and candidates.
  toks.clear();
  lexicon.tokenize(text, toks);
  double unknown = 0;
  queryTokens(toks, unknown, q);
  double total = 0;
  for (const auto& t : q) total += t.weight;
  if (q.empty()) {
    result.review = true;
    result.reason = "no word of the text is in the ICD-10-CM index or tabular";
    result.query = "The diagnosis could not be coded from its wording. Please restate it with the condition's name.";
    return result;
  }
  std::vector<Candidate> cands = rank(set, q, total);
  if (cands.empty()) {
    result.review = true;
    result.reason = "no index entry or tabular title matches the text";
    result.query = "The diagnosis could not be coded from its wording. Please restate it with the condition's name.";
    return result;
  }
  if (docs[cands.front().doc].kind == DocKind::kNoDefault) {
    result.review = true;
    result.reason = "the index has no code for this term (\"code to condition\")";
    result.query = "The term used has no ICD-10-CM code of its own. Please document the specific condition it refers to.";
    return result;
  }

  // 3. For the leading candidates, the codes they bring along (manifestation,
  //    use additional / code also / code first); keep the set that explains the
  //    text best. A combination code beats a pair that says the same.
  Plan best_plan;
  best_plan.score = -1e18;
  size_t best_index = 0;
  for (size_t k = 0; k < cands.size() && k < kPlans; ++k) {
    const Candidate& c = cands[k];
    if (c.entry == nullptr) continue;
    if (k > 0 && c.score + kMissWeight * (total - c.matched) < best_plan.score) continue;
    Plan p = plan(set, c, q);
    if (p.score > best_plan.score + 1e-9) {
      best_plan = std::move(p);
      best_index = k;
    }
  }
  if (best_plan.codes.empty()) {
    result.review = true;
    result.reason = "no index entry or tabular title matches the text";
    return result;
  }
  if (best_index != 0) std::swap(cands[0], cands[best_index]);
  const Candidate& top = cands.front();
  std::vector<const CodeEntry*> chosen = std::move(best_plan.codes);
  std::vector<std::string> why;
  why.reserve(best_plan.why.size());
  for (const Why& w : best_plan.why) why.push_back(whyText(w));
  PlainCode primary = unpackCode(top.entry->key);

  double coverage = total > 0 ? best_plan.matched / total : 0;
  double second = -1e9;
  for (size_t k = 1; k < cands.size(); ++k) {
    if (cands[k].entry != nullptr) {
      second = std::max(second, cands[k].score);
    }
  }
  double margin = total > 0 ? (best_plan.score - second) / total : 0;
  double confidence = 0.35 + 0.45 * coverage + 0.2 * std::min(1.0, std::max(0.0, margin) * 4);
  if (uncertain) confidence *= 0.9;
  confidence = std::clamp(confidence, 0.0, 0.99);

  // 5. Excludes1 between the chosen codes: keep the first, flag the conflict.
  for (size_t a = 0; a < chosen.size(); ++a) {
    for (size_t b = a + 1; b < chosen.size();) {
      if (excludes1(*chosen[a], *chosen[b]) || excludes1(*chosen[b], *chosen[a])) {
        result.review = true;
        result.reason = "Excludes1: " + dotted(unpackCode(chosen[a]->key).view()) + " and " +
                        dotted(unpackCode(chosen[b]->key).view()) + " may not be reported together";
        chosen.erase(chosen.begin() + static_cast<long>(b));
        why.erase(why.begin() + static_cast<long>(b));
      } else {
        ++b;
      }
    }
  }

  result.codes.reserve(chosen.size());
  result.alternatives.reserve(3);
  for (size_t k = 0; k < chosen.size(); ++k) {
    // Never emit anything but a billable code of the release in force (every
    // chosen entry is one of `set`'s: resolve(), supportedCodeIn() and
    // defaultUnder() only return those).
    if (!chosen[k]->billable()) continue;
    result.codes.push_back(assigned(set, *chosen[k], confidence, why[k]));
  }
  for (size_t k = 1; k < cands.size() && result.alternatives.size() < 3; ++k) {
    if (cands[k].entry == nullptr) continue;
    bool dup = false;
    for (const auto* c : chosen) dup = dup || c == cands[k].entry;
    if (dup) continue;
    double alt_conf = std::clamp(confidence * std::exp(cands[k].score - top.score), 0.0, 0.99);
    result.alternatives.push_back(assigned(set, *cands[k].entry, alt_conf, whyOf(cands[k].doc)));
  }

  // 6. What a person must look at.
  bool seventh = top.entry->length == 7 && primary.chars[0] >= 'S' && primary.chars[0] <= 'T';
  if (seventh) {
    bool episode = false;
    for (const auto& w : kept) episode = episode || lexicon.isEpisodeWord(w);
    if (!episode) {
      result.review = true;
      result.reason = "the episode of care (initial, subsequent, sequela) is not documented; 7th character assumed";
      result.query = "Please document whether this visit is for active treatment (initial), routine healing "
                     "(subsequent) or a sequela of the injury.";
    }
  }
  if (coverage < 0.5) {
    result.review = true;
    result.reason = "the best index entry explains only part of the text";
    result.query = "The diagnosis wording does not match a single ICD-10-CM entry. Please state the condition, "
                   "its type and site more specifically.";
  } else if (margin < 0.01 && cands.size() > 1) {
    result.review = true;
    result.reason = "two codes fit the text equally well";
    result.query = "Please specify the diagnosis further: it fits both " + result.codes.front().display + " and " +
                   (result.alternatives.empty() ? std::string("another code") : result.alternatives.front().display) +
                   ".";
  }
  if (uncertain && result.reason.empty()) {
    result.reason = "uncertain diagnosis coded as if established (inpatient, Guideline II.H)";
  }
  return result;
}

Result<std::unique_ptr<TextCoder>> TextCoder::build(const CodeSets& sets, const std::string& mappings_dir) {
  auto impl = std::make_unique<Impl>();
  impl->sets = &sets;
  auto lx = Lexicon::load(mappings_dir + "/coding");
  if (!lx) return Unexpected(lx.error());
  impl->lexicon = std::move(*lx);
  // Two workers: the code titles here; the index (read, then turned into
  // documents) and the Tabular notes on a helper thread.
  DocBuilder titles;
  titles.lexicon = &impl->lexicon;
  DocBuilder paths;
  paths.lexicon = &impl->lexicon;
  Result<AlphabeticIndex> idx = Unexpected(Error(ErrorCode::kInternal, "not loaded"));
  Result<TabularNotes> notes = Unexpected(Error(ErrorCode::kInternal, "not loaded"));
  Impl* m = impl.get();
  std::thread helper([&] {
    notes = TabularNotes::load(mappings_dir + "/codesets/icd10cm_tabular_notes_2021.tsv.gz");
    idx = AlphabeticIndex::load(mappings_dir + "/codesets/icd10cm_index_2025_flattened.csv.gz",
                                mappings_dir + "/codesets/icd10cm_index_2017.tsv.gz");
    if (!notes || !idx) return;
    m->notes = std::move(*notes);
    m->index = std::move(*idx);
    m->buildIndexDocs(paths);
  });
  impl->buildTitleDocs(titles);
  helper.join();
  if (!notes) return Unexpected(notes.error());
  if (!idx) return Unexpected(idx.error());
  const size_t n_title_docs = titles.docs.size();
  titles.merge(std::move(paths));
  impl->vocab = std::move(titles.vocab);
  impl->words = std::move(titles.words);
  impl->docs = std::move(titles.docs);
  impl->doc_tokens = std::move(titles.doc_tokens);
  impl->title_doc = std::move(titles.title_doc);
  for (Doc& d : impl->docs) {
    if (d.node != IndexNode::kNone && (d.kind == DocKind::kIndex || d.kind == DocKind::kIndexSee)) {
      d.manif_node = impl->index.manifNodeFor(d.node);
    }
  }
  if (auto it = impl->vocab.find("unspecified"); it != impl->vocab.end()) impl->unspecified_id = it->second;
  impl->leaves_axis_open.resize(impl->words.size());
  for (size_t i = 0; i < impl->words.size(); ++i) {
    const std::string& w = impl->words[i];
    impl->leaves_axis_open[i] = w[0] == '~' || impl->lexicon.isDefaultWord(w);
  }
  impl->title_must.assign(n_title_docs, kNoToken);
  for (size_t d = 0; d < n_title_docs; ++d) {
    const Doc& doc = impl->docs[d];
    for (uint32_t k = 0; k < doc.tok_n; ++k) {
      const uint32_t t = impl->doc_tokens[doc.tok_off + k];
      if (!(t & WordToken::kOptional) && (!(t & WordToken::kDefault) || !impl->leaves_axis_open[t >> kFlagBits])) {
        impl->title_must[d] = t >> kFlagBits;
        break;
      }
    }
  }
  for (const auto& rel : sets.icd10cmReleases()) {
    impl->release_sets.push_back(rel.get());
    std::vector<uint32_t> ids(rel->size(), kNoToken);
    for (size_t k = 0; k < rel->size(); ++k) {
      auto it = impl->title_doc.find(rel->entries()[k].key);
      if (it != impl->title_doc.end()) ids[k] = it->second;
    }
    impl->release_title_doc.push_back(std::move(ids));
  }
  // A posting packs a doc id with kFlagBits flag bits, and rank() compares a
  // block's end (a doc id up to kBlockDocs past the last) shifted the same way.
  if (impl->docs.size() + kBlockDocs >= (size_t{1} << (32 - kFlagBits))) {
    return Unexpected(Error(ErrorCode::kTooLarge, "too many text coder documents for a posting's doc id"));
  }
  impl->buildPostings();
  return std::unique_ptr<TextCoder>(new TextCoder(std::move(impl)));
}

TextCoder::TextCoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextCoder::~TextCoder() = default;

CodingResult TextCoder::code(std::string_view phrase, const TextCodingOptions& options) const {
  return impl_->code(phrase, options);
}

size_t TextCoder::documentCount() const { return impl_->docs.size(); }

void TextCoder::setImpactOrderForTesting(bool on) { impl_->use_impact = on; }

void TextCoder::setMergeScoringForTesting(bool on) { impl_->dense_scoring = !on; }

size_t TextCoder::memoryBytes() const {
  const Impl& m = *impl_;
  size_t n = m.docs.capacity() * sizeof(Doc) + m.doc_tokens.capacity() * 4 + m.postings.capacity() * sizeof(TextCoder::Impl::Posting) +
             m.post_off.capacity() * 4 + m.impact_off.capacity() * 4 + m.impact.capacity() * sizeof(TextCoder::Impl::Impact) + m.doc_extra.capacity() * 4 + m.idf.capacity() * 4 + m.title_doc.size() * 32 + m.leaves_axis_open.capacity() + m.title_must.capacity() * 4 +
             m.release_title_doc.size() * m.sets->latestOfficialIcd10cm().size() * 4;
  for (const auto& w : m.words) n += w.capacity() + 48;
  for (const auto& node : m.index.nodes()) {
    n += sizeof(IndexNode) + node.title.capacity() + node.nemod.capacity() + node.see.capacity();
  }
  return n;
}

}  // namespace courier::coding
