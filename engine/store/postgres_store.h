// PostgresStore: the cluster MessageStore. Several Courier nodes share one PostgreSQL
// database (a primary with synchronous standbys: deploy/examples/cluster.yaml).
//
// Threading: as SqliteStore. submit() only appends to a queue and returns; one writer
// thread ("courier-store") owns one connection and commits groups: ids for the group from
// the messages' sequence, then BEGIN, multi-row INSERT ... ON CONFLICT (control_id,
// sending_facility) DO NOTHING RETURNING id, then for each row not inserted an UPDATE
// of the first copy's duplicate counter (returning its id and ACK code), COMMIT. Every
// session runs with synchronous_commit on (or remote_apply), so COMMIT returns once the
// WAL is flushed on the primary and, when configured, on a synchronous standby. Only then
// does a completion thread ("courier-cb") run the group's callbacks, in submission order.
// Reads (list/get/duplicateCount) use a pool of up to `pool` other connections.
//
// Across nodes: the unique key makes dedup exact. Two nodes inserting the same key at
// once: the second waits for the first's commit, then finds the first copy (READ
// COMMITTED: each statement sees what committed before it started).
//
// Failure: any error (connection lost, server shut down, disk full on the server, a
// failover) rolls the group back and answers each of its messages kUnavailable. A broken
// connection is dropped; the next group connects again (at most every 200 ms), so the
// store recovers when the server (or the new primary) does. A COMMIT whose answer was lost
// may have committed: the sender, answered AE/CE, resends, and dedup answers with the
// first ACK code. No acknowledged message is lost.
//
// Text columns need valid UTF-8: metadata (control id, facility, ...) that is not is
// stored with U+FFFD replacements (deterministic, so dedup still holds); raw bytes are
// stored exactly (BYTEA).
//
// Schema: versioned through `schema_version`; open() migrates forward under an advisory
// lock (nodes starting together migrate once) and refuses a schema from a newer Courier.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/result.h"
#include "engine/store/message_store.h"

namespace courier::store {

struct PostgresStoreOptions {
  std::string conninfo;                        // libpq keyword=value string or URI
  std::size_t pool = 4;                        // read connections, at most
  std::size_t max_batch = 1024;                // messages per commit, at most
  std::chrono::microseconds max_delay{1000};   // how long a group may wait to fill
  std::size_t max_pending = 100000;            // queued beyond this: kUnavailable
  bool start_writer = true;                    // false: read-only (CLI); no migration,
                                               // kNotFound without a schema, submit()
                                               // answers kUnavailable
  // Between two failed connection attempts of the writer, groups fail at once.
  std::chrono::milliseconds reconnect_interval{200};
};

// Counters since open, for tests, benchmarks and metrics. Thread-safe snapshot.
struct PostgresStoreStats {
  std::uint64_t commits = 0;           // successful grouped commits
  std::uint64_t failed_commits = 0;    // groups rolled back or lost with the connection
  std::uint64_t messages_stored = 0;   // new messages durable
  std::uint64_t duplicates = 0;        // duplicates answered since open
  std::uint64_t largest_batch = 0;
  std::uint64_t connects = 0;          // writer connections opened (1 + reconnects)
};

class PostgresStore : public MessageStore {
 public:
  // Connects, creates or migrates the schema (when start_writer) and starts the writer.
  // Errors: kUnavailable (cannot connect or migrate), kNotFound (read-only and no schema),
  // kUnsupported (schema newer than this program), kInvalidArgument (options).
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> open(const PostgresStoreOptions& options);

  virtual PostgresStoreStats stats() const = 0;

  static constexpr int kSchemaVersion = 1;
};

}  // namespace courier::store
