// Named loggers, one per module (seastar style): courier::logger("mllp").
//
// Never log PHI: no message bodies, field values, names or identifiers. Log the
// message type, size, control id, error code and location.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace courier {

// Returns the process-wide logger of that module, creating it on first use.
// Thread-safe. Loggers write to stderr with a shared format.
std::shared_ptr<spdlog::logger> logger(std::string_view module);

// Sets the level of every logger, present and future ("info", "debug", "warn", ...).
void setLogLevel(std::string_view level);

}  // namespace courier
