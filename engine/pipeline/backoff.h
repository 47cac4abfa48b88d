// When to try a failed delivery again, and when to give up.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "engine/config/config.h"

namespace courier::pipeline {

// The wait before try number `attempt + 1`, after `attempt` failed tries (attempt >= 1):
// initial_backoff * 2^(attempt-1), capped at max_backoff, then "equal jitter": a value
// drawn uniformly from [half, all] of that, so that many queues failing at once do not
// retry in step. `unit` in [0, 1) is the random draw (tests pass fixed values). A
// receiver's Retry-After wins when it asks for longer, capped at max_backoff too.
std::chrono::milliseconds retryDelay(const config::RetryPolicy& policy, std::uint32_t attempt, double unit,
                                     std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

// True when an item that failed its `attempt`-th try and was first queued `age` ago
// goes to the dead-letter queue instead (max_attempts / max_age; 0 means no limit).
bool exhausted(const config::RetryPolicy& policy, std::uint32_t attempt, std::chrono::milliseconds age);

}  // namespace courier::pipeline
