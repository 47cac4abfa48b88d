// The SQLite store's resource index (resource_index.h, migration 6): entries written in the
// message's own commit, versions newest first, vread by message id, duplicates not indexed,
// and FHIR messages stored before the migration indexed from their JSON.
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "engine/store/resource_index.h"
#include "engine/store/sqlite_store.h"

namespace courier::store {
namespace {

namespace fs = std::filesystem;

class ResourceIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "courier-ridx-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    open();
  }
  void TearDown() override {
    if (store_) store_->close();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void open() {
    SqliteStoreOptions o;
    o.path = dir_ / "courier.db";
    o.max_delay = std::chrono::milliseconds(5);
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s) << s.error().toString();
    store_ = std::move(*s);
    ASSERT_NE(store_->resourceIndex(), nullptr);
  }

  // Submits all at once (so they may share a commit) and waits for every receipt.
  std::vector<Result<StoreReceipt>> submit(std::vector<InboundMessage> messages) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Result<StoreReceipt>> out(messages.size(), Unexpected(Error(ErrorCode::kInternal, "no answer")));
    std::size_t done = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      store_->submit(std::move(messages[i]), [&, i](Result<StoreReceipt> r) {
        std::lock_guard lock(mu);
        out[i] = std::move(r);
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == out.size(); }));  // deadline
    return out;
  }

  Result<ResourceVersion> find(std::string_view type, std::string_view id, std::optional<MessageId> v = {}) {
    return store_->resourceIndex()->findResource(type, id, v);
  }

  fs::path dir_;
  std::unique_ptr<SqliteStore> store_;
};

InboundMessage fhir(std::string raw, std::string trigger, std::vector<ResourceRef> resources) {
  InboundMessage m;
  m.raw = std::move(raw);
  m.listener = "fhir";
  m.message_type = "FHIR";
  m.trigger = std::move(trigger);
  m.received_at = std::chrono::system_clock::now();
  m.resources = std::move(resources);
  return m;
}

