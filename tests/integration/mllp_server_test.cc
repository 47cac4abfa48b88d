// The MLLP listener in-process, over real sockets on 127.0.0.1 and real TLS, with the
// real SQLite store.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "adapters/mllp/client.h"
#include "adapters/mllp/framer.h"
#include "adapters/mllp/server.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

using namespace std::chrono_literals;
using config::ClientCertMode;
using mllp::Framer;

constexpr auto kAnswerTimeout = 10s;

class MllpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = makeTempDir("mllp"); }

  void TearDown() override {
    if (server_) {
      server_->stopAccepting();
      EXPECT_TRUE(server_->waitForInFlight(10s));
    }
    if (store_) store_->close();
    if (server_) server_->stop();
  }

  void start(std::vector<config::ListenerConfig> listeners,
             std::function<Result<void>(store::SqliteFaultPoint, sqlite3*)> fault = {}) {
    store_ = openStore(dir_, std::move(fault));
    ASSERT_NE(store_, nullptr);
    mllp::ServerOptions o;
    o.io_threads = 2;
    o.metrics = &metrics_;
    auto s = mllp::Server::create(std::move(listeners), *store_, o);
    ASSERT_TRUE(s.has_value()) << s.error().toString();
    server_ = std::move(*s);
    auto r = server_->start();
    ASSERT_TRUE(r.has_value()) << r.error().toString();
    port_ = server_->port("test");
    ASSERT_NE(port_, 0);
  }

  Result<std::unique_ptr<mllp::Client>> connect(const mllp::ClientOptions& o = {}) {
    return mllp::Client::connect("127.0.0.1", port_, o);
  }

  // Sends one message and returns its parsed answer.
  Ack roundTrip(mllp::Client& c, std::string_view payload) {
    auto sent = c.send(payload);
    EXPECT_TRUE(sent.has_value());
    auto answer = c.receive(kAnswerTimeout);
    if (!answer) return {"<no answer: " + answer.error().message + ">", "", "", "", ""};
    return parseAck(*answer);
  }

  // The value of one line of GET /metrics ("name{labels}"), -1 when it is absent.
  double metric(const std::string& series) const {
    std::istringstream in(metrics_.renderPrometheus());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  fs::path dir_;
  metrics::Registry metrics_;  // declared before the server, which reports into it
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<mllp::Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(MllpServerTest, PlainTcpMessageIsStoredThenAcked) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value()) << c.error().toString();
  Ack a = roundTrip(**c, makeMessage("PLAIN1"));
  EXPECT_EQ(a.code, "AA");
  EXPECT_EQ(a.control_id, "PLAIN1");
  auto all = readAll(dir_ / "courier.db");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].control_id, "PLAIN1");
  EXPECT_EQ(all[0].listener, "test");
  EXPECT_EQ(all[0].sending_facility, "FAC");
  EXPECT_EQ(all[0].message_type, "ADT");
  EXPECT_EQ(all[0].patient_id, "MRNPLAIN1");
}

TEST_F(MllpServerTest, TlsWithoutClientCertificates) {
  start({tlsListener(ClientCertMode::kNone)});
  auto c = connect(tlsClient());
  ASSERT_TRUE(c.has_value()) << c.error().toString();
  const std::string version = (*c)->tlsVersion();
  EXPECT_TRUE(version == "TLSv1.3" || version == "TLSv1.2") << version;
  EXPECT_EQ(roundTrip(**c, makeMessage("TLS1")).code, "AA");
  // A plain-TCP client on a TLS listener gets nothing and is closed.
  auto plain = connect();
  ASSERT_TRUE(plain.has_value());
  ASSERT_TRUE((*plain)->send(makeMessage("PLAINONTLS")).has_value());
  EXPECT_FALSE((*plain)->receive(kAnswerTimeout).has_value());
}

