// A real store (an SQLite file in a temp dir) with its work side, and a way to put
// messages in its inbox, for the work store, pipeline and deliverer tests.
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

namespace courier::store::testing {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "courier-work-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    SqliteStoreOptions o;
    o.path = dir_ / "courier.db";
    o.max_delay = std::chrono::microseconds(0);
    auto s = SqliteStore::open(o);
    ASSERT_TRUE(s.has_value()) << s.error().toString();
    inbox_ = std::move(*s);
    auto w = openSqliteWorkStore(WorkStoreOptions{o.path});
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

  // Submits every message and waits until all are committed; their ids in order.
  std::vector<MessageId> submitAll(std::vector<InboundMessage> messages) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<MessageId> ids(messages.size(), 0);
    std::size_t done = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      messages[i].received_at = std::chrono::system_clock::now();
      inbox_->submit(std::move(messages[i]), [&, i](Result<StoreReceipt> r) {
        std::lock_guard lock(mu);
        ids[i] = r ? r->id : -1;
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done == messages.size(); }));  // deadline
    return ids;
  }

  std::filesystem::path dir_;
  std::unique_ptr<SqliteStore> inbox_;
  std::unique_ptr<WorkStore> work_;
};

}  // namespace courier::store::testing
