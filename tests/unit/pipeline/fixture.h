// A real store (SQLite file in a temp dir) with its work side, and a way to put raw
// messages in its inbox, for the pipeline and deliverer tests.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/store/sqlite_store.h"
#include "engine/store/work_store.h"

namespace courier::pipeline::testing {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "courier-pipe-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    store::SqliteStoreOptions o;
    o.path = dir_ / "courier.db";
    o.max_delay = std::chrono::microseconds(0);
    auto s = store::SqliteStore::open(o);
    ASSERT_TRUE(s.has_value()) << s.error().toString();
    inbox_ = std::move(*s);
    auto w = store::openSqliteWorkStore(store::WorkStoreOptions{o.path});
    ASSERT_TRUE(w.has_value()) << w.error().toString();
    work_ = std::move(*w);
  }
  void TearDown() override {
    work_.reset();
    if (inbox_) inbox_->close();
    inbox_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Stores raw messages (committed when this returns); their ids in order.
  std::vector<store::MessageId> store(const std::vector<std::string>& raws, const std::string& patient = "P1") {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<store::MessageId> ids(raws.size(), 0);
    std::size_t done = 0;
    for (std::size_t i = 0; i < raws.size(); ++i) {
      store::InboundMessage m;
      m.raw = raws[i];
      m.listener = "test";
      m.control_id = "T" + std::to_string(counter_++);
      m.sending_facility = "F";
      m.message_type = "DFT";
      m.patient_id = patient;
      m.received_at = std::chrono::system_clock::now();
      inbox_->submit(std::move(m), [&, i](Result<store::StoreReceipt> r) {
        std::lock_guard lock(mu);
        ids[i] = r ? r->id : -1;
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == raws.size(); }));  // deadline
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::SqliteStore> inbox_;
  std::unique_ptr<store::WorkStore> work_;
  int counter_ = 0;
};

}  // namespace courier::pipeline::testing
