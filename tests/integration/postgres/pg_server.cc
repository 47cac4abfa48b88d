#include "tests/integration/postgres/pg_server.h"

#include <fcntl.h>
#include <sys/file.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace courier::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path findBinDir() {
  if (const char* env = std::getenv("COURIER_PG_BINDIR"); env != nullptr && *env != '\0') return env;
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = e.path() / "bin";
    if (!fs::exists(bin / "initdb") || !fs::exists(bin / "postgres")) continue;
    int v = std::atoi(e.path().filename().c_str());
    if (v > best_version) best_version = v, best = bin;
  }
  return best;
}

// Blocks until the child `pid` exits or `until` passes, on a pidfd (Linux 5.3+), which
// becomes readable when the child exits; true when it did (not reaped yet).
bool exitedBy(pid_t pid, Clock::time_point until) {
  // The raw system call: glibc 2.36's <sys/pidfd.h> declares pidfd_open without C linkage.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return true;  // already reaped (ESRCH): nothing to wait for; waitpid tells
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
  pollfd p{fd, POLLIN, 0};
  const int n = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left)));
  ::close(fd);
  return n > 0;
}

// Waits for `pid` until the deadline; true when it exited (status in *status).
bool waitExit(pid_t pid, Clock::time_point deadline, int* status) {
  for (;;) {
    pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    (void)exitedBy(pid, deadline);
  }
}

}  // namespace

