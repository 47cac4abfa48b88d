#include "engine/pipeline/backoff.h"

#include <algorithm>

namespace courier::pipeline {

std::chrono::milliseconds retryDelay(const config::RetryPolicy& policy, std::uint32_t attempt, double unit,
                                     std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  const auto cap = std::max(policy.max_backoff, milliseconds(1));
  auto base = std::max(policy.initial_backoff, milliseconds(1));
  for (std::uint32_t i = 1; i < attempt && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  unit = std::clamp(unit, 0.0, 1.0);
  auto jittered = milliseconds(base.count() / 2 + static_cast<std::int64_t>(static_cast<double>(base.count() - base.count() / 2) * unit));
  if (retry_after && *retry_after > jittered) jittered = std::min(*retry_after, cap);
  return jittered;
}

bool exhausted(const config::RetryPolicy& policy, std::uint32_t attempt, std::chrono::milliseconds age) {
  if (policy.max_attempts > 0 && attempt >= policy.max_attempts) return true;
  if (policy.max_age.count() > 0 && age >= policy.max_age) return true;
  return false;
}

}  // namespace courier::pipeline