TEST_F(MllpServerTest, TlsTwelveIsAcceptedToo) {
  start({tlsListener(ClientCertMode::kNone)});
  auto o = tlsClient();
  o.tls_options.max_version = mllp::TlsVersion::kTls12;
  auto c = connect(o);
  ASSERT_TRUE(c.has_value()) << c.error().toString();
  EXPECT_EQ((*c)->tlsVersion(), "TLSv1.2");
  EXPECT_EQ(roundTrip(**c, makeMessage("TLS12")).code, "AA");
}

TEST_F(MllpServerTest, MutualTlsAcceptsTrustedClientAndRecordsItsIdentity) {
  start({tlsListener(ClientCertMode::kRequired)});
  auto c = connect(tlsClient(/*with_cert=*/true));
  ASSERT_TRUE(c.has_value()) << c.error().toString();
  EXPECT_EQ(roundTrip(**c, makeMessage("MTLS1")).code, "AA");
  auto all = readAll(dir_ / "courier.db");
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].peer_identity, "courier-dev-client");
}

// With TLS 1.3 a refused client certificate may only show after the handshake: the
// client then sees the connection closed instead of an answer. Either way: refused.
bool refused(Result<std::unique_ptr<mllp::Client>> c) {
  if (!c) return true;
  if (!(*c)->send(makeMessage("REFUSED")).has_value()) return true;
  return !(*c)->receive(kAnswerTimeout).has_value();
}

TEST_F(MllpServerTest, MutualTlsRefusesClientWithoutCertificate) {
  start({tlsListener(ClientCertMode::kRequired)});
  EXPECT_TRUE(refused(connect(tlsClient(/*with_cert=*/false))));
  EXPECT_TRUE(readAll(dir_ / "courier.db").empty());
  // The client may see the alert before the server's handler counted the failure.
  EXPECT_TRUE(waitUntil([&] { return server_->stats().tls_handshake_failures >= 1; }, 10s));
}

TEST_F(MllpServerTest, MutualTlsRefusesCertificateFromAnotherCa) {
  start({tlsListener(ClientCertMode::kRequired)});
  EXPECT_TRUE(refused(connect(tlsClient(/*with_cert=*/true, /*trusted_cert=*/false))));
  EXPECT_TRUE(readAll(dir_ / "courier.db").empty());
}

TEST_F(MllpServerTest, OptionalClientCertsStillRefuseAnotherCa) {
  start({tlsListener(ClientCertMode::kOptional)});
  EXPECT_TRUE(refused(connect(tlsClient(true, false))));
  auto anonymous = connect(tlsClient(false));
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(roundTrip(**anonymous, makeMessage("ANON1")).code, "AA");
}

TEST_F(MllpServerTest, TlsElevenIsRefused) {
  start({tlsListener(ClientCertMode::kNone)});
  auto o = tlsClient();
  o.tls_options.min_version = mllp::TlsVersion::kTls11;
  o.tls_options.max_version = mllp::TlsVersion::kTls11;
  EXPECT_TRUE(refused(connect(o)));
  EXPECT_TRUE(readAll(dir_ / "courier.db").empty());
}

