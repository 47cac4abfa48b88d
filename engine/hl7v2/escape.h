// HL7 v2 escape sequences, using the escape character MSH-2 declares.
//
// Decoding resolves the delimiter escapes F S T R E (and P, the v2.7
// truncation character), Xhh.. (hex bytes) and .br (line break, decoded as a
// newline). Other formatting escapes (H, N, .sp, Cxxyy ...) have no meaning in
// a plain value and are kept as written.
// Encoding is the exact inverse: decode(encode(s)) == s for every s.
#pragma once

#include <string>
#include <string_view>

#include "engine/hl7v2/delimiters.h"

namespace courier::hl7v2 {

// Appends the decoded form of `raw` to `out`.
void appendDecoded(std::string_view raw, const Delimiters& d, std::string& out);
std::string decode(std::string_view raw, const Delimiters& d);

// Appends `text` with every delimiter escaped; "\n" becomes \.br\ and "\r"
// becomes \X0D\ so a value can never break a segment.
void appendEncoded(std::string_view text, const Delimiters& d, std::string& out);
std::string encode(std::string_view text, const Delimiters& d);

// True when `raw` holds the escape character (decoding would change it).
inline bool needsDecoding(std::string_view raw, const Delimiters& d) {
  return d.escape != '\0' && raw.find(d.escape) != std::string_view::npos;
}

}  // namespace courier::hl7v2
