// MessageHeader: taken from a parsed message, salvaged from broken bytes, and
// validated with table 0357 codes and MSH locations.
#include "engine/hl7v2/header.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "engine/hl7v2/message.h"
#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

const char kMsh[] =
    "MSH|^~\\&|SENDAPP^1.2.3^ISO|SENDFAC|RCVAPP|RCVFAC|20240101120000||ORU^R01^ORU_R01|CTRL7|P^T|2.5.1^HL7|||AL|NE||UNICODE UTF-8~8859/1\r";

TEST(HeaderTest, FromMessage) {
  std::string bytes = std::string(kMsh) + "PID|1\r";
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  MessageHeader h = MessageHeader::fromMessage(*m);
  EXPECT_EQ(h.sending_application, "SENDAPP^1.2.3^ISO");
  EXPECT_EQ(h.sending_facility, "SENDFAC");
  EXPECT_EQ(h.receiving_application, "RCVAPP");
  EXPECT_EQ(h.receiving_facility, "RCVFAC");
  EXPECT_EQ(h.message_type, "ORU");
  EXPECT_EQ(h.trigger_event, "R01");
  EXPECT_EQ(h.message_structure, "ORU_R01");
  EXPECT_EQ(h.control_id, "CTRL7");
  EXPECT_EQ(h.processing_id, "P^T");
  EXPECT_EQ(h.version, "2.5.1");
  EXPECT_EQ(h.accept_ack_type, "AL");
  EXPECT_EQ(h.application_ack_type, "NE");
  EXPECT_EQ(h.charset, "UNICODE UTF-8");
  EXPECT_TRUE(h.enhancedMode());
  EXPECT_FALSE(h.isAck());
  EXPECT_EQ(h.delimiters.component, '^');
  EXPECT_TRUE(validateHeader(h));
}

TEST(HeaderTest, FromMessageNonDefaultDelimiters) {
  std::string bytes = test::readFixture("nondefault_delims.hl7");
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  MessageHeader h = MessageHeader::fromMessage(*m);
  EXPECT_EQ(h.delimiters.field, '#');
  EXPECT_EQ(h.message_type, "ADT");
  EXPECT_EQ(h.trigger_event, "A01");
  EXPECT_EQ(h.message_structure, "ADT_A01");
  EXPECT_EQ(h.control_id, "CTRL0001");
  EXPECT_EQ(h.version, "2.5.1");
  EXPECT_FALSE(h.enhancedMode());
}

TEST(HeaderTest, SalvageFromAMessageThatDoesNotParse) {
  // The PID line has a lower-case id, so the message as a whole is rejected.
  std::string bytes = std::string(kMsh) + "pid|1\r";
  ASSERT_FALSE(Message::parse(bytes));
  MessageHeader h = MessageHeader::salvage(bytes);
  EXPECT_EQ(h.control_id, "CTRL7");
  EXPECT_EQ(h.message_type, "ORU");
  EXPECT_EQ(h.trigger_event, "R01");
  EXPECT_EQ(h.version, "2.5.1");
  EXPECT_EQ(h.sending_application, "SENDAPP^1.2.3^ISO");
}

TEST(HeaderTest, SalvageWithABrokenMsh2) {
  // MSH-2 holds a letter, so the MSH itself does not parse: default delimiters are used.
  std::string bytes = "MSH|^~\\&X|APP|FAC|RAPP|RFAC|20240101||ADT^A04|BROKEN1|P|2.4\rPID|1\r";
  ASSERT_FALSE(Message::parse(bytes));
  MessageHeader h = MessageHeader::salvage(bytes);
  EXPECT_EQ(h.sending_application, "APP");
  EXPECT_EQ(h.receiving_facility, "RFAC");
  EXPECT_EQ(h.message_type, "ADT");
  EXPECT_EQ(h.trigger_event, "A04");
  EXPECT_EQ(h.control_id, "BROKEN1");
  EXPECT_EQ(h.processing_id, "P");
  EXPECT_EQ(h.version, "2.4");
  EXPECT_EQ(h.delimiters.field, '|');
}

