#include "engine/coding/tabular_notes.h"

#include <map>

#include "engine/coding/code_key.h"
#include "engine/coding/gzip_file.h"

namespace courier::coding {

namespace {

bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool codeChar(char c) { return upper(c) || digit(c); }

// Reads a code at text[i] ("N18.1", "I50.", "E11"); returns its undotted form
// and advances i, or returns empty.
std::string readCode(std::string_view t, size_t& i) {
  if (i + 3 > t.size() || !upper(t[i]) || !digit(t[i + 1]) || !codeChar(t[i + 2])) return {};
  if (i > 0 && (codeChar(t[i - 1]) || (t[i - 1] >= 'a' && t[i - 1] <= 'z'))) return {};
  std::string code(t.substr(i, 3));
  size_t j = i + 3;
  if (j < t.size() && t[j] == '.') {
    ++j;
    while (j < t.size() && codeChar(t[j]) && code.size() < 7) code.push_back(t[j++]);
  }
  if (j < t.size() && (codeChar(t[j]) || (t[j] >= 'a' && t[j] <= 'z'))) return {};  // a word
  i = j;
  return code;
}

NoteKind kindOf(std::string_view k) {
  if (k == "inclusionTerm") return NoteKind::kInclusionTerm;
  if (k == "excludes1") return NoteKind::kExcludes1;
  if (k == "useAdditionalCode") return NoteKind::kUseAdditionalCode;
  if (k == "codeFirst") return NoteKind::kCodeFirst;
  if (k == "codeAlso") return NoteKind::kCodeAlso;
  return NoteKind::kOther;
}

}  // namespace

std::vector<CodeRange> TabularNotes::parseReferences(std::string_view t) {
  std::vector<CodeRange> out;
  int depth = 0;
  for (size_t i = 0; i < t.size();) {
    char c = t[i];
    if (c == '(') {
      ++depth;
      ++i;
      continue;
    }
    if (c == ')') {
      if (depth > 0) --depth;
      ++i;
      continue;
    }
    if (depth == 0) {
      ++i;
      continue;
    }
    size_t at = i;
    std::string first = readCode(t, i);
    if (first.empty()) {
      i = at + 1;
      continue;
    }
    uint64_t lo = packCode(first);
    uint64_t hi = prefixHigh(lo, static_cast<int>(first.size()));
    if (i < t.size() && t[i] == '-') {
      size_t j = i + 1;
      while (j < t.size() && t[j] == ' ') ++j;
      std::string second = readCode(t, j);
      if (!second.empty()) {
        hi = prefixHigh(packCode(second), static_cast<int>(second.size()));
        i = j;
      } else {
        ++i;
      }
    }
    out.push_back(CodeRange{lo, hi});
  }
  return out;
}

Result<TabularNotes> TabularNotes::load(const std::string& path) {
  auto text = readCompressedFile(path);
  if (!text) return Unexpected(text.error());
  TabularNotes notes;
  std::string_view t = *text;
  size_t pos = t.find('\n');
  if (pos == std::string_view::npos) return Unexpected(Error(ErrorCode::kParse, "empty notes file", path));
  ++pos;
  PlainCode code;
  std::map<std::pair<uint64_t, NoteKind>, std::vector<uint32_t>> by_code;  // in file order per key
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string_view::npos) end = t.size();
    std::string_view line = t.substr(pos, end - pos);
    pos = end + 1;
    size_t a = line.find('\t');
    size_t b = a == std::string_view::npos ? a : line.find('\t', a + 1);
    if (b == std::string_view::npos) continue;
    if (!normalizeCode(line.substr(0, a), code)) continue;
    NoteKind kind = kindOf(line.substr(a + 1, b - a - 1));
    if (kind == NoteKind::kOther) continue;
    TabularNote n;
    n.code_key = code.key();
    n.kind = kind;
    n.text = std::string(line.substr(b + 1));
    if (kind != NoteKind::kInclusionTerm) n.ranges = parseReferences(n.text);
    by_code[{n.code_key, kind}].push_back(static_cast<uint32_t>(notes.notes_.size()));
    notes.kinds_ |= uint64_t{1} << static_cast<unsigned>(kind);
    notes.notes_.push_back(std::move(n));
  }
  size_t cap = 16;
  while (cap < by_code.size() * 2) cap <<= 1;
  notes.slots_.assign(cap, Slot{});
  notes.mask_ = cap - 1;
  notes.note_ids_.reserve(notes.notes_.size());
  for (const auto& [key_kind, ids] : by_code) {
    const auto [key, kind] = key_kind;
    if (ids.size() > 0xFFFF) return Unexpected(Error(ErrorCode::kParse, "too many notes on one code", path));
    uint64_t h = mix(key + static_cast<uint64_t>(kind)) & notes.mask_;
    while (notes.slots_[h].count != 0) h = (h + 1) & notes.mask_;
    notes.slots_[h] =
        Slot{key, static_cast<uint32_t>(notes.note_ids_.size()), static_cast<uint16_t>(ids.size()), kind};
    notes.note_ids_.insert(notes.note_ids_.end(), ids.begin(), ids.end());
  }
  return notes;
}

std::vector<const TabularNote*> TabularNotes::notesFor(std::string_view undotted, NoteKind kind) const {
  std::vector<const TabularNote*> out;
  forEachNote(undotted, kind, [&](const TabularNote& n) { out.push_back(&n); });
  return out;
}

}  // namespace courier::coding
