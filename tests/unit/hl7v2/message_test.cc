// Message: indexing, delimiters, terminators, access at every level, charsets,
// copy/move and reset().
#include "engine/hl7v2/message.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

using test::readFixture;

const char kAdt[] =
    "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|CTRL42|P|2.5.1\r"
    "EVN|A01|20240101120000\r"
    "PID|1||A1^^^H&1.2.3&ISO^MR~B2^^^H2^PI||DOE^JOHN^Q^JR||19800101|M\r"
    "OBX|1|NM|A^a||11\r"
    "OBX|2|NM|B^b||22\r"
    "OBX|3|NM|C^c||33\r"
    "OBX|4|NM|D^d||44\r";

Message parseOrDie(std::string_view bytes) {
  auto m = Message::parse(bytes);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
  if (!m) return Message();
  return std::move(*m);
}

TEST(MessageTest, IndexesSegmentsAndFields) {
  Message m = parseOrDie(kAdt);
  ASSERT_EQ(m.segmentCount(), 7u);
  EXPECT_EQ(m.segment(0).name(), "MSH");
  EXPECT_EQ(m.segment(1).name(), "EVN");
  EXPECT_EQ(m.segment(2).name(), "PID");
  EXPECT_EQ(m.segment(6).name(), "OBX");
  EXPECT_EQ(m.segment(1).raw(), "EVN|A01|20240101120000");
  EXPECT_EQ(m.segment(2).fieldCount(), 8);
  EXPECT_EQ(m.segment(2).field(5), "DOE^JOHN^Q^JR");
  EXPECT_EQ(m.segment(2).field(2), "");
  EXPECT_EQ(m.segment(2).field(99), "");
  EXPECT_EQ(m.segment(2).field(0), "PID");
}

TEST(MessageTest, HeaderShortcuts) {
  Message m = parseOrDie(kAdt);
  EXPECT_EQ(m.messageType(), "ADT");
  EXPECT_EQ(m.triggerEvent(), "A01");
  EXPECT_EQ(m.controlId(), "CTRL42");
  EXPECT_EQ(m.version(), "2.5.1");
}

TEST(MessageTest, RepetitionComponentSubcomponentAccess) {
  Message m = parseOrDie(kAdt);
  EXPECT_EQ(m.get("PID-3"), "A1^^^H&1.2.3&ISO^MR");  // first repetition, components kept
  EXPECT_EQ(m.get("PID-3[1].1"), "A1");
  EXPECT_EQ(m.get("PID-3[2].1"), "B2");
  EXPECT_EQ(m.get("PID-3(2).5"), "PI");
  EXPECT_EQ(m.get("PID-3.4"), "H&1.2.3&ISO");
  EXPECT_EQ(m.get("PID-3.4.1"), "H");
  EXPECT_EQ(m.get("PID-3.4.2"), "1.2.3");
  EXPECT_EQ(m.get("PID-3.4.3"), "ISO");
  EXPECT_EQ(m.get("PID-3.4.4"), "");
  EXPECT_EQ(m.get("PID-3[2].4.2"), "");  // H2 has no sub-components beyond the first
  EXPECT_EQ(m.get("PID-3[2].4.1"), "H2");
  EXPECT_EQ(m.get("PID-5.1"), "DOE");
  EXPECT_EQ(m.get("PID-5.4"), "JR");
  EXPECT_EQ(m.get("PID-5.5"), "");
  EXPECT_EQ(m.get("PID-3[3].1"), "");
  EXPECT_EQ(m.get("PID-30"), "");
  EXPECT_EQ(m.get("ZZZ-1"), "");
  EXPECT_EQ(m.get("not a path"), "");
  auto p = Path::parse("PID-3[2].5");
  ASSERT_TRUE(p);
  EXPECT_TRUE(m.has(*p));
  EXPECT_EQ(m.rawValue(*p), "PI");
  EXPECT_FALSE(m.has(*Path::parse("PID-2")));
}