TEST(HeaderTest, SalvageFindsTheMshAfterFramingAndGarbage) {
  MessageHeader mllp = MessageHeader::salvage("\x0bMSH|^~\\&|A|B|C|D|1||ADT^A01|M1|P|2.5\r\x1c\r");
  EXPECT_EQ(mllp.control_id, "M1");
  MessageHeader bom = MessageHeader::salvage("\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|1||ADT^A01|B1|P|2.5\r");
  EXPECT_EQ(bom.control_id, "B1");
  MessageHeader later = MessageHeader::salvage("garbage MSH| not here\nMSH|^~\\&|A|B|C|D|1||ADT^A01|L1|P|2.5\r");
  EXPECT_EQ(later.control_id, "L1");
  MessageHeader nondefault = MessageHeader::salvage("MSH#$%?@#A#B#C#D#1##ADT$A01#N1#P#2.5\rpid#x\r");
  EXPECT_EQ(nondefault.control_id, "N1");
  EXPECT_EQ(nondefault.trigger_event, "A01");
  EXPECT_EQ(nondefault.delimiters.field, '#');
}

TEST(HeaderTest, SalvageOfNothingGivesAnEmptyHeader) {
  for (std::string_view bytes : {std::string_view(""), std::string_view("MS"), std::string_view("\x00\xff garbage", 10),
                                 std::string_view("PID|1|2\rOBX|1\r")}) {
    MessageHeader h = MessageHeader::salvage(bytes);
    EXPECT_EQ(h.control_id, "");
    EXPECT_EQ(h.message_type, "");
    EXPECT_EQ(h.delimiters.field, '|');
  }
  MessageHeader bare = MessageHeader::salvage("MSH");
  EXPECT_EQ(bare.control_id, "");
}

TEST(HeaderTest, SalvageControlIdIsTheControlIdSalvageReads) {
  // Every fixture (tests/data/hl7v2): the quick read agrees with the whole header.
  int compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::fixtureDir())) {
    if (entry.path().extension() != ".hl7") continue;
    const std::string bytes = test::readBytes(entry.path());
    if (!Message::parse(bytes)) continue;
    EXPECT_EQ(MessageHeader::salvageControlId(bytes), MessageHeader::salvage(bytes).control_id) << entry.path();
    ++compared;
  }
  EXPECT_GT(compared, 10);
  // Framing, a BOM, a later line, another separator, a field that is not there.
  EXPECT_EQ(MessageHeader::salvageControlId("\x0bMSH|^~\\&|A|B|C|D|1||ADT^A01|M1|P|2.5\r\x1c\r"), "M1");
  EXPECT_EQ(MessageHeader::salvageControlId("\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|1||ADT^A01|B1|P|2.5\r"), "B1");
  EXPECT_EQ(MessageHeader::salvageControlId("garbage MSH| not here\nMSH|^~\\&|A|B|C|D|1||ADT^A01|L1|P|2.5\r"), "L1");
  EXPECT_EQ(MessageHeader::salvageControlId("MSH#$%?@#A#B#C#D#1##ADT$A01#N1#P#2.5\rpid#x\r"), "N1");
  EXPECT_EQ(MessageHeader::salvageControlId("MSH|^~\\&X|APP|FAC|RAPP|RFAC|20240101||ADT^A04|BROKEN1|P|2.4\r"),
            "BROKEN1");
  EXPECT_EQ(MessageHeader::salvageControlId("MSH|^~\\&|A|B|C|D|1||ADT^A01\r"), "");
  for (std::string_view bytes : {std::string_view(""), std::string_view("MSH"), std::string_view("PID|1|2\r")}) {
    EXPECT_EQ(MessageHeader::salvageControlId(bytes), "");
  }
}

