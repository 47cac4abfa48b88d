// IdleCloser: closes a sink's connection once it has gone unused for `idle`
// (DestinationConfig::keepalive_idle), so a quiet destination does not hold a socket on
// the receiver forever. Network sinks (MLLP, HTTPS) share it; header-only.
//
//   IdleCloser idle_{config.keepalive_idle, [this] { dropConnection(); }};
//   DeliveryResult deliver(...) { auto use = idle_.use(); ... }   // connection used here
//
// Threading: a sink is called from one deliverer thread; the closer runs its own thread
// (started on first use) that calls `close` at most once per idle period. Both sides hold
// mutex() while they touch the connection, so `close` never runs during a use. An idle
// of zero closes at the end of every use (no thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace courier::delivery {

class IdleCloser {
 public:
  IdleCloser(std::chrono::milliseconds idle, std::function<void()> close)
      : idle_(idle), close_(std::move(close)) {}
  IdleCloser(const IdleCloser&) = delete;
  IdleCloser& operator=(const IdleCloser&) = delete;
  ~IdleCloser() { stop(); }

  // Held while the connection is in use; when it ends, the idle period starts.
  class [[nodiscard]] Use {
   public:
    explicit Use(IdleCloser* owner) : owner_(owner), lock_(owner->mutex_) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use() {
      owner_->last_used_ = std::chrono::steady_clock::now();
      if (owner_->idle_.count() <= 0) {
        owner_->close_();
        return;
      }
      owner_->armed_ = true;
      if (!owner_->thread_.joinable() && !owner_->stopping_) {
        owner_->thread_ = std::thread([o = owner_] { o->run(); });
      }
      lock_.unlock();
      owner_->cv_.notify_one();
    }

   private:
    IdleCloser* owner_;
    std::unique_lock<std::mutex> lock_;
  };

  Use use() { return Use(this); }

  // For code that touches the connection without counting as a use (Sink::close()).
  std::mutex& mutex() { return mutex_; }

  // Ends the thread; later uses close nothing by idleness. Idempotent.
  void stop() {
    {
      std::lock_guard<std::mutex> g(mutex_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      const auto deadline = last_used_ + idle_;
      if (std::chrono::steady_clock::now() >= deadline) {
        armed_ = false;
        close_();
        continue;
      }
      cv_.wait_until(lock, deadline);
    }
  }

  const std::chrono::milliseconds idle_;
  const std::function<void()> close_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::chrono::steady_clock::time_point last_used_{};
  bool armed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace courier::delivery
