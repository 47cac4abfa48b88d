#include "engine/coding/gzip_file.h"

#include <zlib.h>

#include <cstdio>
#include <memory>

namespace courier::coding {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

Result<std::string> readRaw(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return Unexpected(Error(ErrorCode::kNotFound, "cannot open code-set file", path));
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) data.append(buf, n);
  if (std::ferror(f.get())) return Unexpected(Error(ErrorCode::kIo, "read failed", path));
  return data;
}

}  // namespace

Result<std::string> readCompressedFile(const std::string& path) {
  auto raw = readRaw(path);
  if (!raw) return raw;
  const std::string& in = *raw;
  if (in.size() < 2 || static_cast<unsigned char>(in[0]) != 0x1f ||
      static_cast<unsigned char>(in[1]) != 0x8b) {
    return raw;
  }
  // The ISIZE trailer gives the inflated size mod 2^32: enough for one allocation.
  size_t expect = 0;
  if (in.size() >= 4) {
    const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    expect = t[0] | (t[1] << 8) | (t[2] << 16) | (static_cast<size_t>(t[3]) << 24);
  }
  std::string out;
  out.resize(expect > 0 ? expect : in.size() * 4);
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK)
    return Unexpected(Error(ErrorCode::kInternal, "zlib init failed", path));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  size_t produced = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK) {
      inflateEnd(&zs);
      return Unexpected(Error(ErrorCode::kParse, "corrupt gzip stream", path));
    }
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

}  // namespace courier::coding
