// courier send: send HL7 v2 messages over MLLP (optionally TLS) and print each answer.
//
//   courier send --to HOST:PORT [--tls] [--ca F] [--cert F --key F] [--window N] FILE...
//
// Every message of every file is sent (batch files and multi-message files are split),
// up to --window messages in flight on one connection; answers are matched in order.
// One line per message on stdout:  <control id> TAB <ACK code> TAB <error text>.
// A message whose MSH-15 is NE gets no answer (code "-"); ER/SU ones are sent alone
// and waited for briefly (no answer to ER means accepted).
// Exit code: 0 when every answer was AA or CA (or an MLLP commit ACK), 1 otherwise,
// 2 when nothing could be sent (bad input, cannot connect).
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <deque>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/mllp/client.h"
#include "adapters/mllp/framer.h"
#include "cli/commands.h"
#include "cli/input.h"
#include "engine/hl7v2/batch.h"
#include "engine/hl7v2/header.h"
#include "engine/hl7v2/message.h"

namespace courier::cli {
namespace {

struct SendOptions {
  std::string to;
  bool tls = false;
  std::string ca, cert, key, server_name;
  bool insecure = false;
  std::size_t window = 1;
  double timeout_s = 30;
  std::vector<std::string> files;
};

struct Answer {
  std::string code;  // MSA-1, or ACK/NAK for MLLP commit acknowledgements
  std::string text;  // ERR code and text, or MSA-3
  bool ok = false;
};

Answer readAnswer(const std::string& payload) {
  Answer a;
  if (payload.size() == 1 && payload[0] == mllp::kCommitAck) return {"ACK", "MLLP commit acknowledgement", true};
  if (payload.size() == 1 && payload[0] == mllp::kCommitNak) return {"NAK", "MLLP commit negative acknowledgement", false};
  auto msg = hl7v2::Message::parse(payload);
  if (!msg) return {"?", "the answer is not a readable HL7 message: " + msg.error().message, false};
  a.code = msg->get("MSA-1");
  a.ok = a.code == "AA" || a.code == "CA";
  std::string err_code = msg->get("ERR-3.1");
  std::string err_text = msg->get("ERR-8");
  if (err_code.empty()) err_code = msg->get("ERR-1.4.1");
  if (err_text.empty()) err_text = msg->get("ERR-1.4.2");
  if (err_text.empty()) err_text = msg->get("MSA-3");
  if (!err_code.empty()) a.text = err_code + " ";
  a.text += err_text;
  const std::string where = msg->get("ERR-2");
  if (!where.empty()) a.text += " (at " + where + ")";
  return a;
}

int runSend(const SendOptions& o) {
  const auto colon = o.to.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::fprintf(stderr, "courier send: --to must be HOST:PORT, e.g. 127.0.0.1:2575\n");
    return 2;
  }
  std::string host = o.to.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(o.to.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "courier send: the port in --to must be a number from 1 to 65535\n");
    return 2;
  }

  std::vector<std::string> contents;
  contents.reserve(o.files.size());
  std::vector<std::string_view> messages;
  for (const auto& f : o.files) {
    auto bytes = readInput(f);
    if (!bytes) {
      std::fprintf(stderr, "courier send: %s\n", bytes.error().toString().c_str());
      return 2;
    }
    contents.push_back(std::move(*bytes));
    auto batch = hl7v2::splitBatch(contents.back());
    if (!batch) {
      std::fprintf(stderr, "courier send: %s: %s\n", f.c_str(), batch.error().toError().toString().c_str());
      return 2;
    }
    for (auto m : batch->messages) messages.push_back(m);
  }
  if (messages.empty()) {
    std::fprintf(stderr, "courier send: no messages in the input\n");
    return 2;
  }