TEST_F(MllpServerTest, AllowedClientsAndFacilities) {
  auto l = tlsListener(ClientCertMode::kOptional);
  l.allowed_clients.push_back({"courier-dev-client", {"FAC"}});
  start({l});
  // Anonymous: not on the list.
  EXPECT_TRUE(refused(connect(tlsClient(false))));
  auto c = connect(tlsClient(true));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(roundTrip(**c, makeMessage("ALLOWED1", "FAC")).code, "AA");
  Ack no = roundTrip(**c, makeMessage("NOTALLOWED1", "OTHERFAC"));
  EXPECT_EQ(no.code, "AR");
  EXPECT_EQ(no.control_id, "NOTALLOWED1");
  EXPECT_NE(no.err_text.find("not allowed"), std::string::npos) << no.err_text;
  EXPECT_NE(no.err_location.find("MSH"), std::string::npos);
  // The connection stays usable.
  EXPECT_EQ(roundTrip(**c, makeMessage("ALLOWED2", "FAC")).code, "AA");
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), 2u);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(MllpServerTest, MalformedMessagesGetErrorAcksAndTheConnectionStaysUsable) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  const fs::path data = fs::path(COURIER_SOURCE_DIR) / "tests/data/hl7v2";
  struct Case {
    std::string name;
    std::string payload;
    std::string want_err;  // ERR-3 code expected, empty: any
  };
  std::vector<Case> cases = {
      {"fixture binary garbage", readFile(data / "malformed_binary_garbage.hl7"), ""},
      {"fixture empty MSH-2", readFile(data / "malformed_empty_msh2.hl7"), ""},
      {"fixture truncated MSH", readFile(data / "malformed_truncated_msh.hl7"), ""},
      {"not HL7 at all", "hello, world", ""},
      {"empty frame", "", ""},
      {"missing control id", makeMessage(""), "101"},
      {"unsupported version", makeMessage("BADVER1", "FAC", "", "9.9"), "203"},
      {"missing message type",
       "MSH|^~\\&|A|FAC|B|C|20240101||^|NOTYPE1|P|2.5.1\rPID|1||X^^^H^MR\r", "101"},
  };
  int n = 0;
  for (const auto& tc : cases) {
    ASSERT_FALSE(tc.payload.empty() && tc.name != "empty frame");
    Ack a = roundTrip(**c, tc.payload);
    EXPECT_TRUE(a.code == "AE" || a.code == "AR") << tc.name << ": " << a.code;
    EXPECT_FALSE(a.err_code.empty()) << tc.name;
    if (!tc.want_err.empty()) {
      EXPECT_EQ(a.err_code, tc.want_err) << tc.name << ": " << a.err_text;
    }
    // Still usable after each one.
    EXPECT_EQ(roundTrip(**c, makeMessage(idOf("AFTERBAD", n++))).code, "AA") << tc.name;
  }
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), cases.size());
}

TEST_F(MllpServerTest, FrameOverTheLimitIsRejectedAndTheConnectionStaysUsable) {
  auto l = plainListener();
  l.limits.max_frame_bytes = 2048;
  start({l});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  std::string big = makeMessage("BIG1") + "NTE|1||" + std::string(10000, 'x') + "\r";
  Ack a = roundTrip(**c, big);
  EXPECT_EQ(a.code, "AR");
  EXPECT_EQ(a.control_id, "BIG1");  // salvaged from the frame's beginning
  EXPECT_EQ(a.err_code, "207");
  EXPECT_EQ(roundTrip(**c, makeMessage("SMALL1")).code, "AA");
  EXPECT_EQ(server_->stats().oversize_frames, 1u);
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), 1u);
}

TEST_F(MllpServerTest, ClientThatStopsMidFrameIsCutByTheReadTimeout) {
  auto l = plainListener();
  l.limits.read_timeout = 300ms;
  start({l});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  std::string msg = Framer::frame(makeMessage("HALF1"));
  ASSERT_TRUE((*c)->sendRaw(std::string_view(msg).substr(0, msg.size() / 2)).has_value());
  EXPECT_TRUE((*c)->waitForClose(10s));
  EXPECT_TRUE(waitUntil([&] { return server_->stats().connections_active == 0; }, 10s));
  EXPECT_GE(server_->stats().timeouts, 1u);
  EXPECT_TRUE(readAll(dir_ / "courier.db").empty());
}

TEST_F(MllpServerTest, IdleConnectionIsClosed) {
  auto l = plainListener();
  l.limits.idle_timeout = 1s;
  start({l});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(roundTrip(**c, makeMessage("IDLE1")).code, "AA");
  EXPECT_TRUE((*c)->waitForClose(10s));
}

