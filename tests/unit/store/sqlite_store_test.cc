// SqliteStore against real SQLite files in a temporary directory.
#include "engine/store/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace courier::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// What migrations 4, 5 and 7 added, for the tests that turn a file back into an older version.
#define DROP_VERSION_4_TABLES \
  "DROP TABLE pipeline_state; DROP TABLE message_outcomes; DROP TABLE outbox; DROP TABLE worklist;" \
  "DROP TABLE requeued; DROP TABLE subscriptions; DROP TABLE subscription_events; DROP TABLE outbox_payload;"

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(testing::TempDir()) / "courier-store-XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Collects callback results; waits for them with a deadline (never sleeps).
class Collector {
 public:
  SubmitCallback callback(std::size_t tag) {
    return [this, tag](Result<StoreReceipt> r) {
      std::lock_guard lock(mu_);
      results_.emplace(tag, std::move(r));
      cv_.notify_all();
    };
  }
  bool waitFor(std::size_t n, std::chrono::seconds deadline = 60s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return results_.size() >= n; });
  }
  Result<StoreReceipt> at(std::size_t tag) {
    std::lock_guard lock(mu_);
    return results_.at(tag);
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return results_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, Result<StoreReceipt>> results_;
};

InboundMessage makeMessage(const std::string& control_id, const std::string& facility = "LAB",
                           std::size_t raw_size = 0) {
  InboundMessage m;
  m.raw = "MSH|^~\\&|APP|" + facility + "|COURIER|HOSP|20240101120000||ADT^A01|" + control_id +
          "|P|2.5\rPID|1||PAT-" + control_id + "\r";
  if (raw_size > m.raw.size()) m.raw.append(raw_size - m.raw.size(), 'x');
  m.listener = "mllp-main";
  m.peer_identity = "lab-system";
  m.received_at = std::chrono::system_clock::now();
  m.message_type = "ADT";
  m.trigger = "A01";
  m.control_id = control_id;
  m.sending_application = "APP";
  m.sending_facility = facility;
  m.patient_id = "PAT-" + control_id;
  return m;
}

SqliteStoreOptions optionsFor(const TempDir& dir) {
  SqliteStoreOptions o;
  o.path = dir.path() / "courier.db";
  o.max_batch = 256;
  o.max_delay = 2ms;
  return o;
}

std::unique_ptr<SqliteStore> openOrDie(const SqliteStoreOptions& o) {
  auto s = SqliteStore::open(o);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().toString());
  return s ? std::move(*s) : nullptr;
}

// Waits (polling, with a deadline) until the background indexer's mark reaches `id`.
bool waitForIndexed(SqliteStore& store, MessageId id, std::chrono::seconds deadline = 20s) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (store.stats().patient_indexed_through < id) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);  // poll interval under the deadline
  }
  return true;
}

// One number read from the index sidecar from outside (-1 when unreadable).
std::int64_t sidecarScalar(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  std::string path = db_path.string() + "-patient-index";
  std::int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      n = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return n;
}

// The sidecar's high-water mark.
std::int64_t indexMarkFromOutside(const fs::path& db_path) {
  return sidecarScalar(db_path, "SELECT indexed_through FROM index_state");
}

// Counts rows through an independent connection: what another process would see.
std::int64_t countFromOutside(const fs::path& db_path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM messages", -1, &stmt, nullptr);
  std::int64_t n = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

TEST(SqliteStoreTest, StoresAndReadsBackEveryField) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  Collector c;
  InboundMessage m = makeMessage("CTRL-1");
  m.raw.push_back('\0');
  m.raw += "\xff\xfe binary tail";
  m.ack_mode = AckMode::kEnhanced;
  const std::string raw = m.raw;
  const auto received = m.received_at;
  store->submit(m, c.callback(0));
  ASSERT_TRUE(c.waitFor(1));
  auto r = c.at(0);
  ASSERT_TRUE(r.has_value()) << r.error().toString();
  EXPECT_FALSE(r->duplicate);
  EXPECT_GT(r->id, 0);

  auto got = store->get(r->id);
  ASSERT_TRUE(got.has_value()) << got.error().toString();
  EXPECT_EQ(got->raw, raw);
  const MessageSummary& s = got->summary;
  EXPECT_EQ(s.id, r->id);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(s.received_at - received).count(), 0);
  EXPECT_EQ(s.listener, "mllp-main");
  EXPECT_EQ(s.peer_identity, "lab-system");
  EXPECT_EQ(s.message_type, "ADT");
  EXPECT_EQ(s.trigger, "A01");
  EXPECT_EQ(s.control_id, "CTRL-1");
  EXPECT_EQ(s.sending_application, "APP");
  EXPECT_EQ(s.sending_facility, "LAB");
  EXPECT_EQ(s.patient_id, "PAT-CTRL-1");
  EXPECT_EQ(s.ack_mode, AckMode::kEnhanced);
  EXPECT_EQ(s.ack_code, AckCode::kCA);
  EXPECT_EQ(s.status, MessageStatus::kReceived);
  EXPECT_EQ(s.size_bytes, raw.size());

  auto missing = store->get(r->id + 1000);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// The page size of the file at `path`, read from outside.
std::int64_t pageSizeOf(const fs::path& path) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      n = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return n;
}

