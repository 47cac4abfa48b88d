// PostgresStore against a real PostgreSQL server started for this suite (PgServer):
// store and read back, dedup (within a group, across groups, across two "nodes"), callbacks
// only after COMMIT and in order, list filters, overload and close, a server restart mid-run
// and a SIGKILLed writer process. Each test gets a database of its own.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "engine/core/log.h"
#include "engine/store/postgres_store.h"
#include "engine/store/store_factory.h"
#include "tests/integration/postgres/pg_server.h"

namespace courier::store {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using courier::testing::PgServer;

InboundMessage message(const std::string& control_id, const std::string& facility = "FAC",
                       AckMode mode = AckMode::kOriginal) {
  InboundMessage m;
  m.raw = "MSH|^~\\&|APP|" + facility + "|COURIER|HUB|20240501120000||ADT^A01|" + control_id + "|P|2.5.1\rPID|1||P1\r";
  m.listener = "mllp-main";
  m.peer_identity = "client";
  m.received_at = std::chrono::system_clock::now();
  m.message_type = "ADT";
  m.trigger = "A01";
  m.control_id = control_id;
  m.sending_application = "APP";
  m.sending_facility = facility;
  m.patient_id = "P1";
  m.ack_mode = mode;
  return m;
}

// prefix + decimal n (plain appends: GCC 12's -Wrestrict misfires on "lit" + string).
std::string idOf(const char* prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

// Collects callback results; wait() blocks until `n` arrived (deadline: a hang guard).
class Results {
 public:
  SubmitCallback callback(std::size_t index) {
    return [this, index](Result<StoreReceipt> r) {
      std::lock_guard lock(mu_);
      order_.push_back(index);
      results_.emplace(index, std::move(r));
      cv_.notify_all();
    };
  }
  bool wait(std::size_t n, std::chrono::seconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return results_.size() >= n; });
  }
  Result<StoreReceipt> at(std::size_t i) {
    std::lock_guard lock(mu_);
    return results_.at(i);
  }
  std::vector<std::size_t> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, Result<StoreReceipt>> results_;
  std::vector<std::size_t> order_;
};

// Submits one message and waits for its answer.
Result<StoreReceipt> store1(MessageStore& store, InboundMessage m) {
  Results r;
  store.submit(std::move(m), r.callback(0));
  if (!r.wait(1)) return Unexpected(Error(ErrorCode::kTimeout, "no callback"));
  return r.at(0);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    courier::setLogLevel("warn");
    server_ = new PgServer();
    error_ = server_->init();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(error_.empty()) << "cannot start a PostgreSQL server for these tests: " << error_;
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string err;
    std::string db = "t_";
    db += name;
    conninfo_ = server_->createDatabase(db, &err);
    ASSERT_TRUE(err.empty()) << err;
  }

  std::unique_ptr<PostgresStore> open(std::size_t max_pending = 100000, std::chrono::microseconds delay = 1000us) {
    PostgresStoreOptions o;
    o.conninfo = conninfo_;
    o.max_pending = max_pending;
    o.max_delay = delay;
    o.reconnect_interval = 50ms;
    auto s = PostgresStore::open(o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().toString());
    return s ? std::move(*s) : nullptr;
  }

  static PgServer* server_;
  static std::string error_;
  std::string conninfo_;
};

PgServer* PostgresStoreTest::server_ = nullptr;
std::string PostgresStoreTest::error_;

