// Malformed input: truncated, garbage and huge messages never crash and come
// back as a ParseError with its table 0357 condition and location.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/hl7v2/ack_builder.h"
#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"
#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

struct Bad {
  std::string bytes;
  ErrorCondition condition;
  const char* segment;  // expected location.segment
  int field;            // expected location.field
};

TEST(MalformedTest, KnownBadInputsReturnConditionAndLocation) {
  const Bad cases[] = {
      {"", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"M", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"MSH", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"PID|1|2\r", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"msh|^~\\&|\r", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"\r\n\r\n", ErrorCondition::kSegmentSequence, "MSH", 0},
      {"MSHX^~\\&\r", ErrorCondition::kDataType, "MSH", 1},
      {"MSH ^~\\&\r", ErrorCondition::kDataType, "MSH", 1},
      {std::string("MSH\0^~\\&\r", 9), ErrorCondition::kDataType, "MSH", 1},
      {"MSH|\r", ErrorCondition::kRequiredFieldMissing, "MSH", 2},
      {"MSH||A|B\r", ErrorCondition::kRequiredFieldMissing, "MSH", 2},
      {"MSH|", ErrorCondition::kRequiredFieldMissing, "MSH", 2},
      {"MSH|^~\\&A|\r", ErrorCondition::kDataType, "MSH", 2},
      {"MSH|^ ~|\r", ErrorCondition::kDataType, "MSH", 2},
      {"MSH|^~\\&#$|\r", ErrorCondition::kDataType, "MSH", 2},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.bytes));
    auto m = Message::parse(c.bytes);
    ASSERT_FALSE(m);
    const ParseError& e = m.error();
    EXPECT_EQ(e.condition, c.condition);
    EXPECT_EQ(e.location.segment, c.segment);
    EXPECT_EQ(e.location.segment_seq, 1);
    EXPECT_EQ(e.location.field, c.field);
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(MalformedTest, BadSegmentIdIsASegmentSequenceError) {
  for (const char* bytes : {"MSH|^~\\&|A\rpid|1\r", "MSH|^~\\&|A\rPI|1\r", "MSH|^~\\&|A\rPIDX|1\r",
                            "MSH|^~\\&|A\r|1\r", "MSH|^~\\&|A\r\x01\x02\x03|\r", "MSH|^~\\&|A\rPID|1\r  OBX|1\r"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(bytes)));
    auto m = Message::parse(bytes);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().condition, ErrorCondition::kSegmentSequence);
    EXPECT_FALSE(m.error().message.empty());
  }
}

TEST(MalformedTest, MalformedFixtures) {
  auto garbage = Message::parse(test::readFixture("malformed_binary_garbage.hl7"));
  EXPECT_FALSE(garbage);
  EXPECT_FALSE(splitBatch(test::readFixture("malformed_binary_garbage.hl7")));
  auto empty2 = Message::parse(test::readFixture("malformed_empty_msh2.hl7"));
  ASSERT_FALSE(empty2);
  EXPECT_EQ(empty2.error().condition, ErrorCondition::kRequiredFieldMissing);
  EXPECT_EQ(empty2.error().location.field, 2);
  // A truncated MSH still parses; header validation says what is missing.
  const std::string truncated_bytes = test::readFixture("malformed_truncated_msh.hl7");  // outlives the views
  auto truncated = Message::parse(truncated_bytes);
  ASSERT_TRUE(truncated);
  auto valid = validateHeader(MessageHeader::fromMessage(*truncated));
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().condition, ErrorCondition::kRequiredFieldMissing);
  EXPECT_EQ(valid.error().location.field, 9);
}