// A new store is made with 16 KiB pages; a file made with SQLite's 4 KiB before that
// keeps its pages and takes, keeps and returns messages as before.
TEST(SqliteStoreTest, ANewStoreHas16KiBPagesAndAnOlderFileKeepsItsOwn) {
  for (const bool older : {false, true}) {
    SCOPED_TRACE(older ? "a 4 KiB file" : "a new store");
    TempDir dir;
    const auto o = optionsFor(dir);
    if (older) {
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
      for (const char* sql : {"PRAGMA page_size=4096", "PRAGMA journal_mode=WAL", "CREATE TABLE made_before(x)"}) {
        EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
      }
      sqlite3_close(db);
    }
    MessageId id = 0;
    {
      auto store = openOrDie(o);
      ASSERT_TRUE(store);
      Collector c;
      for (std::size_t i = 0; i < 200; ++i)
        store->submit(makeMessage("P-" + std::to_string(i), "LAB", 6000), c.callback(i));
      ASSERT_TRUE(c.waitFor(200));
      for (std::size_t i = 0; i < 200; ++i) ASSERT_TRUE(c.at(i).has_value()) << i;
      id = c.at(199)->id;
      store->close();
    }
    EXPECT_EQ(pageSizeOf(o.path), older ? 4096 : 16384);
    auto reopened = openOrDie(o);
    ASSERT_TRUE(reopened);
    auto got = reopened->get(id);
    ASSERT_TRUE(got.has_value()) << got.error().toString();
    EXPECT_EQ(got->summary.control_id, "P-199");
    EXPECT_EQ(got->raw, makeMessage("P-199", "LAB", 6000).raw);
    EXPECT_EQ(countFromOutside(o.path), 200);
  }
}

TEST(SqliteStoreTest, GroupsConcurrentSubmitsIntoFewCommitsAndAnswersOnlyAfterCommit) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.max_batch = 512;
  o.max_delay = 5ms;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  constexpr std::size_t kThreads = 8, kPerThread = 500, kTotal = kThreads * kPerThread;

  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0, ok = 0, invisible = 0;
  // Each callback checks, through a separate connection, that its message is already
  // visible to other readers, i.e. committed. Checked for every 25th message.
  auto check = [&](std::size_t tag) {
    return [&, tag](Result<StoreReceipt> r) {
      bool visible = true;
      if (r && tag % 25 == 0) {
        sqlite3* db = nullptr;
        sqlite3_open_v2((dir.path() / "courier.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(db, "SELECT 1 FROM messages WHERE id = ?", -1, &stmt, nullptr);
        sqlite3_bind_int64(stmt, 1, r->id);
        visible = sqlite3_step(stmt) == SQLITE_ROW;
        sqlite3_finalize(stmt);
        sqlite3_close(db);
      }
      std::lock_guard lock(mu);
      ++done;
      if (r && !r->duplicate) ++ok;
      if (!visible) ++invisible;
      cv.notify_all();
    };
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < kPerThread; ++i) {
        std::size_t tag = t * kPerThread + i;
        std::string id = "C";  // (not "C" + to_string(): g++ 12 warns falsely, -Wrestrict)
        id += std::to_string(tag);
        store->submit(makeMessage(id), check(tag));
      }
    });
  }
  for (auto& th : threads) th.join();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done == kTotal; }));
  }
  EXPECT_EQ(ok, kTotal);
  EXPECT_EQ(invisible, 0u);
  SqliteStoreStats stats = store->stats();
  EXPECT_EQ(stats.messages_stored, kTotal);
  EXPECT_LT(stats.commits, kTotal / 4) << "grouped commits should serve many messages each";
  EXPECT_GT(stats.largest_batch, 1u);
  EXPECT_EQ(countFromOutside(dir.path() / "courier.db"), static_cast<std::int64_t>(kTotal));
}

TEST(SqliteStoreTest, DuplicateGetsTheSameAckAndIsStoredOnce) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  Collector c;
  InboundMessage first = makeMessage("DUP-1");
  first.ack_mode = AckMode::kEnhanced;  // first answer was CA
  store->submit(first, c.callback(0));
  ASSERT_TRUE(c.waitFor(1));
  ASSERT_TRUE(c.at(0).has_value());
  const MessageId id = c.at(0)->id;

  // Resent in original mode: still answered CA, as the first time.
  store->submit(makeMessage("DUP-1"), c.callback(1));
  // Same control id from another facility is a different message.
  store->submit(makeMessage("DUP-1", "RAD"), c.callback(2));
  // Messages without a control id are never duplicates.
  store->submit(makeMessage(""), c.callback(3));
  store->submit(makeMessage(""), c.callback(4));
  ASSERT_TRUE(c.waitFor(5));
  auto dup = c.at(1);
  ASSERT_TRUE(dup.has_value());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->id, id);
  EXPECT_EQ(dup->previous_ack, AckCode::kCA);
  for (std::size_t tag : {2, 3, 4}) {
    ASSERT_TRUE(c.at(tag).has_value());
    EXPECT_FALSE(c.at(tag)->duplicate) << tag;
  }
  EXPECT_NE(c.at(3)->id, c.at(4)->id);

  auto count = store->duplicateCount();
  ASSERT_TRUE(count.has_value());
  EXPECT_EQ(*count, 1);
  auto got = store->get(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->summary.duplicates, 1);
  EXPECT_EQ(countFromOutside(dir.path() / "courier.db"), 4);
}

