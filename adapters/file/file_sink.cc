#include "adapters/file/file_sink.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace courier::file {

namespace {

namespace fs = std::filesystem;
using delivery::Delivery;
using delivery::DeliveryResult;
using delivery::DeliveryStatus;

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s error (NFS reports write errors there).
  int release() {
    int r = ::close(fd_);
    fd_ = -1;
    return r == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

bool isNdjson(std::string_view content_type) { return content_type.find("ndjson") != std::string_view::npos; }

class FileSink final : public delivery::Sink {
 public:
  FileSink(const config::DestinationConfig& c, FileFault fault) : config_(c), fault_(std::move(fault)) {}

  DeliveryResult deliver(const Delivery& item) override {
    if (!config_.one_file_per_message) return deliverBatch(std::vector<Delivery>{item}).front();
    if (auto bad = checkName(item.file_name)) return *bad;
    return place(item.file_name, item.payload);
  }

  std::vector<DeliveryResult> deliverBatch(const std::vector<Delivery>& items) override {
    if (config_.one_file_per_message) return Sink::deliverBatch(items);
    std::vector<DeliveryResult> results;
    std::vector<std::string> pieces;
    pieces.reserve(items.size());
    for (const auto& item : items) {
      std::string piece = item.payload;
      if (isNdjson(item.content_type) && (piece.empty() || piece.back() != '\n')) piece += '\n';
      pieces.push_back(std::move(piece));
    }
    std::size_t start = 0;
    while (start < items.size()) {
      const std::string& name = items[start].file_name;
      if (auto bad = checkName(name)) {
        results.push_back(*bad);
        return results;
      }
      auto existing = readExisting(name);
      if (!existing) {
        results.push_back(retry(existing.error()));
        return results;
      }
      if (!existing->has_value()) {
        std::string content;
        for (std::size_t i = start; i < items.size(); ++i) content += pieces[i];
        DeliveryResult r = place(name, content);
        for (std::size_t i = start; i < items.size(); ++i) {
          results.push_back(r);
          if (r.status != DeliveryStatus::kDelivered) break;
        }
        return results;
      }
      // The file is there: it must hold items[start, k) exactly, for some k.
      const std::string& have = **existing;
      std::size_t pos = 0;
      std::size_t k = start;
      while (k < items.size() && have.compare(pos, pieces[k].size(), pieces[k]) == 0 &&
             pos + pieces[k].size() <= have.size()) {
        pos += pieces[k].size();
        ++k;
        if (pos == have.size()) break;
      }
      if (pos != have.size() || k == start) {
        results.push_back(wouldOverwrite(name));
        return results;
      }
      for (std::size_t i = start; i < k; ++i) results.push_back(delivered("already written (same content)"));
      start = k;
    }
    return results;
  }

 private:
  static DeliveryResult retry(std::string detail) { return {DeliveryStatus::kRetry, std::move(detail), {}, {}}; }
  static DeliveryResult delivered(std::string detail) { return {DeliveryStatus::kDelivered, std::move(detail), {}, {}}; }
  static DeliveryResult wouldOverwrite(const std::string& name) {
    return {DeliveryStatus::kDeadLetter, "would overwrite " + name + " (a file with other content is there)", {}, {}};
  }

  static std::optional<DeliveryResult> checkName(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos) {
      return DeliveryResult{DeliveryStatus::kDeadLetter, "bad file name (empty, '.', '..' or with '/')", {}, {}};
    }
    return std::nullopt;
  }

  int fault(std::string_view step) const { return fault_ ? fault_(step) : 0; }

  // The content of <directory>/<name>; nullopt when there is no such file.
  Result<std::optional<std::string>, std::string> readExisting(const std::string& name) const {
    const fs::path path = config_.directory / name;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return Unexpected("read " + name + ": " + errnoText(errno));
    }
    std::string content;
    char buf[64 * 1024];
    while (true) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Unexpected("read " + name + ": " + errnoText(errno));
      if (n == 0) break;
      content.append(buf, static_cast<std::size_t>(n));
    }
    return std::optional<std::string>(std::move(content));
  }

  // Writes `content` to <directory>/<name> by way of <name>.tmp.
  DeliveryResult place(const std::string& name, std::string_view content) {
    if (int err = ensureDirectory()) return retry("create directory " + config_.directory.string() + ": " + errnoText(err));
    auto existing = readExisting(name);
    if (!existing) return retry(existing.error());
    if (existing->has_value()) {
      return **existing == content ? delivered("already written (same content)") : wouldOverwrite(name);
    }
    const std::string tmp_name = name + ".tmp";
    const fs::path tmp = config_.directory / tmp_name;
    const fs::path target = config_.directory / name;
    auto failed = [&](std::string_view step, int err) {
      ::unlink(tmp.c_str());
      return retry(std::string(step) + " " + tmp_name + ": " + errnoText(err));
    };
    int err = fault("open");
    Fd fd(err ? -1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (err == 0 && fd.get() < 0) err = errno;
    if (err) return retry("open " + tmp_name + ": " + errnoText(err));
    std::size_t done = 0;
    while (done < content.size()) {
      if ((err = fault("write"))) return failed("write", err);
      ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return failed("write", errno);
      done += static_cast<std::size_t>(n);
    }
    if ((err = fault("fsync")) || (::fsync(fd.get()) != 0 && (err = errno))) return failed("fsync", err);
    if ((err = fd.release())) return failed("close", err);
    if ((err = fault("rename")) || (err = renameNoReplace(tmp, target))) {
      if (err == EEXIST) {  // someone else wrote it meanwhile
        ::unlink(tmp.c_str());
        auto now = readExisting(name);
        if (now && now->has_value() && **now == content) return delivered("already written (same content)");
        return wouldOverwrite(name);
      }
      return failed("rename", err);
    }
    if ((err = syncDirectory())) return retry("fsync directory " + config_.directory.string() + ": " + errnoText(err));
    return delivered("wrote " + name);
  }

  // rename() that fails with EEXIST instead of replacing; falls back to link + unlink
  // where the file system has no RENAME_NOREPLACE.
  static int renameNoReplace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    if (::link(from.c_str(), to.c_str()) != 0) return errno;
    ::unlink(from.c_str());
    return 0;
  }

  int ensureDirectory() {
    if (int err = fault("mkdir")) return err;
    std::error_code ec;
    fs::create_directories(config_.directory, ec);
    return ec ? ec.value() : 0;
  }

  int syncDirectory() {
    if (int err = fault("fsync-dir")) return err;
    Fd dir(::open(config_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) return errno;
    if (::fsync(dir.get()) != 0) return errno;
    return 0;
  }

  const config::DestinationConfig config_;
  const FileFault fault_;
};

}  // namespace

Result<std::unique_ptr<delivery::Sink>> makeFileSink(const config::DestinationConfig& destination, FileFault fault) {
  const std::string where = "destinations." + destination.name;
  if (destination.kind != config::DestinationKind::kFile) {
    return Unexpected(Error(ErrorCode::kConfig, "not a file destination", where));
  }
  if (destination.directory.empty()) {
    return Unexpected(Error(ErrorCode::kConfig, "a file destination needs a directory", where + ".directory"));
  }
  std::error_code ec;
  fs::create_directories(destination.directory, ec);
  if (ec || !fs::is_directory(destination.directory, ec)) {
    return Unexpected(Error(ErrorCode::kConfig,
                            "cannot create directory " + destination.directory.string() +
                                (ec ? ": " + ec.message() : ": a file is in the way"),
                            where + ".directory"));
  }
  return std::unique_ptr<delivery::Sink>(std::make_unique<FileSink>(destination, std::move(fault)));
}

}  // namespace courier::file
