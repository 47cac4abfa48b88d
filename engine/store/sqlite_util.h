// Small helpers shared by the SQLite store implementations (the inbox writer in
// sqlite_store.cc, the pipeline/outbox/worklist side in sqlite_work_store.cc).
// Internal to engine/store: not part of its interface.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "engine/core/error.h"
#include "engine/core/result.h"

namespace courier::store {

inline Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  msg += " (sqlite code " + std::to_string(rc) + ")";
  return Error(ErrorCode::kUnavailable, std::move(msg));
}

// Errors after which the connection is reopened before the next group: the file may
// have been replaced, or the connection is in a state we do not trust.
inline bool needsReopen(int rc) {
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOTADB:
      return true;
    default:
      return false;
  }
}

// Process-wide SQLite setting, applied before SQLite initializes: memory statistics off.
// With them on, every SQLite malloc and free takes a global mutex (and counts bytes
// nobody reads here). If something else in the process initialized SQLite first, the
// call fails harmlessly and the default stays.
inline void configureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

// Owns one prepared statement.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
  Statement& operator=(Statement&& o) noexcept {
    if (this != &o) {
      finalize();
      stmt_ = std::exchange(o.stmt_, nullptr);
    }
    return *this;
  }
  ~Statement() { finalize(); }

  static Result<Statement> prepare(sqlite3* db, std::string_view sql) {
    Statement s;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s.stmt_, nullptr);
    if (rc != SQLITE_OK) return Unexpected(sqliteError(db, rc, "prepare"));
    return s;
  }

  sqlite3_stmt* get() const { return stmt_; }
  // Makes the statement runnable again. Bindings stay: the writer binds every parameter
  // before each step, so clearing them would only cost time.
  void reset() { sqlite3_reset(stmt_); }
  void bindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bindTextOrNull(int i, std::string_view v) {
    if (v.empty()) sqlite3_bind_null(stmt_, i);
    else bindText(i, v);
  }
  void bindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bindInt(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  // The column's text without a copy, valid until the next step or reset.
  std::string_view textView(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::string blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(stmt_, col); }

 private:
  void finalize() {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
  sqlite3_stmt* stmt_ = nullptr;
};

inline Result<void> exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) return Unexpected(sqliteError(db, rc, "exec"));
  return Ok();
}

}  // namespace courier::store
