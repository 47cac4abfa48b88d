// openMessageStore: builds the MessageStore the config asks for (store.kind: sqlite or
// postgres), so that `courier serve` and the pipeline never name an implementation.
#pragma once

#include <memory>

#include "engine/config/config.h"
#include "engine/core/result.h"
#include "engine/store/message_store.h"

namespace courier::store {

// Opens (creating when absent) the store of `config` with its writer running.
// Errors: kUnavailable (cannot open), kUnsupported (schema from a newer Courier).
[[nodiscard]] Result<std::unique_ptr<MessageStore>> openMessageStore(const config::StoreConfig& config);

// Opens an existing store for reading only (`courier messages`), safe while a server
// writes to it; submit() on it answers kUnavailable. Errors: kNotFound (no store there),
// kUnavailable, kUnsupported.
[[nodiscard]] Result<std::unique_ptr<MessageStore>> openMessageStoreForReading(const config::StoreConfig& config);

}  // namespace courier::store