TEST(HeaderTest, RawFieldIsTheFieldAsWrittenOrNothingWithoutAnMshLine) {
  // MSH-16: asked for, empty, past the line's end; no MSH line at all.
  EXPECT_EQ(MessageHeader::rawField("MSH|^~\\&|A|B|C|D|1||ADT^A01|M1|P|2.5|||AL|AL\rPID|1\r", 16), "AL");
  EXPECT_EQ(MessageHeader::rawField("MSH|^~\\&|A|B|C|D|1||ADT^A01|M1|P|2.5|||AL||8859/1\r", 16), "");
  EXPECT_EQ(MessageHeader::rawField("MSH|^~\\&|A|B|C|D|1||ADT^A01|M1|P|2.5\rPID|1|||||||||||||||||X\r", 16), "");
  EXPECT_EQ(MessageHeader::rawField("MSH#$%?@#A#B#C#D#1##ADT$A01#N1#P#2.5###AL#NE\r", 16), "NE");
  EXPECT_EQ(MessageHeader::rawField("MSH|^~\\&|A|B|C|D|1||ADT^A01^ADT_A01|M1|P|2.5\r", 9), "ADT^A01^ADT_A01");
  EXPECT_EQ(MessageHeader::rawField("{\"resourceType\":\"Bundle\"}", 16), std::nullopt);
  EXPECT_EQ(MessageHeader::rawField("", 10), std::nullopt);
}

MessageHeader validHeader() {
  MessageHeader h;
  h.message_type = "ADT";
  h.trigger_event = "A01";
  h.control_id = "C1";
  h.processing_id = "P";
  h.version = "2.5.1";
  return h;
}

void expectInvalid(const MessageHeader& h, ErrorCondition condition, int field, int component) {
  auto r = validateHeader(h);
  ASSERT_FALSE(r);
  const ParseError& e = r.error();
  EXPECT_EQ(e.condition, condition);
  EXPECT_EQ(e.location.segment, "MSH");
  EXPECT_EQ(e.location.segment_seq, 1);
  EXPECT_EQ(e.location.field, field);
  EXPECT_EQ(e.location.component, component);
  EXPECT_FALSE(e.message.empty());
}

TEST(HeaderTest, ValidateHeaderRequiredFields) {
  EXPECT_TRUE(validateHeader(validHeader()));

  MessageHeader h = validHeader();
  h.message_type.clear();
  expectInvalid(h, ErrorCondition::kRequiredFieldMissing, 9, 1);
  h = validHeader();
  h.trigger_event.clear();
  expectInvalid(h, ErrorCondition::kRequiredFieldMissing, 9, 2);
  h = validHeader();
  h.control_id.clear();
  expectInvalid(h, ErrorCondition::kRequiredFieldMissing, 10, 0);
  h = validHeader();
  h.processing_id.clear();
  expectInvalid(h, ErrorCondition::kRequiredFieldMissing, 11, 0);
  h = validHeader();
  h.version.clear();
  expectInvalid(h, ErrorCondition::kRequiredFieldMissing, 12, 0);

  h = validHeader();
  h.message_type = "ACK";
  h.trigger_event.clear();  // an ACK may come without a trigger (v2.1 style)
  EXPECT_TRUE(validateHeader(h));
}

TEST(HeaderTest, ValidateHeaderVersions) {
  for (const char* ok : {"2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"}) {
    MessageHeader h = validHeader();
    h.version = ok;
    EXPECT_TRUE(validateHeader(h)) << ok;
  }
  for (const char* bad : {"3.0", "2", "2.", "2.0", "1.0", "V2.5", "2.5.", "25", "2,5", "x"}) {
    SCOPED_TRACE(bad);
    MessageHeader h = validHeader();
    h.version = bad;
    expectInvalid(h, ErrorCondition::kUnsupportedVersion, 12, 0);
  }
}

TEST(HeaderTest, LocationAsPath) {
  ErrorLocation l;
  EXPECT_EQ(l.toPath(), "");
  l.segment = "PID";
  l.segment_seq = 1;
  l.field = 3;
  EXPECT_EQ(l.toPath(), "PID-3");
  l.segment_seq = 2;
  l.repetition = 2;
  l.component = 1;
  l.subcomponent = 4;
  EXPECT_EQ(l.toPath(), "PID[2]-3[2].1.4");
  ParseError e{ErrorCondition::kRequiredFieldMissing, "missing", l};
  Error err = e.toError();
  EXPECT_EQ(err.code, ErrorCode::kParse);
  EXPECT_EQ(err.location, "PID[2]-3[2].1.4");
  EXPECT_NE(err.message.find("101"), std::string::npos);
  EXPECT_STREQ(conditionText(ErrorCondition::kUnsupportedVersion), "Unsupported version id");
}

}  // namespace
}  // namespace courier::hl7v2
