// MllpSink against a scripted MLLP/TLS receiver on 127.0.0.1: each message's control id
// says how the receiver answers (AA…, AE…, AR…, WRONG… = ACK for another id, SILENT… =
// no answer, CLOSE… = closes the connection).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "adapters/mllp/ack_mapping.h"
#include "adapters/mllp/framer.h"
#include "adapters/mllp/mllp_sink.h"
#include "engine/tls/tls_context.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using delivery::Delivery;
using delivery::DeliveryStatus;
using namespace std::chrono_literals;

class MllpReceiver {
 public:
  explicit MllpReceiver(bool trusted_cert = true, std::uint16_t port = 0) {
    config::TlsConfig tls;
    tls.cert_file = certDir(trusted_cert) / "server.crt";
    tls.key_file = certDir(trusted_cert) / "server.key";
    ctx_ = tls::makeServerTlsContext(tls).value();
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~MllpReceiver() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_; }
  int open() const { return open_; }
  // Closes every connection, as a receiver's idle timeout would.
  void closeAll() {
    asio::post(ioc_, [this] {
      for (auto& w : sessions_) {
        if (auto s = w.lock()) {
          error_code ignored;
          s->stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
          s->stream.next_layer().close(ignored);
        }
      }
    });
  }
  std::vector<std::string> received() {
    std::lock_guard<std::mutex> g(mutex_);
    return received_;
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(MllpReceiver* r, tcp::socket s) : owner(r), stream(std::move(s), *r->ctx_) {}
    ~Session() { --owner->open_; }
    MllpReceiver* owner;
    asio::ssl::stream<tcp::socket> stream;
    mllp::Framer framer;
    std::array<char, 16384> buffer;
    std::string pending, writing;

    void start() {
      stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
        if (!ec) self->read();
      });
    }
    void read() {
      stream.async_read_some(asio::buffer(buffer), [self = shared_from_this()](const error_code& ec, std::size_t n) {
        if (ec) return;
        std::vector<mllp::FrameEvent> frames;
        self->framer.feed(std::string_view(self->buffer.data(), n), frames);
        for (auto& f : frames) {
          if (!self->answer(f.payload)) return;
        }
        self->flush();
        self->read();
      });
    }
    // False when the connection was closed on purpose.
    bool answer(const std::string& message) {
      const std::string id = mllp::controlIdOf(message);
      {
        std::lock_guard<std::mutex> g(owner->mutex_);
        owner->received_.push_back(id);
      }
      auto ack = [&](std::string_view code, std::string_view for_id, std::string_view extra = "") {
        pending += mllp::Framer::frame("MSH|^~\\&|RCV|RF|SND|SF|20240101120000||ACK^A01^ACK|A" + id +
                                       "|P|2.5.1\rMSA|" + std::string(code) + "|" + std::string(for_id) + "\r" +
                                       std::string(extra));
      };
      if (id.rfind("AE", 0) == 0) ack("AE", id, "ERR||PID^1^3|207^Application internal error^HL70357|E||||Busy\r");
      else if (id.rfind("AR", 0) == 0) ack("AR", id, "ERR||MSH^1^9|200^Unsupported message type^HL70357|E\r");
      else if (id.rfind("WRONG", 0) == 0) ack("AA", "SOMETHING-ELSE");
      else if (id.rfind("SILENT", 0) == 0) {
      } else if (id.rfind("CLOSE", 0) == 0) {
        error_code ignored;
        stream.next_layer().close(ignored);
        return false;
      } else {
        ack("AA", id);
      }
      return true;
    }
    void flush() {
      if (!writing.empty() || pending.empty()) return;
      writing.swap(pending);
      asio::async_write(stream, asio::buffer(writing), [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->writing.clear();
        if (!ec) self->flush();
      });
    }
  };

  void accept() {
    acceptor_.async_accept([this](const error_code& ec, tcp::socket s) {
      if (ec) return;
      ++connections_;
      ++open_;
      error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);  // as real receivers do; else Nagle stalls ACKs
      auto session = std::make_shared<Session>(this, std::move(s));
      sessions_.push_back(session);
      session->start();
      accept();
    });
  }

  // Counters first: sessions still held by handlers die with ioc_ and count down.
  std::atomic<int> connections_{0};
  std::atomic<int> open_{0};
  asio::io_context ioc_;
  tls::SslContextPtr ctx_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> received_;
  std::vector<std::weak_ptr<Session>> sessions_;  // the io thread's
  std::thread thread_;
};

