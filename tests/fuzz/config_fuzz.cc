// Fuzzes the config loader: any bytes must give a Config or located errors, never a
// crash, a hang or an exception escaping (yaml-cpp throws; the loader must catch).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  courier::config::LoadOptions options;
  options.check_files = false;  // no file system access while fuzzing
  options.data_dir_override = "/nonexistent/courier-fuzz";
  auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "SET") return std::string("2575");
    if (name == "EMPTY") return std::string();
    return std::nullopt;
  };
  auto result = courier::config::parseConfig(text, "fuzz.yaml", env, options);
  if (!result) {
    for (const auto& e : result.error()) (void)e.toString();
  }
  return 0;
}
