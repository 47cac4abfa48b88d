// Sweep: every HL7 v2 file of the shared corpus and of tests/data/hl7v2 is
// split, parsed and rebuilt byte for byte. Only the python-hl7 files marked
// INVALID (sample_bad_*) may fail to split.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"
#include "tests/unit/hl7v2/fixtures.h"

namespace courier::hl7v2 {
namespace {

namespace fs = std::filesystem;

// Copied fixtures whose upstream MSH lacks MSH-11 (processing id).
const std::set<std::string> kNoMsh11 = {"EI-to-Identifier-Extension.hl7"};

struct SweepResult {
  int files = 0;
  int messages = 0;
  std::vector<std::string> rejected;  // file names splitBatch refused
};

bool isHl7File(const fs::path& p) {
  const auto ext = p.extension().string();
  if (ext != ".hl7" && ext != ".txt") return false;
  // X12 claims use .txt too; they are not HL7 v2.
  for (const auto& part : p) if (part == "x12") return false;
  return true;
}

std::vector<fs::path> hl7Files(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file() && isHl7File(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Splits, parses and rebuilds one file; `strict_header` also requires a valid MSH.
SweepResult sweep(const fs::path& root, bool strict_header) {
  SweepResult result;
  Message reused;
  for (const fs::path& file : hl7Files(root)) {
    SCOPED_TRACE(file.string());
    ++result.files;
    const std::string name = file.filename().string();
    const bool expect_bad = name.rfind("sample_bad_", 0) == 0;
    const bool malformed = name.rfind("malformed_", 0) == 0;
    std::string bytes = test::readBytes(file);
    auto batch = splitBatch(bytes);
    if (!batch) {
      result.rejected.push_back(name);
      EXPECT_TRUE(expect_bad || malformed) << "splitBatch: " << batch.error().message;
      EXPECT_EQ(batch.error().condition, ErrorCondition::kSegmentSequence);
      continue;
    }
    EXPECT_FALSE(expect_bad) << "an INVALID python-hl7 file was accepted";
    bool any_failure = false;
    for (std::string_view one : batch->messages) {
      ++result.messages;
      auto m = Message::parse(one);
      if (!m) {
        any_failure = true;
        EXPECT_TRUE(malformed) << "parse: " << m.error().message << " at " << m.error().location.toPath();
        continue;
      }
      EXPECT_EQ(m->rebuildFromIndex(), one);
      EXPECT_EQ(m->serialize(), one);
      EXPECT_EQ(m->segment(0).name(), "MSH");
      auto valid = validateHeader(MessageHeader::fromMessage(*m));
      if (!valid) {
        any_failure = true;
        if (strict_header && !kNoMsh11.count(name)) {
          EXPECT_TRUE(malformed) << "header: " << valid.error().message;
        }
      }
      // The allocation-free path gives the same index.
      EXPECT_TRUE(reused.reset(one));
      EXPECT_EQ(reused.segmentCount(), m->segmentCount());
      EXPECT_EQ(reused.rebuildFromIndex(), one);
    }
    if (malformed) {
      EXPECT_TRUE(any_failure) << "a malformed_ fixture was accepted everywhere";
    }
  }
  return result;
}

TEST(CorpusSweepTest, SharedCorpus) {
  const fs::path root = test::corpusDir();
  if (!fs::exists(root)) GTEST_SKIP() << "no shared corpus at " << root;
  SweepResult r = sweep(root, /*strict_header=*/false);
  std::sort(r.rejected.begin(), r.rejected.end());
  const std::vector<std::string> expected = {"sample_bad_batch.hl7",  "sample_bad_batch1.hl7", "sample_bad_file.hl7",
                                             "sample_bad_file1.hl7", "sample_bad_file2.hl7", "sample_bad_file3.hl7"};
  EXPECT_EQ(r.rejected, expected);
  EXPECT_GT(r.files, 400);
  EXPECT_GT(r.messages, 500);
  std::printf("swept %d corpus files, %d messages\n", r.files, r.messages);
}

TEST(CorpusSweepTest, Fixtures) {
  SweepResult r = sweep(test::fixtureDir(), /*strict_header=*/true);
  std::sort(r.rejected.begin(), r.rejected.end());
  const std::vector<std::string> expected = {"malformed_binary_garbage.hl7", "sample_bad_batch.hl7",
                                             "sample_bad_batch1.hl7",        "sample_bad_file.hl7",
                                             "sample_bad_file1.hl7",         "sample_bad_file2.hl7",
                                             "sample_bad_file3.hl7"};
  EXPECT_EQ(r.rejected, expected);
  EXPECT_GE(r.files, 30);
}

}  // namespace
}  // namespace courier::hl7v2