PgServer::~PgServer() {
  if (pid_ > 0) {
    // The data is thrown away: immediate shutdown, no checkpoint to wait for.
    ::kill(pid_, SIGQUIT);
    int status = 0;
    if (!waitExit(pid_, Clock::now() + std::chrono::seconds(20), &status)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  if (!root_.empty()) {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
}

std::vector<std::string> PgServer::asServerUser(std::vector<std::string> argv) const {
  if (!switch_user_) return argv;
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid_),
                                  "--regid=" + std::to_string(gid_), "--clear-groups", "--pdeathsig", "KILL", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Runs argv to completion (60 s at most), output into `log`.
std::string PgServer::run(const std::vector<std::string>& argv_in, const fs::path& log) {
  std::vector<std::string> argv = asServerUser(argv_in);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + log.string();
  if (switch_user_ && ::fchown(fd, uid_, gid_) != 0) return "cannot chown " + log.string();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid < 0) return "fork failed";
  int status = 0;
  if (!waitExit(pid, Clock::now() + std::chrono::seconds(60), &status)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return argv_in[0] + " did not finish within 60 s";
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return argv_in[0] + " failed: " + text.str();
  }
  return "";
}

std::string PgServer::init() {
  bin_ = findBinDir();
  if (bin_.empty()) {
    return "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb and COURIER_PG_BINDIR "
           "unset): install Debian's `postgresql` package (./dev.sh deps does)";
  }
  for (const char* tool : {"initdb", "postgres"}) {
    if (::access((bin_ / tool).c_str(), X_OK) != 0) {
      return (bin_ / tool).string() + " is missing or not executable: install Debian's `postgresql` package (./dev.sh deps) or set COURIER_PG_BINDIR";
    }
  }
  if (::geteuid() == 0) {
    // PostgreSQL refuses to run as root.
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) pw = ::getpwnam("nobody");
    if (pw == nullptr) return "running as root and neither user postgres nor nobody exists";
    if (::access("/usr/bin/setpriv", X_OK) != 0) return "running as root and /usr/bin/setpriv is missing";
    switch_user_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
  }
  std::string tmpl = (fs::temp_directory_path() / "courier-pg-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "mkdtemp failed";
  root_ = tmpl;
  std::error_code ec;
  fs::create_directories(root_ / "sock", ec);
  if (switch_user_) {
    if (::chown(root_.c_str(), uid_, gid_) != 0 || ::chown((root_ / "sock").c_str(), uid_, gid_) != 0) {
      return "cannot chown " + root_.string();
    }
  }
  if (auto e = makeDataDir(); !e.empty()) return e;
  // A random port; one another process holds makes the server exit at once, and we try
  // another (postgres cannot bind port 0 and report it).
  std::mt19937 rng(std::random_device{}());
  std::string last;
  for (int attempt = 0; attempt < 8; ++attempt) {
    port_ = std::uniform_int_distribution<int>(20000, 59999)(rng);
    last = start();
    if (last.empty()) return "";
    if (last.find("already in use") == std::string::npos && last.find("could not create") == std::string::npos) {
      return last;
    }
  }
  return last;
}

// initdb (a few seconds of CPU) runs once per build tree: into a template directory
// under COURIER_BINARY_DIR, made under a lock and renamed into place, so parallel test
// processes wait for one initdb; each server then runs on its own copy.
std::string PgServer::makeDataDir() {
  const fs::path templ = fs::path(COURIER_BINARY_DIR) / "tests" / ("pg-template-" + bin_.parent_path().filename().string());
  const fs::path data = root_ / "data";
  std::error_code ec;
  fs::create_directories(templ.parent_path(), ec);
  const std::string lock_path = templ.string() + ".lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) return "cannot lock " + lock_path;
  std::string e;
  if (!fs::exists(templ / "PG_VERSION")) {
    fs::remove_all(root_ / "template", ec);
    // --no-sync: initdb's own files need no fsync for a test; the server runs with fsync=on.
    e = run({(bin_ / "initdb").string(), "-D", (root_ / "template").string(), "-U", "courier", "--auth=trust",
             "-E", "UTF8", "--locale=C", "--no-sync"},
            root_ / "initdb.log");
    if (e.empty()) {
      fs::remove_all(templ, ec);
      fs::rename(root_ / "template", templ, ec);  // across file systems: copy instead
      if (ec) {
        fs::copy(root_ / "template", templ, fs::copy_options::recursive, ec);
        fs::remove_all(root_ / "template", ec);
      }
      if (ec) e = "cannot keep the initdb template: " + ec.message();
    }
  }
  if (e.empty()) {
    fs::copy(templ, data, fs::copy_options::recursive, ec);
    if (ec) e = "cannot copy the initdb template: " + ec.message();
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  if (!e.empty()) return e;
  // The server insists on owning its data directory, mode 0700.
  fs::permissions(data, fs::perms::owner_all, ec);
  if (switch_user_) {
    for (const auto& entry : fs::recursive_directory_iterator(data, ec)) {
      if (::lchown(entry.path().c_str(), uid_, gid_) != 0) return "cannot chown " + entry.path().string();
    }
    if (::chown(data.c_str(), uid_, gid_) != 0) return "cannot chown " + data.string();
  }
  return "";
}

std::string PgServer::start() {
  if (pid_ > 0) return "already running";
  std::vector<std::string> argv = asServerUser(
      {(bin_ / "postgres").string(), "-D", (root_ / "data").string(), "-p", std::to_string(port_), "-k",
       (root_ / "sock").string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c",
       "synchronous_commit=on", "-c", "shared_buffers=32MB", "-c", "max_connections=60"});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const fs::path log = root_ / "postgres.log";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + log.string();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // setpriv sets it again after switching user
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fd);
  if (pid < 0) return "fork failed";
  pid_ = pid;
  const std::string ping = conninfo("postgres") + " connect_timeout=2";
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "postgres exited at start: " + logTail();
    }
    if (PQping(ping.c_str()) == PQPING_OK) return "";
    if (Clock::now() >= deadline) {
      std::string tail = logTail();
      (void)stop();
      return "postgres not ready within 30 s: " + tail;
    }
    // The next readiness ping in 20 ms, or at once when the server exits meanwhile.
    (void)exitedBy(pid_, std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
  }
}

std::string PgServer::stop() {
  if (pid_ <= 0) return "";
  ::kill(pid_, SIGINT);  // fast shutdown, as pg_ctl stop -m fast
  int status = 0;
  std::string result;
  if (!waitExit(pid_, Clock::now() + std::chrono::seconds(20), &status)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    result = "postgres did not stop within 20 s; killed";
  }
  pid_ = -1;
  return result;
}

std::string PgServer::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=courier dbname=" + dbname;
}

std::string PgServer::createDatabase(const std::string& name, std::string* error) {
  PGconn* c = PQconnectdb((conninfo("postgres") + " connect_timeout=5").c_str());
  std::string err;
  if (PQstatus(c) != CONNECTION_OK) {
    err = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) err = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (error != nullptr) *error = err;
  return err.empty() ? conninfo(name) : "";
}

std::string PgServer::logTail() const {
  std::ifstream in(root_ / "postgres.log");
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace courier::testing