// Everything the library offers, on bytes that may be anything. Returns
// normally; a crash, hang or sanitizer report is the failure.
void exercise(std::string_view bytes) {
  static const char* kPaths[] = {"MSH-1", "MSH-2", "MSH-9.2", "MSH-10", "MSH-18", "PID-3[2].1", "PID-5.1.2",
                                 "OBX[3]-5",  "ZZZ-1", "PID-999999[999999].999999.999999"};
  AckBuilder builder("F", Clock::system());
  auto batch = splitBatch(bytes);
  std::vector<std::string_view> messages;
  if (batch) messages = batch->messages;
  messages.push_back(bytes);
  for (std::string_view one : messages) {
    auto m = Message::parse(one);
    if (!m) {
      ASSERT_NE(m.error().condition, ErrorCondition::kSuccess);
      ASSERT_FALSE(m.error().message.empty());
    } else {
      ASSERT_EQ(m->rebuildFromIndex(), one);
      for (const char* p : kPaths) (void)m->get(p);
      for (size_t s = 0; s < m->segmentCount(); ++s) {
        auto seg = m->segment(s);
        for (int f = 0; f <= seg.fieldCount() + 1; ++f) (void)seg.field(f);
      }
      Message edited = *m;
      (void)edited.set(*Path::parse("PID-5.2"), "x|y");
      (void)edited.set(*Path::parse("ZZZ-2"), "z");
      (void)edited.get("PID-5.2");
      auto h = MessageHeader::fromMessage(*m);
      (void)validateHeader(h);
      (void)builder.build(h, AckOutcome::kReject);
    }
  }
  MessageHeader salvaged = MessageHeader::salvage(bytes);
  std::vector<AckError> errors = {{ErrorCondition::kSegmentSequence, std::string(bytes.substr(0, 40)), {}, 'E'}};
  auto ack = builder.build(salvaged, AckOutcome::kReject, errors);
  if (ack) {
    auto parsed = Message::parse(*ack);
    ASSERT_TRUE(parsed) << "ACK built from salvaged bytes does not parse: " << parsed.error().message;
  }
}

TEST(MalformedTest, EveryPrefixOfAMessage) {
  for (const char* name : {"escapes.hl7", "nondefault_delims.hl7", "v28_truncation.hl7", "sample_file1.hl7"}) {
    SCOPED_TRACE(name);
    std::string bytes = test::readFixture(name);
    for (size_t n = 0; n <= bytes.size(); ++n) {
      exercise(std::string_view(bytes).substr(0, n));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(MalformedTest, ByteFlips) {
  std::string bytes = test::readFixture("escapes.hl7");
  const char replacements[] = {'\0', '\r', '\n', '|', '^', '~', '\\', '&', '#', 'a', '\x80', '\xff', '\x0b', '\x1c'};
  for (size_t i = 0; i < bytes.size(); i += 3) {
    for (char r : replacements) {
      std::string mutated = bytes;
      mutated[i] = r;
      exercise(mutated);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(MalformedTest, RandomGarbage) {
  std::mt19937 rng(20240101);
  static const char kAlphabet[] = "MSHPIDOBX|^~\\&#\r\n \x0b\x1c\xEF\xBB\xBF";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);
  std::uniform_int_distribution<int> len(0, 300);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 3000; ++i) {
    std::string s = (i % 2 == 0) ? "MSH|^~\\&|" : "";
    int n = len(rng);
    for (int k = 0; k < n; ++k)
      s.push_back(i % 3 == 0 ? static_cast<char>(byte(rng)) : alphabet[pick(rng)]);
    exercise(s);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(MalformedTest, HugeInputs) {
  // One 16 MiB field.
  std::string big = "MSH|^~\\&|A|B|C|D|1||ORU^R01|BIG|P|2.5.1\rOBX|1|ED|PDF||";
  big.append(16u << 20, 'A');
  big += "\r";
  auto m = Message::parse(big);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("OBX-5").size(), 16u << 20);
  EXPECT_EQ(m->rebuildFromIndex(), big);

  // 200 000 segments.
  std::string many = "MSH|^~\\&|A|B|C|D|1||ORU^R01|MANY|P|2.5.1\r";
  for (int i = 0; i < 200000; ++i) many += "OBX|1|NM|X||1\r";
  auto lots = Message::parse(many);
  ASSERT_TRUE(lots);
  EXPECT_EQ(lots->segmentCount(), 200001u);
  EXPECT_EQ(lots->get("OBX[200000]-5"), "1");
  EXPECT_EQ(lots->rebuildFromIndex(), many);

  // A million empty fields, repetitions and components.
  std::string wide = "MSH|^~\\&|A|B|C|D|1||ORU^R01|WIDE|P|2.5.1\rOBX";
  wide.append(1000000, '|');
  wide += std::string(1000000, '~') + std::string(1000000, '^') + "end\r";
  auto w = Message::parse(wide);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->segment(1).fieldCount(), 1000000);
  EXPECT_EQ(w->get("OBX-1000000[1000001]"), "");  // beyond the path number limit: read as empty
  EXPECT_EQ(w->rebuildFromIndex(), wide);

  // Garbage with no structure at all.
  std::string junk(4u << 20, '\x01');
  EXPECT_FALSE(Message::parse(junk));
  EXPECT_FALSE(splitBatch(junk));
  EXPECT_EQ(MessageHeader::salvage(junk).control_id, "");
}

}  // namespace
}  // namespace courier::hl7v2
