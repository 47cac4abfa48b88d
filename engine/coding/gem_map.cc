#include "engine/coding/gem_map.h"

#include <algorithm>

#include "engine/coding/code_key.h"
#include "engine/coding/gzip_file.h"

namespace courier::coding {

Result<GemMap> GemMap::load(const std::string& path) {
  auto text = readCompressedFile(path);
  if (!text) return Unexpected(text.error());
  GemMap map;
  std::string_view t = *text;
  size_t pos = 0;
  size_t line_no = 0;
  PlainCode a, b;
  while (pos < t.size()) {
    size_t end = t.find('\n', pos);
    if (end == std::string_view::npos) end = t.size();
    std::string_view line = t.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    // Three whitespace-separated fields.
    std::string_view f[3];
    int n = 0;
    size_t i = 0;
    while (n < 3 && i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t s = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (i > s) f[n++] = line.substr(s, i - s);
    }
    if (n != 3 || f[2].size() != 5 || !normalizeCode(f[0], a)) {
      return Unexpected(Error(ErrorCode::kParse, "malformed GEM row", path + ":" + std::to_string(line_no)));
    }
    GemEntry e;
    e.source = a.key();
    e.approximate = f[2][0] == '1';
    e.no_map = f[2][1] == '1';
    e.combination = f[2][2] == '1';
    e.scenario = static_cast<uint8_t>(f[2][3] - '0');
    e.choice_list = static_cast<uint8_t>(f[2][4] - '0');
    if (!e.no_map && normalizeCode(f[1], b)) e.target = b.key();
    map.entries_.push_back(e);
  }
  std::stable_sort(map.entries_.begin(), map.entries_.end(),
                   [](const GemEntry& x, const GemEntry& y) { return x.source < y.source; });
  return map;
}

std::span<const GemEntry> GemMap::targets(std::string_view icd9_undotted) const {
  uint64_t k = packCode(icd9_undotted);
  auto range = std::equal_range(entries_.begin(), entries_.end(), GemEntry{k},
                                [](const GemEntry& x, const GemEntry& y) { return x.source < y.source; });
  return {entries_.data() + (range.first - entries_.begin()), static_cast<size_t>(range.second - range.first)};
}

}  // namespace courier::coding
