// AckBuilder: original and enhanced modes, MSH-15 rules, header swapping,
// control ids, and the ERR segment in its v2.5 and v2.3 forms.
#include "engine/hl7v2/ack_builder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/hl7v2/message.h"

namespace courier::hl7v2 {
namespace {

// 2024-03-05 06:07:08 UTC
FakeClock& fixedClock() {
  static FakeClock clock(Clock::SystemTime(std::chrono::seconds(1709618828)));
  return clock;
}

MessageHeader header(const std::string& version = "2.5.1", const std::string& msh15 = "",
                     const std::string& msh16 = "") {
  std::string bytes = "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01^ADT_A01|ORIG1|P|" + version +
                      "|||" + msh15 + "|" + msh16 + "\rPID|1\r";
  auto m = Message::parse(bytes);
  EXPECT_TRUE(m);
  return MessageHeader::fromMessage(*m);
}

// The ACK must itself be a well-formed message; parse it (owning its bytes).
Message parseAck(const std::optional<std::string>& ack) {
  EXPECT_TRUE(ack.has_value());
  if (!ack) return Message();
  auto m = Message::parseOwned(*ack);
  EXPECT_TRUE(m) << (m ? "" : m.error().message);
  return m ? std::move(*m) : Message();
}

TEST(AckBuilderTest, OriginalModeCodes) {
  AckBuilder builder("T", fixedClock());
  MessageHeader h = header();
  EXPECT_FALSE(h.enhancedMode());
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kAccept)).get("MSA-1"), "AA");
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kError)).get("MSA-1"), "AE");
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kReject)).get("MSA-1"), "AR");
  EXPECT_EQ(ackCode(h, AckOutcome::kAccept), "AA");
}

TEST(AckBuilderTest, EnhancedModeCodes) {
  AckBuilder builder("T", fixedClock());
  MessageHeader h = header("2.5.1", "AL", "NE");
  EXPECT_TRUE(h.enhancedMode());
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kAccept)).get("MSA-1"), "CA");
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kError)).get("MSA-1"), "CE");
  EXPECT_EQ(parseAck(builder.build(h, AckOutcome::kReject)).get("MSA-1"), "CR");
  // MSH-16 alone also selects enhanced mode.
  MessageHeader only16 = header("2.5.1", "", "AL");
  EXPECT_EQ(parseAck(builder.build(only16, AckOutcome::kAccept)).get("MSA-1"), "CA");
}

TEST(AckBuilderTest, Msh15DecidesWhetherToAcknowledge) {
  AckBuilder builder("T", fixedClock());
  struct Case {
    const char* msh15;
    bool accept, error, reject;
  } cases[] = {
      {"AL", true, true, true},
      {"NE", false, false, false},
      {"ER", false, true, true},
      {"SU", true, false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.msh15);
    MessageHeader h = header("2.5.1", c.msh15, "");
    EXPECT_EQ(builder.build(h, AckOutcome::kAccept).has_value(), c.accept);
    EXPECT_EQ(builder.build(h, AckOutcome::kError).has_value(), c.error);
    EXPECT_EQ(builder.build(h, AckOutcome::kReject).has_value(), c.reject);
  }
}

TEST(AckBuilderTest, HeaderOfTheAck) {
  AckBuilder builder("NODE", fixedClock());
  Message ack = parseAck(builder.build(header(), AckOutcome::kAccept));
  EXPECT_EQ(ack.get("MSH-2"), "^~\\&");
  EXPECT_EQ(ack.get("MSH-3"), "RCVAPP");  // sender and receiver swapped
  EXPECT_EQ(ack.get("MSH-4"), "RCVFAC");
  EXPECT_EQ(ack.get("MSH-5"), "SENDAPP");
  EXPECT_EQ(ack.get("MSH-6"), "SENDFAC");
  EXPECT_EQ(ack.get("MSH-7"), "20240305060708+0000");
  EXPECT_EQ(ack.get("MSH-9"), "ACK^A01^ACK");
  EXPECT_EQ(ack.get("MSH-11"), "P");
  EXPECT_EQ(ack.get("MSH-12"), "2.5.1");
  EXPECT_EQ(ack.get("MSA-2"), "ORIG1");
  EXPECT_EQ(ack.get("MSH-10").rfind("NODE", 0), 0u);
  EXPECT_NE(ack.get("MSH-10"), "ORIG1");
  EXPECT_EQ(ack.segmentCount(), 2u);
  EXPECT_EQ(ack.raw().back(), '\r');
  EXPECT_TRUE(validateHeader(MessageHeader::fromMessage(ack)));
}

