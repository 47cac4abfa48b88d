#include "cli/input.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace courier::cli {

Result<std::string> readInput(const std::string& path) {
  FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (!f) return Unexpected(Error(ErrorCode::kIo, std::strerror(errno), path));
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool failed = std::ferror(f) != 0;
  if (f != stdin) std::fclose(f);
  if (failed) return Unexpected(Error(ErrorCode::kIo, "read failed", path));
  return data;
}

}  // namespace courier::cli
