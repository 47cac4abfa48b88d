// FileSink on real directories, with a fault hook for the disk that refuses.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/file/file_sink.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using delivery::Delivery;
using delivery::DeliveryStatus;

config::DestinationConfig destination(const fs::path& dir, bool one_file_per_message = true) {
  config::DestinationConfig d;
  d.name = "file-test";
  d.kind = config::DestinationKind::kFile;
  d.format = config::PayloadFormat::kX12_837P;
  d.directory = dir;
  d.one_file_per_message = one_file_per_message;
  return d;
}

Delivery item(std::string name, std::string payload, std::string content_type = "application/edi-x12") {
  Delivery d;
  d.destination = "file-test";
  d.idempotency_key = name;
  d.file_name = std::move(name);
  d.content_type = std::move(content_type);
  d.payload = std::move(payload);
  return d;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> listDir(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<delivery::Sink> sinkFor(const config::DestinationConfig& d, file::FileFault fault = {}) {
  auto s = file::makeFileSink(d, std::move(fault));
  EXPECT_TRUE(s) << (s ? "" : s.error().toString());
  return std::move(s).value();
}

TEST(FileSinkTest, WritesByRenameIntoANewDirectory) {
  const fs::path dir = makeTempDir("file-sink") / "out" / "claims";
  auto sink = sinkFor(destination(dir));
  auto r = sink->deliver(item("claim-1.x12", "ISA*00*...~IEA*1*000000001~\n"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(readFile(dir / "claim-1.x12"), "ISA*00*...~IEA*1*000000001~\n");
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"claim-1.x12"});  // no .tmp left
}

TEST(FileSinkTest, RedeliveryIsIdempotentAndNeverOverwrites) {
  const fs::path dir = makeTempDir("file-sink-idem");
  auto sink = sinkFor(destination(dir));
  ASSERT_EQ(sink->deliver(item("a.x12", "one")).status, DeliveryStatus::kDelivered);
  auto again = sink->deliver(item("a.x12", "one"));
  EXPECT_EQ(again.status, DeliveryStatus::kDelivered);
  EXPECT_EQ(again.detail, "already written (same content)");
  auto conflict = sink->deliver(item("a.x12", "two"));
  EXPECT_EQ(conflict.status, DeliveryStatus::kDeadLetter);
  EXPECT_NE(conflict.detail.find("would overwrite"), std::string::npos);
  EXPECT_EQ(readFile(dir / "a.x12"), "one");
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"a.x12"});
}

TEST(FileSinkTest, StaleTmpFromACrashIsReplaced) {
  const fs::path dir = makeTempDir("file-sink-stale");
  std::ofstream(dir / "a.x12.tmp") << "half a fi";
  auto sink = sinkFor(destination(dir));
  EXPECT_EQ(sink->deliver(item("a.x12", "whole file")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(readFile(dir / "a.x12"), "whole file");
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"a.x12"});
}

TEST(FileSinkTest, NamesThatCanNeverBeWrittenDeadLetter) {
  const fs::path dir = makeTempDir("file-sink-names");
  auto sink = sinkFor(destination(dir));
  for (const char* name : {"", ".", "..", "../escape.x12", "sub/dir.x12"}) {
    EXPECT_EQ(sink->deliver(item(name, "x")).status, DeliveryStatus::kDeadLetter) << name;
  }
  EXPECT_TRUE(listDir(dir).empty());
}

TEST(FileSinkTest, DiskErrorsRetryWithTheErrnoText) {
  const fs::path dir = makeTempDir("file-sink-faults");
  std::string failing;
  int err = 0;
  auto sink = sinkFor(destination(dir), [&](std::string_view step) { return step == failing ? err : 0; });
  for (auto [step, e, text] : {std::tuple{"write", ENOSPC, "No space left on device"},
                               std::tuple{"open", EACCES, "Permission denied"},
                               std::tuple{"fsync", EIO, "Input/output error"},
                               std::tuple{"rename", EACCES, "Permission denied"},
                               std::tuple{"mkdir", EROFS, "Read-only file system"}}) {
    failing = step;
    err = e;
    auto r = sink->deliver(item("a.x12", "payload"));
    EXPECT_EQ(r.status, DeliveryStatus::kRetry) << step;
    EXPECT_NE(r.detail.find(text), std::string::npos) << step << ": " << r.detail;
    EXPECT_TRUE(listDir(dir).empty()) << step;  // neither the file nor a .tmp
  }
  failing.clear();
  EXPECT_EQ(sink->deliver(item("a.x12", "payload")).status, DeliveryStatus::kDelivered);
}

TEST(FileSinkTest, OneFilePerBatchNamedAfterTheFirstItem) {
  const fs::path dir = makeTempDir("file-sink-batch");
  auto sink = sinkFor(destination(dir, /*one_file_per_message=*/false));
  auto results = sink->deliverBatch({item("b1.ndjson", R"({"n":1})", "application/x-ndjson"),
                                     item("b2.ndjson", "{\"n\":2}\n", "application/x-ndjson"),
                                     item("b3.ndjson", R"({"n":3})", "application/x-ndjson")});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(readFile(dir / "b1.ndjson"), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
  EXPECT_EQ(listDir(dir), std::vector<std::string>{"b1.ndjson"});

  auto x12 = sink->deliverBatch({item("i1.x12", "ISA*1~IEA*1~"), item("i2.x12", "ISA*2~IEA*1~")});
  ASSERT_EQ(x12.size(), 2u);
  EXPECT_EQ(readFile(dir / "i1.x12"), "ISA*1~IEA*1~ISA*2~IEA*1~");  // interchanges back to back
}

TEST(FileSinkTest, BatchAfterACrashSkipsWhatAnEarlierBatchWrote) {
  const fs::path dir = makeTempDir("file-sink-batch-crash");
  auto sink = sinkFor(destination(dir, false));
  ASSERT_EQ(sink->deliverBatch({item("c1.x12", "A~"), item("c2.x12", "B~")}).size(), 2u);
  // The outbox never heard; after a restart it sends a larger batch from the same start.
  auto results = sink->deliverBatch({item("c1.x12", "A~"), item("c2.x12", "B~"), item("c3.x12", "C~"),
                                     item("c4.x12", "D~")});
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(results[0].detail, "already written (same content)");
  EXPECT_EQ(readFile(dir / "c1.x12"), "A~B~");
  EXPECT_EQ(readFile(dir / "c3.x12"), "C~D~");
  EXPECT_EQ(listDir(dir), (std::vector<std::string>{"c1.x12", "c3.x12"}));

  auto conflict = sink->deliverBatch({item("c1.x12", "Z~"), item("c9.x12", "Y~")});
  ASSERT_EQ(conflict.size(), 1u);
  EXPECT_EQ(conflict[0].status, DeliveryStatus::kDeadLetter);
}

TEST(FileSinkTest, FactoryRefusesBadConfig) {
  auto none = file::makeFileSink(destination(""));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kConfig);
  const fs::path dir = makeTempDir("file-sink-config");
  std::ofstream(dir / "a-file") << "x";
  auto blocked = file::makeFileSink(destination(dir / "a-file"));
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, ErrorCode::kConfig);
}

}  // namespace
}  // namespace courier::testing
