// Helpers shared by the MLLP integration tests: certificates, messages, stores, waiting
// on conditions with deadlines, and child `courier serve` processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/mllp/client.h"
#include "engine/config/config.h"
#include "engine/store/sqlite_store.h"

namespace courier::testing {

namespace fs = std::filesystem;

// COURIER_TEST_CERTS/trusted (the CA the server trusts) or /untrusted (another CA).
fs::path certDir(bool trusted = true);

// A fresh, empty directory under the build tree, unique per call.
fs::path makeTempDir(std::string_view name);

// prefix + decimal n (plain appends: GCC 12's -Wrestrict misfires on "lit" + string).
std::string idOf(std::string_view prefix, long long n);

// A small valid ADT^A01 (v2.5.1) with that control id and sending facility (MSH-4).
std::string makeMessage(std::string_view control_id, std::string_view facility = "FAC",
                        std::string_view accept_ack_type = "", std::string_view version = "2.5.1");

struct Ack {
  std::string code;        // MSA-1 (or "ACK"/"NAK" for MLLP commit acknowledgements)
  std::string control_id;  // MSA-2
  std::string err_code;    // ERR-3.1
  std::string err_text;    // ERR-8
  std::string err_location;  // ERR-2 (raw)
};
Ack parseAck(std::string_view payload);

// Listener configs on 127.0.0.1 port 0.
config::ListenerConfig plainListener(std::string name = "test");
config::ListenerConfig tlsListener(config::ClientCertMode mode, std::string name = "test");

// Client options: TLS verifying the server with the trusted CA, with or without a client
// certificate (from the trusted or the untrusted CA).
mllp::ClientOptions tlsClient(bool with_cert = false, bool trusted_cert = true);

// A store with its writer running, in `dir`.
std::unique_ptr<store::SqliteStore> openStore(const fs::path& dir,
                                              std::function<Result<void>(store::SqliteFaultPoint, sqlite3*)> fault = {});
// Every stored message (read-only open, works while another process writes).
std::vector<store::MessageSummary> readAll(const fs::path& db);

// Polls `condition` until true or `timeout` passed (the timeout only guards a hang).
bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A child process (`courier serve ...`), stdout/stderr to `log`. Killed on destruction.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, const fs::path& log);
  ~ChildProcess();
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; the wait status, or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Starts `courier serve --config <config> --data-dir <dir>` and waits for its ports file.
// Returns the bound port of the first listener (0 when it did not come up in time).
struct ServeProcess {
  std::unique_ptr<ChildProcess> child;
  std::uint16_t port = 0;
};
ServeProcess startServe(const fs::path& config, const fs::path& data_dir, const fs::path& log);

// Writes a config file for one listener (TLS with the trusted test certificates, client
// certificates optional) and returns its path.
fs::path writeServeConfig(const fs::path& dir, bool tls = true);

}  // namespace courier::testing
