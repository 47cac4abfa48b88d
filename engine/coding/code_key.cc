#include "engine/coding/code_key.h"

namespace courier::coding {

uint64_t PlainCode::key() const { return packCode(view()); }

bool normalizeCode(std::string_view raw, PlainCode& out) {
  out.length = 0;
  for (char c : raw) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok || out.length >= kMaxCodeLength) {
      out.length = 0;
      return false;
    }
    out.chars[out.length++] = c;
  }
  return out.length > 0;
}

uint64_t packCode(std::string_view undotted) {
  uint64_t key = 0;
  int n = static_cast<int>(undotted.size() < 8 ? undotted.size() : 8);
  for (int i = 0; i < n; ++i) {
    key |= static_cast<uint64_t>(static_cast<unsigned char>(undotted[i])) << (56 - 8 * i);
  }
  return key;
}

PlainCode unpackCode(uint64_t key) {
  PlainCode code;
  for (int i = 0; i < kMaxCodeLength; ++i) {
    char c = static_cast<char>((key >> (56 - 8 * i)) & 0xFF);
    if (c == 0) break;
    code.chars[code.length++] = c;
  }
  return code;
}

uint64_t prefixLow(uint64_t prefix_key) { return prefix_key; }

uint64_t prefixHigh(uint64_t prefix_key, int prefix_length) {
  if (prefix_length >= 8) return prefix_key;
  uint64_t tail = (prefix_length == 0) ? ~0ULL : ((1ULL << (64 - 8 * prefix_length)) - 1);
  return prefix_key | tail;
}

std::string_view dottedForm(CodeSystem system, std::string_view undotted, char* buf) {
  size_t dot_after = 0;
  if (system == CodeSystem::kIcd10Cm) {
    dot_after = 3;
  } else if (system == CodeSystem::kIcd9Cm) {
    dot_after = (!undotted.empty() && undotted[0] == 'E') ? 4 : 3;
  }
  size_t n = 0;
  for (size_t i = 0; i < undotted.size(); ++i) {
    if (dot_after != 0 && i == dot_after) buf[n++] = '.';
    buf[n++] = undotted[i];
  }
  return {buf, n};
}

}  // namespace courier::coding
