#include "engine/pipeline/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace courier::pipeline {
namespace {

TEST(WorkerPoolTest, EveryIndexRunsExactlyOnceBatchAfterBatch) {
  WorkerPool pool(3, "test-work");
  EXPECT_EQ(pool.threads(), 3u);
  for (std::size_t n : {0u, 1u, 2u, 7u, 512u, 1000u, 3u}) {
    std::vector<std::atomic<int>> hits(n);
    pool.run(n, [&](std::size_t i) { hits[i].fetch_add(1); });
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n " << n << " index " << i;
  }
}

TEST(WorkerPoolTest, HelpersTakePartAndStayTheSameThreads) {
  WorkerPool pool(2, "test-work");
  std::mutex mu;
  std::set<std::thread::id> seen;
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> waiting{0};
    // Each call holds its thread until two calls are in: one index cannot finish the
    // job alone, so the helper must have taken a part (or this never returns).
    pool.run(2, [&](std::size_t) {
      waiting.fetch_add(1);
      while (waiting.load() < 2) std::this_thread::yield();
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    });
  }
  EXPECT_EQ(seen.size(), 2u) << "the caller and one helper, the same ones every batch";
}

TEST(WorkerPoolTest, OneThreadRunsOnTheCaller) {
  WorkerPool pool(1, "test-work");
  EXPECT_EQ(pool.threads(), 1u);
  std::vector<std::thread::id> ids;
  pool.run(5, [&](std::size_t) { ids.push_back(std::this_thread::get_id()); });
  ASSERT_EQ(ids.size(), 5u);
  for (auto id : ids) EXPECT_EQ(id, std::this_thread::get_id());
}

}  // namespace
}  // namespace courier::pipeline
