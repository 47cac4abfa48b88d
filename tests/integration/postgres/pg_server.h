// PgServer: a throwaway PostgreSQL server for tests. A copy of a cluster made once by
// initdb (kept in the build tree) in a fresh directory under /tmp; `postgres` on
// 127.0.0.1 only (fsync on); stop() is a fast shutdown (SIGINT, what `pg_ctl stop -m fast`
// sends), the destructor an immediate one (the data is thrown away) and removes it all. PostgreSQL refuses to run as
// root: as root the server runs as the `postgres` user (else `nobody`) through
// `setpriv`, with a parent-death signal so that it never outlives a crashed test.
//
// The binaries come from $COURIER_PG_BINDIR or the newest /usr/lib/postgresql/*/bin
// (Debian's postgresql package, installed by ./dev.sh deps). Every step has a deadline;
// errors come back as text for the test to FAIL with.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace courier::testing {

class PgServer {
 public:
  PgServer() = default;
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;
  ~PgServer();  // stops the server, removes its directory

  // initdb + start. Returns "" or what went wrong (with the server log's tail).
  std::string init();
  // Starts (again) on the same port and directory. "" or the error.
  std::string start();
  // Fast shutdown; waits until the postmaster exited (SIGKILL after 20 s). "" or error.
  std::string stop();

  // A new empty database; returns its conninfo ("" and `error` set on failure).
  std::string createDatabase(const std::string& name, std::string* error);
  std::string conninfo(const std::string& dbname) const;
  int port() const { return port_; }

 private:
  std::string run(const std::vector<std::string>& argv, const std::filesystem::path& log);
  std::string makeDataDir();
  std::string logTail() const;
  std::vector<std::string> asServerUser(std::vector<std::string> argv) const;

  std::filesystem::path bin_, root_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool switch_user_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace courier::testing