config::DestinationConfig destination(std::uint16_t port) {
  config::DestinationConfig d;
  d.name = "mllp-test";
  d.kind = config::DestinationKind::kMllp;
  d.format = config::PayloadFormat::kHl7v2;
  d.host = "127.0.0.1";
  d.port = port;
  d.tls.ca_files = {certDir() / "ca.crt"};
  d.connect_timeout = 500ms;
  d.response_timeout = 300ms;
  return d;
}

// Each item its own patient unless `patient` says otherwise (windows pipeline only
// different patients' messages).
Delivery item(std::string_view control_id, std::string_view patient = {}) {
  Delivery d;
  d.destination = "mllp-test";
  d.patient_key = std::string(patient.empty() ? control_id : patient);
  d.idempotency_key = std::string(control_id);
  d.content_type = "x-application/hl7-v2+er7";
  d.payload = makeMessage(control_id);
  return d;
}

std::unique_ptr<delivery::Sink> sinkFor(const config::DestinationConfig& d) {
  auto s = mllp::makeMllpSink(d);
  EXPECT_TRUE(s) << (s ? "" : s.error().toString());
  return std::move(s).value();
}

TEST(MllpSinkTest, AcceptedAckDeliversAndTheConnectionIsKept) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  auto r = sink->deliver(item("AA-1"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_NE(r.response.find("MSA|AA|AA-1"), std::string::npos);
  EXPECT_EQ(sink->deliver(item("AA-2")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 1);
  EXPECT_EQ(receiver.received(), (std::vector<std::string>{"AA-1", "AA-2"}));
}

TEST(MllpSinkTest, NegativeAcksFollowTheNakActions) {
  MllpReceiver receiver;
  auto d = destination(receiver.port());
  auto sink = sinkFor(d);
  auto ae = sink->deliver(item("AE-1"));
  EXPECT_EQ(ae.status, DeliveryStatus::kRetry);
  EXPECT_EQ(ae.detail, "AE: ERR 207 Busy");
  EXPECT_NE(ae.response.find("MSA|AE|AE-1"), std::string::npos);
  auto ar = sink->deliver(item("AR-1"));
  EXPECT_EQ(ar.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(ar.detail, "AR: ERR 200 Unsupported message type");

  d.on_ae = config::NakAction::kDeadLetter;
  d.on_ar = config::NakAction::kRetry;
  auto flipped = sinkFor(d);
  EXPECT_EQ(flipped->deliver(item("AE-2")).status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(flipped->deliver(item("AR-2")).status, DeliveryStatus::kRetry);
  EXPECT_EQ(receiver.connections(), 2);  // NAKs keep the connection
}

TEST(MllpSinkTest, AckForAnotherMessageRetriesOnANewConnection) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  auto r = sink->deliver(item("WRONG-1"));
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_NE(r.detail.find("MSA-2"), std::string::npos);
  EXPECT_EQ(sink->deliver(item("AA-2")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(MllpSinkTest, NoAnswerTimesOutAndClosedConnectionRetries) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  const auto start = std::chrono::steady_clock::now();
  auto silent = sink->deliver(item("SILENT-1"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(silent.status, DeliveryStatus::kRetry);
  EXPECT_EQ(silent.detail, "no ACK within 300 ms");
  auto closed = sink->deliver(item("CLOSE-1"));
  EXPECT_EQ(closed.status, DeliveryStatus::kRetry);
  EXPECT_NE(closed.detail.find("closed"), std::string::npos) << closed.detail;
  EXPECT_EQ(sink->deliver(item("AA-3")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 3);
}

TEST(MllpSinkTest, ReconnectsAfterTheReceiverRestarts) {
  std::uint16_t port = 0;
  std::unique_ptr<delivery::Sink> sink;
  {
    MllpReceiver receiver;
    port = receiver.port();
    sink = sinkFor(destination(port));
    EXPECT_EQ(sink->deliver(item("AA-1")).status, DeliveryStatus::kDelivered);
  }
  auto down = sink->deliver(item("AA-2"));
  EXPECT_EQ(down.status, DeliveryStatus::kRetry);
  EXPECT_NE(down.detail.find("connect to 127.0.0.1"), std::string::npos) << down.detail;
  MllpReceiver again(true, port);
  auto r = sink->deliver(item("AA-3"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(again.received(), std::vector<std::string>{"AA-3"});
}

TEST(MllpSinkTest, KeptConnectionClosedByTheReceiverIsReplacedWithoutAFailure) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  EXPECT_EQ(sink->deliver(item("AA-1")).status, DeliveryStatus::kDelivered);
  receiver.closeAll();
  ASSERT_TRUE(waitUntil([&] { return receiver.open() == 0; }, 5s));
  auto r = sink->deliver(item("AA-2"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(MllpSinkTest, BatchPipelinesAThousandMessagesInOrder) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  std::vector<Delivery> items;
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.push_back(idOf("AA-", i));
    items.push_back(item(ids.back()));
  }
  auto results = sink->deliverBatch(items);
  ASSERT_EQ(results.size(), items.size());
  for (const auto& r : results) ASSERT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(receiver.received(), ids);
  EXPECT_EQ(receiver.connections(), 1);
}

TEST(MllpSinkTest, BatchStopsAtTheFirstItemNotDelivered) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  auto results = sink->deliverBatch({item("AA-1"), item("AE-2"), item("AA-3"), item("AA-4")});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(results[1].status, DeliveryStatus::kRetry);
  // The rest of the window's ACKs were read: the connection is still in step.
  EXPECT_EQ(sink->deliver(item("AA-5")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 1);

  auto timed_out = sink->deliverBatch({item("AA-6"), item("SILENT-7"), item("AA-8")});
  ASSERT_EQ(timed_out.size(), 2u);
  EXPECT_EQ(timed_out[1].status, DeliveryStatus::kRetry);
}

TEST(MllpSinkTest, AWindowNeverHoldsTwoMessagesOfOnePatient) {
  MllpReceiver receiver;
  auto sink = sinkFor(destination(receiver.port()));
  // P1's second message is refused (AE: retry). Had its third been in the same window,
  // the receiver would have taken it before the second's retry: out of order.
  auto results = sink->deliverBatch({item("AA-1", "P1"), item("AA-2", "P2"), item("AE-3", "P1"),
                                     item("AA-4", "P1"), item("AA-5", "P3")});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].status, DeliveryStatus::kRetry);
  EXPECT_EQ(receiver.received(), (std::vector<std::string>{"AA-1", "AA-2", "AE-3"}));

  // A message without a patient key goes alone; the others still share windows.
  Delivery no_patient = item("AA-7");
  no_patient.patient_key.clear();
  auto more = sink->deliverBatch({item("AA-6", "P4"), no_patient, item("AA-8", "P4")});
  ASSERT_EQ(more.size(), 3u);
  for (const auto& r : more) EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(receiver.connections(), 1);
}

TEST(MllpSinkTest, ReceiverWithAnUntrustedCertificateIsRefused) {
  MllpReceiver receiver(/*trusted_cert=*/false);
  auto d = destination(receiver.port());
  d.tls.use_system_cas = false;
  auto sink = sinkFor(d);
  auto r = sink->deliver(item("AA-1"));
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_NE(r.detail.find("TLS handshake failed"), std::string::npos) << r.detail;
  EXPECT_TRUE(receiver.received().empty());
}

TEST(MllpSinkTest, IdleConnectionIsClosed) {
  MllpReceiver receiver;
  auto d = destination(receiver.port());
  d.keepalive_idle = 200ms;
  auto sink = sinkFor(d);
  EXPECT_EQ(sink->deliver(item("AA-1")).status, DeliveryStatus::kDelivered);
  EXPECT_TRUE(waitUntil([&] { return receiver.open() == 0; }, 5s));
  EXPECT_EQ(sink->deliver(item("AA-2")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(MllpSinkTest, FactoryRefusesBadConfig) {
  auto d = destination(2575);
  d.tls.ca_files = {certDir() / "missing-ca.crt"};
  auto s = mllp::makeMllpSink(d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kConfig);
  EXPECT_NE(s.error().message.find("missing-ca.crt"), std::string::npos);
  d = destination(0);
  EXPECT_FALSE(mllp::makeMllpSink(d));
  d = destination(2575);
  d.tls.cert_file = certDir() / "client.crt";
  d.tls.key_file = certDir() / "server.key";  // not its key
  EXPECT_FALSE(mllp::makeMllpSink(d));
}

}  // namespace
}  // namespace courier::testing
