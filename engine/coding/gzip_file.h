// readCompressedFile: reads a whole file, inflating it when it is gzip.
#pragma once

#include <string>

#include "engine/core/result.h"

namespace courier::coding {

// Returns the file's bytes; a gzip file (magic 1f 8b) is inflated. Errors:
// kNotFound (cannot open), kIo (read failure), kParse (corrupt gzip stream).
Result<std::string> readCompressedFile(const std::string& path);

}  // namespace courier::coding
