// The WAL checkpoints of one SQLite database file, on a thread of its own, for every
// connection of this process that writes it: the message store's inbox writer, the
// pipeline's and the deliverers' work-store connections. Internal to engine/store.
//
// Why a thread: SQLite's automatic checkpoint copies the WAL into the database file
// inside the COMMIT that crosses the threshold, on the committing thread (about a fifth
// of the pipeline thread's time, and a latency spike for the senders of that inbox
// group). Instead each writing connection's wal hook tells this thread how many frames
// the WAL holds, and past kCheckpointBytes of frames it copies them (PASSIVE: it never
// blocks a writer or a reader). The bounds are in bytes, so a file's page size (16 KiB
// for a store made since 2026-11-28, 4 KiB before) does not change how large the WAL gets.
//
// Why one per file: SQLite starts the WAL again from its beginning only when a write
// begins after a checkpoint copied every frame, and under a steady stream of commits a
// PASSIVE checkpoint never catches up. So once few frames are left (kCatchUpBytes) of a
// WAL that holds at least kRestartBytes, or the WAL is past kWalCapBytes, the thread
// takes the file's write turn (below) and copies the rest while no writer can commit;
// the next write restarts the WAL. Every writer waits through that turn, hence not
// sooner than kRestartBytes. That copy is
// complete only if every writer waits for it, so all of them share this one checkpointer:
// two checkpointers each holding back their own writers never both succeed while both
// kinds write (a second checkpointer would also only get SQLITE_BUSY).
//
// The write turn: SQLite lets one write transaction run at a time, and one that finds the
// file locked sleeps in its busy handler (1, 2, 5, 10 ms and on), however soon the other
// commits; with the pipeline committing next to the inbox writer that put tens of
// milliseconds into the senders' ACKs. So the process's writers of the file take turns
// first, first come first served, and the next one starts the moment the last one
// committed. Readers never wait.
//
// A writer from another process (`courier outbox retry`) takes no turn: SQLite's busy
// timeout still orders it, and it can only delay one restart.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/core/result.h"

namespace courier::store {

class WalCheckpointer {
 public:
  static constexpr std::int64_t kCheckpointBytes = 8 << 20;
  static constexpr std::int64_t kCatchUpBytes = 4 << 20;
  static constexpr std::int64_t kRestartBytes = 16 << 20;  // no restart (write turn) below this
  static constexpr std::int64_t kWalCapBytes = 32 << 20;  // the WAL's bound, plus what one pass lets in
  static constexpr int kPasses = 8;

  // This process's checkpointer for the file at `path` (already in WAL mode), made on
  // first use and shared by every caller until the last one lets go.
  [[nodiscard]] static Result<std::shared_ptr<WalCheckpointer>> forFile(const std::filesystem::path& path,
                                                                        std::chrono::milliseconds busy_timeout);

  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces SQLite's automatic checkpoint on `db`, a connection that writes the file.
  void attach(sqlite3* db);

  // Around every write transaction on an attached connection: before BEGIN, and after
  // COMMIT or ROLLBACK. Waits for the writers (and the catch-up copy) before it, in order.
  void enterWrite();
  void leaveWrite();

  class WriteScope {
   public:
    explicit WriteScope(WalCheckpointer& c) : c_(c) { c_.enterWrite(); }
    ~WriteScope() { c_.leaveWrite(); }
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

   private:
    WalCheckpointer& c_;
  };

  std::uint64_t checkpoints() const { return checkpoints_.load(std::memory_order_relaxed); }
  std::uint64_t walRestarts() const { return restarts_.load(std::memory_order_relaxed); }

 private:
  WalCheckpointer(sqlite3* db, int page_size);
  static int walHook(void* self, sqlite3*, const char*, int frames);
  void loop();
  bool checkpoint(int& log_frames, int& copied);

  sqlite3* db_;  // the thread's own connection
  // The byte bounds above in frames of this file's pages.
  const int checkpoint_frames_;
  const int catch_up_frames_;
  const int restart_frames_;
  const int cap_frames_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::mutex turn_mu_;
  std::condition_variable turn_cv_;
  std::uint64_t next_ticket_ = 0;  // the write turns, in the order they were asked for
  std::uint64_t serving_ = 0;
  std::atomic<int> frames_{0};  // after the last commit on any attached connection
  std::atomic<int> copied_{0};  // of those, copied by the last pass (0 after a restart)
  std::atomic<std::uint64_t> restarts_{0};
  std::atomic<std::uint64_t> checkpoints_{0};
  int failures_ = 0;    // the thread's only
  std::thread thread_;  // last: started once everything above is made
};

}  // namespace courier::store