TEST_F(PostgresStoreTest, StoresAndReadsBackExactBytes) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  InboundMessage m = message("C1", "FAC", AckMode::kEnhanced);
  static const char kTail[] = "NTE|1||caf\xE9 \x00 binary\r";
  m.raw.append(kTail, sizeof kTail - 1);  // Latin-1 and a NUL: kept exactly
  m.sending_facility = "H\xD4PITAL";                            // Latin-1 in a text column
  const std::string raw = m.raw;
  auto r = store1(*store, m);
  ASSERT_TRUE(r.has_value()) << r.error().toString();
  EXPECT_FALSE(r->duplicate);
  EXPECT_GT(r->id, 0);

  auto got = store->get(r->id);
  ASSERT_TRUE(got.has_value()) << got.error().toString();
  EXPECT_EQ(got->raw, raw);
  EXPECT_EQ(got->summary.control_id, "C1");
  EXPECT_EQ(got->summary.sending_facility, "H\xEF\xBF\xBDPITAL");
  EXPECT_EQ(got->summary.ack_code, AckCode::kCA);
  EXPECT_EQ(got->summary.ack_mode, AckMode::kEnhanced);
  EXPECT_EQ(got->summary.status, MessageStatus::kReceived);
  EXPECT_EQ(got->summary.size_bytes, raw.size());
  EXPECT_EQ(got->summary.patient_id, "P1");
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(got->summary.received_at.time_since_epoch()),
            std::chrono::duration_cast<std::chrono::microseconds>(m.received_at.time_since_epoch()));
  EXPECT_EQ(store->get(r->id + 1000).error().code, ErrorCode::kNotFound);
  store->close();

  // The factory picks PostgreSQL from the config, for writing and for reading.
  config::StoreConfig cfg;
  cfg.kind = config::StoreKind::kPostgres;
  cfg.postgres.conninfo = conninfo_;
  auto reader = openMessageStoreForReading(cfg);
  ASSERT_TRUE(reader.has_value()) << reader.error().toString();
  EXPECT_EQ((*reader)->get(r->id)->raw, raw);
  auto refused = store1(**reader, message("C2"));
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  auto writer = openMessageStore(cfg);
  ASSERT_TRUE(writer.has_value()) << writer.error().toString();
  EXPECT_TRUE(store1(**writer, message("C2")).has_value());

  // A database without a store: the reader says so.
  std::string err;
  cfg.postgres.conninfo = server_->createDatabase("t_empty_for_reading", &err);
  ASSERT_TRUE(err.empty()) << err;
  EXPECT_EQ(openMessageStoreForReading(cfg).error().code, ErrorCode::kNotFound);
}

TEST_F(PostgresStoreTest, DuplicatesAnswerTheFirstAckCode) {
  auto store = open(100000, 20ms);  // a long group delay: the burst below is one group
  ASSERT_NE(store, nullptr);
  auto first = store1(*store, message("D1", "FAC", AckMode::kEnhanced));
  ASSERT_TRUE(first.has_value());
  auto again = store1(*store, message("D1", "FAC", AckMode::kOriginal));
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->previous_ack, AckCode::kCA);
  // Same control id from another facility: a different message.
  auto other = store1(*store, message("D1", "OTHER"));
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->duplicate);

  // Within one group: the second copy is a duplicate of the first; an empty control id
  // never is.
  Results results;
  store->submit(message("D2"), results.callback(0));
  store->submit(message("D2"), results.callback(1));
  store->submit(message(""), results.callback(2));
  store->submit(message(""), results.callback(3));
  ASSERT_TRUE(results.wait(4));
  ASSERT_TRUE(results.at(0).has_value() && results.at(1).has_value());
  EXPECT_FALSE(results.at(0)->duplicate);
  EXPECT_TRUE(results.at(1)->duplicate);
  EXPECT_EQ(results.at(1)->id, results.at(0)->id);
  EXPECT_FALSE(results.at(2)->duplicate);
  EXPECT_FALSE(results.at(3)->duplicate);
  EXPECT_NE(results.at(2)->id, results.at(3)->id);

  EXPECT_EQ(store->get(first->id)->summary.duplicates, 1);
  EXPECT_EQ(store->get(results.at(0)->id)->summary.duplicates, 1);
  EXPECT_EQ(*store->duplicateCount(), 2);
  EXPECT_EQ(store->stats().duplicates, 2u);
}

// Two stores on one database stand for two Courier nodes: the same messages sent to both
// at once are stored once each; every other copy is answered as a duplicate of it.
TEST_F(PostgresStoreTest, TwoNodesDeduplicateAgainstEachOther) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr std::size_t kN = 300;
  Results ra, rb;
  std::thread ta([&] {
    for (std::size_t i = 0; i < kN; ++i) a->submit(message(idOf("N", i)), ra.callback(i));
  });
  std::thread tb([&] {
    for (std::size_t i = 0; i < kN; ++i) b->submit(message(idOf("N", i)), rb.callback(i));
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.wait(kN));
  ASSERT_TRUE(rb.wait(kN));
  for (std::size_t i = 0; i < kN; ++i) {
    auto x = ra.at(i), y = rb.at(i);
    ASSERT_TRUE(x.has_value() && y.has_value()) << i;
    EXPECT_EQ(x->id, y->id) << i;
    EXPECT_EQ(x->duplicate + y->duplicate, 1) << i;
  }
  EXPECT_EQ(*a->duplicateCount(), static_cast<std::int64_t>(kN));
  MessageFilter all;
  all.limit = 0;
  EXPECT_EQ(a->list(all)->size(), kN);
}

