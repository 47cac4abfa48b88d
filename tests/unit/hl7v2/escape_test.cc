// Escapes: each sequence, the formatting escapes kept as written, and
// decode(encode(s)) == s over many random strings.
#include "engine/hl7v2/escape.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace courier::hl7v2 {
namespace {

Delimiters defaults() { return Delimiters{}; }

Delimiters withTruncation() {
  Delimiters d;
  d.truncation = '#';
  return d;
}

Delimiters unusual() {
  Delimiters d;
  d.field = '#';
  d.component = '$';
  d.repetition = '%';
  d.escape = '?';
  d.subcomponent = '@';
  return d;
}

TEST(EscapeTest, DecodesEachDelimiterEscape) {
  const Delimiters d = defaults();
  EXPECT_EQ(decode("a\\F\\b", d), "a|b");
  EXPECT_EQ(decode("a\\S\\b", d), "a^b");
  EXPECT_EQ(decode("a\\T\\b", d), "a&b");
  EXPECT_EQ(decode("a\\R\\b", d), "a~b");
  EXPECT_EQ(decode("a\\E\\b", d), "a\\b");
  EXPECT_EQ(decode("\\F\\\\S\\\\T\\\\R\\\\E\\", d), "|^&~\\");
}

TEST(EscapeTest, DecodesHexAndLineBreak) {
  const Delimiters d = defaults();
  EXPECT_EQ(decode("\\X41\\", d), "A");
  EXPECT_EQ(decode("x\\X414243\\y", d), "xABCy");
  EXPECT_EQ(decode("\\X0d0A\\", d), "\r\n");
  EXPECT_EQ(decode("\\XC3A9\\", d), "\xC3\xA9");
  EXPECT_EQ(decode("one\\.br\\two", d), "one\ntwo");
}

TEST(EscapeTest, KeepsFormattingEscapesAsWritten) {
  const Delimiters d = defaults();
  for (const char* raw : {"\\H\\bold\\N\\", "\\.sp\\", "\\.sp2\\", "\\.in+4\\", "\\.ce\\", "\\.fi\\", "\\.nf\\",
                          "\\.ti-2\\", "\\C2842\\", "\\M2442\\", "\\Zcustom\\"}) {
    SCOPED_TRACE(raw);
    EXPECT_EQ(decode(raw, d), raw);
  }
  EXPECT_EQ(decode("a\\H\\b\\F\\c", d), "a\\H\\b|c");
}

TEST(EscapeTest, KeepsMalformedSequencesAsWritten) {
  const Delimiters d = defaults();
  EXPECT_EQ(decode("\\X\\", d), "\\X\\");        // no digits
  EXPECT_EQ(decode("\\X4\\", d), "\\X4\\");      // odd number of digits
  EXPECT_EQ(decode("\\XG1\\", d), "\\XG1\\");    // not hex
  EXPECT_EQ(decode("\\X41G1\\", d), "\\X41G1\\");
  EXPECT_EQ(decode("abc\\F", d), "abc\\F");      // unterminated
  EXPECT_EQ(decode("\\", d), "\\");
  EXPECT_EQ(decode("\\\\", d), "\\\\");          // empty sequence
  EXPECT_EQ(decode("\\P\\", d), "\\P\\");        // no truncation character declared
  EXPECT_EQ(decode("\\Q\\", d), "\\Q\\");
}

TEST(EscapeTest, TruncationEscape) {
  EXPECT_EQ(decode("a\\P\\b", withTruncation()), "a#b");
  EXPECT_EQ(encode("a#b", withTruncation()), "a\\P\\b");
  EXPECT_EQ(encode("a#b", defaults()), "a#b");  // not special without MSH-2's fifth character
}

TEST(EscapeTest, UsesTheDeclaredEscapeCharacter) {
  const Delimiters d = unusual();
  EXPECT_EQ(decode("?F??S??T??R??E??X41??.br?", d), "#$@%?A\n");
  EXPECT_EQ(decode("\\F\\", d), "\\F\\");  // backslash is plain text here
  EXPECT_EQ(encode("#$@%?\\|^&~", d), "?F??S??T??R??E?\\|^&~");
}

TEST(EscapeTest, EncodesDelimitersAndLineBreaks) {
  const Delimiters d = defaults();
  EXPECT_EQ(encode("a|b^c&d~e\\f", d), "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f");
  EXPECT_EQ(encode("line1\nline2", d), "line1\\.br\\line2");
  EXPECT_EQ(encode("cr\rhere", d), "cr\\X0D\\here");
  EXPECT_EQ(encode("plain text 123", d), "plain text 123");
  EXPECT_EQ(encode("", d), "");
  std::string out = "prefix:";
  appendEncoded("|", d, out);
  EXPECT_EQ(out, "prefix:\\F\\");
}

TEST(EscapeTest, NeedsDecoding) {
  EXPECT_TRUE(needsDecoding("a\\F\\b", defaults()));
  EXPECT_FALSE(needsDecoding("plain", defaults()));
  Delimiters none = defaults();
  none.escape = '\0';
  EXPECT_FALSE(needsDecoding("a\\F\\b", none));
}

TEST(EscapeTest, WithoutAnEscapeCharacterTextIsKept) {
  // MSH-2 "^~" declares no escape character: nothing is an escape sequence,
  // so a backslash in a value is plain text both ways.
  Delimiters d = defaults();
  d.escape = '\0';
  d.subcomponent = '\0';
  EXPECT_EQ(decode("C:\\dir\\F\\", d), "C:\\dir\\F\\");
  EXPECT_EQ(encode("C:\\dir", d), "C:\\dir");
  EXPECT_EQ(decode(encode("C:\\dir&x", d), d), "C:\\dir&x");
}

// Encoding then decoding gives the text back, for every string.
void checkRoundTrip(const Delimiters& d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string alphabet = "abcXYZ019 .,\r\n\t\x01\x7f\x80\xC3\xA9\xFF";
  alphabet.push_back('\0');
  for (char c : {d.field, d.component, d.repetition, d.escape, d.subcomponent, d.truncation})
    if (c != '\0') alphabet.push_back(c);
  alphabet += "|^~\\&#FSTREXPH";  // the default characters and escape letters too
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    int n = length(rng);
    for (int k = 0; k < n; ++k) s.push_back(alphabet[pick(rng)]);
    std::string encoded = encode(s, d);
    ASSERT_EQ(decode(encoded, d), s) << "encoded as " << encoded;
    // An encoded value can never split a field or a segment.
    for (char c : encoded) {
      ASSERT_NE(c, d.field);
      ASSERT_NE(c, d.component);
      ASSERT_NE(c, d.repetition);
      if (d.subcomponent != '\0') {
        ASSERT_NE(c, d.subcomponent);
      }
      if (d.truncation != '\0') {
        ASSERT_NE(c, d.truncation);
      }
      ASSERT_NE(c, '\r');
      ASSERT_NE(c, '\n');
    }
  }
}

