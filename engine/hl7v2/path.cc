#include "engine/hl7v2/path.h"

#include <cctype>

namespace courier::hl7v2 {
namespace {

Error bad(std::string_view text, size_t pos, const char* what) {
  return Error(ErrorCode::kInvalidArgument,
               std::string(what) + " at character " + std::to_string(pos + 1) +
                   " (expected e.g. PID-5, PID-3[2].1, OBX[3]-5, PID-11.1.2)",
               std::string(text));
}

// Reads a positive decimal number at `pos`; returns 0 when there is none.
int readNumber(std::string_view text, size_t& pos) {
  int value = 0;
  size_t start = pos;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) && pos - start < 6) {
    value = value * 10 + (text[pos] - '0');
    ++pos;
  }
  return pos == start ? 0 : value;
}

// Reads an optional "[n]" or "(n)" repetition; false on a malformed one.
bool readIndex(std::string_view text, size_t& pos, int& out) {
  if (pos >= text.size() || (text[pos] != '[' && text[pos] != '(')) return true;
  char close = text[pos] == '[' ? ']' : ')';
  ++pos;
  int n = readNumber(text, pos);
  if (n <= 0 || pos >= text.size() || text[pos] != close) return false;
  ++pos;
  out = n;
  return true;
}

}  // namespace

Result<Path> Path::parse(std::string_view text) {
  Path p;
  size_t pos = 0;
  for (; pos < 3; ++pos) {
    if (pos >= text.size() || !std::isalnum(static_cast<unsigned char>(text[pos])))
      return Unexpected(bad(text, pos, "segment id must be 3 letters or digits"));
    p.segment[pos] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[pos])));
  }
  if (!readIndex(text, pos, p.segment_rep)) return Unexpected(bad(text, pos, "bad segment repetition"));
  if (pos >= text.size() || (text[pos] != '-' && text[pos] != '.'))
    return Unexpected(bad(text, pos, "expected '-' before the field number"));
  ++pos;
  p.field = readNumber(text, pos);
  if (p.field <= 0) return Unexpected(bad(text, pos, "field number must be 1 or more"));
  if (!readIndex(text, pos, p.repetition)) return Unexpected(bad(text, pos, "bad field repetition"));
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    p.component = readNumber(text, pos);
    if (p.component <= 0) return Unexpected(bad(text, pos, "component number must be 1 or more"));
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      p.subcomponent = readNumber(text, pos);
      if (p.subcomponent <= 0) return Unexpected(bad(text, pos, "sub-component number must be 1 or more"));
    }
  }
  if (pos != text.size()) return Unexpected(bad(text, pos, "unexpected character"));
  return p;
}

std::string Path::toString() const {
  std::string out(segmentId());
  auto number = [&out](char lead, int n, char trail) {
    out += lead;
    out += std::to_string(n);
    if (trail) out += trail;
  };
  if (segment_rep != 1) number('[', segment_rep, ']');
  number('-', field, 0);
  if (repetition != 1) number('[', repetition, ']');
  if (component > 0) number('.', component, 0);
  if (subcomponent > 0) number('.', subcomponent, 0);
  return out;
}

}  // namespace courier::hl7v2