TEST(MessageTest, SegmentRepetitionsCountInMessageOrder) {
  Message m = parseOrDie(kAdt);
  EXPECT_EQ(m.countSegments("OBX"), 4);
  EXPECT_EQ(m.countSegments("PID"), 1);
  EXPECT_EQ(m.countSegments("ZZZ"), 0);
  EXPECT_EQ(m.get("OBX-5"), "11");
  EXPECT_EQ(m.get("OBX[1]-5"), "11");
  EXPECT_EQ(m.get("OBX[3]-5"), "33");
  EXPECT_EQ(m.get("OBX[4]-3.2"), "d");
  EXPECT_EQ(m.get("OBX[5]-5"), "");
  auto third = m.findSegment("OBX", 3);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->field(1), "3");
  EXPECT_FALSE(m.findSegment("OBX", 5).has_value());
  EXPECT_FALSE(m.findSegment("OB", 1).has_value());
}

TEST(MessageTest, Msh1AndMsh2AreTheDelimitersThemselves) {
  Message m = parseOrDie(kAdt);
  EXPECT_EQ(m.get("MSH-1"), "|");
  EXPECT_EQ(m.get("MSH-2"), "^~\\&");  // not decoded, not split
  EXPECT_EQ(m.get("MSH-2.1"), "^~\\&");
  EXPECT_EQ(m.get("MSH-3"), "SENDAPP");
  EXPECT_EQ(m.get("MSH-9.3"), "ADT_A01");
  EXPECT_EQ(m.get("MSH-12"), "2.5.1");
  auto msh = m.segment(0);
  EXPECT_EQ(msh.field(1), "|");
  EXPECT_EQ(msh.field(2), "^~\\&");
  EXPECT_EQ(msh.field(3), "SENDAPP");
  EXPECT_EQ(msh.field(10), "CTRL42");
  EXPECT_EQ(msh.fieldCount(), 12);  // MSH-1 ... MSH-12
}

TEST(MessageTest, DefaultDelimiters) {
  Message m = parseOrDie(kAdt);
  const Delimiters& d = m.delimiters();
  EXPECT_EQ(d.field, '|');
  EXPECT_EQ(d.component, '^');
  EXPECT_EQ(d.repetition, '~');
  EXPECT_EQ(d.escape, '\\');
  EXPECT_EQ(d.subcomponent, '&');
  EXPECT_EQ(d.truncation, '\0');
}

TEST(MessageTest, NonDefaultDelimitersFromMsh1AndMsh2) {
  std::string bytes = readFixture("nondefault_delims.hl7");
  Message m = parseOrDie(bytes);
  const Delimiters& d = m.delimiters();
  EXPECT_EQ(d.field, '#');
  EXPECT_EQ(d.component, '$');
  EXPECT_EQ(d.repetition, '%');
  EXPECT_EQ(d.escape, '?');
  EXPECT_EQ(d.subcomponent, '@');
  EXPECT_EQ(m.messageType(), "ADT");
  EXPECT_EQ(m.triggerEvent(), "A01");
  EXPECT_EQ(m.controlId(), "CTRL0001");
  EXPECT_EQ(m.get("MSH-1"), "#");
  EXPECT_EQ(m.get("MSH-2"), "$%?@");
  EXPECT_EQ(m.get("PID-3[2].1"), "ID2");
  EXPECT_EQ(m.get("PID-3[2].5"), "PI");
  EXPECT_EQ(m.get("PID-5.2"), "JANE");
  EXPECT_EQ(m.get("NTE-3"), "pipe# hat$ amp@ tilde% esc? hexA line\nend");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, HapiOddEscapeCharacters) {
  // From hapi-hl7v2 messages.txt: "^~\}" (sub-component '}') and "^~}" (escape '}', no sub-component).
  Message a = parseOrDie("MSH|^~\\}|A|B|C|D|19930502184808||BAR^P01|1|P|2.4\rPID|1||X}Y^Z\r");
  EXPECT_EQ(a.delimiters().escape, '\\');
  EXPECT_EQ(a.delimiters().subcomponent, '}');
  EXPECT_EQ(a.get("PID-3.1.2"), "Y");

  Message b = parseOrDie("MSH|^~}|A|B|C|D|19930502185327||BAR^P01|2|P|2.4\rPID|1||X&Y^}F}Z\r");
  EXPECT_EQ(b.delimiters().escape, '}');
  EXPECT_EQ(b.delimiters().subcomponent, '\0');
  EXPECT_EQ(b.get("PID-3.1"), "X&Y");  // '&' is not a delimiter here
  EXPECT_EQ(b.get("PID-3.1.2"), "");
  EXPECT_EQ(b.get("PID-3.2"), "|Z");
}