  mllp::ClientOptions co;
  co.tls = o.tls || !o.ca.empty() || !o.cert.empty();
  co.tls_options.ca_file = o.ca;
  co.tls_options.cert_file = o.cert;
  co.tls_options.key_file = o.key.empty() ? o.cert : o.key;
  co.tls_options.verify_server = !o.insecure;
  co.server_name = o.server_name;
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout_s * 1000));
  co.connect_timeout = timeout;
  co.write_timeout = timeout;
  auto client = mllp::Client::connect(host, static_cast<std::uint16_t>(port), co);
  if (!client) {
    std::fprintf(stderr, "courier send: cannot connect to %s: %s\n", o.to.c_str(), client.error().toString().c_str());
    return 2;
  }

  // MSH-15 decides whether an answer comes: NE never, ER only on error, SU only on
  // success. Answers carry no position, so before an ER/SU message the window drains and
  // its answer is awaited alone for a short grace period.
  enum class Expect { kAlways, kNever, kOnError, kOnSuccess };
  struct Waiting {
    std::string control_id;
    Expect expect;
  };
  bool all_ok = true;
  std::optional<Error> failure;
  std::deque<Waiting> waiting;
  const std::size_t window = o.window == 0 ? 1 : o.window;
  const auto grace = std::min(timeout, std::chrono::milliseconds(2000));

  auto settle = [&](const Waiting& w, std::chrono::milliseconds wait) {
    if (w.expect == Expect::kNever) {
      std::printf("%s\t-\tno acknowledgement requested (MSH-15 NE)\n", w.control_id.c_str());
      return;
    }
    if (failure) {
      std::printf("%s\t-\tno answer: %s\n", w.control_id.c_str(), failure->message.c_str());
      all_ok = false;
      return;
    }
    auto payload = (*client)->receive(wait);
    if (!payload) {
      if (payload.error().code == ErrorCode::kTimeout && w.expect == Expect::kOnError) {
        std::printf("%s\t-\tno answer within %lldms (MSH-15 ER: no news is good news)\n", w.control_id.c_str(),
                    static_cast<long long>(wait.count()));
        return;
      }
      failure = payload.error();
      std::printf("%s\t-\tno answer: %s\n", w.control_id.c_str(), failure->message.c_str());
      all_ok = false;
      return;
    }
    Answer a = readAnswer(*payload);
    all_ok = all_ok && a.ok;
    std::printf("%s\t%s\t%s\n", w.control_id.c_str(), a.code.c_str(), a.text.c_str());
  };

  for (std::string_view m : messages) {
    const auto header = hl7v2::MessageHeader::salvage(m);
    Waiting w{header.control_id, Expect::kAlways};
    if (header.accept_ack_type == "NE") w.expect = Expect::kNever;
    if (header.accept_ack_type == "ER") w.expect = Expect::kOnError;
    if (header.accept_ack_type == "SU") w.expect = Expect::kOnSuccess;
    if (w.expect == Expect::kOnError || w.expect == Expect::kOnSuccess) {
      while (!waiting.empty()) {
        settle(waiting.front(), timeout);
        waiting.pop_front();
      }
    }
    if (!failure) {
      if (auto r = (*client)->send(m); !r) failure = r.error();
    }
    if (w.expect == Expect::kOnError || w.expect == Expect::kOnSuccess) {
      settle(w, grace);
      continue;
    }
    waiting.push_back(std::move(w));
    while (waiting.size() >= window || (!waiting.empty() && waiting.front().expect == Expect::kNever)) {
      settle(waiting.front(), timeout);
      waiting.pop_front();
    }
  }
  while (!waiting.empty()) {
    settle(waiting.front(), timeout);
    waiting.pop_front();
  }
  std::fflush(stdout);
  (*client)->close();
  return all_ok ? 0 : 1;
}

}  // namespace

void addSendCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SendOptions>();
  CLI::App* cmd = app.add_subcommand("send", "Send HL7 v2 messages over MLLP and print each answer.");
  cmd->add_option("--to", o->to, "Receiver as HOST:PORT")->required();
  cmd->add_flag("--tls", o->tls, "Use TLS (implied by --ca or --cert)");
  cmd->add_option("--ca", o->ca, "CA file that signs the server certificate (default: system CAs)");
  cmd->add_option("--cert", o->cert, "Client certificate (mutual TLS)");
  cmd->add_option("--key", o->key, "Client private key (default: the --cert file)");
  cmd->add_option("--server-name", o->server_name, "Name to verify in the server certificate (default: HOST)");
  cmd->add_flag("--insecure", o->insecure, "Do not verify the server certificate (testing only)");
  cmd->add_option("--window", o->window, "Messages in flight at once (pipelining)")->capture_default_str();
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for connecting, each write and each answer")
      ->capture_default_str();
  cmd->add_option("files", o->files, "HL7 v2 files (batches are split; - for stdin)")->required();
  cmd->callback([o, &exit_code] { exit_code = runSend(*o); });
}

}  // namespace courier::cli