TEST(SqliteStoreTest, DuplicateInsideOneGroupIsDetected) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.max_delay = 200ms;  // both land in one group
  o.max_batch = 2;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  Collector c;
  store->submit(makeMessage("SAME"), c.callback(0));
  store->submit(makeMessage("SAME"), c.callback(1));
  ASSERT_TRUE(c.waitFor(2));
  ASSERT_TRUE(c.at(0).has_value());
  ASSERT_TRUE(c.at(1).has_value());
  EXPECT_FALSE(c.at(0)->duplicate);
  EXPECT_TRUE(c.at(1)->duplicate);
  EXPECT_EQ(c.at(0)->id, c.at(1)->id);
  EXPECT_EQ(store->stats().commits, 1u);
  EXPECT_EQ(*store->duplicateCount(), 1);
}

// A real SQLITE_FULL: the hook caps the database at its current size, as a full disk
// would, then lifts the cap.
TEST(SqliteStoreTest, DiskFullAnswersUnavailableThenRecovers) {
  TempDir dir;
  std::atomic<bool> full{false};
  auto o = optionsFor(dir);
  o.fault_hook = [&](SqliteFaultPoint point, sqlite3* db) -> Result<void> {
    if (point == SqliteFaultPoint::kBeforeBegin) {
      sqlite3_exec(db, full ? "PRAGMA max_page_count = 1" : "PRAGMA max_page_count = 1073741823", nullptr,
                   nullptr, nullptr);
    }
    return Ok();
  };
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  Collector c;
  full = true;
  for (std::size_t i = 0; i < 10; ++i) store->submit(makeMessage("BIG-" + std::to_string(i), "LAB", 64 * 1024), c.callback(i));
  ASSERT_TRUE(c.waitFor(10));
  for (std::size_t i = 0; i < 10; ++i) {
    auto r = c.at(i);
    ASSERT_FALSE(r.has_value()) << i;
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  }
  EXPECT_GE(store->stats().failed_commits, 1u);
  EXPECT_EQ(countFromOutside(dir.path() / "courier.db"), 0);

  full = false;  // the operator freed space; senders retry
  for (std::size_t i = 0; i < 10; ++i) store->submit(makeMessage("BIG-" + std::to_string(i), "LAB", 64 * 1024), c.callback(100 + i));
  ASSERT_TRUE(c.waitFor(20));
  for (std::size_t i = 0; i < 10; ++i) {
    auto r = c.at(100 + i);
    ASSERT_TRUE(r.has_value()) << r.error().toString();
    EXPECT_FALSE(r->duplicate) << "a failed group must have left nothing behind";
  }
  EXPECT_EQ(countFromOutside(dir.path() / "courier.db"), 10);
}

// Another process holds the write lock longer than the busy timeout.
TEST(SqliteStoreTest, LockedDatabaseAnswersUnavailableThenRecovers) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.busy_timeout = 20ms;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "courier.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  Collector c;
  store->submit(makeMessage("L-1"), c.callback(0));
  ASSERT_TRUE(c.waitFor(1));
  ASSERT_FALSE(c.at(0).has_value());
  EXPECT_EQ(c.at(0).error().code, ErrorCode::kUnavailable);

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  store->submit(makeMessage("L-1"), c.callback(1));
  ASSERT_TRUE(c.waitFor(2));
  ASSERT_TRUE(c.at(1).has_value()) << c.at(1).error().toString();
  EXPECT_FALSE(c.at(1)->duplicate);
}

TEST(SqliteStoreTest, FailureJustBeforeCommitLeavesNothingAndStoreGoesOn) {
  TempDir dir;
  std::atomic<int> failures_left{1};
  auto o = optionsFor(dir);
  o.fault_hook = [&](SqliteFaultPoint point, sqlite3*) -> Result<void> {
    if (point == SqliteFaultPoint::kBeforeCommit && failures_left.fetch_sub(1) > 0) {
      return Unexpected(Error(ErrorCode::kIo, "injected write failure"));
    }
    return Ok();
  };
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  Collector c;
  store->submit(makeMessage("F-1"), c.callback(0));
  ASSERT_TRUE(c.waitFor(1));
  ASSERT_FALSE(c.at(0).has_value());
  EXPECT_EQ(c.at(0).error().code, ErrorCode::kUnavailable);
  store->submit(makeMessage("F-1"), c.callback(1));
  ASSERT_TRUE(c.waitFor(2));
  ASSERT_TRUE(c.at(1).has_value());
  EXPECT_FALSE(c.at(1)->duplicate);
  EXPECT_EQ(countFromOutside(dir.path() / "courier.db"), 1);
}

TEST(SqliteStoreTest, CloseDrainsEverythingSubmittedAndReopenSeesIt) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.max_delay = 1s;  // close must not wait for the delay
  o.max_batch = 100000;
  Collector c;
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    for (std::size_t i = 0; i < 300; ++i) store->submit(makeMessage("R-" + std::to_string(i)), c.callback(i));
    store->submit(makeMessage("R-0"), c.callback(300));  // a duplicate
    auto started = std::chrono::steady_clock::now();
    store->close();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 900ms);
    EXPECT_EQ(c.size(), 301u) << "close() returns only after every callback ran";
    for (std::size_t i = 0; i < 300; ++i) ASSERT_TRUE(c.at(i).has_value()) << i;
    // After close: refused at once.
    store->submit(makeMessage("LATE"), c.callback(1000));
    ASSERT_FALSE(c.at(1000).has_value());
    EXPECT_EQ(c.at(1000).error().code, ErrorCode::kUnavailable);
    store->close();  // idempotent
  }
  o.max_delay = 2ms;
  auto reopened = openOrDie(o);
  ASSERT_TRUE(reopened);
  MessageFilter all;
  all.limit = 0;
  auto listed = reopened->list(all);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 300u);
  EXPECT_EQ(*reopened->duplicateCount(), 1);
  // Dedup survives a restart.
  Collector c2;
  reopened->submit(makeMessage("R-7"), c2.callback(0));
  ASSERT_TRUE(c2.waitFor(1));
  ASSERT_TRUE(c2.at(0).has_value());
  EXPECT_TRUE(c2.at(0)->duplicate);
}