TEST(MessageTest, TruncationCharacterV27) {
  std::string bytes = readFixture("v28_truncation.hl7");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.delimiters().truncation, '#');
  EXPECT_EQ(m.delimiters().subcomponent, '&');
  EXPECT_EQ(m.get("MSH-2"), "^~\\&#");
  EXPECT_EQ(m.version(), "2.8");
  EXPECT_EQ(m.get("PID-5.1"), "SAMPLE#");  // the truncation character does not split
  EXPECT_EQ(m.get("NTE-3"), "trunc#char and amp&");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, DuplicateEncodingCharacterIsIgnored) {
  // linuxforhealth sample_unix.hl7 declares MSH-2 as "^~\\&".
  std::string bytes = readFixture("sample_unix.hl7");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.delimiters().escape, '\\');
  EXPECT_EQ(m.delimiters().subcomponent, '&');
  EXPECT_EQ(m.get("MSH-2"), "^~\\\\&");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, TerminatorsCrLfAndCrLfAreEquivalent) {
  const std::string body[] = {"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5", "PID|1||X^^^H||ROE^RICHARD",
                              "OBX|1|ST|C||v"};
  for (const char* term : {"\r", "\n", "\r\n"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(term)));
    std::string bytes;
    for (const auto& s : body) bytes += s + term;
    Message m = parseOrDie(bytes);
    ASSERT_EQ(m.segmentCount(), 3u);
    EXPECT_EQ(m.segment(0).raw(), body[0]);
    EXPECT_EQ(m.segment(1).raw(), body[1]);
    EXPECT_EQ(m.segment(2).raw(), body[2]);
    EXPECT_EQ(m.get("MSH-12"), "2.5");
    EXPECT_EQ(m.get("PID-5.2"), "RICHARD");
    EXPECT_EQ(m.get("OBX-5"), "v");
    EXPECT_EQ(m.rebuildFromIndex(), bytes);
    EXPECT_EQ(m.serialize(), bytes);
  }
}

TEST(MessageTest, CrlfFixture) {
  std::string win = readFixture("sample_win.hl7");
  std::string unix_bytes = readFixture("sample_unix.hl7");
  Message w = parseOrDie(win);
  Message u = parseOrDie(unix_bytes);
  // Upstream's twins differ in MSH-18 only; every segment and the PID are the same.
  ASSERT_EQ(w.segmentCount(), u.segmentCount());
  for (size_t i = 0; i < w.segmentCount(); ++i) {
    EXPECT_EQ(w.segment(i).name(), u.segment(i).name());
    EXPECT_EQ(w.segment(i).raw().find('\n'), std::string_view::npos);
    if (i > 0) {
      EXPECT_EQ(w.segment(i).raw(), u.segment(i).raw());
    }
  }
  EXPECT_EQ(w.get("PID-5"), "DOE^JOHN^A^");
  EXPECT_EQ(w.rebuildFromIndex(), win);
  EXPECT_EQ(u.rebuildFromIndex(), unix_bytes);
}

