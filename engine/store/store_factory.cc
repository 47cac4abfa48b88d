#include "engine/store/store_factory.h"

#include <filesystem>

#include "engine/store/sqlite_store.h"

namespace courier::store {

Result<std::unique_ptr<MessageStore>> openMessageStore(const config::StoreConfig& config) {
  switch (config.kind) {
    case config::StoreKind::kSqlite: {
      std::error_code ec;
      std::filesystem::path dir = config.sqlite_path.parent_path();
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      if (ec) {
        return Unexpected(Error(ErrorCode::kUnavailable, "cannot create the directory of the message store: " +
                                                             ec.message(), dir.string()));
      }
      SqliteStoreOptions options;
      options.path = config.sqlite_path;
      options.max_batch = config.group_commit.max_batch;
      options.max_delay = config.group_commit.max_delay;
      options.max_pending = config.max_pending;
      auto store = SqliteStore::open(options);
      if (!store) return Unexpected(store.error());
      return std::unique_ptr<MessageStore>(std::move(*store));
    }
  }
  return Unexpected(Error(ErrorCode::kUnsupported, "unknown store kind"));
}

Result<std::unique_ptr<MessageStore>> openMessageStoreForReading(const config::StoreConfig& config) {
  switch (config.kind) {
    case config::StoreKind::kSqlite: {
      SqliteStoreOptions options;
      options.path = config.sqlite_path;
      options.create_if_missing = false;
      options.start_writer = false;
      auto store = SqliteStore::open(options);
      if (!store) return Unexpected(store.error());
      return std::unique_ptr<MessageStore>(std::move(*store));
    }
  }
  return Unexpected(Error(ErrorCode::kUnsupported, "unknown store kind"));
}

}  // namespace courier::store
