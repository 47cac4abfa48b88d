// WorkerPool: a fixed set of threads, started once, that share out one batch's work.
//
//   WorkerPool pool(3, "courier-work");          // 2 helper threads + the caller
//   pool.run(items.size(), [&](std::size_t i) { done[i] = work(items[i]); });
//
// run() hands indexes [0, n) out in small chunks to the helpers and to the calling
// thread, and returns when every call has returned. Which thread gets which index is not
// fixed, so `fn` must only touch what index i owns. The pipeline keeps one pool for its
// life instead of starting threads per batch (issue 6: that was a clone+join per worker
// and batch, and a cold cache and allocator arena each time).
//
// Threading: run() is called by one thread at a time (the pipeline's). The destructor
// stops and joins the helpers; it must not run during run().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace courier::pipeline {

class WorkerPool {
 public:
  // `threads` counts the caller: threads - 1 helpers are started (none for 0 or 1),
  // named `name`, at scheduling priority `nice` (0: the process's).
  WorkerPool(std::size_t threads, std::string name, int nice = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::size_t threads() const { return helpers_.size() + 1; }

  // Calls fn(i) once for every i in [0, n), on the helpers and the calling thread.
  void run(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  void helper();
  // Takes chunks of the current job until none is left.
  void drain();

  std::vector<std::thread> helpers_;
  std::string name_;
  int nice_ = 0;
  std::mutex mu_;
  std::condition_variable start_cv_;  // a new job (generation_ moved) or stop_
  std::condition_variable done_cv_;   // a helper finished its part of the job
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  // The current job, valid while busy_ > 0 or the caller is in run().
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t n_ = 0;
  std::size_t next_ = 0;   // the next index to hand out (under mu_)
  std::size_t chunk_ = 1;
  std::size_t busy_ = 0;   // helpers still on the current job
};

}  // namespace courier::pipeline
