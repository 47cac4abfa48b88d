#include "engine/store/store_factory.h"

#include <filesystem>

#include "engine/store/sqlite_store.h"
#ifdef COURIER_HAVE_POSTGRES
#include "engine/store/postgres_store.h"
#endif

namespace courier::store {
namespace {

Result<std::unique_ptr<MessageStore>> openPostgres(const config::StoreConfig& config, bool writer) {
#ifdef COURIER_HAVE_POSTGRES
  PostgresStoreOptions options;
  options.conninfo = config.postgres.conninfo;
  options.pool = config.postgres.pool;
  options.max_batch = config.group_commit.max_batch;
  options.max_delay = config.group_commit.max_delay;
  options.max_pending = config.max_pending;
  options.start_writer = writer;
  auto store = PostgresStore::open(options);
  if (!store) return Unexpected(store.error());
  return std::unique_ptr<MessageStore>(std::move(*store));
#else
  (void)config;
  (void)writer;
  return Unexpected(Error(ErrorCode::kUnsupported, "this Courier was built without libpq: store.kind postgres is not available"));
#endif
}

}  // namespace

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
    case config::StoreKind::kPostgres:
      return openPostgres(config, true);
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
    case config::StoreKind::kPostgres:
      return openPostgres(config, false);
  }
  return Unexpected(Error(ErrorCode::kUnsupported, "unknown store kind"));
}

}  // namespace courier::store
