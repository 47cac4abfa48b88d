// Reading command inputs: a file path, or "-" for standard input.
#pragma once

#include <string>

#include "engine/core/result.h"

namespace courier::cli {

// Reads the whole file (or stdin for "-"). Errors name the path.
Result<std::string> readInput(const std::string& path);

}  // namespace courier::cli