TEST(MessageTest, ByteOrderMarkIsSkipped) {
  std::string bytes = readFixture("ADT01-28.hl7");
  ASSERT_EQ(bytes.substr(0, 3), "\xEF\xBB\xBF");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.segment(0).name(), "MSH");
  EXPECT_EQ(m.messageType(), "ADT");
  EXPECT_EQ(m.triggerEvent(), "A01");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
  EXPECT_EQ(m.serialize(), bytes);
}

TEST(MessageTest, TrailingWhitespaceIsNotASegment) {
  std::string bytes = readFixture("trailing_whitespace.hl7");
  Message m = parseOrDie(bytes);
  ASSERT_EQ(m.segmentCount(), 3u);
  EXPECT_EQ(m.segment(2).name(), "PID");
  EXPECT_EQ(m.get("PID-5.2"), "TEST   ");  // spaces inside a value are data
  EXPECT_EQ(m.rebuildFromIndex(), bytes);

  Message lone = parseOrDie("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r\n \t\x1c\r");
  EXPECT_EQ(lone.segmentCount(), 1u);
  EXPECT_EQ(lone.controlId(), "1");
}

TEST(MessageTest, LeadingWhitespaceAndMllpStartByte) {
  std::string bytes = "\x0b\r\n  MSH|^~\\&|A|B|C|D|1||ADT^A01|LEAD|P|2.5\rPID|1\r";
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.controlId(), "LEAD");
  EXPECT_EQ(m.segmentCount(), 2u);
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, EmptyLinesBetweenSegments) {
  std::string bytes = readFixture("empty_lines.hl7");
  Message m = parseOrDie(bytes);
  ASSERT_EQ(m.segmentCount(), 4u);
  EXPECT_EQ(m.segment(1).name(), "PID");
  EXPECT_EQ(m.segment(2).name(), "OBR");
  EXPECT_EQ(m.segment(3).name(), "OBX");
  EXPECT_EQ(m.get("OBX-5"), "42");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, WhitespaceOnlyLinesBetweenSegmentsAreEmptyLines) {
  // Some senders pad with spaces between segments (HAPI tolerates it); the
  // padding is not a segment, and the bytes still round-trip.
  std::string bytes = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X1|P|2.5\r   \t\rPID|1||42\r \r";
  Message m = parseOrDie(bytes);
  ASSERT_EQ(m.segmentCount(), 2u);
  EXPECT_EQ(m.segment(1).name(), "PID");
  EXPECT_EQ(m.get("PID-3"), "42");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, NoTerminatorAtTheEnd) {
  std::string bytes = readFixture("no_terminator.hl7");
  ASSERT_NE(bytes.back(), '\r');
  Message m = parseOrDie(bytes);
  ASSERT_EQ(m.segmentCount(), 3u);
  EXPECT_EQ(m.get("PID-5.1"), "NOEND");
  EXPECT_EQ(m.get("PID-5.2"), "TEST");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, MshAloneParses) {
  Message m = parseOrDie("MSH|^~\\&");
  EXPECT_EQ(m.segmentCount(), 1u);
  EXPECT_EQ(m.get("MSH-2"), "^~\\&");
  EXPECT_EQ(m.get("MSH-9"), "");
  EXPECT_EQ(m.segment(0).fieldCount(), 2);
}

TEST(MessageTest, Latin1IsDecodedToUtf8) {
  std::string bytes = readFixture("latin1.hl7");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.charset(), Charset::kLatin1);
  auto family = Path::parse("PID-5.1");
  ASSERT_TRUE(family);
  EXPECT_EQ(m.rawValue(*family), "M\xFCller");
  EXPECT_EQ(m.get(*family), "M\xC3\xBCller");
  EXPECT_EQ(m.get("PID-5.2"), "J\xC3\xA9r\xC3\xB4me");
  EXPECT_EQ(m.get("PID-11.1"), "Stra\xC3\x9F" "e 1");
  EXPECT_EQ(m.get("PID-11.3"), "K\xC3\xB6ln");
  EXPECT_EQ(m.get("MSH-18"), "8859/1");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, Latin1HexEscapeIsLatin1Too) {
  Message m = parseOrDie("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5|||||DEU|8859/1\rNTE|1||caf\\XE9\\\r");
  EXPECT_EQ(m.get("NTE-3"), "caf\xC3\xA9");
}

