// Message::set / setRaw: only the addressed value changes; every other byte
// stays as it was received.
#include <gtest/gtest.h>

#include <string>

#include "engine/hl7v2/message.h"
#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

const std::string kMsh = "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|W1|P|2.5.1\r";
const std::string kPid = "PID|1||A1^^^H&1.2&ISO^MR~B2||DOE^JOHN\r";
const std::string kObx = "OBX|1|ST|C^c||old\r";
const std::string kBase = kMsh + kPid + kObx;

Path path(const char* text) {
  auto p = Path::parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p ? *p : Path{};
}

// Applies one set() to kBase-like bytes and checks the exact result.
void expectSet(const std::string& before, const char* where, std::string_view value, const std::string& after) {
  SCOPED_TRACE(where);
  auto m = Message::parse(before);
  ASSERT_TRUE(m);
  auto r = m->set(path(where), value);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(m->serialize(), after);
  EXPECT_EQ(m->rebuildFromIndex(), after);
  EXPECT_EQ(m->get(path(where)), value);
}

TEST(WriteTest, ReplacesAnExistingValue) {
  expectSet(kBase, "PID-5.1", "ROE", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||ROE^JOHN\r" + kObx);
  expectSet(kBase, "PID-5", "ROE", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||ROE\r" + kObx);
  expectSet(kBase, "PID-3[2]", "C3", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~C3||DOE^JOHN\r" + kObx);
  expectSet(kBase, "PID-3.4.2", "9.9", kMsh + "PID|1||A1^^^H&9.9&ISO^MR~B2||DOE^JOHN\r" + kObx);
  expectSet(kBase, "OBX-5", "new", kMsh + kPid + "OBX|1|ST|C^c||new\r");
  expectSet(kBase, "OBX-5", "", kMsh + kPid + "OBX|1|ST|C^c||\r");
  expectSet(kBase, "MSH-10", "W2", "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|W2|P|2.5.1\r" + kPid + kObx);
  expectSet(kBase, "MSH-3", "NEWAPP", "MSH|^~\\&|NEWAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|W1|P|2.5.1\r" + kPid + kObx);
}

TEST(WriteTest, CreatesMissingFieldRepetitionComponentSubcomponent) {
  expectSet(kBase, "PID-8", "F", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||DOE^JOHN|||F\r" + kObx);
  expectSet(kBase, "PID-3[4].1", "D4", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2~~D4||DOE^JOHN\r" + kObx);
  expectSet(kBase, "PID-5.4", "JR", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||DOE^JOHN^^JR\r" + kObx);
  expectSet(kBase, "PID-3.4.5", "X", kMsh + "PID|1||A1^^^H&1.2&ISO&&X^MR~B2||DOE^JOHN\r" + kObx);
  expectSet(kBase, "PID-2.2.3", "Z", kMsh + "PID|1|^&&Z|A1^^^H&1.2&ISO^MR~B2||DOE^JOHN\r" + kObx);
  expectSet(kBase, "PID-9[2].3.2", "Q", kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||DOE^JOHN||||~^^&Q\r" + kObx);
  expectSet(kBase, "MSH-13", "7", "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|W1|P|2.5.1|7\r" + kPid + kObx);
}

TEST(WriteTest, CreatesANewSegmentAsTheNextOccurrence) {
  expectSet(kBase, "ZZZ-2", "v", kBase + "ZZZ||v\r");
  expectSet(kBase, "OBX[2]-5", "second", kBase + "OBX|||||second\r");
  expectSet(kBase, "NTE-3[2].2", "x", kBase + "NTE|||~^x\r");

  auto m = Message::parse(kBase);
  ASSERT_TRUE(m);
  auto r = m->set(path("OBX[3]-5"), "gap");  // OBX[2] does not exist yet
  EXPECT_FALSE(r);
  if (!r) {
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(m->serialize(), kBase);
}

TEST(WriteTest, NewSegmentUsesTheMessagesTerminator) {
  std::string lf = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\nPID|1\n";
  expectSet(lf, "ZZZ-1", "v", lf + "ZZZ|v\n");
  std::string crlf = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r\nPID|1\r\n";
  expectSet(crlf, "ZZZ-1", "v", crlf + "ZZZ|v\r\n");
  std::string unterminated = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1";
  expectSet(unterminated, "ZZZ-1", "v", unterminated + "\rZZZ|v");
}

TEST(WriteTest, NewSegmentGoesBeforeTrailingWhitespace) {
  std::string bytes = test::readFixture("trailing_whitespace.hl7");
  // The PID ends with "   \r\n"; what follows is blank lines and whitespace.
  size_t pid_end = bytes.find("TEST   \r\n") + std::string("TEST   \r\n").size();
  std::string expected = bytes.substr(0, pid_end) + "ZZZ|v\r" + bytes.substr(pid_end);
  expectSet(bytes, "ZZZ-1", "v", expected);
}

TEST(WriteTest, NewSegmentAfterEmptyLines) {
  std::string bytes = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1\r\r\r";
  expectSet(bytes, "ZZZ-1", "v", "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1\rZZZ|v\r\r\r");
}

TEST(WriteTest, ValuesAreEscaped) {
  expectSet(kBase, "OBX-5", "a|b^c&d~e\\f\nnext",
            kMsh + kPid + "OBX|1|ST|C^c||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\next\r");
}

TEST(WriteTest, SetRawWritesEncodedBytes) {
  auto m = Message::parse(kBase);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->setRaw(path("PID-5"), "SMITH^ANNA^\\T\\"));
  EXPECT_EQ(m->serialize(), kMsh + "PID|1||A1^^^H&1.2&ISO^MR~B2||SMITH^ANNA^\\T\\\r" + kObx);
  EXPECT_EQ(m->get("PID-5.2"), "ANNA");
  EXPECT_EQ(m->get("PID-5.3"), "&");
  // Raw bytes that would break the message are refused and change nothing.
  std::string before = m->serialize();
  auto bad = m->setRaw(path("PID-5"), "x\rpid|broken");
  EXPECT_FALSE(bad);
  EXPECT_EQ(m->serialize(), before);
}

TEST(WriteTest, Msh1AndMsh2CannotBeChanged) {
  auto m = Message::parse(kBase);
  ASSERT_TRUE(m);
  for (const char* where : {"MSH-1", "MSH-2", "MSH-2.1"}) {
    SCOPED_TRACE(where);
    auto r = m->set(path(where), "#");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
    EXPECT_FALSE(m->setRaw(path(where), "$%"));
  }
  EXPECT_EQ(m->serialize(), kBase);
}

TEST(WriteTest, NonDefaultDelimitersAreUsedForEscapingAndCreation) {
  std::string bytes = test::readFixture("nondefault_delims.hl7");
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->set(path("PID-5.4"), "a#b$c"));
  EXPECT_EQ(m->get("PID-5.4"), "a#b$c");
  std::string out = m->serialize();
  EXPECT_NE(out.find("DOE$JANE$Q$a?F?b?S?c#"), std::string::npos) << out;
  EXPECT_EQ(out.size(), bytes.size() + std::string("$a?F?b?S?c").size());
}

TEST(WriteTest, Latin1MessagesAreWrittenInLatin1) {
  std::string bytes = test::readFixture("latin1.hl7");
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->set(path("PID-5.2"), "J\xC3\xBCrgen"));  // UTF-8 in
  EXPECT_EQ(m->rawValue(path("PID-5.2")), "J\xFCrgen");     // 8859/1 on the wire
  EXPECT_EQ(m->get("PID-5.2"), "J\xC3\xBCrgen");
  EXPECT_EQ(m->get("PID-5.1"), "M\xC3\xBCller");
  // A character 8859/1 cannot hold is refused, nothing is dropped or changed.
  std::string before = m->serialize();
  auto r = m->set(path("PID-5.2"), "\xE6\x9D\xB1");
  EXPECT_FALSE(r);
  EXPECT_EQ(m->serialize(), before);
}

TEST(WriteTest, WritingMakesTheMessageOwnItsBytes) {
  Message m;
  {
    std::string temp = kBase;
    auto parsed = Message::parse(temp);
    ASSERT_TRUE(parsed);
    m = std::move(*parsed);
    ASSERT_TRUE(m.set(path("OBX-5"), "kept"));
    temp.assign(temp.size(), 'x');  // scribble over the source
  }
  EXPECT_EQ(m.get("OBX-5"), "kept");
  EXPECT_EQ(m.get("PID-5.2"), "JOHN");
  EXPECT_EQ(m.serialize(), kMsh + kPid + "OBX|1|ST|C^c||kept\r");
}

TEST(WriteTest, ManyWritesKeepEverythingElse) {
  auto m = Message::parse(kBase);
  ASSERT_TRUE(m);
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(m->set(path("OBX-5"), std::to_string(i)));
    ASSERT_EQ(m->get("PID-3[2]"), "B2");
  }
  EXPECT_EQ(m->serialize(), kMsh + kPid + "OBX|1|ST|C^c||20\r");
}

TEST(WriteTest, DelimiterInAValueWithoutAnEscapeCharacterIsRefused) {
  // MSH-2 "^~" declares no escape character: a '^' in a value cannot be written faithfully.
  std::string bytes = "MSH|^~|A|B|C|D|1||ADT^A01|1|P|2.3\rPID|1||X\r";
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->set(path("PID-3"), "a^b"));
  EXPECT_FALSE(m->set(path("PID-3"), "a\nb"));
  EXPECT_EQ(m->serialize(), bytes);
  ASSERT_TRUE(m->set(path("PID-3"), "C:\\dir"));  // a backslash is plain text here
  EXPECT_EQ(m->get("PID-3"), "C:\\dir");
  EXPECT_EQ(m->serialize(), "MSH|^~|A|B|C|D|1||ADT^A01|1|P|2.3\rPID|1||C:\\dir\r");
}

}  // namespace
}  // namespace courier::hl7v2