TEST_F(ResourceIndexTest, VersionsAreTheMessagesThatCarriedThem) {
  auto first = submit({fhir(R"({"resourceType":"Patient","id":"p1"})", "Patient", {{"Patient", "p1", -1}})});
  ASSERT_TRUE(first[0]);
  EXPECT_EQ(first[0]->resource_existed, std::vector<bool>{false});
  auto second = submit({fhir(R"({"resourceType":"Patient","id":"p1","active":true})", "Patient",
                             {{"Patient", "p1", -1}})});
  ASSERT_TRUE(second[0]);
  EXPECT_EQ(second[0]->resource_existed, std::vector<bool>{true});

  auto latest = find("Patient", "p1");
  ASSERT_TRUE(latest) << latest.error().toString();
  EXPECT_EQ(latest->message_id, second[0]->id);
  EXPECT_EQ(latest->entry, -1);
  EXPECT_EQ(latest->raw, R"({"resourceType":"Patient","id":"p1","active":true})");
  auto old = find("Patient", "p1", first[0]->id);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->raw, R"({"resourceType":"Patient","id":"p1"})");
  EXPECT_EQ(find("Patient", "p2").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(find("Observation", "p1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(find("Patient", "p1", second[0]->id + 100).error().code, ErrorCode::kNotFound);
}

TEST_F(ResourceIndexTest, ManyMessagesInOneGroupAndABundleNamingOneResourceTwice) {
  std::vector<InboundMessage> batch;
  for (int i = 0; i < 45; ++i) {  // 32 + 8 + 5 rows: every insert statement of the writer
    // Appended, not `"p" + std::to_string(i)`: g++ 12 warns falsely on that (-Wrestrict).
    std::string id = "p";
    id += std::to_string(i);
    batch.push_back(fhir(R"({"resourceType":"Patient","id":")" + id + R"("})", "Patient", {{"Patient", id, -1}}));
  }
  batch.push_back(fhir(R"({"resourceType":"Bundle","type":"batch","entry":[{},{}]})", "Bundle",
                       {{"Patient", "twice", 0}, {"Patient", "twice", 1}}));
  batch.push_back(fhir("MSH|^~\\&|...", "A01", {}));  // HL7 v2: nothing to index
  auto receipts = submit(std::move(batch));
  for (int i = 0; i < 45; ++i) {
    ASSERT_TRUE(receipts[i]) << i;
    auto found = find("Patient", "p" + std::to_string(i));
    ASSERT_TRUE(found) << i;
    EXPECT_EQ(found->message_id, receipts[i]->id);
  }
  ASSERT_TRUE(receipts[45]);
  EXPECT_EQ(receipts[45]->resource_existed, (std::vector<bool>{false, true}));
  auto twice = find("Patient", "twice");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->entry, 1);  // the later entry wins
  ASSERT_TRUE(receipts[46]);
  EXPECT_TRUE(receipts[46]->resource_existed.empty());
}

TEST_F(ResourceIndexTest, ADuplicateIsNotIndexedAgain) {
  auto message = [](std::string patient) {
    InboundMessage m = fhir(R"({"resourceType":"Bundle","type":"message"})", "Bundle", {{"Patient", patient, 1}});
    m.control_id = "msg-1";
    m.sending_facility = "https://sender";
    return m;
  };
  auto first = submit({message("a")});
  auto again = submit({message("b")});
  ASSERT_TRUE(first[0] && again[0]);
  EXPECT_TRUE(again[0]->duplicate);
  EXPECT_TRUE(again[0]->resource_existed.empty());
  EXPECT_TRUE(find("Patient", "a"));
  EXPECT_EQ(find("Patient", "b").error().code, ErrorCode::kNotFound);
}

// A store written before migration 6 (no resource_index, no resources named): reopening
// indexes its FHIR messages from their JSON; everything else reads as before.
TEST_F(ResourceIndexTest, MigrationIndexesWhatWasStoredBefore) {
  auto old = submit({
      fhir(R"({"resourceType":"Patient","id":"old-1","name":[{"family":"A"}]})", "Patient", {}),
      fhir(R"({"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},)"
           R"({"resource":{"resourceType":"Observation","id":"obs-1","status":"final"}}]})",
           "Bundle", {}),
      fhir(R"({"resourceType":"Patient","id":)", "Patient", {}),  // not JSON: skipped, still stored
      fhir(R"({"resourceType":"Bundle","type":"batch","entry":{"x":1}})", "Bundle", {}),
      fhir("MSH|^~\\&|APP|FAC|||20240101||ADT^A01|1|P|2.5\r", "A01", {}),
  });
  for (auto& r : old) ASSERT_TRUE(r);
  store_->close();
  store_.reset();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "courier.db").c_str(), &db), SQLITE_OK);
    // Version 5's shape: no resource index, and (migration 7 undone) payloads in the outbox.
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE resource_index; DROP TABLE outbox_payload;"
                           " ALTER TABLE outbox ADD COLUMN payload BLOB NOT NULL DEFAULT x'';"
                           " DELETE FROM schema_version WHERE version >= 6",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  open();
  auto patient = find("Patient", "old-1");
  ASSERT_TRUE(patient) << patient.error().toString();
  EXPECT_EQ(patient->message_id, old[0]->id);
  EXPECT_EQ(patient->entry, -1);
  auto obs = find("Observation", "obs-1");
  ASSERT_TRUE(obs);
  EXPECT_EQ(obs->message_id, old[1]->id);
  EXPECT_EQ(obs->entry, 1);
  for (auto& r : old) EXPECT_TRUE(store_->get(r->id)) << r->id;  // every message still reads
  // And new messages index as usual on top.
  auto fresh = submit({fhir(R"({"resourceType":"Patient","id":"old-1"})", "Patient", {{"Patient", "old-1", -1}})});
  ASSERT_TRUE(fresh[0]);
  EXPECT_EQ(fresh[0]->resource_existed, std::vector<bool>{true});
  EXPECT_EQ(find("Patient", "old-1")->message_id, fresh[0]->id);
}

}  // namespace
}  // namespace courier::store
