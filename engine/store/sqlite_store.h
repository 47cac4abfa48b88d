// SqliteStore: the embedded MessageStore, one SQLite file in WAL mode under the data dir.
//
// Threading: one writer thread owns the write connection. submit() only appends to a
// queue (mutex + condition variable) and returns; the writer takes everything queued
// (up to max_batch), runs one transaction, commits it (synchronous=FULL: the commit
// returns after fsync of the WAL, so an ACK means durable even on power loss), then hands
// the group's callbacks to a completion thread ("courier-cb"), which runs them in
// commit order while the writer already works on the next group. The file's checkpoint
// thread ("courier-ckpt", wal_checkpointer.h, shared with the work stores on the same
// file) copies the WAL into the database file off the commit path; the writer's
// transactions take turns with the work stores' and its last copy (a write turn), so that
// the WAL restarts and no writer sleeps in SQLite's busy handler behind another. Reads
// use one more connection under a mutex (WAL readers do not block the writer, and another
// process may read meanwhile).
//
// Failure: any SQLite error inside a group (SQLITE_FULL, SQLITE_BUSY/LOCKED, SQLITE_IOERR,
// read-only file...) rolls the group back and answers every message of it kUnavailable;
// the writer goes on with the next group, so the store recovers when storage does.
//
// Patient index: kept OFF the commit path. The commit that ACKs a message writes no
// patient index entry; a low-priority thread ("courier-pidx") later indexes every row
// above a high-water mark in one sorted transaction (every patient_index_batch messages,
// after patient_index_delay at most, at open and at close). The index lives in a sidecar
// SQLite file (`<path>-patient-index`), so that transaction takes a write lock and an
// fsync of its own and never holds up the writer. list() by patient = index lookup for
// ids <= the high-water mark + a scan of the short unindexed tail above it: the same rows
// as a plain index. The sidecar is derived data: when it is missing, stale or broken the
// indexer rebuilds it, and list() scans meanwhile. Its failures are logged and retried.
//
// Duplicates: the dedup key (control id, facility) is kept off the commit path the same
// way, in the sidecar's dedup_index. The writer checks a group's keys against its own
// memory of every key committed above the sidecar's mark, then against the sidecar, and
// inserts only new messages. Hence one writer per store file: open() takes an flock on
// `<path>-writer.lock` and refuses a second writer (kUnavailable).
//
// Schema: versioned through the `schema_version` table; open() migrates forward and
// refuses a file written by a newer Courier.
//
// Resource index (resource_index.h, resourceIndex() is the store itself): the entries of
// InboundMessage::resources are written by the writer in the message's own transaction
// (a lookup and an insert per resource; HL7 v2 messages carry none and pay nothing).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>

#include "engine/core/result.h"
#include "engine/store/message_store.h"

struct sqlite3;

namespace courier::store {

enum class SqliteFaultPoint {
  kBeforeBegin,   // before the group's BEGIN
  kBeforeCommit,  // after every INSERT of the group, before COMMIT
};

struct SqliteStoreOptions {
  std::filesystem::path path;                     // the database file; parent must exist
  std::size_t max_batch = 1024;                   // messages per commit, at most
  std::chrono::microseconds max_delay{1000};      // how long a group may wait to fill
  std::size_t max_pending = 100000;               // queued beyond this: kUnavailable
  bool create_if_missing = true;                  // false: kNotFound when absent (CLI)
  bool start_writer = true;                       // false: read-only use (CLI); submit
                                                  // then answers kUnavailable
  // How long the writer waits for a lock held by another process before the group
  // fails with kUnavailable (and is retried by the senders).
  std::chrono::milliseconds busy_timeout{2000};
  // Background patient indexing (see above). false: never index (tests use it to leave an
  // unindexed tail, as a crash would); list() stays correct, only slower.
  bool index_patients = true;
  std::size_t patient_index_batch = 32768;            // index once this many are unindexed
  std::chrono::milliseconds patient_index_delay{500}; // ... or after this long
  // The writer holds the dedup keys above the index mark in memory (~100 bytes each);
  // past this many it waits for the indexer (up to 1 s, then the group fails, retried).
  std::size_t max_unindexed_keys = 262144;
  // Test hook (fault injection), run on the writer thread at each point below with the
  // write connection. An error fails the group exactly as a storage failure would; the
  // hook may also change the connection (e.g. PRAGMA max_page_count to fill the "disk").
  std::function<Result<void>(SqliteFaultPoint point, sqlite3* db)> fault_hook;
};

// Counters since open, for tests, benchmarks and metrics. Thread-safe snapshot.
struct SqliteStoreStats {
  std::uint64_t commits = 0;            // successful grouped commits
  std::uint64_t failed_commits = 0;     // groups rolled back
  std::uint64_t messages_stored = 0;    // new messages durable
  std::uint64_t duplicates = 0;         // duplicates answered since open
  std::uint64_t largest_batch = 0;
  std::uint64_t checkpoints = 0;        // WAL checkpoints by the file's checkpoint thread (all writers')
  std::uint64_t wal_restarts = 0;       // the WAL started again from its beginning (any writer's commit)
  std::int64_t patient_indexed_through = 0;   // high-water mark: ids <= it are indexed
  std::uint64_t patient_index_runs = 0;       // index transactions committed
  std::uint64_t patient_index_failures = 0;   // index transactions failed (retried later)
};

class SqliteStore : public MessageStore {
 public:
  // Opens (creating and migrating when allowed) the database. Errors: kNotFound (absent
  // and !create_if_missing), kUnavailable (cannot open or migrate), kUnsupported
  // (schema newer than this program).
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> open(const SqliteStoreOptions& options);

  virtual SqliteStoreStats stats() const = 0;

  static constexpr int kSchemaVersion = 9;
};

}  // namespace courier::store
