#include "engine/store/pg_util.h"

#include <cstdlib>
#include <cstring>

namespace courier::store::pg {

Error pgError(PGconn* conn, const PGresult* res, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    msg += primary;
  } else if (conn != nullptr && PQerrorMessage(conn)[0] != '\0') {
    std::string text = PQerrorMessage(conn);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    msg += text;
  } else {
    msg += "no connection to the database";
  }
  if (state != nullptr) msg += std::string(" (SQLSTATE ") + state + ")";
  return Error(ErrorCode::kUnavailable, std::move(msg));
}

namespace {

void ignoreNotice(void*, const char*) {}

bool commandOk(const PGresult* r) {
  ExecStatusType s = PQresultStatus(r);
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

Result<Rows> check(PGconn* conn, PGresult* raw, std::string_view what) {
  Rows r(raw);
  if (r == nullptr || !commandOk(r.get())) return Unexpected(pgError(conn, r.get(), what));
  return r;
}

}  // namespace

Result<Conn> connect(const std::string& conninfo, const char* application_name) {
  // Later entries override earlier ones, and the expanded conninfo (dbname) comes last,
  // so everything here is a default the operator may change in the config.
  const char* keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "application_name", "client_encoding",
                        "dbname", nullptr};
  const char* values[] = {"5", "1", "10", "3", "3", "15000", application_name, "UTF8", conninfo.c_str(), nullptr};
  Conn conn(PQconnectdbParams(keys, values, 1));
  if (conn == nullptr) return Unexpected(Error(ErrorCode::kUnavailable, "connect: out of memory"));
  if (PQstatus(conn.get()) != CONNECTION_OK) return Unexpected(pgError(conn.get(), nullptr, "connect"));
  PQsetNoticeProcessor(conn.get(), ignoreNotice, nullptr);
  // An ACK promises durability: never run with synchronous_commit off, local or
  // remote_write, whatever the server's or database's default is.
  auto show = exec(conn.get(), "SHOW synchronous_commit", "read synchronous_commit");
  if (!show) return Unexpected(show.error());
  if (text(show->get(), 0, 0) != "remote_apply" && text(show->get(), 0, 0) != "on") {
    if (auto r = exec(conn.get(), "SET synchronous_commit = on", "set synchronous_commit"); !r) {
      return Unexpected(r.error());
    }
  }
  return conn;
}

Result<Rows> exec(PGconn* conn, const char* sql, std::string_view what) {
  return check(conn, PQexec(conn, sql), what);
}

Result<Rows> exec(PGconn* conn, const std::string& sql, const Params& p, std::string_view what) {
  return check(conn, PQexecParams(conn, sql.c_str(), p.count(), nullptr, p.values(), p.lengths(), p.formats(), 0),
               what);
}

Result<Rows> execPrepared(PGconn* conn, const char* name, const Params& p, std::string_view what) {
  return check(conn, PQexecPrepared(conn, name, p.count(), p.values(), p.lengths(), p.formats(), 0), what);
}

Result<void> prepare(PGconn* conn, const char* name, const std::string& sql, std::string_view what) {
  auto r = check(conn, PQprepare(conn, name, sql.c_str(), 0, nullptr), what);
  if (!r) return Unexpected(r.error());
  return Ok();
}

std::int64_t integer(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

bool isNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

std::string bytea(const PGresult* r, int row, int col) {
  std::size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &n);
  if (raw == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

bool makeValidText(std::string& s) {
  // Length of the valid UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, no
  // surrogates, nothing above U+10FFFF).
  auto valid = [&](std::size_t i) -> std::size_t {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c >= 0x01 && c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else return 0;
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k) {
      if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    }
    return n;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = valid(i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return false;
  std::string out = s.substr(0, i);
  while (i < s.size()) {
    std::size_t n = valid(i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  s = std::move(out);
  return true;
}

Result<void> transaction(PGconn* conn, const std::function<Result<void>()>& body) {
  if (auto r = exec(conn, "BEGIN", "begin"); !r) return Unexpected(r.error());
  auto rollback = [&] {
    if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      Rows(PQexec(conn, "ROLLBACK"));
    }
  };
  if (auto r = body(); !r) {
    rollback();
    return r;
  }
  auto c = exec(conn, "COMMIT", "commit");
  if (!c) {
    rollback();
    return Unexpected(c.error());
  }
  if (std::strcmp(PQcmdStatus(c->get()), "COMMIT") != 0) {
    return Unexpected(Error(ErrorCode::kUnavailable, std::string("commit: the transaction was ") + PQcmdStatus(c->get())));
  }
  return Ok();
}

}  // namespace courier::store::pg
