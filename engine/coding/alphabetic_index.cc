#include "engine/coding/alphabetic_index.h"

#include "engine/coding/csv_line.h"
#include "engine/coding/gzip_file.h"

namespace courier::coding {

namespace {

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}


template <typename Fn>
void eachLine(std::string_view t, Fn&& fn) {
  size_t pos = t.find('\n');  // header
  if (pos == std::string_view::npos) return;
  ++pos;
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string_view::npos) end = t.size();
    std::string_view line = t.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) fn(line);
    pos = end + 1;
  }
}

// Whether `title`, lower-cased, is `part` or starts with `part` followed by ' '
// or ',' (no copy: resolveSee tries every child of a term).
bool namesPart(std::string_view title, std::string_view part) {
  if (title.size() < part.size()) return false;
  for (size_t i = 0; i < part.size(); ++i) {
    char c = title[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != part[i]) return false;
  }
  return title.size() == part.size() || title[part.size()] == ' ' || title[part.size()] == ',';
}

std::string_view firstGroup(std::string_view title) {
  size_t comma = title.find(',');
  return trim(comma == std::string_view::npos ? title : title.substr(0, comma));
}

}  // namespace

Result<AlphabeticIndex> AlphabeticIndex::load(const std::string& csv2025, const std::string& tsv2017) {
  AlphabeticIndex idx;
  auto a = readCompressedFile(csv2025);
  if (!a) return Unexpected(a.error());
  auto b = readCompressedFile(tsv2017);
  if (!b) return Unexpected(b.error());
  idx.nodes_.reserve(170000);
  std::vector<uint32_t> stack;
  auto push = [&](IndexNode n) {
    while (stack.size() > n.level) stack.pop_back();
    if (stack.size() != n.level) return;  // a level jump: malformed row, skip
    n.parent = stack.empty() ? IndexNode::kNone : stack.back();
    stack.push_back(static_cast<uint32_t>(idx.nodes_.size()));
    idx.nodes_.push_back(std::move(n));
  };
  // FY2025 flattened: RowID,Letter,Level,Term,See,SeeAlso,NonEssModif,Code
  eachLine(*a, [&](std::string_view line) {
    auto f = splitCsvLine(line);
    if (f.size() < 8 || f[2].empty() || f[2].size() > 2) return;
    IndexNode n;
    n.level = static_cast<uint8_t>(std::stoi(f[2]));
    n.title = std::string(trim(f[3]));
    n.see = std::string(trim(f[4]));
    n.nemod = std::string(trim(f[6]));
    n.code = std::string(trim(f[7]));
    n.source = 25;
    push(std::move(n));
  });
  stack.clear();
  // FY2017: level, title, nemod, code, manif, see, seealso
  eachLine(*b, [&](std::string_view line) {
    std::vector<std::string_view> f;
    size_t s = 0;
    while (f.size() < 7) {
      size_t tab = line.find('\t', s);
      f.push_back(line.substr(s, tab == std::string_view::npos ? std::string_view::npos : tab - s));
      if (tab == std::string_view::npos) break;
      s = tab + 1;
    }
    if (f.size() < 6 || f[0].empty() || f[0].size() > 2) return;
    IndexNode n;
    n.level = static_cast<uint8_t>(f[0][0] - '0');
    if (f[0].size() == 2) n.level = static_cast<uint8_t>(n.level * 10 + (f[0][1] - '0'));
    n.title = std::string(f[1]);
    n.nemod = std::string(f[2]);
    n.code = std::string(f[3]);
    n.manif = std::string(f[4]);
    n.see = std::string(f[5]);
    n.source = 17;
    push(std::move(n));
  });
  idx.finish();
  return idx;
}

