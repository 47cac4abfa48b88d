// splitBatch: FHS/BHS/BTS/FTS files, bare runs of MSH messages, comments,
// MLLP bytes left in a file, and the invalid python-hl7 batches.
#include "engine/hl7v2/batch.h"

#include <gtest/gtest.h>

#include <climits>

#include <string>

#include "engine/hl7v2/message.h"
#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

using test::readFixture;

bool hasWarning(const BatchFile& b, std::string_view needle) {
  for (const auto& w : b.warnings)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

// Every split message parses and is a view into the input.
void expectMessagesParse(const BatchFile& b, std::string_view input) {
  for (std::string_view m : b.messages) {
    EXPECT_GE(m.data(), input.data());
    EXPECT_LE(m.data() + m.size(), input.data() + input.size());
    EXPECT_EQ(m.substr(0, 3), "MSH");
    auto parsed = Message::parse(m);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->rebuildFromIndex(), m);
  }
}

TEST(BatchTest, HugeDeclaredCountsSaturateInsteadOfOverflowing) {
  // Found by the fuzzer: BTS-1 counts are sender data; their sum must not overflow.
  std::string bytes =
      "BHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rBTS|2000000000\r"
      "BHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\rBTS|2000000000\r";
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_EQ(b->declared_count, INT_MAX);
  EXPECT_EQ(b->warnings.size(), 2u);  // each BTS disagrees with its one message
}

TEST(BatchTest, FileWithTwoBatches) {
  std::string bytes = readFixture("sample_file1.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->messages.size(), 3u);
  EXPECT_EQ(b->file_header.substr(0, 4), "FHS|");
  EXPECT_EQ(b->batch_header.substr(0, 4), "BHS|");
  EXPECT_EQ(b->file_header.find('\r'), std::string_view::npos);
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, BatchWithTwoMessages) {
  std::string bytes = readFixture("sample_batch1.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_TRUE(b->file_header.empty());
  EXPECT_FALSE(b->batch_header.empty());
  expectMessagesParse(*b, bytes);
  // The last message does not take the BTS with it.
  EXPECT_EQ(b->messages.back().find("BTS"), std::string_view::npos);
}

TEST(BatchTest, FileWithoutBatchSegments) {
  std::string bytes = readFixture("sample_file2.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_TRUE(b->batch_header.empty());
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, BtsWithoutBhsIsAWarning) {
  std::string bytes = readFixture("sample_batch4.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 1u);
  EXPECT_TRUE(hasWarning(*b, "BTS without a BHS"));
}

TEST(BatchTest, ReportStreamBatch) {
  std::string bytes = readFixture("batch_message.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_FALSE(b->file_header.empty());
  EXPECT_FALSE(b->batch_header.empty());
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, BtsCountMismatchIsAWarning) {
  std::string bytes = readFixture("batch_count_mismatch.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_EQ(b->declared_count, 3);
  EXPECT_TRUE(hasWarning(*b, "BTS-1 declares 3")) << (b->warnings.empty() ? "" : b->warnings[0]);
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, BtsCountThatMatchesIsNotAWarning) {
  std::string bytes =
      "BHS|^~\\&|A\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1\rMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\rBTS|2\r";
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 2u);
  EXPECT_EQ(b->declared_count, 2);
  EXPECT_TRUE(b->warnings.empty());
}

TEST(BatchTest, BareMshRunWithComments) {
  std::string bytes = readFixture("bare_msh_run.txt");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->messages.size(), 3u);
  EXPECT_EQ(b->warnings.size(), 2u);  // the two comment lines
  EXPECT_EQ(b->declared_count, -1);
  expectMessagesParse(*b, bytes);
  const char* ids[] = {"BARE0001", "BARE0002", "BARE0003"};
  for (size_t i = 0; i < 3; ++i) {
    auto m = Message::parse(b->messages[i]);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->controlId(), ids[i]);
    EXPECT_EQ(m->segmentCount(), 2u);
  }
}

TEST(BatchTest, HapiMessagesWithCommentsAndOddDelimiters) {
  std::string bytes = readFixture("messages.txt");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(b->messages.size(), 18u);
  EXPECT_FALSE(b->warnings.empty());
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, MllpBytesLeftInAFile) {
  std::string bytes =
      "\x0bMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rPID|1\r\x1c\r\x0bMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\rPID|2\r\x1c\r";
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->messages.size(), 2u);
  expectMessagesParse(*b, bytes);
  EXPECT_EQ(b->messages[1], "MSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\rPID|2\r");
}

TEST(BatchTest, CrlfAndMixedTerminators) {
  std::string bytes = "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r\nPID|1\r\n\r\nMSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\nPID|2";
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->messages.size(), 2u);
  EXPECT_EQ(b->messages[0], "MSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r\nPID|1\r\n");
  EXPECT_EQ(b->messages[1], "MSH|^~\\&|A|B|C|D|1||ADT^A01|2|P|2.5\nPID|2");
  expectMessagesParse(*b, bytes);
}

TEST(BatchTest, InvalidPythonHl7FilesAreRejected) {
  for (const char* name : {"sample_bad_batch.hl7", "sample_bad_batch1.hl7", "sample_bad_file.hl7",
                           "sample_bad_file1.hl7", "sample_bad_file2.hl7", "sample_bad_file3.hl7"}) {
    SCOPED_TRACE(name);
    auto b = splitBatch(readFixture(name));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().condition, ErrorCondition::kSegmentSequence);
    EXPECT_FALSE(b.error().location.segment.empty());
    EXPECT_NE(b.error().message.find("line"), std::string::npos);
  }
}

TEST(BatchTest, SegmentBeforeAnyMshIsRejected) {
  auto b = splitBatch("PID|1\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().condition, ErrorCondition::kSegmentSequence);
  EXPECT_EQ(b.error().location.segment, "PID");
}

TEST(BatchTest, HeaderInsideAnOpenBatchOrFileIsRejected) {
  auto bhs = splitBatch("BHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rBHS|^~\\&\r");
  ASSERT_FALSE(bhs);
  EXPECT_EQ(bhs.error().location.segment, "BHS");
  auto fhs = splitBatch("FHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\rFHS|^~\\&\r");
  ASSERT_FALSE(fhs);
  EXPECT_EQ(fhs.error().location.segment, "FHS");
}

TEST(BatchTest, NothingToSplit) {
  for (std::string_view bytes : {std::string_view(""), std::string_view("\r\n\r\n"), std::string_view("   "),
                                 std::string_view("// only a comment\n"), std::string_view("\xEF\xBB\xBF")}) {
    auto b = splitBatch(bytes);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().condition, ErrorCondition::kSegmentSequence);
  }
}

TEST(BatchTest, UnclosedBatchAndFileAreWarnings) {
  auto b = splitBatch("FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|A|B|C|D|1||ADT^A01|1|P|2.5\r");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->messages.size(), 1u);
  EXPECT_TRUE(hasWarning(*b, "BTS"));
  EXPECT_TRUE(hasWarning(*b, "FTS"));
}

TEST(BatchTest, ByteOrderMarkBeforeTheFirstMessage) {
  std::string bytes = readFixture("ADT01-28.hl7");
  auto b = splitBatch(bytes);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->messages.size(), 1u);
  EXPECT_EQ(b->messages[0].data(), bytes.data() + 3);
  expectMessagesParse(*b, bytes);
}

}  // namespace
}  // namespace courier::hl7v2
