#include "tests/integration/test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/hl7v2/message.h"

extern char** environ;

namespace courier::testing {

fs::path certDir(bool trusted) { return fs::path(COURIER_TEST_CERTS) / (trusted ? "trusted" : "untrusted"); }

fs::path makeTempDir(std::string_view name) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::path(COURIER_BINARY_DIR) / "tests/integration/tmp" /
                 (std::string(name) + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string idOf(std::string_view prefix, long long n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

std::string makeMessage(std::string_view control_id, std::string_view facility, std::string_view accept_ack_type,
                        std::string_view version) {
  std::string m = "MSH|^~\\&|SENDAPP|";
  m += facility;
  m += "|COURIER|HOSP|20240101120000||ADT^A01^ADT_A01|";
  m += control_id;
  m += "|P|";
  m += version;
  m += "|||";
  m += accept_ack_type;
  m += "\rEVN|A01|20240101120000\rPID|1||MRN";
  m += control_id;
  m += "^^^HOSP^MR||TEST^PATIENT||19700101|F\rPV1|1|I|W^1^1\r";
  return m;
}

Ack parseAck(std::string_view payload) {
  Ack a;
  if (payload == "\x06") return {"ACK", "", "", "", ""};
  if (payload == "\x15") return {"NAK", "", "", "", ""};
  auto msg = hl7v2::Message::parse(payload);
  if (!msg) return {"<unparsable>", "", "", msg.error().message, ""};
  a.code = msg->get("MSA-1");
  a.control_id = msg->get("MSA-2");
  a.err_code = msg->get("ERR-3.1");
  a.err_text = msg->get("ERR-8");
  if (a.err_code.empty()) a.err_code = msg->get("ERR-1.4.1");
  if (a.err_text.empty()) a.err_text = msg->get("ERR-1.4.2");
  a.err_location = std::string(msg->rawValue(hl7v2::Path::parse("ERR-2").value()));
  return a;
}

config::ListenerConfig plainListener(std::string name) {
  config::ListenerConfig l;
  l.name = std::move(name);
  l.address = "127.0.0.1";
  l.port = 0;
  l.tls.enabled = false;
  return l;
}

config::ListenerConfig tlsListener(config::ClientCertMode mode, std::string name) {
  config::ListenerConfig l = plainListener(std::move(name));
  l.tls.enabled = true;
  l.tls.cert_file = certDir() / "server.crt";
  l.tls.key_file = certDir() / "server.key";
  l.tls.ca_file = certDir() / "ca.crt";
  l.tls.client_certs = mode;
  return l;
}

mllp::ClientOptions tlsClient(bool with_cert, bool trusted_cert) {
  mllp::ClientOptions o;
  o.tls = true;
  o.tls_options.ca_file = certDir() / "ca.crt";
  if (with_cert) {
    o.tls_options.cert_file = certDir(trusted_cert) / "client.crt";
    o.tls_options.key_file = certDir(trusted_cert) / "client.key";
  }
  o.connect_timeout = std::chrono::seconds(10);
  return o;
}

std::unique_ptr<store::SqliteStore> openStore(const fs::path& dir,
                                              std::function<Result<void>(store::SqliteFaultPoint, sqlite3*)> fault) {
  store::SqliteStoreOptions o;
  o.path = dir / "courier.db";
  o.fault_hook = std::move(fault);
  auto s = store::SqliteStore::open(o);
  if (!s) return nullptr;
  return std::move(*s);
}

std::vector<store::MessageSummary> readAll(const fs::path& db) {
  store::SqliteStoreOptions o;
  o.path = db;
  o.create_if_missing = false;
  o.start_writer = false;
  auto s = store::SqliteStore::open(o);
  if (!s) return {};
  store::MessageFilter f;
  f.limit = 0;
  auto all = (*s)->list(f);
  (*s)->close();
  if (!all) return {};
  return std::move(*all);
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval; the deadline above bounds it
  }
  return true;
}

ChildProcess::ChildProcess(std::vector<std::string> args, const fs::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void ChildProcess::signal(int sig) {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  std::optional<int> result;
  waitUntil(
      [&] {
        int status = 0;
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          reaped_ = true;
          result = status;
          return true;
        }
        return false;
      },
      timeout);
  return result;
}

ServeProcess startServe(const fs::path& config, const fs::path& data_dir, const fs::path& log) {
  ServeProcess p;
  const fs::path ports = data_dir / "courier.ports";
  fs::remove(ports);
  p.child = std::make_unique<ChildProcess>(
      std::vector<std::string>{COURIER_EXE, "serve", "--config", config.string(), "--data-dir", data_dir.string()}, log);
  waitUntil(
      [&] {
        std::ifstream in(ports);
        std::string name;
        int port = 0;
        if (in >> name >> port && port > 0) {
          p.port = static_cast<std::uint16_t>(port);
          return true;
        }
        return p.child->wait(std::chrono::milliseconds(0)).has_value();  // died: stop waiting
      },
      std::chrono::seconds(20));
  return p;
}

fs::path writeServeConfig(const fs::path& dir, bool tls) {
  const fs::path file = dir / "courier.yaml";
  std::ofstream out(file);
  out << "data_dir: ./var\n"
         "io_threads: 2\n"
         "store:\n"
         "  kind: sqlite\n"
         "  path: courier.db\n"
         "listeners:\n"
         "  - name: mllp-test\n"
         "    address: 127.0.0.1\n"
         "    port: 0\n"
         "    tls:\n";
  if (tls) {
    out << "      enabled: true\n"
        << "      cert_file: " << (certDir() / "server.crt").string() << "\n"
        << "      key_file: " << (certDir() / "server.key").string() << "\n"
        << "      ca_file: " << (certDir() / "ca.crt").string() << "\n"
        << "      client_certs: optional\n";
  } else {
    out << "      enabled: false\n";
  }
  out << "    limits:\n"
         "      read_timeout: 5s\n";
  return file;
}

}  // namespace courier::testing
