#include "engine/hl7v2/charset.h"

namespace courier::hl7v2 {

Charset charsetFromName(std::string_view name) {
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.empty() || name == "ASCII") return Charset::kAscii;
  if (name == "8859/1") return Charset::kLatin1;
  if (name == "UNICODE UTF-8" || name == "UNICODE" || name == "UTF-8") return Charset::kUtf8;
  return Charset::kOther;
}

void appendLatin1AsUtf8(std::string_view in, std::string& out) {
  for (unsigned char c : in) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

Result<void> appendUtf8AsLatin1(std::string_view in, std::string& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if ((c == 0xC2 || c == 0xC3) && i + 1 < in.size() &&
        (static_cast<unsigned char>(in[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(in[i + 1]) & 0x3F)));
      ++i;
      continue;
    }
    return Unexpected(Error(ErrorCode::kInvalidArgument,
                            "character cannot be written in ISO 8859/1 (MSH-18); byte " +
                                std::to_string(i + 1)));
  }
  return Ok();
}

}  // namespace courier::hl7v2
