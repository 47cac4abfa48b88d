// Small libpq helpers shared by the PostgreSQL store implementations (the inbox writer in
// postgres_store.cc, the pipeline side in postgres_work_store.cc). Internal to
// engine/store: not part of its interface.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/result.h"

namespace courier::store::pg {

struct ConnClose {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnClose>;

struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Rows = std::unique_ptr<PGresult, ResultClear>;

// Parameters of one statement, sent in text format except binary ones (BYTEA). Text
// values must be NUL-free; point at strings that outlive the call (view) or copy (text).
class Params {
 public:
  void view(const std::string& v) { add(v.c_str(), static_cast<int>(v.size()), 0); }
  void text(std::string v) {
    owned_.push_back(std::move(v));
    view(owned_.back());
  }
  void integer(std::int64_t v) { text(std::to_string(v)); }
  void null() { add(nullptr, 0, 0); }
  void viewOrNull(const std::string& v) { v.empty() ? null() : view(v); }
  void binary(std::string_view v) { add(v.data(), static_cast<int>(v.size()), 1); }

  int count() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void add(const char* p, int len, int format) {
    values_.push_back(p);
    lengths_.push_back(len);
    formats_.push_back(format);
  }
  std::deque<std::string> owned_;  // deque: growing it never moves the strings viewed
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// kUnavailable with `what`, the SQLSTATE and the server's primary message (never DETAIL,
// which may quote values, i.e. PHI).
Error pgError(PGconn* conn, const PGresult* res, std::string_view what);

// Opens a connection: `conninfo` (keyword=value or URI) over Courier's defaults (5 s
// connect timeout, TCP keepalives and a 15 s TCP user timeout, so a vanished server fails
// a group instead of hanging the writer; client_encoding UTF8). Notices are not printed.
// Every session runs with synchronous_commit at least `on` (remote_apply is kept): a
// COMMIT returns only once the WAL is flushed (on the synchronous standbys too).
Result<Conn> connect(const std::string& conninfo, const char* application_name);

// Runs `sql` (one or more statements, no parameters).
Result<Rows> exec(PGconn* conn, const char* sql, std::string_view what);
// Runs one statement with parameters (unnamed, parsed each time) or a prepared one.
Result<Rows> exec(PGconn* conn, const std::string& sql, const Params& params, std::string_view what);
Result<Rows> execPrepared(PGconn* conn, const char* name, const Params& params, std::string_view what);
Result<void> prepare(PGconn* conn, const char* name, const std::string& sql, std::string_view what);

// Column accessors of a text-format result.
std::int64_t integer(const PGresult* r, int row, int col);
std::string text(const PGresult* r, int row, int col);  // "" for NULL
bool isNull(const PGresult* r, int row, int col);
std::string bytea(const PGresult* r, int row, int col);  // unescapes the hex form

// `s` as valid UTF-8 without NUL bytes (each invalid byte and each NUL becomes U+FFFD),
// which a TEXT column requires. HL7 v2 may arrive in Latin-1: the raw bytes are stored
// exactly (BYTEA); only the metadata columns are made valid, deterministically, so the
// dedup key of a resent message is the same. Returns true when it changed `s`.
bool makeValidText(std::string& s);

// Runs `body` between BEGIN and COMMIT; any failure rolls back. A COMMIT that reports
// anything but COMMIT (the transaction had failed) is an error.
Result<void> transaction(PGconn* conn, const std::function<Result<void>()>& body);

}  // namespace courier::store::pg