TEST(AckBuilderTest, CopiesProcessingIdVersionAndCharset) {
  std::string bytes =
      "MSH|^~\\&|A|B|C|D|1||ORU^R01|X9|T^A|2.4|||||DEU|8859/1\rPID|1\r";
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  AckBuilder builder("T", fixedClock());
  Message ack = parseAck(builder.build(MessageHeader::fromMessage(*m), AckOutcome::kAccept));
  EXPECT_EQ(ack.get("MSH-11"), "T^A");
  EXPECT_EQ(ack.get("MSH-12"), "2.4");
  EXPECT_EQ(ack.get("MSH-18"), "8859/1");
  EXPECT_EQ(ack.charset(), Charset::kLatin1);
  EXPECT_EQ(ack.get("MSH-9.1"), "ACK");
  EXPECT_EQ(ack.get("MSH-9.2"), "R01");
}

TEST(AckBuilderTest, UsesTheOriginalsDelimiters) {
  std::string bytes = "MSH#$%?@#A#B#C#D#1##ADT$A04#N1#P#2.5.1\rPID#1\r";
  auto m = Message::parse(bytes);
  ASSERT_TRUE(m);
  AckBuilder builder("T", fixedClock());
  std::vector<AckError> errors = {{ErrorCondition::kDataType, "bad # value $ here", {"PID", 1, 3, 1, 2, 0}, 'E'}};
  auto text = builder.build(MessageHeader::fromMessage(*m), AckOutcome::kReject, errors);
  ASSERT_TRUE(text);
  EXPECT_EQ(text->rfind("MSH#$%?@#", 0), 0u) << *text;
  Message ack = parseAck(text);
  EXPECT_EQ(ack.delimiters().component, '$');
  EXPECT_EQ(ack.get("MSH-9"), "ACK$A04$ACK");
  EXPECT_EQ(ack.get("MSA-1"), "AR");
  EXPECT_EQ(ack.get("MSA-2"), "N1");
  EXPECT_EQ(ack.get("ERR-2"), "PID$1$3$1$2");
  EXPECT_EQ(ack.get("ERR-3.1"), "102");
  EXPECT_EQ(ack.get("ERR-8"), "bad # value $ here");
}

TEST(AckBuilderTest, ControlIdsAreUnique) {
  AckBuilder builder("T", fixedClock());
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(builder.nextControlId());
  EXPECT_EQ(ids.size(), 1000u);
  std::string a = parseAck(builder.build(header(), AckOutcome::kAccept)).get("MSH-10");
  std::string b = parseAck(builder.build(header(), AckOutcome::kAccept)).get("MSH-10");
  EXPECT_NE(a, b);
  EXPECT_EQ(ids.count(a), 0u);
  EXPECT_LE(a.size(), 20u);  // MSH-10 is ST(20) up to v2.6
}