TEST(SqliteStoreTest, ReadersSeeCommittedDataWhileTheWriterRuns) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  // A second, read-only store on the same file, as `courier messages` opens it.
  SqliteStoreOptions ro = optionsFor(dir);
  ro.start_writer = false;
  ro.create_if_missing = false;
  auto reader = openOrDie(ro);
  ASSERT_TRUE(reader);

  constexpr std::size_t kTotal = 3000;
  Collector c;
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (std::size_t i = 0; i < kTotal; ++i) store->submit(makeMessage("W-" + std::to_string(i)), c.callback(i));
    writing = false;
  });
  std::size_t reads = 0, last = 0, errors = 0, went_back = 0;
  MessageFilter all;
  all.limit = 0;
  while (writing || c.size() < kTotal) {
    auto listed = reader->list(all);
    ++reads;
    if (!listed) {
      ++errors;
    } else {
      if (listed->size() < last) ++went_back;
      last = listed->size();
    }
    if (reads > 100000) break;  // guard against a hang only
  }
  writer.join();
  ASSERT_TRUE(c.waitFor(kTotal));
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(went_back, 0u);
  auto final_list = reader->list(all);
  ASSERT_TRUE(final_list.has_value());
  EXPECT_EQ(final_list->size(), kTotal);

  InboundMessage refused = makeMessage("RO");
  Collector c2;
  reader->submit(refused, c2.callback(0));
  ASSERT_FALSE(c2.at(0).has_value());
  EXPECT_EQ(c2.at(0).error().code, ErrorCode::kUnavailable);
}

TEST(SqliteStoreTest, ListFilters) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  Collector c;
  auto base = std::chrono::system_clock::now() - std::chrono::hours(10);
  for (std::size_t i = 0; i < 10; ++i) {
    InboundMessage m = makeMessage("F-" + std::to_string(i));
    m.received_at = base + std::chrono::hours(i);
    if (i % 2 == 1) {
      m.message_type = "ORU";
      m.trigger = "R01";
    }
    if (i == 4) m.patient_id = "";
    store->submit(m, c.callback(i));
  }
  ASSERT_TRUE(c.waitFor(10));
  auto count = [&](MessageFilter f) {
    auto r = store->list(f);
    EXPECT_TRUE(r.has_value());
    return r ? r->size() : 0u;
  };
  MessageFilter f;
  f.limit = 0;
  EXPECT_EQ(count(f), 10u);
  f.message_type = "ORU";
  EXPECT_EQ(count(f), 5u);
  f.message_type = "ORU^R01";
  EXPECT_EQ(count(f), 5u);
  f.message_type = "ORU^A01";
  EXPECT_EQ(count(f), 0u);
  f = {};
  f.since = base + std::chrono::hours(7);
  EXPECT_EQ(count(f), 3u);
  f = {};
  f.control_id = "F-3";
  auto one = store->list(f);
  ASSERT_TRUE(one.has_value());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(one->front().control_id, "F-3");
  f = {};
  f.patient_id = "PAT-F-4";
  EXPECT_EQ(count(f), 0u);
  f.patient_id = "PAT-F-5";
  EXPECT_EQ(count(f), 1u);
  f = {};
  f.limit = 3;
  auto page = store->list(f);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_GT(page->at(0).id, page->at(1).id) << "newest first";
  f.before_id = page->back().id;
  f.limit = 0;
  EXPECT_EQ(count(f), 7u);
}

// received_at has no index: time filters go through the commit groups' id and time
// bounds. Times that do not follow id order (a clock set back, several groups) and a
// store written by schema version 1 (no groups recorded) must still filter exactly.
TEST(SqliteStoreTest, TimeFiltersAcrossGroupsAndAfterMigrationFromVersion1) {
  TempDir dir;
  auto o = optionsFor(dir);
  const auto base = std::chrono::system_clock::now() - std::chrono::hours(100);
  // Hours of the messages, in submission (id) order; one group each.
  const int hours[] = {50, 10, 60, 20, 70, 30};
  auto count = [&](SqliteStore& store, std::optional<int> since, std::optional<int> until) {
    MessageFilter f;
    f.limit = 0;
    if (since) f.since = base + std::chrono::hours(*since);
    if (until) f.until = base + std::chrono::hours(*until);
    auto r = store.list(f);
    EXPECT_TRUE(r.has_value());
    return r ? r->size() : 0u;
  };
  auto checkAll = [&](SqliteStore& store) {
    EXPECT_EQ(count(store, std::nullopt, std::nullopt), 6u);
    EXPECT_EQ(count(store, 50, std::nullopt), 3u);   // 50, 60, 70
    EXPECT_EQ(count(store, 11, std::nullopt), 5u);
    EXPECT_EQ(count(store, 71, std::nullopt), 0u);
    EXPECT_EQ(count(store, std::nullopt, 30), 2u);   // 10, 20
    EXPECT_EQ(count(store, std::nullopt, 10), 0u);
    EXPECT_EQ(count(store, 20, 61), 4u);             // 20, 30, 50, 60
  };
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    Collector c;
    for (std::size_t i = 0; i < std::size(hours); ++i) {
      InboundMessage m = makeMessage("T-" + std::to_string(i));
      m.received_at = base + std::chrono::hours(hours[i]);
      store->submit(m, c.callback(i));
      ASSERT_TRUE(c.waitFor(i + 1));  // committed before the next one: a group each
      ASSERT_TRUE(c.at(i).has_value());
    }
    EXPECT_EQ(store->stats().commits, std::size(hours));
    checkAll(*store);
  }
  // Turn the file back into what version 1 wrote, then let open() migrate it again.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "courier.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE commit_groups; CREATE INDEX messages_received_at ON messages(received_at);"
                         DROP_VERSION_4_TABLES "DELETE FROM schema_version WHERE version > 1",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  checkAll(*store);
  // New groups after the migration add to the old range.
  Collector c;
  InboundMessage m = makeMessage("T-new");
  m.received_at = base + std::chrono::hours(5);
  store->submit(m, c.callback(0));
  ASSERT_TRUE(c.waitFor(1));
  EXPECT_EQ(count(*store, std::nullopt, 10), 1u);
  EXPECT_EQ(count(*store, 5, 6), 1u);
  EXPECT_EQ(count(*store, 50, std::nullopt), 3u);
}

