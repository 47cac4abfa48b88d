#include "engine/store/recent_payloads.h"

#include <functional>
#include <optional>
#include <vector>

namespace courier::store {

void RecentPayloads::put(std::string_view destination, std::int64_t id, std::string_view key, std::string payload) {
  const std::size_t key_hash = std::hash<std::string_view>{}(key);  // outside the lock the deliverers wait on
  std::lock_guard lock(mu_);
  auto it = queues_.find(destination);
  if (it == queues_.end()) it = queues_.emplace(std::string(destination), Queue{}).first;
  Queue& q = it->second;
  if (q.bytes + payload.size() > limit_ || bytes_ + payload.size() > total_limit_) return;
  if (!q.items.empty() && q.items.back().id >= id) return;
  q.bytes += payload.size();
  bytes_ += payload.size();
  q.items.push_back(Entry{id, key_hash, std::move(payload)});
}

bool RecentPayloads::take(std::string_view destination, std::int64_t id, std::string_view key, std::string& out) {
  std::optional<Entry> found;  // freed outside the lock, as the stale ones
  std::vector<Entry> stale;
  {
    std::lock_guard lock(mu_);
    auto it = queues_.find(destination);
    if (it == queues_.end()) return false;
    Queue& q = it->second;
    while (!q.items.empty() && q.items.front().id <= id) {
      q.bytes -= q.items.front().payload.size();
      bytes_ -= q.items.front().payload.size();
      if (q.items.front().id == id) {
        found = std::move(q.items.front());
      } else {
        stale.push_back(std::move(q.items.front()));
      }
      q.items.pop_front();
    }
  }
  if (!found || found->key_hash != std::hash<std::string_view>{}(key)) return false;
  out = std::move(found->payload);
  return true;
}

void RecentPayloads::forget(std::string_view destination) {
  Queue gone;  // freed outside the lock
  {
    std::lock_guard lock(mu_);
    auto it = queues_.find(destination);
    if (it == queues_.end()) return;
    bytes_ -= it->second.bytes;
    gone = std::move(it->second);
    queues_.erase(it);
  }
}

std::size_t RecentPayloads::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace courier::store
