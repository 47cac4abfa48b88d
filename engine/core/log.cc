#include "engine/core/log.h"

#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace courier {
namespace {
std::mutex& registryMutex() {
  static std::mutex m;
  return m;
}
spdlog::level::level_enum& currentLevel() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}
}  // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view module) {
  std::lock_guard lock(registryMutex());
  std::string name(module);
  if (auto existing = spdlog::get(name)) return existing;
  auto created = spdlog::stderr_color_mt(name);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v");
  created->set_level(currentLevel());
  return created;
}

void setLogLevel(std::string_view level) {
  std::lock_guard lock(registryMutex());
  currentLevel() = spdlog::level::from_str(std::string(level));
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(currentLevel()); });
}

}  // namespace courier