TEST(MessageTest, Utf8IsPassedThrough) {
  std::string bytes = readFixture("utf8.hl7");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.charset(), Charset::kUtf8);
  EXPECT_EQ(m.get("PID-5.1"), "M\xC3\xBCller");
  EXPECT_EQ(m.get("PID-11.1"), "\xE6\x9D\xB1\xE4\xBA\xAC");
  EXPECT_EQ(m.rebuildFromIndex(), bytes);
}

TEST(MessageTest, AsciiAndUnknownCharsetsKeepHighBytes) {
  Message ascii = parseOrDie("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1||X||\xE9\xFF\x80\r");
  EXPECT_EQ(ascii.charset(), Charset::kAscii);
  EXPECT_EQ(ascii.get("PID-5"), "\xE9\xFF\x80");

  Message other = parseOrDie("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5|||||JPN|ISO IR87\rPID|1||X||\x1b$B\x30\x21\r");
  EXPECT_EQ(other.charset(), Charset::kOther);
  EXPECT_EQ(other.get("PID-5"), "\x1b$B\x30\x21");

  Message first_rep = parseOrDie("MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5|||||DEU|UNICODE UTF-8~8859/1\r");
  EXPECT_EQ(first_rep.charset(), Charset::kUtf8);
}

TEST(MessageTest, CharsetNames) {
  EXPECT_EQ(charsetFromName(""), Charset::kAscii);
  EXPECT_EQ(charsetFromName("ASCII"), Charset::kAscii);
  EXPECT_EQ(charsetFromName("8859/1"), Charset::kLatin1);
  EXPECT_EQ(charsetFromName("UNICODE UTF-8"), Charset::kUtf8);
  EXPECT_EQ(charsetFromName("UNICODE"), Charset::kUtf8);
  EXPECT_EQ(charsetFromName("8859/2"), Charset::kOther);
  std::string utf8;
  appendLatin1AsUtf8("a\xE9\xFF", utf8);
  EXPECT_EQ(utf8, "a\xC3\xA9\xC3\xBF");
  std::string back;
  ASSERT_TRUE(appendUtf8AsLatin1(utf8, back));
  EXPECT_EQ(back, "a\xE9\xFF");
  std::string lost;
  EXPECT_FALSE(appendUtf8AsLatin1("\xE6\x9D\xB1", lost));  // U+6771 has no Latin-1 form
  EXPECT_FALSE(appendUtf8AsLatin1("\xC3", lost));          // truncated sequence
}

TEST(MessageTest, CopyKeepsViewsValid) {
  auto bytes = std::make_unique<std::string>(kAdt);
  Message original = parseOrDie(*bytes);
  Message copy(original);
  Message assigned;
  assigned = original;
  EXPECT_EQ(copy.get("PID-5.1"), "DOE");
  EXPECT_EQ(assigned.get("OBX[3]-5"), "33");
  EXPECT_EQ(copy.raw().data(), bytes->data());  // parse() views, never copies
  original = Message();
  EXPECT_EQ(copy.get("PID-3[2].1"), "B2");
}

TEST(MessageTest, OwnedMessagesCopyAndMoveTheirBytes) {
  auto owned = Message::parseOwned(std::string(kAdt));
  ASSERT_TRUE(owned);
  Message copy(*owned);
  EXPECT_NE(copy.raw().data(), owned->raw().data());
  Message moved(std::move(*owned));
  *owned = Message();  // the moved-from object is reusable
  EXPECT_EQ(moved.get("PID-5.2"), "JOHN");
  EXPECT_EQ(copy.get("PID-5.2"), "JOHN");
  Message assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get("OBX[4]-5"), "44");
  EXPECT_EQ(assigned.rebuildFromIndex(), kAdt);

  // A message that owns its bytes after set() survives its source buffer.
  Message edited;
  {
    std::string temp(kAdt);
    edited = parseOrDie(temp);
    ASSERT_TRUE(edited.set(*Path::parse("PID-5.1"), "ROE"));
  }
  Message edited_copy = edited;
  edited = Message();
  EXPECT_EQ(edited_copy.get("PID-5.1"), "ROE");
  EXPECT_EQ(edited_copy.get("PID-5.2"), "JOHN");
}