TEST_F(MllpServerTest, TlsHandshakeThatNeverStartsTimesOut) {
  // A TCP client that never says hello must not hold a connection: the handshake has a
  // deadline (10s by default; the idle/read limits do not apply before it).
  auto l = tlsListener(ClientCertMode::kNone);
  store_ = openStore(dir_);
  mllp::ServerOptions o;
  o.io_threads = 1;
  o.handshake_timeout = 300ms;
  auto s = mllp::Server::create({l}, *store_, o);
  ASSERT_TRUE(s.has_value());
  server_ = std::move(*s);
  ASSERT_TRUE(server_->start().has_value());
  port_ = server_->port("test");
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE((*c)->waitForClose(10s));
}

TEST_F(MllpServerTest, PeerThatNeverReadsItsAcksIsBoundedAndCut) {
  store_ = openStore(dir_);
  mllp::ServerOptions o;
  o.io_threads = 1;
  o.max_pipelined_frames = 64;
  o.write_timeout = 500ms;
  auto s = mllp::Server::create({plainListener()}, *store_, o);
  ASSERT_TRUE(s.has_value());
  server_ = std::move(*s);
  ASSERT_TRUE(server_->start().has_value());
  port_ = server_->port("test");
  mllp::ClientOptions co;
  co.write_timeout = 2s;
  auto c = connect(co);
  ASSERT_TRUE(c.has_value());
  // Pipeline frames and never read an answer: once its socket buffers are full the
  // server stops reading (bounded memory) and its write deadline closes the connection.
  int sent = 0;
  for (int chunk = 0; chunk < 2000; ++chunk) {
    std::string wire;
    for (int i = 0; i < 100; ++i) Framer::appendFrame(makeMessage(idOf("NOREAD", sent + i)), wire);
    if (!(*c)->sendRaw(wire).has_value()) break;
    sent += 100;
  }
  EXPECT_TRUE(waitUntil([&] { return server_->stats().connections_active == 0; }, 20s));
  EXPECT_GE(server_->stats().timeouts, 1u);
  EXPECT_LT(server_->stats().frames, 200000u);
}

TEST_F(MllpServerTest, DuplicateGetsTheSameAnswerAndIsStoredOnce) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(roundTrip(**c, makeMessage("DUP1")).code, "AA");
  EXPECT_EQ(roundTrip(**c, makeMessage("DUP1")).code, "AA");
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), 1u);
  EXPECT_EQ(server_->stats().duplicates, 1u);
}

TEST_F(MllpServerTest, EnhancedModeGetsCommitAccept) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(roundTrip(**c, makeMessage("ENH1", "FAC", "AL")).code, "CA");
}

TEST_F(MllpServerTest, MllpReleaseTwoCommitAcknowledgements) {
  auto l = plainListener();
  l.ack.mllp_commit_acks = true;
  start({l});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(roundTrip(**c, makeMessage("R2A")).code, "ACK");
  EXPECT_EQ(roundTrip(**c, "garbage").code, "NAK");
}

TEST_F(MllpServerTest, StorageFailureGetsErrorAckAndRecovers) {
  std::atomic<bool> failing{true};
  start({plainListener()}, [&](store::SqliteFaultPoint point, sqlite3*) -> Result<void> {
    if (failing && point == store::SqliteFaultPoint::kBeforeCommit) {
      return Unexpected(Error(ErrorCode::kUnavailable, "injected: disk refuses the write"));
    }
    return Ok();
  });
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  Ack bad = roundTrip(**c, makeMessage("STORE1"));
  EXPECT_EQ(bad.code, "AE");
  EXPECT_EQ(bad.err_code, "207");
  failing = false;
  EXPECT_EQ(roundTrip(**c, makeMessage("STORE1")).code, "AA");
  EXPECT_EQ(roundTrip(**c, makeMessage("STORE2", "FAC", "AL")).code, "CA");
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), 2u);
}

