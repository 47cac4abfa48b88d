// The payloads of outbox items a work store has just committed, kept in memory so the
// destination's deliverer takes them from here instead of reading them back from the
// file. Internal to engine/store, shared by a SqliteWorkStore and the stores connect()
// made (the pipeline writes on one connection, each deliverer reads on its own).
//
// Why: a connection's page cache never holds another connection's new pages, so every
// payload the pipeline wrote (a ~3 KB FHIR Claim, the message for a registry) was read
// again by pread from the WAL, one page per call, and copied once more into the item.
//
// Only a cache: the file stays the durable copy and the truth. An entry is put after its
// COMMIT (never a payload that might be rolled back), holds the bytes the file has for
// that id (payload rows are written once and never changed), and is handed out only for
// an item with the same id and idempotency key (an id SQLite gave again after a delete
// has another key; the key is compared by its 64-bit hash). An item not found here is read from the file as before. A
// deliverer reads its queue in id order, so when it asks for id X every entry below X of that destination was read
// already (or was found in the file first): those are dropped. Each destination keeps at most kBytesPerQueue, and all
// of them together kBytesTotal (every FHIR subscription is a destination of its own); past that, new payloads are not
// kept (a destination that is down holds a few MiB here, not its backlog).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace courier::store {

class RecentPayloads {
 public:
  static constexpr std::size_t kBytesPerQueue = 4 << 20;
  static constexpr std::size_t kBytesTotal = 16 << 20;

  explicit RecentPayloads(std::size_t bytes_per_queue = kBytesPerQueue, std::size_t bytes_total = kBytesTotal)
      : limit_(bytes_per_queue), total_limit_(bytes_total) {}

  // After the commit that wrote item `id` of `destination` with this key and payload. Ids
  // of one destination come in increasing order (one writer commits at a time); one that
  // does not is not kept.
  void put(std::string_view destination, std::int64_t id, std::string_view key, std::string payload);

  // Moves the payload of item `id` into `out` and forgets it; false when it is not here
  // (or was kept under another key). Drops the destination's entries below `id`.
  bool take(std::string_view destination, std::int64_t id, std::string_view key, std::string& out);

  // Forgets a destination's entries (its items were deleted: their ids may be used again).
  void forget(std::string_view destination);

  std::size_t bytes() const;

 private:
  struct Entry {
    std::int64_t id;
    std::size_t key_hash;  // of the idempotency key: no copy of it per item
    std::string payload;
  };
  struct Queue {
    std::deque<Entry> items;  // ascending ids
    std::size_t bytes = 0;
  };
  const std::size_t limit_;
  const std::size_t total_limit_;
  mutable std::mutex mu_;
  std::map<std::string, Queue, std::less<>> queues_;
  std::size_t bytes_ = 0;
};

}  // namespace courier::store