TEST(AckBuilderTest, ControlIdsAreUniqueAcrossThreads) {
  AckBuilder builder("T", fixedClock());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      MessageHeader h = header();
      for (int i = 0; i < kPerThread; ++i) {
        if (i % 4 == 0) {
          auto ack = builder.build(h, AckOutcome::kAccept);
          auto m = Message::parse(*ack);
          seen[t].push_back(std::string(m->controlId()));
        } else {
          seen[t].push_back(builder.nextControlId());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : seen) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(AckBuilderTest, ControlIdsAreUniqueAcrossBuilders) {
  // The header promises ids unique within the process: two builders with the
  // same prefix, made in the same second, must not repeat each other.
  AckBuilder first("T", fixedClock());
  AckBuilder second("T", fixedClock());
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ids.insert(first.nextControlId());
    ids.insert(second.nextControlId());
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(AckBuilderTest, NeverAcknowledgesAnAck) {
  AckBuilder builder("T", fixedClock());
  auto m = Message::parse("MSH|^~\\&|A|B|C|D|1||ACK^A01^ACK|A1|P|2.5.1\rMSA|AA|X\r");
  ASSERT_TRUE(m);
  MessageHeader h = MessageHeader::fromMessage(*m);
  EXPECT_TRUE(h.isAck());
  for (auto outcome : {AckOutcome::kAccept, AckOutcome::kError, AckOutcome::kReject})
    EXPECT_FALSE(builder.build(h, outcome).has_value());
  auto old = Message::parse("MSH|^~\\&|A|B|C|D|1||ACK|A2|P|2.1\rMSA|AA|X\r");
  ASSERT_TRUE(old);
  EXPECT_FALSE(builder.build(MessageHeader::fromMessage(*old), AckOutcome::kAccept).has_value());
  // An ACK's own ACK output is never acknowledged either.
  auto ack = builder.build(header(), AckOutcome::kAccept);
  auto parsed = Message::parse(*ack);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(builder.build(MessageHeader::fromMessage(*parsed), AckOutcome::kAccept).has_value());
}

TEST(AckBuilderTest, ErrSegmentV25) {
  AckBuilder builder("T", fixedClock());
  std::vector<AckError> errors = {
      {ErrorCondition::kRequiredFieldMissing, "PID-3 is empty", {"PID", 1, 3, 0, 0, 0}, 'E'},
      {ErrorCondition::kUnsupportedVersion, "version", {"MSH", 1, 12, 0, 0, 0}, 'W'},
      {ErrorCondition::kApplicationError, "storage unavailable", {}, 'E'},
      {ErrorCondition::kDataType, "bad", {"OBX", 2, 5, 3, 1, 2}, 'I'},
  };
  Message ack = parseAck(builder.build(header("2.5"), AckOutcome::kError, errors));
  EXPECT_EQ(ack.get("MSA-1"), "AE");
  EXPECT_EQ(ack.get("MSA-2"), "ORIG1");
  ASSERT_EQ(ack.countSegments("ERR"), 4);
  EXPECT_EQ(ack.get("ERR-1"), "");
  EXPECT_EQ(ack.get("ERR-2"), "PID^1^3^1");
  EXPECT_EQ(ack.get("ERR-2.1"), "PID");
  EXPECT_EQ(ack.get("ERR-2.3"), "3");
  EXPECT_EQ(ack.get("ERR-3"), "101^Required field missing^HL70357");
  EXPECT_EQ(ack.get("ERR-4"), "E");
  EXPECT_EQ(ack.get("ERR-8"), "PID-3 is empty");
  EXPECT_EQ(ack.get("ERR[2]-2"), "MSH^1^12^1");
  EXPECT_EQ(ack.get("ERR[2]-3.1"), "203");
  EXPECT_EQ(ack.get("ERR[2]-4"), "W");
  EXPECT_EQ(ack.get("ERR[3]-2"), "");
  EXPECT_EQ(ack.get("ERR[3]-3.1"), "207");
  EXPECT_EQ(ack.get("ERR[3]-3.2"), "Application internal error");
  EXPECT_EQ(ack.get("ERR[3]-8"), "storage unavailable");
  EXPECT_EQ(ack.get("ERR[4]-2"), "OBX^2^5^3^1^2");
  EXPECT_EQ(ack.get("ERR[4]-4"), "I");
}

TEST(AckBuilderTest, ErrSegmentV23Form) {
  AckBuilder builder("T", fixedClock());
  std::vector<AckError> errors = {
      {ErrorCondition::kRequiredFieldMissing, "PID-3 is empty", {"PID", 1, 3, 0, 0, 0}, 'E'},
      {ErrorCondition::kSegmentSequence, "second", {"OBX", 2, 0, 0, 0, 0}, 'E'},
  };
  Message ack = parseAck(builder.build(header("2.3"), AckOutcome::kReject, errors));
  EXPECT_EQ(ack.get("MSA-1"), "AR");
  EXPECT_EQ(ack.get("MSA-3"), "PID-3 is empty");
  ASSERT_EQ(ack.countSegments("ERR"), 1);
  EXPECT_EQ(ack.get("ERR-1"), "PID^1^3^101&Required field missing&HL70357");
  EXPECT_EQ(ack.get("ERR-1.4.1"), "101");
  EXPECT_EQ(ack.get("ERR-1[2]"), "OBX^2^^100&Segment sequence error&HL70357");
  EXPECT_EQ(ack.get("ERR-2"), "");
  // v2.4 is also before ERR-2..8 existed.
  Message v24 = parseAck(builder.build(header("2.4"), AckOutcome::kError, errors));
  EXPECT_EQ(v24.get("ERR-1.4.1"), "101");
}

TEST(AckBuilderTest, OldVersionsUseTwoPartMessageType) {
  AckBuilder builder("T", fixedClock());
  Message v23 = parseAck(builder.build(header("2.3"), AckOutcome::kAccept));
  EXPECT_EQ(v23.get("MSH-9.1"), "ACK");
  EXPECT_EQ(v23.get("MSH-9.2"), "A01");
  Message v231 = parseAck(builder.build(header("2.3.1"), AckOutcome::kAccept));
  EXPECT_EQ(v231.get("MSH-9"), "ACK^A01^ACK");
}

TEST(AckBuilderTest, ErrTextIsEscaped) {
  AckBuilder builder("T", fixedClock());
  std::string nasty = "bad|field^comp~rep&sub\\esc\rnew\nline";
  std::vector<AckError> errors = {{ErrorCondition::kDataType, nasty, {"PID", 1, 7, 0, 0, 0}, 'E'}};
  auto text = builder.build(header("2.5.1"), AckOutcome::kError, errors);
  ASSERT_TRUE(text);
  Message ack = parseAck(text);
  ASSERT_EQ(ack.segmentCount(), 3u);  // nothing in the text split a segment
  EXPECT_EQ(ack.get("ERR-8"), nasty);
  EXPECT_EQ(ack.segment(2).fieldCount(), 8);

  Message old = parseAck(builder.build(header("2.3"), AckOutcome::kError, errors));
  ASSERT_EQ(old.segmentCount(), 3u);
  EXPECT_EQ(old.get("MSA-3"), nasty);
}

TEST(AckBuilderTest, AckErrorFromParseError) {
  auto parsed = Message::parse("MSH||");
  ASSERT_FALSE(parsed);
  AckError e = AckError::from(parsed.error());
  EXPECT_EQ(e.condition, ErrorCondition::kRequiredFieldMissing);
  EXPECT_EQ(e.location.segment, "MSH");
  EXPECT_EQ(e.location.field, 2);
  EXPECT_EQ(e.severity, 'E');

  // A NAK for bytes that did not parse, from the salvaged header.
  std::string bytes = "MSH|^~\\&|A|B|C|D|1||ORU^R01|BAD1|P|2.5.1\rpid|1\r";
  auto failed = Message::parse(bytes);
  ASSERT_FALSE(failed);
  AckBuilder builder("T", fixedClock());
  std::vector<AckError> errors = {AckError::from(failed.error())};
  Message nak = parseAck(builder.build(MessageHeader::salvage(bytes), AckOutcome::kReject, errors));
  EXPECT_EQ(nak.get("MSA-1"), "AR");
  EXPECT_EQ(nak.get("MSA-2"), "BAD1");
  EXPECT_EQ(nak.get("ERR-3.1"), "100");
}

TEST(AckBuilderTest, AbsurdVersionsDoNotOverflow) {
  // Found by hl7v2_parse_fuzz: the version was read with sscanf("%d"), which is
  // undefined on out-of-range numbers (UBSan: signed overflow).
  AckBuilder builder("T", fixedClock());
  std::vector<AckError> errors = {{ErrorCondition::kUnsupportedVersion, "version", {"MSH", 1, 12, 0, 0, 0}, 'E'}};
  for (const char* version : {"99999999999999999999.5", "2.99999999999999999999", "2.5.99999999999", "-2147483648.1"}) {
    SCOPED_TRACE(version);
    MessageHeader h = header();
    h.version = version;
    Message ack = parseAck(builder.build(h, AckOutcome::kReject, errors));
    EXPECT_EQ(ack.get("MSH-12"), version);
    EXPECT_EQ(ack.countSegments("ERR"), 1);
  }
}

TEST(AckBuilderTest, AckForAnEmptyHeaderIsStillWellFormed) {
  AckBuilder builder("T", fixedClock());
  MessageHeader nothing = MessageHeader::salvage("garbage");
  std::vector<AckError> errors = {{ErrorCondition::kSegmentSequence, "no MSH", {}, 'E'}};
  Message nak = parseAck(builder.build(nothing, AckOutcome::kReject, errors));
  EXPECT_EQ(nak.get("MSA-1"), "AR");
  EXPECT_EQ(nak.get("MSH-9.1"), "ACK");
  EXPECT_EQ(nak.get("ERR-3.1"), "100");
}

// MSH-16: the application acknowledgement after processing, AA / AE / AR as MSH-16 asks.
TEST(AckBuilderTest, ApplicationAckFollowsMsh16) {
  AckBuilder builder("T", fixedClock());
  const MessageHeader al = header("2.5.1", "AL", "AL");
  Message ack = parseAck(builder.buildApplication(al, AckOutcome::kAccept));
  EXPECT_EQ(ack.get("MSA-1"), "AA") << "an application ack uses the original codes, not CA";
  EXPECT_EQ(ack.get("MSA-2"), "ORIG1");
  EXPECT_EQ(ack.get("MSH-9.1"), "ACK");
  EXPECT_EQ(ack.get("MSH-5"), "SENDAPP") << "it goes back to the sender";
  EXPECT_EQ(ack.get("MSH-15"), "AL") << "a message of its own: the sender commits it";
  EXPECT_EQ(ack.get("MSH-16"), "NE") << "and never answers it with an application ack";
  EXPECT_EQ(parseAck(builder.buildApplication(al, AckOutcome::kReject)).get("MSA-1"), "AR");
  EXPECT_EQ(parseAck(builder.buildApplication(al, AckOutcome::kError)).get("MSA-1"), "AE");

  const MessageHeader er = header("2.5.1", "AL", "ER");
  EXPECT_FALSE(builder.buildApplication(er, AckOutcome::kAccept)) << "ER: only on error";
  EXPECT_TRUE(builder.buildApplication(er, AckOutcome::kReject));
  const MessageHeader su = header("2.5.1", "AL", "SU");
  EXPECT_TRUE(builder.buildApplication(su, AckOutcome::kAccept));
  EXPECT_FALSE(builder.buildApplication(su, AckOutcome::kReject)) << "SU: only on success";
  EXPECT_FALSE(builder.buildApplication(header("2.5.1", "AL", "NE"), AckOutcome::kAccept));
  EXPECT_FALSE(builder.buildApplication(header("2.5.1", "AL", ""), AckOutcome::kAccept)) << "none asked for";
  EXPECT_FALSE(builder.buildApplication(header(), AckOutcome::kAccept)) << "original mode: the AA was the answer";
}

TEST(AckBuilderTest, ApplicationAckCarriesTheErrorAndTheCharset) {
  AckBuilder builder("T", fixedClock());
  auto m = Message::parse(
      "MSH|^~\\&|SENDAPP|SENDFAC|RCVAPP|RCVFAC|20240101120000||ADT^A01|C9|P|2.5.1|||AL|AL||UNICODE UTF-8\rPID|1\r");
  ASSERT_TRUE(m);
  MessageHeader h = MessageHeader::fromMessage(*m);
  AckError e{ErrorCondition::kApplicationError, "PID-7: not a date", {}, 'E'};
  Message ack = parseAck(builder.buildApplication(h, AckOutcome::kReject, std::span(&e, 1)));
  EXPECT_EQ(ack.get("MSA-1"), "AR");
  EXPECT_EQ(ack.get("MSH-18"), "UNICODE UTF-8");
  EXPECT_EQ(ack.get("MSH-15"), "AL");
  EXPECT_EQ(ack.get("ERR-3.1"), "207");
  EXPECT_EQ(ack.get("ERR-8"), "PID-7: not a date");
  // The commit ACK of the same message is unchanged by all this.
  Message commit = parseAck(builder.build(h, AckOutcome::kAccept));
  EXPECT_EQ(commit.get("MSA-1"), "CA");
  EXPECT_EQ(commit.get("MSH-15"), "");
  EXPECT_EQ(commit.get("MSH-18"), "UNICODE UTF-8");
}

}  // namespace
}  // namespace courier::hl7v2