// GET /metrics shows the MLLP listeners like the HTTP ones: every frame received, each
// outcome by listener, type and reason, both latencies, open connections.
TEST_F(MllpServerTest, MetricsCountEveryOutcomeByListenerAndType) {
  std::atomic<bool> failing{false};
  auto l = plainListener();
  l.limits.max_frame_bytes = 2048;
  start({l}, [&](store::SqliteFaultPoint point, sqlite3*) -> Result<void> {
    if (failing && point == store::SqliteFaultPoint::kBeforeCommit) {
      return Unexpected(Error(ErrorCode::kUnavailable, "injected: disk refuses the write"));
    }
    return Ok();
  });
  {
    auto c = connect();
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(roundTrip(**c, makeMessage("MET1")).code, "AA");
    EXPECT_EQ(roundTrip(**c, makeMessage("MET2")).code, "AA");
    EXPECT_EQ(roundTrip(**c, makeMessage("MET1")).code, "AA");  // duplicate
    EXPECT_EQ(roundTrip(**c, "hello, world").code, "AE");
    EXPECT_EQ(roundTrip(**c, makeMessage("")).code, "AE");  // no control id
    EXPECT_EQ(roundTrip(**c, makeMessage("MET3") + "NTE|1||" + std::string(4000, 'x') + "\r").code, "AR");
    // Stored, but its made-up type is no label.
    EXPECT_EQ(roundTrip(**c, "MSH|^~\\&|A|FAC|B|C|20240101||Z$%^Q|ODD1|P|2.5.1\r").code, "AA");
    failing = true;
    EXPECT_EQ(roundTrip(**c, makeMessage("MET4")).code, "AE");
    failing = false;
    EXPECT_EQ(metric("courier_open_connections{listener=\"test\"}"), 1);
  }
  const std::string adt = "{listener=\"test\",type=\"ADT^A01\"}";
  EXPECT_EQ(metric("courier_messages_received_total" + adt), 6);  // MET1, MET2, MET1, MET3, "", MET4
  EXPECT_EQ(metric("courier_messages_stored_total" + adt), 2);
  EXPECT_EQ(metric("courier_messages_duplicate_total" + adt), 1);
  EXPECT_EQ(metric("courier_messages_received_total{listener=\"test\",type=\"unknown\"}"), 2);
  EXPECT_EQ(metric("courier_messages_stored_total{listener=\"test\",type=\"unknown\"}"), 1);
  EXPECT_EQ(metric("courier_messages_rejected_total{listener=\"test\",type=\"unknown\",reason=\"parse-error\"}"), 1);
  EXPECT_EQ(metric("courier_messages_rejected_total{listener=\"test\",type=\"ADT^A01\",reason=\"header-error\"}"), 1);
  EXPECT_EQ(metric("courier_messages_rejected_total{listener=\"test\",type=\"ADT^A01\",reason=\"too-large\"}"), 1);
  EXPECT_EQ(
      metric("courier_messages_rejected_total{listener=\"test\",type=\"ADT^A01\",reason=\"store-unavailable\"}"), 1);
  // Four positive answers (three stored, one duplicate), each with both latencies.
  EXPECT_EQ(metric("courier_ack_latency_seconds_count{listener=\"test\"}"), 4);
  EXPECT_EQ(metric("courier_ack_latency_seconds_bucket{listener=\"test\",le=\"+Inf\"}"), 4);
  EXPECT_GT(metric("courier_ack_latency_seconds_sum{listener=\"test\"}"), 0);
  EXPECT_EQ(metric("courier_store_commit_latency_seconds_count"), 4);
  // The client closed; once the server has stopped (its I/O threads joined, every
  // connection gone) the gauge is back to 0.
  server_->stopAccepting();
  ASSERT_TRUE(server_->waitForInFlight(kAnswerTimeout));
  server_->stop();
  EXPECT_EQ(metric("courier_open_connections{listener=\"test\"}"), 0);
}