TEST(SqliteStoreTest, RefusesSchemaFromTheFutureAndMissingFiles) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.create_if_missing = false;
  auto missing = SqliteStore::open(o);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  o.create_if_missing = true;
  { auto s = openOrDie(o); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "courier.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version(version) VALUES (99)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto future = SqliteStore::open(o);
  ASSERT_FALSE(future.has_value());
  EXPECT_EQ(future.error().code, ErrorCode::kUnsupported);
}

TEST(SqliteStoreTest, CallbacksRunInSubmissionOrderAndTheWalIsCheckpointed) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  constexpr std::size_t kTotal = 3000;  // 4 KiB each: well over one checkpoint's worth
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < kTotal; ++i) {
    store->submit(makeMessage("ORD-" + std::to_string(i), "LAB", 4096), [&, i](Result<StoreReceipt> r) {
      EXPECT_TRUE(r.has_value());
      std::lock_guard lock(mu);
      order.push_back(i);
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return order.size() == kTotal; }));
  }
  for (std::size_t i = 0; i < kTotal; ++i) ASSERT_EQ(order[i], i);
  // The checkpoint thread runs asynchronously; close() waits for it to stop.
  store->close();
  EXPECT_GE(store->stats().checkpoints, 1u);
}

// Commits back to back (a window of 256 always waiting) never leave the checkpointer a
// moment to catch up on its own; the WAL must still restart, not grow with the traffic
// (it grew to 400 MB for 80k messages before the writer finished the checkpoints).
TEST(SqliteStoreTest, TheWalStaysBoundedUnderAStreamOfCommits) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  constexpr std::size_t kTotal = 16000;  // 2 KiB each: 32 MiB of messages
  constexpr std::size_t kWindow = 256;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0, failed = 0;
  for (std::size_t i = 0; i < kTotal; ++i) {
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return i - done < kWindow; }));
    }
    store->submit(makeMessage("WAL-" + std::to_string(i), "LAB", 2048), [&](Result<StoreReceipt> r) {
      std::lock_guard lock(mu);
      if (!r) ++failed;
      ++done;
      cv.notify_all();
    });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return done == kTotal; }));
  }
  EXPECT_EQ(failed, 0u);
  // Restarted at least once (how often depends on how long readers hold their snapshots,
  // so the file's high-water mark is not asserted: 16-47 MiB here, 66 without restarts).
  EXPECT_GE(store->stats().wal_restarts, 1u)
      << "the WAL grew to " << (fs::file_size(dir.path() / "courier.db-wal") >> 20) << " MiB";
  store->close();
}

// A process killed with SIGKILL mid-stream loses nothing it had acknowledged: every id
// reported by a callback before the kill is in the store after reopening.
TEST(SqliteStoreTest, EveryAcknowledgedMessageSurvivesSigkill) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    auto o = optionsFor(dir);
    auto opened = SqliteStore::open(o);
    if (!opened) ::_exit(3);
    auto& store = **opened;
    for (std::uint64_t i = 0;; ++i) {  // until killed
      store.submit(makeMessage("K-" + std::to_string(i)), [fd = fds[1], i](Result<StoreReceipt> r) {
        if (r && ::write(fd, &i, sizeof i) != sizeof i) ::_exit(4);
      });
      if (i % 512 == 511) {
        // Keep the queue short so that the kill lands among commits, not in a backlog.
        while (store.stats().messages_stored + 2048 < i) std::this_thread::yield();
      }
    }
  }
  ::close(fds[1]);
  std::vector<std::uint64_t> acked;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (acked.size() < 5000 && std::chrono::steady_clock::now() < deadline) {
    std::uint64_t id;
    if (::read(fds[0], &id, sizeof id) != sizeof id) break;
    acked.push_back(id);
  }
  ::kill(child, SIGKILL);
  // Acks already in the pipe were sent before the kill: they count too.
  std::uint64_t id;
  while (::read(fds[0], &id, sizeof id) == sizeof id) acked.push_back(id);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself, status " << status;
  ASSERT_GE(acked.size(), 5000u);

  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  MessageFilter all;
  all.limit = 0;
  auto listed = store->list(all);
  ASSERT_TRUE(listed.has_value());
  std::set<std::string> stored;
  for (const auto& m : *listed) stored.insert(m.control_id);
  std::size_t missing = 0;
  for (auto a : acked) missing += stored.count("K-" + std::to_string(a)) == 1 ? 0 : 1;
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged";
  EXPECT_GE(stored.size(), acked.size());
  // The unindexed tail the kill left is indexed on this open; by patient, every
  // acknowledged message is found exactly once, before and after.
  auto byPatient = [&](std::uint64_t a) {
    MessageFilter f;
    f.limit = 0;
    f.patient_id = "PAT-K-" + std::to_string(a);
    auto r = store->list(f);
    EXPECT_TRUE(r.has_value());
    return r && r->size() == 1 && r->front().control_id == "K-" + std::to_string(a);
  };
  for (std::size_t i = 0; i < acked.size(); i += 97) EXPECT_TRUE(byPatient(acked[i]));
  ASSERT_TRUE(waitForIndexed(*store, listed->front().id));
  for (std::size_t i = 0; i < acked.size(); i += 97) EXPECT_TRUE(byPatient(acked[i]));
}

