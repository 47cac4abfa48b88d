#include "engine/store/wal_checkpointer.h"

#include <pthread.h>

#include <algorithm>
#include <map>
#include <string>
#include <system_error>
#include <utility>

#include "engine/core/log.h"
#include "engine/store/sqlite_util.h"

namespace courier::store {

Result<std::shared_ptr<WalCheckpointer>> WalCheckpointer::forFile(const std::filesystem::path& path,
                                                                  std::chrono::milliseconds busy_timeout) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<WalCheckpointer>> registry;
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path.string() : canonical.string();
  std::lock_guard lock(registry_mu);
  for (auto it = registry.begin(); it != registry.end();) {
    it = it->second.expired() ? registry.erase(it) : std::next(it);
  }
  if (auto it = registry.find(key); it != registry.end()) {
    if (auto shared = it->second.lock()) return shared;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqliteError(db, rc, "open " + path.string() + " for checkpoints");
    sqlite3_close_v2(db);
    return Unexpected(std::move(e));
  }
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  // A connection that has not read the file does not know it is in WAL mode, and its
  // checkpoints would do nothing.
  if (auto r = exec(db, "PRAGMA journal_mode=WAL"); !r) {
    sqlite3_close_v2(db);
    return Unexpected(r.error());
  }
  auto q = Statement::prepare(db, "PRAGMA page_size");
  const int page_size = q && sqlite3_step(q->get()) == SQLITE_ROW ? static_cast<int>(q->integer(0)) : 4096;
  q = Statement();
  std::shared_ptr<WalCheckpointer> made(new WalCheckpointer(db, std::max(page_size, 512)));
  registry[key] = made;
  return made;
}

WalCheckpointer::WalCheckpointer(sqlite3* db, int page_size)
    : db_(db),
      checkpoint_frames_(static_cast<int>(kCheckpointBytes / page_size)),
      catch_up_frames_(static_cast<int>(kCatchUpBytes / page_size)),
      restart_frames_(static_cast<int>(kRestartBytes / page_size)),
      cap_frames_(static_cast<int>(kWalCapBytes / page_size)) {
  thread_ = std::thread([this] { loop(); });
  pthread_setname_np(thread_.native_handle(), "courier-ckpt");  // here: visible at once (top, perf, tests)
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  sqlite3_close_v2(db_);
}

void WalCheckpointer::attach(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::walHook, this); }

void WalCheckpointer::enterWrite() {
  std::unique_lock lock(turn_mu_);
  const std::uint64_t ticket = next_ticket_++;
  turn_cv_.wait(lock, [&] { return serving_ == ticket; });
}

void WalCheckpointer::leaveWrite() {
  {
    std::lock_guard lock(turn_mu_);
    ++serving_;
  }
  turn_cv_.notify_all();  // a few threads at most: the inbox writer, the pipeline, the deliverers
}

// On the committing thread, inside its COMMIT: only notes the WAL's size.
int WalCheckpointer::walHook(void* self, sqlite3*, const char*, int frames) {
  auto* c = static_cast<WalCheckpointer*>(self);
  if (frames < c->frames_.exchange(frames, std::memory_order_relaxed)) {
    c->restarts_.fetch_add(1, std::memory_order_relaxed);
    c->copied_.store(0, std::memory_order_relaxed);  // a new WAL: nothing of it copied yet
  }
  // A round once kCheckpointBytes more than the last pass copied are waiting (not at every
  // commit past it: each round's pass ends with an fdatasync of the database file), and
  // from kRestartBytes on at every commit until the restart's turn is taken.
  if (frames - c->copied_.load(std::memory_order_relaxed) >= c->checkpoint_frames_ || frames >= c->restart_frames_) {
    {
      std::lock_guard lock(c->mu_);
      c->requested_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void WalCheckpointer::loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return requested_ || stop_; });
      if (stop_) return;
      requested_ = false;
    }
    // Passes follow each other while the writers keep ahead; a pass that copied nothing
    // new ends the round (a reader's snapshot holds the rest back; the next commit past
    // the threshold asks again).
    int log_frames = 0, copied = 0;
    bool ok = false;
    for (int pass = 0, before = -1; pass < kPasses; ++pass) {
      if (!checkpoint(log_frames, copied)) break;
      ok = true;
      if (copied == before || log_frames - copied <= catch_up_frames_ || log_frames >= cap_frames_) break;
      before = copied;
    }
    // Even when the last pass copied everything: a writer that began before it ended has
    // since committed more, and the WAL restarts only for a transaction that begins after
    // a complete copy. Copying in a write turn of its own makes the next one do so. Not
    // before the WAL holds kRestartBytes: every writer waits through that turn (its
    // copy and the database file's fdatasync, ~5 ms here, after ~9 ms queueing for it),
    // and taking it at every round (each kCheckpointBytes) held them ~0.6 s per 100,000
    // messages of bench/pipeline; from 16 MiB on, ~0.07 s.
    if (ok &&
        ((log_frames - copied <= catch_up_frames_ && log_frames >= restart_frames_) || log_frames >= cap_frames_)) {
      WriteScope turn(*this);
      (void)checkpoint(log_frames, copied);
    }
  }
}

bool WalCheckpointer::checkpoint(int& log_frames, int& copied) {
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
  if (rc != SQLITE_OK) {
    // BUSY: another process checkpoints (a CLI's automatic checkpoint); it does the same work.
    if ((rc & 0xff) != SQLITE_BUSY && failures_++ == 0) {
      logger("store")->warn("WAL checkpoint failed: {}", sqlite3_errmsg(db_));
    }
    return false;
  }
  checkpoints_.fetch_add(1, std::memory_order_relaxed);
  copied_.store(copied, std::memory_order_relaxed);
  return true;
}

}  // namespace courier::store