TEST_F(MllpServerTest, PipelinedAnswersComeBackInOrder) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  // Valid and invalid frames interleaved: invalid ones are answered at once, valid ones
  // after the commit, yet the answers must come back in send order.
  std::string wire;
  for (int i = 0; i < 200; ++i) {
    Framer::appendFrame(i % 7 == 3 ? makeMessage("") : makeMessage(idOf("PIPE", i)), wire);
  }
  ASSERT_TRUE((*c)->sendRaw(wire).has_value());
  for (int i = 0; i < 200; ++i) {
    auto answer = (*c)->receive(kAnswerTimeout);
    ASSERT_TRUE(answer.has_value()) << i;
    Ack a = parseAck(*answer);
    if (i % 7 == 3) {
      EXPECT_EQ(a.code, "AE") << i;
    } else {
      EXPECT_EQ(a.code, "AA") << i;
      EXPECT_EQ(a.control_id, idOf("PIPE", i));
    }
  }
}

TEST_F(MllpServerTest, MaxConnectionsRefusesTheExtraConnection) {
  auto l = plainListener();
  l.limits.max_connections = 2;
  start({l});
  auto a = connect();
  auto b = connect();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(roundTrip(**a, makeMessage("MAXC1")).code, "AA");
  EXPECT_EQ(roundTrip(**b, makeMessage("MAXC2")).code, "AA");
  auto extra = connect();
  ASSERT_TRUE(extra.has_value());
  EXPECT_TRUE((*extra)->waitForClose(10s));
  EXPECT_EQ(server_->stats().connections_refused, 1u);
}

TEST_F(MllpServerTest, TenThousandMessagesOverSixteenTlsConnections) {
  start({tlsListener(ClientCertMode::kOptional)});
  constexpr int kConnections = 16;
  constexpr int kPerConnection = 625;
  constexpr int kWindow = 32;
  std::atomic<int> acked{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; ++t) {
    threads.emplace_back([&, t] {
      auto c = connect(tlsClient(t % 2 == 0));
      if (!c) {
        failures++;
        return;
      }
      int sent = 0;
      int received = 0;
      while (received < kPerConnection) {
        while (sent < kPerConnection && sent - received < kWindow) {
          if (!(*c)->send(makeMessage(idOf(idOf("L", t) + "-", sent))).has_value()) {
            failures++;
            return;
          }
          ++sent;
        }
        auto answer = (*c)->receive(kAnswerTimeout);
        if (!answer) {
          failures++;
          return;
        }
        Ack a = parseAck(*answer);
        if (a.code != "AA" || a.control_id != idOf(idOf("L", t) + "-", received)) failures++;
        ++received;
        acked++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(acked.load(), kConnections * kPerConnection);
  auto all = readAll(dir_ / "courier.db");
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kConnections * kPerConnection));
  std::set<std::string> ids;
  for (const auto& m : all) ids.insert(m.control_id);
  EXPECT_EQ(ids.size(), all.size());
}

TEST_F(MllpServerTest, StopAcceptingAnswersInFlightThenCloses) {
  start({plainListener()});
  auto c = connect();
  ASSERT_TRUE(c.has_value());
  std::string wire;
  for (int i = 0; i < 300; ++i) Framer::appendFrame(makeMessage(idOf("DRAIN", i)), wire);
  ASSERT_TRUE((*c)->sendRaw(wire).has_value());
  // Wait until the server has read them all, then begin shutdown.
  ASSERT_TRUE(waitUntil([&] { return server_->stats().frames == 300; }, 10s));
  server_->stopAccepting();
  EXPECT_TRUE(server_->waitForInFlight(10s));
  for (int i = 0; i < 300; ++i) {
    auto answer = (*c)->receive(kAnswerTimeout);
    ASSERT_TRUE(answer.has_value()) << i;
    EXPECT_EQ(parseAck(*answer).code, "AA");
  }
  EXPECT_TRUE((*c)->waitForClose(10s));
  // No new connection is accepted.
  auto late = connect();
  EXPECT_TRUE(!late.has_value() || (*late)->waitForClose(10s));
  EXPECT_EQ(readAll(dir_ / "courier.db").size(), 300u);
}

}  // namespace
}  // namespace courier::testing