TEST(EscapeTest, DecodeOfEncodeIsIdentityDefault) { checkRoundTrip(defaults(), 1); }
TEST(EscapeTest, DecodeOfEncodeIsIdentityTruncation) { checkRoundTrip(withTruncation(), 2); }
TEST(EscapeTest, DecodeOfEncodeIsIdentityUnusual) { checkRoundTrip(unusual(), 3); }
TEST(EscapeTest, DecodeOfEncodeIsIdentityDotEscape) {
  // Found by hl7v2_parse_fuzz: with '.' as the escape character a line break
  // written as \.br\ became "..br.", which reads back as text.
  Delimiters d = defaults();
  d.escape = '.';
  EXPECT_EQ(decode(encode("a\nb", d), d), "a\nb");
  checkRoundTrip(d, 5);
  // ... and with '.' as the field separator the '.' of \.br\ split the field.
  Delimiters dot_field = defaults();
  dot_field.field = '.';
  EXPECT_EQ(encode("a\nb", dot_field).find('.'), std::string::npos);
  checkRoundTrip(dot_field, 6);
}

TEST(EscapeTest, DecodeOfEncodeIsIdentityNoSubcomponent) {
  Delimiters d = defaults();
  d.escape = '}';
  d.subcomponent = '\0';
  checkRoundTrip(d, 4);
}

}  // namespace
}  // namespace courier::hl7v2
