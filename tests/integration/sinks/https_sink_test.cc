// HttpsSink and httpsRequest against a scripted Beast HTTPS receiver on 127.0.0.1; the
// request path says how it answers (/ok 201, /busy 503 + Retry-After: 2, /limit 429,
// /bad 400 + OperationOutcome, /slow never, anything else 200), except that a request
// whose Idempotency-Key starts with "busy" is answered 503 on any path.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "adapters/http/https_client.h"
#include "adapters/http/https_sink.h"
#include "engine/tls/tls_context.h"
#include "tests/integration/test_support.h"

namespace courier::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using delivery::Delivery;
using delivery::DeliveryStatus;
using namespace std::chrono_literals;

struct SeenRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

const char* kOutcome =
    R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required",)"
    R"("diagnostics":"Claim.insurance is required"}]})";

class HttpsReceiver {
 public:
  explicit HttpsReceiver(bool trusted_cert = true) {
    config::TlsConfig tls;
    tls.cert_file = certDir(trusted_cert) / "server.crt";
    tls.key_file = certDir(trusted_cert) / "server.key";
    ctx_ = tls::makeServerTlsContext(tls).value();
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.bind(ep);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~HttpsReceiver() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const { return "https://127.0.0.1:" + std::to_string(port_) + std::string(path); }
  int connections() const { return connections_; }
  int open() const { return open_; }
  std::vector<SeenRequest> requests() {
    std::lock_guard<std::mutex> g(mutex_);
    return requests_;
  }
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

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(HttpsReceiver* r, tcp::socket s) : owner(r), stream(std::move(s), *r->ctx_) {}
    ~Session() { --owner->open_; }
    HttpsReceiver* owner;
    asio::ssl::stream<tcp::socket> stream;
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> req;
    bhttp::response<bhttp::string_body> res;

    void start() {
      stream.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
        if (!ec) self->read();
      });
    }
    void read() {
      req = {};
      bhttp::async_read(stream, buffer, req, [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (!ec) self->handle();
      });
    }
    void handle() {
      SeenRequest seen{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
      for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(f.value());
      }
      {
        std::lock_guard<std::mutex> g(owner->mutex_);
        owner->requests_.push_back(seen);
      }
      const std::string path = seen.target.substr(0, seen.target.find('?'));
      if (path == "/fhir/slow") {  // hold the connection, never answer
        owner->held_.push_back(shared_from_this());
        return;
      }
      res = {};
      res.version(11);
      res.keep_alive(req.keep_alive());
      res.set(bhttp::field::content_type, "application/fhir+json");
      if (seen.headers["idempotency-key"].rfind("busy", 0) == 0) {
        res.result(503);
        res.set(bhttp::field::retry_after, "2");
      } else if (path == "/fhir/ok") {
        res.result(201);
        res.body() = R"({"resourceType":"Claim","id":"1"})";
      } else if (path == "/fhir/busy") {
        res.result(503);
        res.set(bhttp::field::retry_after, "2");
      } else if (path == "/fhir/limit") {
        res.result(429);
      } else if (path == "/fhir/bad") {
        res.result(400);
        res.body() = kOutcome;
      } else {
        res.result(200);
      }
      res.prepare_payload();
      bhttp::async_write(stream, res, [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (!ec && self->res.keep_alive()) self->read();
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

  std::atomic<int> connections_{0};  // first: sessions held by handlers die with ioc_
  std::atomic<int> open_{0};
  std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  asio::io_context ioc_;
  tls::SslContextPtr ctx_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::vector<std::weak_ptr<Session>> sessions_;  // the io thread's
  std::vector<std::shared_ptr<Session>> held_;     // the io thread's: /fhir/slow
  std::thread thread_;
};

config::DestinationConfig destination(std::string url) {
  config::DestinationConfig d;
  d.name = "https-test";
  d.kind = config::DestinationKind::kHttps;
  d.url = std::move(url);
  d.tls.ca_files = {certDir() / "ca.crt"};
  d.connect_timeout = 500ms;
  d.response_timeout = 300ms;
  return d;
}

Delivery item(std::string key, std::string payload = R"({"resourceType":"Claim","id":"c1"})") {
  Delivery d;
  d.destination = "https-test";
  d.idempotency_key = std::move(key);
  d.content_type = "application/fhir+json";
  d.payload = std::move(payload);
  return d;
}

std::unique_ptr<delivery::Sink> sinkFor(const config::DestinationConfig& d) {
  auto s = http::makeHttpsSink(d);
  EXPECT_TRUE(s) << (s ? "" : s.error().toString());
  return std::move(s).value();
}

TEST(HttpsSinkTest, PostDeliversWithKeyTokenAndConfiguredHeaders) {
  HttpsReceiver receiver;
  const fs::path dir = makeTempDir("https-sink-token");
  std::ofstream(dir / "token") << "# issued by the payer portal\n\n  s3cret-token  \n";
  auto d = destination(receiver.url("/fhir/ok"));
  d.token_file = dir / "token";
  d.headers = {{"X-Partner", "acme"}};
  auto sink = sinkFor(d);
  auto r = sink->deliver(item("key-1"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(r.detail, "HTTP 201");
  EXPECT_EQ(r.response, R"({"resourceType":"Claim","id":"1"})");
  EXPECT_EQ(sink->deliver(item("key-2")).status, DeliveryStatus::kDelivered);
  EXPECT_EQ(receiver.connections(), 1);  // kept alive

  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/fhir/ok");
  EXPECT_EQ(seen[0].headers["idempotency-key"], "key-1");
  EXPECT_EQ(seen[0].headers["x-request-id"], "key-1");
  EXPECT_EQ(seen[0].headers["authorization"], "Bearer s3cret-token");
  EXPECT_EQ(seen[0].headers["content-type"], "application/fhir+json");
  EXPECT_EQ(seen[0].headers["x-partner"], "acme");
  EXPECT_EQ(seen[0].body, R"({"resourceType":"Claim","id":"c1"})");
  EXPECT_EQ(seen[1].headers["idempotency-key"], "key-2");
}

// Without patient keys one request at a time; with keys of 40 patients pipelined in
// windows of up to 40: either way all in order on one connection.
TEST(HttpsSinkTest, BatchGoesInOrderOnOneConnection) {
  for (bool keyed : {false, true}) {
    HttpsReceiver receiver;
    auto sink = sinkFor(destination(receiver.url("/fhir/ok")));
    std::vector<Delivery> batch;
    for (int i = 0; i < 300; ++i) {
      batch.push_back(item("key-" + std::to_string(i)));
      if (keyed) batch.back().patient_key = "P" + std::to_string(i % 40);
    }
    auto results = sink->deliverBatch(batch);
    ASSERT_EQ(results.size(), batch.size());
    for (const auto& r : results) EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
    EXPECT_EQ(results.back().response, R"({"resourceType":"Claim","id":"1"})");
    EXPECT_EQ(receiver.connections(), 1);
    auto seen = receiver.requests();
    ASSERT_EQ(seen.size(), batch.size());
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].headers["idempotency-key"], batch[i].idempotency_key);
  }
}

TEST(HttpsSinkTest, BatchStopsAtTheFirstAnswerThatIsNotDelivered) {
  HttpsReceiver receiver;
  auto sink = sinkFor(destination(receiver.url("/fhir/ok")));
  std::vector<Delivery> batch{item("k0"), item("k1"), item("busy-2"), item("k3"), item("k4")};
  auto results = sink->deliverBatch(batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(results[1].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(results[2].status, DeliveryStatus::kRetry);
  EXPECT_EQ(results[2].retry_after, std::chrono::milliseconds(2000));
  // Nothing after the refused item reached the receiver: it cannot see the queue out of
  // order. The next batch starts again at the refused item.
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.back().headers["idempotency-key"], "busy-2");
  batch.erase(batch.begin(), batch.begin() + 2);
  batch[0] = item("k2");
  results = sink->deliverBatch(batch);
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
}

// A window never holds two items of one patient: when the receiver refuses P2's first
// claim, P2's second has not been sent (another patient's may have: it goes again under
// its key).
TEST(HttpsSinkTest, ARefusedItemKeepsItsPatientsNextOutOfTheWindow) {
  HttpsReceiver receiver;
  auto sink = sinkFor(destination(receiver.url("/fhir/ok")));
  std::vector<Delivery> batch{item("k0"), item("busy-1"), item("k2"), item("k3")};
  const char* patients[] = {"P1", "P2", "P3", "P2"};
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].patient_key = patients[i];
  auto results = sink->deliverBatch(batch);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, DeliveryStatus::kDelivered);
  EXPECT_EQ(results[1].status, DeliveryStatus::kRetry);
  for (const auto& r : receiver.requests()) EXPECT_NE(r.headers.at("idempotency-key"), "k3") << "P2's next went out";
}

TEST(HttpsSinkTest, RotatedTokenIsPickedUp) {
  HttpsReceiver receiver;
  const fs::path dir = makeTempDir("https-sink-rotate");
  std::ofstream(dir / "token") << "first\n";
  auto d = destination(receiver.url("/fhir/ok"));
  d.token_file = dir / "token";
  auto sink = sinkFor(d);
  EXPECT_EQ(sink->deliver(item("k1")).status, DeliveryStatus::kDelivered);
  std::ofstream(dir / "token") << "second\n";
  fs::last_write_time(dir / "token", fs::last_write_time(dir / "token") + 1s);  // coarse mtimes
  EXPECT_EQ(sink->deliver(item("k2")).status, DeliveryStatus::kDelivered);
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers["authorization"], "Bearer first");
  EXPECT_EQ(seen[1].headers["authorization"], "Bearer second");
}

