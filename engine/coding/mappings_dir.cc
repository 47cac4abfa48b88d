#include "engine/coding/mappings_dir.h"

#include <cstdlib>

namespace courier::coding {

std::string defaultMappingsDir() {
  if (const char* env = std::getenv("COURIER_MAPPINGS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return COURIER_DEFAULT_MAPPINGS_DIR;
}

}  // namespace courier::coding
