// Where the store is, seen from a command run beside `courier serve` (messages, outbox,
// worklist), and the time formats those commands share.
//
// Which store: `--config FILE` reads its store section (data dir overridable with
// --data-dir); otherwise <data-dir>/courier.db with the data dir from --data-dir, else
// $COURIER_DATA_DIR, else ./var — the same default as deploy/courier.yaml.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/store/message_store.h"
#include "engine/store/work_store.h"

namespace courier::cli {

struct StoreLocation {
  std::string config_file;
  std::string data_dir;
};

// Adds --data-dir and --config to a command.
void addLocationOptions(CLI::App* cmd, StoreLocation& where);

Result<config::StoreConfig> storeConfig(const StoreLocation& where);
// The message store, read only (kNotFound with a hint when there is none).
Result<std::unique_ptr<store::MessageStore>> openStore(const StoreLocation& where);
// The pipeline side (outboxes, worklist); writes are allowed while serve runs.
Result<std::unique_ptr<store::WorkStore>> openWorkStore(const StoreLocation& where);

// "2024-05-01", "2024-05-01T13:45", "2024-05-01T13:45:10Z" (UTC), or an age: "90s",
// "15m", "2h", "7d" (that long ago).
std::optional<store::TimePoint> parseTime(const std::string& text);
// ISO 8601 UTC with milliseconds: 2024-05-01T13:45:10.123Z.
std::string formatTime(store::TimePoint t);
// JSON must be UTF-8: valid UTF-8 passes through, any other byte is read as Latin-1.
std::string toUtf8(std::string_view in);

}  // namespace courier::cli