TEST(MessageTest, ResetReusesTheObject) {
  std::string first(kAdt);
  std::string second = "MSH|#$%?@|X|Y|Z|W|1||ORU#R01|SECOND|P|2.4\rOBX|1|ST|C||a^b\r";
  std::string bad = "PID|1\r";
  Message m;
  ASSERT_TRUE(m.reset(first));
  EXPECT_EQ(m.controlId(), "CTRL42");
  ASSERT_TRUE(m.reset(second));
  EXPECT_EQ(m.controlId(), "SECOND");
  EXPECT_EQ(m.delimiters().component, '#');
  EXPECT_EQ(m.segmentCount(), 2u);
  EXPECT_EQ(m.get("OBX-5.1"), "a^b");
  EXPECT_EQ(m.get("PID-5"), "");
  EXPECT_FALSE(m.reset(bad));
  ASSERT_TRUE(m.reset(first));
  EXPECT_EQ(m.delimiters().component, '^');
  EXPECT_EQ(m.get("OBX[2]-5"), "22");
  EXPECT_EQ(m.rebuildFromIndex(), first);

  // An owned message reset onto other bytes drops its copy and views them.
  auto owned = Message::parseOwned(std::string(kAdt));
  ASSERT_TRUE(owned);
  ASSERT_TRUE(owned->reset(second));
  EXPECT_EQ(owned->raw().data(), second.data());
  EXPECT_EQ(owned->controlId(), "SECOND");
}

TEST(MessageTest, ResetOntoPartOfItsOwnBytes) {
  // reset() used to free the owned copy whenever the new view did not start at
  // its first byte, even when the view pointed into that copy (use after free).
  std::string two = std::string(kAdt) + "MSH|^~\\&|A|B|C|D|1||ADT^A08|NEXT|P|2.5\rPID|1\r";
  auto m = Message::parseOwned(two);
  ASSERT_TRUE(m);
  std::string_view second = m->raw().substr(std::string_view(kAdt).size());
  ASSERT_TRUE(m->reset(second));
  EXPECT_EQ(m->controlId(), "NEXT");
  EXPECT_EQ(m->rebuildFromIndex(), second);
  Message copy = *m;
  EXPECT_EQ(copy.triggerEvent(), "A08");
}

TEST(MessageTest, SerializeUnmodifiedIsByteForByte) {
  for (const char* name : {"ADT-A01-02.hl7", "single_message.hl7", "CE-20200415-0001.hl7", "escapes.hl7",
                           "omd_o03_rep.txt", "EI-to-Identifier-Extension.hl7"}) {
    SCOPED_TRACE(name);
    std::string bytes = readFixture(name);
    Message m = parseOrDie(bytes);
    EXPECT_EQ(m.serialize(), bytes);
    EXPECT_EQ(m.rebuildFromIndex(), bytes);
  }
}

TEST(MessageTest, RepeatedPid3FromHapi) {
  std::string bytes = readFixture("omd_o03_rep.txt");
  Message m = parseOrDie(bytes);
  EXPECT_EQ(m.messageType(), "OMD");
  auto pid = m.findSegment("PID");
  ASSERT_TRUE(pid.has_value());
  std::string_view pid3 = pid->field(3);
  ASSERT_NE(pid3.find('~'), std::string_view::npos);
  std::string_view second = pid3.substr(pid3.find('~') + 1);
  second = second.substr(0, second.find_first_of("~^"));
  EXPECT_EQ(m.get("PID-3[2].1"), second);
}

}  // namespace
}  // namespace courier::hl7v2