TEST(SqliteStoreTest, CloseFromACallbackDoesNotDeadlock) {
  TempDir dir;
  auto store = openOrDie(optionsFor(dir));
  ASSERT_TRUE(store);
  Collector c;
  auto inner = c.callback(0);
  store->submit(makeMessage("CB-1"), [&](Result<StoreReceipt> r) {
    store->close();  // on the writer thread
    inner(std::move(r));
  });
  ASSERT_TRUE(c.waitFor(1));
  EXPECT_TRUE(c.at(0).has_value());
  store->close();  // joins
  store->submit(makeMessage("CB-2"), c.callback(1));
  ASSERT_FALSE(c.at(1).has_value());
}

TEST(SqliteStoreTest, OverloadAnswersUnavailableAtOnce) {
  TempDir dir;
  std::mutex gate;
  std::unique_lock hold(gate);  // the writer blocks in the hook until released
  auto o = optionsFor(dir);
  o.max_pending = 5;
  o.max_batch = 1;
  std::atomic<bool> in_hook{false};
  o.fault_hook = [&](SqliteFaultPoint point, sqlite3*) -> Result<void> {
    if (point == SqliteFaultPoint::kBeforeBegin) {
      in_hook = true;
      std::lock_guard wait(gate);
    }
    return Ok();
  };
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  Collector c;
  store->submit(makeMessage("O-0"), c.callback(0));
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!in_hook && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(in_hook);
  for (std::size_t i = 1; i <= 6; ++i) store->submit(makeMessage("O-" + std::to_string(i)), c.callback(i));
  ASSERT_EQ(c.size(), 1u);  // the sixth queued one was refused inline
  ASSERT_FALSE(c.at(6).has_value());
  EXPECT_EQ(c.at(6).error().code, ErrorCode::kUnavailable);
  hold.unlock();
  ASSERT_TRUE(c.waitFor(7));
  for (std::size_t i = 0; i <= 5; ++i) EXPECT_TRUE(c.at(i).has_value()) << i;
}

}  // namespace
}  // namespace courier::store

namespace courier::store {
namespace {

// What list() by patient must return: every stored message of that patient, newest first.
using Expected = std::map<std::string, std::vector<MessageId>>;

std::string patientOf(std::size_t n) { return n % 11 == 10 ? std::string() : "P-" + std::to_string(n % 7); }

// Submits messages [from, to) (patients P-0..P-6, every 11th without one), waits for all,
// and records the ids in `expected`.
void submitRange(SqliteStore& store, std::size_t from, std::size_t to, Expected& expected) {
  Collector c;
  for (std::size_t n = from; n < to; ++n) {
    InboundMessage m = makeMessage("X-" + std::to_string(n));
    m.patient_id = patientOf(n);
    store.submit(m, c.callback(n - from));
  }
  ASSERT_TRUE(c.waitFor(to - from));
  for (std::size_t n = from; n < to; ++n) {
    auto r = c.at(n - from);
    ASSERT_TRUE(r.has_value());
    if (!patientOf(n).empty()) expected[patientOf(n)].push_back(r->id);
  }
}

// list() by patient, alone and with paging, against `expected`.
void checkByPatient(SqliteStore& store, Expected expected) {
  for (auto& [patient, ids] : expected) {
    std::sort(ids.rbegin(), ids.rend());
    MessageFilter f;
    f.limit = 0;
    f.patient_id = patient;
    auto all = store.list(f);
    ASSERT_TRUE(all.has_value()) << all.error().toString();
    std::vector<MessageId> got;
    for (const auto& m : *all) {
      got.push_back(m.id);
      EXPECT_EQ(m.patient_id, patient);
    }
    EXPECT_EQ(got, ids) << patient;
    f.limit = 3;
    f.before_id = ids[ids.size() / 2];
    auto page = store.list(f);
    ASSERT_TRUE(page.has_value());
    std::vector<MessageId> want(ids.begin() + static_cast<std::ptrdiff_t>(ids.size() / 2 + 1), ids.end());
    if (want.size() > 3) want.resize(3);
    got.clear();
    for (const auto& m : *page) got.push_back(m.id);
    EXPECT_EQ(got, want) << patient << " page";
  }
  MessageFilter none;
  none.patient_id = "P-none";
  auto empty = store.list(none);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
}

// The patient index is built off the commit path: list() by patient gives the same rows
// before the background indexing, after it, across a restart with an unindexed tail (a
// crash leaves one), and once the next open indexed that tail.
TEST(SqliteStoreTest, ListByPatientIsExactBeforeAndAfterBackgroundIndexing) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.patient_index_batch = 1u << 30;  // only the timer (an hour away) or close() indexes
  o.patient_index_delay = std::chrono::hours(1);
  Expected expected;
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    submitRange(*store, 0, 600, expected);
    EXPECT_EQ(store->stats().patient_indexed_through, 0) << "nothing indexed yet";
    checkByPatient(*store, expected);  // all from the unindexed tail
    store->close();                    // indexes everything
    EXPECT_EQ(store->stats().patient_indexed_through, 600);
  }
  EXPECT_EQ(indexMarkFromOutside(o.path), 600);
  auto no_index = o;
  no_index.index_patients = false;  // as if the indexer never ran: a crash right after
  {
    auto store = openOrDie(no_index);
    ASSERT_TRUE(store);
    checkByPatient(*store, expected);  // all from the index
    submitRange(*store, 600, 900, expected);
    checkByPatient(*store, expected);  // index + tail
  }
  EXPECT_EQ(indexMarkFromOutside(o.path), 600) << "the tail stayed unindexed";
  {
    SqliteStoreOptions ro = o;  // the CLI: a reader only
    ro.start_writer = false;
    ro.create_if_missing = false;
    auto reader = openOrDie(ro);
    ASSERT_TRUE(reader);
    checkByPatient(*reader, expected);
  }
  {
    auto store = openOrDie(o);  // indexes the tail left by the "crash" on open
    ASSERT_TRUE(store);
    checkByPatient(*store, expected);
    ASSERT_TRUE(waitForIndexed(*store, 900));
    checkByPatient(*store, expected);
    EXPECT_GE(store->stats().patient_index_runs, 1u);
  }
  // A lost sidecar is rebuilt; list() scans until then.
  fs::remove(o.path.string() + "-patient-index");
  fs::remove(o.path.string() + "-patient-index-wal");
  fs::remove(o.path.string() + "-patient-index-shm");
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    checkByPatient(*store, expected);
    ASSERT_TRUE(waitForIndexed(*store, 900));
    checkByPatient(*store, expected);
  }
}