void AlphabeticIndex::finish() {
  // Subtree ends, from the levels in pre-order.
  std::vector<uint32_t> open;
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    while (!open.empty() && nodes_[open.back()].level >= nodes_[i].level) {
      nodes_[open.back()].end = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  for (uint32_t i : open) nodes_[i].end = static_cast<uint32_t>(nodes_.size());
  // Source boundary: a FY2017 main term must not extend a FY2025 subtree.
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].level == 0) main_terms_[lowerCopy(firstGroup(nodes_[i].title))].push_back(i);
  }
  // Path hashes in pre-order (a parent comes before its children), over the
  // exact bytes of pathKey(): lower-case titles, '|' between non-empty prefixes.
  constexpr uint64_t kBasis = 1469598103934665603ULL, kPrime = 1099511628211ULL;
  path_hash_.assign(nodes_.size(), kBasis);
  std::vector<uint8_t> empty_key(nodes_.size(), 1);
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    const IndexNode& n = nodes_[i];
    uint64_t h = kBasis;
    bool empty = true;
    if (n.parent != IndexNode::kNone) {
      h = path_hash_[n.parent];
      empty = empty_key[n.parent] != 0;
      if (!empty) h = (h ^ static_cast<unsigned char>('|')) * kPrime;
    }
    for (char c : n.title) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      h = (h ^ static_cast<unsigned char>(c)) * kPrime;
    }
    path_hash_[i] = h;
    empty_key[i] = empty && n.title.empty();
    if (n.source == 17 && !n.manif.empty()) manif_nodes_[h].push_back(i);
  }
}

std::string AlphabeticIndex::pathKey(uint32_t id) const {
  std::string key;
  appendPathKey(id, '|', key);
  return key;
}

void AlphabeticIndex::appendPathKey(uint32_t id, char separator, std::string& out) const {
  // The text coder writes this for every result it returns: no vector and no
  // lower-cased copy per title (a level is a uint8_t, so a path has at most 256 nodes).
  uint32_t chain[256];
  size_t depth = 0;
  size_t length = 0;
  for (uint32_t n = id; n != IndexNode::kNone && depth < 256; n = nodes_[n].parent) {
    chain[depth++] = n;
    length += nodes_[n].title.size() + 1;
  }
  out.reserve(out.size() + length);
  bool empty = true;
  for (size_t k = depth; k-- > 0;) {
    const std::string& title = nodes_[chain[k]].title;
    if (!empty) out.push_back(separator);
    for (char c : title) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.push_back(c == '|' ? separator : c);
    }
    empty = empty && title.empty();
  }
}

std::string_view AlphabeticIndex::manifFor(uint32_t id) const {
  const uint32_t from = manifNodeFor(id);
  return from == IndexNode::kNone ? std::string_view() : std::string_view(nodes_[from].manif);
}

uint32_t AlphabeticIndex::manifNodeFor(uint32_t id) const {
  if (!nodes_[id].manif.empty()) return id;
  auto it = manif_nodes_.find(path_hash_[id]);
  if (it == manif_nodes_.end()) return IndexNode::kNone;
  const std::string key = pathKey(id);
  for (size_t k = it->second.size(); k-- > 0;) {
    const uint32_t other = it->second[k];
    if (pathKey(other) == key) return other;
  }
  return IndexNode::kNone;
}

uint32_t AlphabeticIndex::resolveSee(std::string_view see) const {
  std::vector<std::string> parts;
  size_t s = 0;
  while (s <= see.size()) {
    size_t comma = see.find(',', s);
    std::string_view p = trim(see.substr(s, comma == std::string_view::npos ? std::string_view::npos : comma - s));
    if (!p.empty()) parts.push_back(lowerCopy(p));
    if (comma == std::string_view::npos) break;
    s = comma + 1;
  }
  if (parts.empty()) return IndexNode::kNone;
  auto it = main_terms_.find(parts[0]);
  if (it == main_terms_.end()) return IndexNode::kNone;
  // Try each main term of that name (FY2025 first); keep the deepest match.
  uint32_t best = IndexNode::kNone;
  size_t best_depth = 0;
  for (uint32_t root : it->second) {
    uint32_t cur = root;
    size_t depth = 1;
    size_t k = 1;
    // Main titles like "Disease, diseased" swallow a second group that repeats the word.
    std::string root_title = lowerCopy(nodes_[root].title);
    while (k < parts.size() && root_title.find(", " + parts[k]) != std::string::npos) ++k;
    for (; k < parts.size(); ++k) {
      uint32_t found = IndexNode::kNone;
      for (uint32_t c = cur + 1; c < nodes_[cur].end; c = nodes_[c].end) {
        if (namesPart(nodes_[c].title, parts[k])) {
          found = c;
          break;
        }
      }
      if (found == IndexNode::kNone) break;
      cur = found;
      ++depth;
    }
    if (best == IndexNode::kNone || depth > best_depth) {
      best = cur;
      best_depth = depth;
    }
  }
  return best;
}

}  // namespace courier::coding