// A callback runs only once its message is readable from another connection (committed),
// and callbacks come in submission order.
TEST_F(PostgresStoreTest, CallbacksAfterCommitInSubmissionOrder) {
  auto store = open(100000, 2ms);
  ASSERT_NE(store, nullptr);
  auto reader = open();
  ASSERT_NE(reader, nullptr);
  constexpr std::size_t kN = 400;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::size_t> order;
  std::vector<MessageId> ids;
  std::size_t invisible = 0;
  for (std::size_t i = 0; i < kN; ++i) {
    store->submit(message(idOf("O", i)), [&, i](Result<StoreReceipt> r) {
      bool visible = r.has_value() && reader->get(r->id).has_value();  // test only: blocks
      std::lock_guard lock(mu);
      if (!visible) ++invisible;
      order.push_back(i);
      ids.push_back(r ? r->id : 0);
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 30s, [&] { return order.size() == kN; }));
  EXPECT_EQ(invisible, 0u);
  for (std::size_t i = 0; i < kN; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_LT(store->stats().commits, kN);  // grouped
}

TEST_F(PostgresStoreTest, ListFilters) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto t0 = std::chrono::system_clock::now();
  std::vector<MessageId> ids;
  auto add = [&](const std::string& id, const std::string& type, const std::string& trigger, const std::string& fac,
                 const std::string& patient, std::chrono::seconds age) {
    InboundMessage m = message(id, fac);
    m.message_type = type;
    m.trigger = trigger;
    m.patient_id = patient;
    m.received_at = t0 - age;
    auto r = store1(*store, m);
    ASSERT_TRUE(r.has_value());
    ids.push_back(r->id);
  };
  add("L1", "ADT", "A01", "F1", "P1", 300s);
  add("L2", "ADT", "A08", "F1", "P2", 200s);
  add("L3", "ORU", "R01", "F2", "P1", 100s);
  add("L4", "ADT", "A01", "F2", "", 0s);
  auto ctl = [&](MessageFilter f) {
    std::vector<std::string> out;
    auto r = store->list(f);
    EXPECT_TRUE(r.has_value());
    if (r) {
      for (auto& s : *r) out.push_back(s.control_id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ctl({}), (V{"L4", "L3", "L2", "L1"}));  // newest first
  MessageFilter f;
  f.message_type = "ADT";
  EXPECT_EQ(ctl(f), (V{"L4", "L2", "L1"}));
  f.message_type = "ADT^A01";
  EXPECT_EQ(ctl(f), (V{"L4", "L1"}));
  f = {};
  f.patient_id = "P1";
  EXPECT_EQ(ctl(f), (V{"L3", "L1"}));
  f = {};
  f.sending_facility = "F2";
  EXPECT_EQ(ctl(f), (V{"L4", "L3"}));
  f = {};
  f.control_id = "L2";
  EXPECT_EQ(ctl(f), (V{"L2"}));
  f = {};
  f.since = t0 - 250s;
  f.until = t0 - 50s;
  EXPECT_EQ(ctl(f), (V{"L3", "L2"}));
  f = {};
  f.before_id = ids[2];
  f.limit = 1;
  EXPECT_EQ(ctl(f), (V{"L2"}));
  auto s = store->list({});
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ((*s)[0].patient_id, "");
  EXPECT_EQ((*s)[0].listener, "mllp-main");
}

TEST_F(PostgresStoreTest, OverloadAndCloseDrains) {
  auto refusing = open(0);
  ASSERT_NE(refusing, nullptr);
  auto r = store1(*refusing, message("X"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("overloaded"), std::string::npos);

  auto store = open(100000, 5ms);
  ASSERT_NE(store, nullptr);
  Results results;
  constexpr std::size_t kN = 500;
  for (std::size_t i = 0; i < kN; ++i) store->submit(message(idOf("Q", i)), results.callback(i));
  store->close();  // drains: every callback has run when it returns
  ASSERT_TRUE(results.wait(kN, 0s));
  for (std::size_t i = 0; i < kN; ++i) EXPECT_TRUE(results.at(i).has_value()) << i;
  auto late = store1(*store, message("late"));
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(store->stats().messages_stored, kN);
}

// The server stops mid-run (fast shutdown, as pg_ctl stop -m fast): messages submitted
// meanwhile are answered kUnavailable; once it is back the store reconnects by itself and
// every acknowledged message is there.
TEST_F(PostgresStoreTest, ServerRestartMidRun) {
  auto store = open(100000, 0us);
  ASSERT_NE(store, nullptr);
  std::vector<std::pair<MessageId, std::string>> acked;
  int n = 0;
  auto submit = [&]() -> Result<StoreReceipt> {
    std::string id = "R" + std::to_string(n++);
    auto r = store1(*store, message(id));
    if (r) acked.emplace_back(r->id, id);
    return r;
  };
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(submit().has_value());

  ASSERT_EQ(server_->stop(), "");
  for (int i = 0; i < 20; ++i) {
    auto r = submit();
    ASSERT_FALSE(r.has_value()) << "acknowledged while the server was down";
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  }
  EXPECT_FALSE(store->list({}).has_value());

  ASSERT_EQ(server_->start(), "");
  const auto deadline = Clock::now() + 30s;
  while (!submit().has_value()) {
    ASSERT_LT(Clock::now(), deadline) << "the store did not recover after the server came back";
    std::this_thread::sleep_for(20ms);  // the store retries a connection every 50 ms; under the deadline above
  }
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(submit().has_value());
  EXPECT_GE(store->stats().connects, 2u);
  EXPECT_GE(store->stats().failed_commits, 20u);
  for (const auto& [id, control] : acked) {
    auto got = store->get(id);
    ASSERT_TRUE(got.has_value()) << "acknowledged message " << control << " lost";
    EXPECT_EQ(got->summary.control_id, control);
  }
}

// A process that writes through the store is killed with SIGKILL while messages are in
// flight: every message it had acknowledged (callback with success) is in the database.
TEST_F(PostgresStoreTest, SigkillOfTheWriterLosesNoAcknowledgedMessage) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // No store is open in this process here, so it has one thread: fork is safe.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    PostgresStoreOptions o;
    o.conninfo = conninfo_;
    auto store = PostgresStore::open(o);
    if (!store) ::_exit(3);
    std::atomic<int> in_flight{0};
    for (std::int64_t i = 0;; ++i) {
      while (in_flight.load() >= 64) std::this_thread::yield();
      ++in_flight;
      (*store)->submit(message(idOf("K", i)), [&, i](Result<StoreReceipt> r) {
        if (r && !r->duplicate) {
          std::int64_t rec[2] = {r->id, i};
          if (::write(fds[1], rec, sizeof rec) != sizeof rec) ::_exit(4);
        }
        --in_flight;
      });
    }
  }
  ::close(fds[1]);
  std::vector<std::pair<std::int64_t, std::int64_t>> acked;
  auto readOne = [&]() -> bool {
    std::int64_t rec[2];
    std::size_t got = 0;
    while (got < sizeof rec) {
      ssize_t k = ::read(fds[0], reinterpret_cast<char*>(rec) + got, sizeof rec - got);
      if (k <= 0) return false;
      got += static_cast<std::size_t>(k);
    }
    acked.emplace_back(rec[0], rec[1]);
    return true;
  };
  while (acked.size() < 2000 && readOne()) {
  }
  ASSERT_GE(acked.size(), 2000u) << "the child stopped acknowledging";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  while (readOne()) {  // acknowledgements written before the kill
  }
  ::close(fds[0]);

  auto reader = open();
  ASSERT_NE(reader, nullptr);
  for (const auto& [id, n] : acked) {
    auto got = reader->get(id);
    ASSERT_TRUE(got.has_value()) << "acknowledged message " << n << " (id " << id << ") lost";
    EXPECT_EQ(got->summary.control_id, idOf("K", n));
  }
}

}  // namespace
}  // namespace courier::store