// Indexing runs every patient_index_batch messages while the writer goes on; a sidecar
// that is locked by someone else makes indexing fail (logged, counted, retried), never a
// commit: every message is still acknowledged.
TEST(SqliteStoreTest, PatientIndexingFailureNeverFailsAnAckAndIsRetried) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.patient_index_batch = 16;
  o.patient_index_delay = 10ms;
  o.busy_timeout = 50ms;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  Expected expected;
  submitRange(*store, 0, 100, expected);
  ASSERT_TRUE(waitForIndexed(*store, 100));
  sqlite3* locker = nullptr;
  std::string sidecar = o.path.string() + "-patient-index";
  ASSERT_EQ(sqlite3_open(sidecar.c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  submitRange(*store, 100, 400, expected);  // all acknowledged (submitRange asserts it)
  auto end = std::chrono::steady_clock::now() + 30s;
  while (store->stats().patient_index_failures == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(5ms);  // poll interval under the deadline
  }
  EXPECT_GT(store->stats().patient_index_failures, 0u);
  EXPECT_EQ(store->stats().failed_commits, 0u);
  checkByPatient(*store, expected);  // the reader scans the tail
  ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);
  ASSERT_TRUE(waitForIndexed(*store, 400));
  checkByPatient(*store, expected);
}