TEST(HttpsSinkTest, TransientAnswersRetry) {
  HttpsReceiver receiver;
  auto busy = sinkFor(destination(receiver.url("/fhir/busy")))->deliver(item("k"));
  EXPECT_EQ(busy.status, DeliveryStatus::kRetry);
  EXPECT_EQ(busy.retry_after, std::chrono::milliseconds(2000));
  EXPECT_EQ(busy.detail, "HTTP 503 (Retry-After 2 s)");
  auto limit = sinkFor(destination(receiver.url("/fhir/limit")))->deliver(item("k"));
  EXPECT_EQ(limit.status, DeliveryStatus::kRetry);
  EXPECT_EQ(limit.detail, "HTTP 429");
}

TEST(HttpsSinkTest, BadRequestDeadLettersKeepingTheOperationOutcome) {
  HttpsReceiver receiver;
  auto r = sinkFor(destination(receiver.url("/fhir/bad")))->deliver(item("k"));
  EXPECT_EQ(r.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(r.response, kOutcome);
  EXPECT_EQ(r.detail, "HTTP 400: Claim.insurance is required");
}

TEST(HttpsSinkTest, SlowReceiverTimesOutAndTheNextTryReconnects) {
  HttpsReceiver receiver;
  auto sink = sinkFor(destination(receiver.url("/fhir/slow")));
  const auto start = std::chrono::steady_clock::now();
  auto r = sink->deliver(item("k"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_EQ(r.detail, "no response within 300 ms");
  EXPECT_EQ(sink->deliver(item("k")).status, DeliveryStatus::kRetry);
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(HttpsSinkTest, PutGoesToTypeAndId) {
  HttpsReceiver receiver;
  auto d = destination(receiver.url("/fhir"));
  d.method = "PUT";
  auto sink = sinkFor(d);
  EXPECT_EQ(sink->deliver(item("k", R"({"resourceType":"Claim","id":"c-7"})")).status, DeliveryStatus::kDelivered);
  auto no_id = sink->deliver(item("k", R"({"resourceType":"Claim"})"));
  EXPECT_EQ(no_id.status, DeliveryStatus::kDeadLetter);
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/fhir/Claim/c-7");
}

TEST(HttpsSinkTest, ReceiverWithAnUntrustedCertificateIsRefused) {
  HttpsReceiver receiver(/*trusted_cert=*/false);
  auto d = destination(receiver.url("/fhir/ok"));
  d.tls.use_system_cas = false;
  auto r = sinkFor(d)->deliver(item("k"));
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_NE(r.detail.find("TLS handshake"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("certificate verify failed"), std::string::npos) << r.detail;
  EXPECT_TRUE(receiver.requests().empty());
}

TEST(HttpsSinkTest, CertificateForAnotherNameIsRefused) {
  HttpsReceiver receiver;
  auto d = destination(receiver.url("/fhir/ok"));
  d.tls.server_name = "payer.example";  // the certificate names localhost and 127.0.0.1
  auto r = sinkFor(d)->deliver(item("k"));
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_NE(r.detail.find("the certificate is not for payer.example"), std::string::npos) << r.detail;
  EXPECT_TRUE(receiver.requests().empty());
  d.tls.server_name = "localhost";
  EXPECT_EQ(sinkFor(d)->deliver(item("k")).status, DeliveryStatus::kDelivered);
}

TEST(HttpsSinkTest, ConnectionClosedByTheReceiverIsReplaced) {
  HttpsReceiver receiver;
  auto sink = sinkFor(destination(receiver.url("/fhir/ok")));
  EXPECT_EQ(sink->deliver(item("k1")).status, DeliveryStatus::kDelivered);
  receiver.closeAll();
  ASSERT_TRUE(waitUntil([&] { return receiver.open() == 0; }, 5s));
  auto r = sink->deliver(item("k2"));
  EXPECT_EQ(r.status, DeliveryStatus::kDelivered) << r.detail;
  EXPECT_EQ(receiver.connections(), 2);
}

TEST(HttpsSinkTest, IdleConnectionIsClosed) {
  HttpsReceiver receiver;
  auto d = destination(receiver.url("/fhir/ok"));
  d.keepalive_idle = 200ms;
  auto sink = sinkFor(d);
  EXPECT_EQ(sink->deliver(item("k1")).status, DeliveryStatus::kDelivered);
  EXPECT_TRUE(waitUntil([&] { return receiver.open() == 0; }, 5s));
}

TEST(HttpsSinkTest, RefusedConnectionRetries) {
  std::string url;
  {
    HttpsReceiver gone;
    url = gone.url("/fhir/ok");
  }
  auto r = sinkFor(destination(url))->deliver(item("k"));
  EXPECT_EQ(r.status, DeliveryStatus::kRetry);
  EXPECT_NE(r.detail.find("connect to 127.0.0.1"), std::string::npos) << r.detail;
}

TEST(HttpsSinkTest, FactoryRefusesBadConfig) {
  auto expectConfigError = [](const config::DestinationConfig& d, std::string_view what) {
    auto s = http::makeHttpsSink(d);
    ASSERT_FALSE(s) << what;
    EXPECT_EQ(s.error().code, ErrorCode::kConfig) << what;
  };
  expectConfigError(destination("http://127.0.0.1/fhir"), "plain http");
  auto d = destination("https://127.0.0.1/fhir");
  d.token_file = "/nonexistent/token";
  expectConfigError(d, "token file");
  d = destination("https://127.0.0.1/fhir");
  d.tls.ca_files = {"/nonexistent/ca.crt"};
  expectConfigError(d, "CA file");
  d = destination("https://127.0.0.1/fhir");
  d.tls.enabled = false;
  expectConfigError(d, "TLS off");
  d = destination("https://127.0.0.1/fhir");
  d.method = "PATCH";
  expectConfigError(d, "method");
}

TEST(HttpsRequestTest, OneShotRequest) {
  HttpsReceiver receiver;
  http::HttpsTarget target{"127.0.0.1", receiver.port(), {}, 500ms};
  target.tls.ca_files = {certDir() / "ca.crt"};
  auto r = http::httpsRequest(target, "POST", "/fhir/ok", {{"Content-Type", "application/fhir+json"}}, "{}", 500ms);
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("content-type"), "application/fhir+json");
  EXPECT_EQ(r->body, R"({"resourceType":"Claim","id":"1"})");
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers["connection"], "close");

  target.tls.ca_files = {certDir(false) / "ca.crt"};
  target.tls.use_system_cas = false;
  auto refused = http::httpsRequest(target, "GET", "/fhir/ok", {}, "", 500ms);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
}

// The request is written by hand (not by Beast): the receiver's HTTP parser reads it, the
// caller's later header replaces an earlier one of the same name, Host and User-Agent are
// ours unless given, and a header that would break the framing is refused unsent.
TEST(HttpsRequestTest, RequestsAreWellFramedAndAHeaderThatWouldBreakOneIsRefused) {
  HttpsReceiver receiver;
  http::HttpsTarget target{"127.0.0.1", receiver.port(), {}, 500ms};
  target.tls.ca_files = {certDir() / "ca.crt"};
  auto r = http::httpsRequest(target, "PUT", "/fhir/ok",
                              {{"X-Partner", "first"}, {"x-partner", "second"}, {"Content-Length", "999"}}, "{\"a\":1}",
                              500ms);
  ASSERT_TRUE(r) << r.error().toString();
  auto get = http::httpsRequest(target, "GET", "/fhir/ok", {{"User-Agent", "partner-agent"}}, "", 500ms);
  ASSERT_TRUE(get) << get.error().toString();
  auto seen = receiver.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].headers["x-partner"], "second");
  EXPECT_EQ(seen[0].headers["content-length"], "7");
  EXPECT_EQ(seen[0].headers["host"], "127.0.0.1:" + std::to_string(receiver.port()));
  EXPECT_EQ(seen[0].headers["user-agent"], "courier");
  EXPECT_EQ(seen[0].body, "{\"a\":1}");
  EXPECT_EQ(seen[1].headers["user-agent"], "partner-agent");
  EXPECT_EQ(seen[1].headers.count("content-length"), 0u);

  for (const http::HttpHeaders& bad : {http::HttpHeaders{{"X-A", "b\r\nX-Injected: 1"}},
                                       http::HttpHeaders{{"X A", "b"}}, http::HttpHeaders{{"", "b"}}}) {
    auto refused = http::httpsRequest(target, "POST", "/fhir/ok", bad, "{}", 500ms);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  }
  auto bad_target = http::httpsRequest(target, "POST", "/fhir/ok HTTP/1.1\r\nX: y", {}, "{}", 500ms);
  ASSERT_FALSE(bad_target);
  EXPECT_EQ(bad_target.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(receiver.requests().size(), 2u);
}

}  // namespace
}  // namespace courier::testing
