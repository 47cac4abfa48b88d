// ResourceIndex: the FHIR resources a store holds, by resource type and logical id, so the
// HTTP listener can answer read (GET /fhir/{type}/{id}) and vread (.../_history/{vid}).
//
// Nothing is copied: an index entry points at the stored message that carried the
// resource (a POST/PUT body, or one entry of a Bundle), and the reader takes the resource
// out of that message's raw bytes. A source adapter names the resources of a message in
// InboundMessage::resources; the store writes their entries in the same transaction as the
// message, so a resource is readable as soon as the sender was answered. Each stored
// message is one version: the version id of a resource is the id of the message that
// carried it (so versions of one resource grow, but are not 1, 2, 3).
//
// Stores that do not index (PostgreSQL) return nullptr from MessageStore::resourceIndex();
// the listener then offers no read. Never logs PHI (ids in bodies are PHI-adjacent).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/result.h"
#include "engine/store/message_store.h"

namespace courier::store {

// One version of one resource, as findResource() returns it.
struct ResourceVersion {
  MessageId message_id = 0;  // the message holding it, and the version id
  std::int32_t entry = -1;   // -1: the message body is the resource; else its Bundle.entry index
  TimePoint received_at{};   // when Courier received it (meta.lastUpdated, Last-Modified)
  std::string raw;           // the whole stored message (exact bytes)
};

class ResourceIndex {
 public:
  virtual ~ResourceIndex() = default;

  // The newest version of (type, id), or exactly `version` when given. Blocking (disk):
  // never call it on an I/O thread. Thread-safe. Errors: kNotFound (no such resource or
  // version), kUnavailable (storage failed).
  [[nodiscard]] virtual Result<ResourceVersion> findResource(std::string_view type, std::string_view id,
                                                             std::optional<MessageId> version) = 0;
};

}  // namespace courier::store