// Schema 3 drops the patient index of the messages table (version 2 had one); the
// sidecar is built from scratch after the migration.
TEST(SqliteStoreTest, MigrationFromVersion2MovesThePatientIndexOffTheTable) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.index_patients = false;
  Expected expected;
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    submitRange(*store, 0, 200, expected);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE INDEX messages_patient ON messages(patient_id) WHERE patient_id IS NOT NULL;"
                         DROP_VERSION_4_TABLES "DELETE FROM schema_version WHERE version > 2",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  o.index_patients = true;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  checkByPatient(*store, expected);
  ASSERT_TRUE(waitForIndexed(*store, 200));
  checkByPatient(*store, expected);
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_patient'),"
                               " (SELECT MAX(version) FROM schema_version)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 0);
  EXPECT_EQ(sqlite3_column_int(stmt, 1), SqliteStore::kSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// Resubmits "X-<n>" for n in [from, to) and expects every one answered as the duplicate
// of `ids[n]` (what submitRange stored), with list() by control id finding one row each.
void expectDuplicates(SqliteStore& store, std::size_t from, std::size_t to, const std::vector<MessageId>& ids) {
  Collector c;
  for (std::size_t n = from; n < to; ++n) store.submit(makeMessage("X-" + std::to_string(n)), c.callback(n - from));
  ASSERT_TRUE(c.waitFor(to - from));
  for (std::size_t n = from; n < to; ++n) {
    auto r = c.at(n - from);
    ASSERT_TRUE(r.has_value()) << n << ": " << r.error().toString();
    EXPECT_TRUE(r->duplicate) << n;
    EXPECT_EQ(r->id, ids[n]) << n;
    MessageFilter f;
    f.control_id = "X-" + std::to_string(n);
    auto rows = store.list(f);
    ASSERT_TRUE(rows.has_value()) << rows.error().toString();
    ASSERT_EQ(rows->size(), 1u) << n;
    EXPECT_EQ(rows->front().id, ids[n]);
  }
}

std::vector<MessageId> storeRange(SqliteStore& store, std::size_t to) {
  Collector c;
  for (std::size_t n = 0; n < to; ++n) store.submit(makeMessage("X-" + std::to_string(n)), c.callback(n));
  EXPECT_TRUE(c.waitFor(to));
  std::vector<MessageId> ids;
  for (std::size_t n = 0; n < to; ++n) {
    auto r = c.at(n);
    EXPECT_TRUE(r.has_value() && !r->duplicate) << n;
    ids.push_back(r.has_value() ? r->id : 0);
  }
  return ids;
}

// The rows of the sidecar's dedup index.
std::int64_t dedupEntriesFromOutside(const fs::path& db_path) {
  return sidecarScalar(db_path, "SELECT COUNT(*) FROM dedup_index");
}

// Duplicates are found wherever the first copy's key is: in the writer's memory (above
// the sidecar's mark), in the sidecar (at or below it, once the writer let the key go),
// and after a restart both with an unindexed tail (a crash leaves one) and without.
TEST(SqliteStoreTest, DuplicatesAreFoundAboveAndBelowTheIndexMarkAndAcrossRestarts) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.patient_index_batch = 1u << 30;  // only the timer (an hour away), open or close() index
  o.patient_index_delay = std::chrono::hours(1);
  std::vector<MessageId> ids;
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    ids = storeRange(*store, 300);
    EXPECT_EQ(store->stats().patient_indexed_through, 0);
    expectDuplicates(*store, 0, 300, ids);  // all from memory
  }
  EXPECT_EQ(indexMarkFromOutside(o.path), ids.back());  // close() indexed everything
  EXPECT_EQ(dedupEntriesFromOutside(o.path), 300);
  {
    o.index_patients = false;  // the tail that follows stays unindexed
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    expectDuplicates(*store, 0, 300, ids);  // without an indexer the writer holds every key
    Collector c;
    for (std::size_t n = 300; n < 400; ++n) store->submit(makeMessage("X-" + std::to_string(n)), c.callback(n));
    ASSERT_TRUE(c.waitFor(100));
    for (std::size_t n = 300; n < 400; ++n) ids.push_back(c.at(n)->id);
  }
  EXPECT_EQ(indexMarkFromOutside(o.path), ids[299]);
  {
    o.index_patients = true;
    o.patient_index_batch = 16;  // the writer lets keys go while the test runs
    o.patient_index_delay = 10ms;
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    expectDuplicates(*store, 250, 400, ids);  // across the mark as it was at open
    ASSERT_TRUE(waitForIndexed(*store, ids.back()));
    expectDuplicates(*store, 0, 400, ids);  // all from the sidecar again
    EXPECT_EQ(store->stats().duplicates, 550u);
    EXPECT_EQ(*store->duplicateCount(), 300 + 300 + 550);
  }
  EXPECT_EQ(countFromOutside(o.path), 400);
  EXPECT_EQ(dedupEntriesFromOutside(o.path), 400);
}

// A sidecar made before the dedup index (schema 7) has a mark but no dedup entries: the
// next open builds them from the first message, and no old message is stored twice.
TEST(SqliteStoreTest, ASidecarWithoutTheDedupIndexIsRebuilt) {
  TempDir dir;
  auto o = optionsFor(dir);
  std::vector<MessageId> ids;
  {
    auto store = openOrDie(o);
    ASSERT_TRUE(store);
    ids = storeRange(*store, 200);
  }
  ASSERT_EQ(indexMarkFromOutside(o.path), ids.back());
  sqlite3* db = nullptr;
  std::string sidecar = o.path.string() + "-patient-index";
  ASSERT_EQ(sqlite3_open(sidecar.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE dedup_index", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  expectDuplicates(*store, 0, 200, ids);
  ASSERT_TRUE(waitForIndexed(*store, ids.back()));
  EXPECT_EQ(dedupEntriesFromOutside(o.path), 200);
  expectDuplicates(*store, 0, 200, ids);
  EXPECT_EQ(countFromOutside(o.path), 200);
}

// One writer per store file (its recent keys live in its memory): a second one is refused
// with a sentence that says why, while readers still open it; the lock goes with the first.
TEST(SqliteStoreTest, ASecondWriterIsRefusedAndReadersAreNot) {
  TempDir dir;
  auto o = optionsFor(dir);
  auto first = openOrDie(o);
  ASSERT_TRUE(first);
  auto second = SqliteStore::open(o);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find("another Courier process"), std::string::npos) << second.error().message;
  auto reader_options = o;
  reader_options.start_writer = false;
  auto reader = SqliteStore::open(reader_options);
  ASSERT_TRUE(reader.has_value()) << reader.error().toString();
  first.reset();
  auto again = SqliteStore::open(o);
  EXPECT_TRUE(again.has_value());
}

// The keys above the index mark live in the writer's memory, so their number is bounded:
// past max_unindexed_keys the writer wakes the indexer (whose batch and timer are out of
// reach here) and waits for it instead of growing; every message is still acknowledged.
TEST(SqliteStoreTest, TheWriterWaitsForTheIndexerInsteadOfHoldingUnboundedKeys) {
  TempDir dir;
  auto o = optionsFor(dir);
  o.patient_index_batch = 1u << 30;
  o.patient_index_delay = std::chrono::hours(1);
  o.max_unindexed_keys = 64;
  o.max_batch = 32;
  auto store = openOrDie(o);
  ASSERT_TRUE(store);
  std::vector<MessageId> ids = storeRange(*store, 400);
  ASSERT_EQ(ids.size(), 400u);
  // Without the bound nothing would be indexed before close().
  EXPECT_GE(store->stats().patient_indexed_through, ids[400 - 64 - 32 - 1]);
  EXPECT_EQ(store->stats().failed_commits, 0u);
  expectDuplicates(*store, 0, 400, ids);
}

}  // namespace
}  // namespace courier::store
