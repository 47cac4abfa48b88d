#include "engine/hl7v2/escape.h"

namespace courier::hl7v2 {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the body of one escape sequence (between the escape characters).
// Returns false when the sequence has no plain-text meaning and must be kept.
bool decodeSequence(std::string_view body, const Delimiters& d, std::string& out) {
  if (body.size() == 1) {
    switch (body[0]) {
      case 'F': out.push_back(d.field); return true;
      case 'S': out.push_back(d.component); return true;
      case 'T': out.push_back(d.subcomponent); return true;
      case 'R': out.push_back(d.repetition); return true;
      case 'E': out.push_back(d.escape); return true;
      case 'P':
        if (d.truncation == '\0') return false;
        out.push_back(d.truncation);
        return true;
      default: return false;
    }
  }
  if (body == ".br") {
    out.push_back('\n');
    return true;
  }
  if (body[0] == 'X' && body.size() >= 3 && (body.size() - 1) % 2 == 0) {
    size_t mark = out.size();
    for (size_t i = 1; i < body.size(); i += 2) {
      int hi = hexValue(body[i]);
      int lo = hexValue(body[i + 1]);
      if (hi < 0 || lo < 0) {
        out.resize(mark);
        return false;
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return true;
  }
  return false;
}

}  // namespace

void appendDecoded(std::string_view raw, const Delimiters& d, std::string& out) {
  if (d.escape == '\0') {
    out.append(raw);
    return;
  }
  size_t i = 0;
  while (i < raw.size()) {
    size_t esc = raw.find(d.escape, i);
    if (esc == std::string_view::npos) {
      out.append(raw.substr(i));
      return;
    }
    out.append(raw.substr(i, esc - i));
    size_t close = raw.find(d.escape, esc + 1);
    if (close == std::string_view::npos) {  // unterminated: keep literally
      out.append(raw.substr(esc));
      return;
    }
    std::string_view body = raw.substr(esc + 1, close - esc - 1);
    if (body.empty() || !decodeSequence(body, d, out)) out.append(raw.substr(esc, close - esc + 1));
    i = close + 1;
  }
}

std::string decode(std::string_view raw, const Delimiters& d) {
  std::string out;
  out.reserve(raw.size());
  appendDecoded(raw, d, out);
  return out;
}

void appendEncoded(std::string_view text, const Delimiters& d, std::string& out) {
  // Without a declared escape character (MSH-2 of one or two characters) nothing
  // is an escape sequence on reading, so a backslash is plain text and must stay
  // so; delimiters still get the standard form, the best a value can do there
  // (Message::set refuses such values rather than write them).
  const bool declared = d.escape != '\0';
  const char e = declared ? d.escape : '\\';
  // \.br\ cannot be written when '.' is a delimiter ("..br." or a field split
  // inside the sequence); \X0A\ says the same thing.
  const bool dot_is_delimiter = d.isSpecial('.') || d.truncation == '.';
  auto seq = [&](const char* body) {
    out.push_back(e);
    out.append(body);
    out.push_back(e);
  };
  for (char c : text) {
    if (c == d.field) seq("F");
    else if (c == d.component) seq("S");
    else if (d.subcomponent != '\0' && c == d.subcomponent) seq("T");
    else if (d.repetition != '\0' && c == d.repetition) seq("R");
    else if (declared && c == e) seq("E");
    else if (d.truncation != '\0' && c == d.truncation) seq("P");
    else if (c == '\n') seq(dot_is_delimiter ? "X0A" : ".br");
    else if (c == '\r') seq("X0D");
    else out.push_back(c);
  }
}

std::string encode(std::string_view text, const Delimiters& d) {
  std::string out;
  out.reserve(text.size() + 8);
  appendEncoded(text, d, out);
  return out;
}

}  // namespace courier::hl7v2
