#include "engine/pipeline/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "engine/core/thread.h"

namespace courier::pipeline {

WorkerPool::WorkerPool(std::size_t threads, std::string name, int nice) : name_(std::move(name)), nice_(nice) {
  if (name_.size() > 15) name_.resize(15);  // the kernel's limit for thread names
  for (std::size_t t = 1; t < threads; ++t) helpers_.emplace_back([this] { helper(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : helpers_) t.join();
}

void WorkerPool::run(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  if (helpers_.empty() || n == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    // Small enough chunks that a thread the OS holds back does not leave the others
    // idle at the end; big enough that the mutex is taken a few dozen times per batch.
    chunk_ = std::max<std::size_t>(1, n / (threads() * 8));
    busy_ = helpers_.size();
    ++generation_;
  }
  start_cv_.notify_all();
  drain();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return busy_ == 0; });
  fn_ = nullptr;
  n_ = 0;
}

void WorkerPool::helper() {
  pthread_setname_np(pthread_self(), name_.c_str());
  if (nice_ != 0) lowerThisThreadPriority(nice_);
  std::uint64_t seen = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    lock.unlock();
    drain();
    lock.lock();
    if (--busy_ == 0) done_cv_.notify_one();
  }
}

void WorkerPool::drain() {
  for (;;) {
    std::size_t begin = 0, end = 0;
    {
      std::lock_guard lock(mu_);
      if (next_ >= n_) return;
      begin = next_;
      end = std::min(n_, begin + chunk_);
      next_ = end;
    }
    for (std::size_t i = begin; i < end; ++i) (*fn_)(i);
  }
}

}  // namespace courier::pipeline
