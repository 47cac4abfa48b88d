// Clock: the one source of time for engine code, so that time-dependent logic
// (retries, timeouts, fiscal years) is testable with a fake.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <atomic>
#include <chrono>

namespace courier {

class Clock {
 public:
  using SystemTime = std::chrono::system_clock::time_point;
  using SteadyTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual SystemTime now() const = 0;        // wall clock, for timestamps
  virtual SteadyTime steadyNow() const = 0;  // monotonic, for durations and deadlines

  static Clock& system();  // the real clock, process-wide
};

// A clock that moves only when told to. For tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SystemTime start = SystemTime{}) : wall_(start.time_since_epoch().count()) {}
  SystemTime now() const override { return SystemTime(SystemTime::duration(wall_.load())); }
  SteadyTime steadyNow() const override { return SteadyTime(SteadyTime::duration(steady_.load())); }
  template <typename Rep, typename Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    wall_ += std::chrono::duration_cast<SystemTime::duration>(d).count();
    steady_ += std::chrono::duration_cast<SteadyTime::duration>(d).count();
  }

 private:
  std::atomic<SystemTime::rep> wall_;
  std::atomic<SteadyTime::rep> steady_{0};
};

}  // namespace courier
