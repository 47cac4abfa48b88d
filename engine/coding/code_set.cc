#include "engine/coding/code_set.h"

#include <algorithm>
#include <charconv>

namespace courier::coding {

namespace {

// Splits `line` at tabs into at most `max` fields; returns how many.
int splitTabs(std::string_view line, std::string_view* fields, int max) {
  int n = 0;
  size_t start = 0;
  while (n < max) {
    size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields[n++] = line.substr(start);
      break;
    }
    fields[n++] = line.substr(start, tab - start);
    start = tab + 1;
  }
  return n;
}

uint32_t parseYmd(std::string_view s) {
  uint32_t v = 0;
  if (s.size() != 8) return 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() ? v : 0;
}

inline uint64_t mix(uint64_t key) {
  key ^= key >> 29;
  key *= 0x9E3779B97F4A7C15ULL;
  return key ^ (key >> 32);
}

template <typename Fn>
Result<void> forEachLine(std::string_view text, const std::string& where, Fn&& fn) {
  size_t pos = text.find('\n');  // skip the header row
  if (pos == std::string_view::npos) {
    return Unexpected(Error(ErrorCode::kParse, "code-set file has no rows", where));
  }
  ++pos;
  size_t line_no = 2;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) {
      if (!fn(line)) {
        return Unexpected(Error(ErrorCode::kParse, "malformed code-set row",
                                where + ":" + std::to_string(line_no)));
      }
    }
    pos = end + 1;
    ++line_no;
  }
  return Ok();
}

}  // namespace

Result<CodeSet> CodeSet::loadOrderTsv(ReleaseInfo release, std::string_view text) {
  CodeSet set;
  set.release_ = std::move(release);
  set.entries_.reserve(text.size() / 120);
  set.pool_.reserve(text.size() / 2);
  PlainCode code;
  auto r = forEachLine(text, set.release_.source_file, [&](std::string_view line) {
    std::string_view f[4];
    if (splitTabs(line, f, 4) != 4) return false;
    if (!normalizeCode(f[0], code) || (f[1] != "0" && f[1] != "1")) return false;
    if (f[3].size() > 0xFFFF) return false;
    CodeEntry e;
    e.key = code.key();
    e.length = code.length;
    e.flags = f[1] == "1" ? CodeEntry::kBillable : 0;
    e.desc_offset = static_cast<uint32_t>(set.pool_.size());
    e.desc_length = static_cast<uint16_t>(f[3].size());
    set.pool_.append(f[3]);
    set.entries_.push_back(e);
    return true;
  });
  if (!r) return Unexpected(r.error());
  auto fin = set.finish();
  if (!fin) return Unexpected(fin.error());
  return set;
}

Result<CodeSet> CodeSet::loadHcpcsTsv(ReleaseInfo release, std::string_view text) {
  CodeSet set;
  set.release_ = std::move(release);
  PlainCode code;
  auto r = forEachLine(text, set.release_.source_file, [&](std::string_view line) {
    // code, record_type, short, long, coverage, betos, tos, add_date,
    // action_effective_date, termination_date, action_code
    std::string_view f[11];
    if (splitTabs(line, f, 11) != 11) return false;
    if (!normalizeCode(f[0], code) || f[3].size() > 0xFFFF) return false;
    CodeEntry e;
    e.key = code.key();
    e.length = code.length;
    e.flags = CodeEntry::kBillable;
    if (f[1] == "modifier") e.flags |= CodeEntry::kModifier;
    e.effective = parseYmd(f[7]);
    e.terminated = parseYmd(f[9]);
    e.desc_offset = static_cast<uint32_t>(set.pool_.size());
    e.desc_length = static_cast<uint16_t>(f[3].size());
    set.pool_.append(f[3]);
    set.entries_.push_back(e);
    return true;
  });
  if (!r) return Unexpected(r.error());
  auto fin = set.finish();
  if (!fin) return Unexpected(fin.error());
  return set;
}

Result<void> CodeSet::finish() {
  // The order files list codes in tabular order, which is key order but for a
  // few dozen blocks (C4A after C43, ...): merge those ascending runs instead of
  // sorting from scratch (a small saving: ~30 M of the ~1.3 G instructions of
  // CodeSets::load; inflating the files is the largest part).
  // Keys are unique (checked below), so the order is the same as std::sort's.
  auto by_key = [](const CodeEntry& a, const CodeEntry& b) { return a.key < b.key; };
  std::vector<size_t> runs = {0};
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (entries_[i].key < entries_[i - 1].key) runs.push_back(i);
  }
  runs.push_back(entries_.size());
  if (runs.size() > 256) {
    std::sort(entries_.begin(), entries_.end(), by_key);
  } else {
    while (runs.size() > 2) {
      std::vector<size_t> merged = {0};
      for (size_t r = 0; r + 2 < runs.size(); r += 2) {
        std::inplace_merge(entries_.begin() + static_cast<long>(runs[r]), entries_.begin() + static_cast<long>(runs[r + 1]),
                           entries_.begin() + static_cast<long>(runs[r + 2]), by_key);
        merged.push_back(runs[r + 2]);
      }
      if (merged.back() != runs.back()) merged.push_back(runs.back());
      runs = std::move(merged);
    }
  }
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (entries_[i].key == entries_[i - 1].key) {
      return Unexpected(Error(ErrorCode::kParse, "duplicate code in code set", release_.source_file));
    }
  }
  size_t cap = 16;
  while (cap < entries_.size() * 2) cap <<= 1;
  slots_.assign(cap, Slot{0, kEmpty});
  mask_ = cap - 1;
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    uint64_t h = mix(entries_[i].key) & mask_;
    while (slots_[h].index != kEmpty) h = (h + 1) & mask_;
    slots_[h] = Slot{entries_[i].key, i};
  }
  pool_.shrink_to_fit();
  entries_.shrink_to_fit();
  return Ok();
}

const CodeEntry* CodeSet::find(uint64_t key) const {
  if (slots_.empty()) return nullptr;
  uint64_t h = mix(key) & mask_;
  while (true) {
    const Slot& s = slots_[h];
    if (s.index == kEmpty) return nullptr;
    if (s.key == key) return &entries_[s.index];
    h = (h + 1) & mask_;
  }
}

void CodeSet::prefetch(uint64_t key) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[mix(key) & mask_]);
}

std::span<const CodeEntry> CodeSet::withPrefix(std::string_view undotted_prefix) const {
  uint64_t k = packCode(undotted_prefix);
  return inRange(prefixLow(k), prefixHigh(k, static_cast<int>(undotted_prefix.size())));
}

std::span<const CodeEntry> CodeSet::inRange(uint64_t lo, uint64_t hi) const {
  auto first = std::lower_bound(entries_.begin(), entries_.end(), lo,
                                [](const CodeEntry& e, uint64_t v) { return e.key < v; });
  auto last = std::upper_bound(first, entries_.end(), hi,
                               [](uint64_t v, const CodeEntry& e) { return v < e.key; });
  return {entries_.data() + (first - entries_.begin()), static_cast<size_t>(last - first)};
}

size_t CodeSet::billableCount() const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(),
                                           [](const CodeEntry& e) { return e.billable(); }));
}

size_t CodeSet::memoryBytes() const {
  return entries_.capacity() * sizeof(CodeEntry) + pool_.capacity() + slots_.capacity() * sizeof(Slot);
}

}  // namespace courier::coding
