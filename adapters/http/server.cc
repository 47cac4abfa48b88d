#include "adapters/http/server.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <limits>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "adapters/http/request_processor.h"
#include "engine/core/log.h"
#include "engine/subscriptions/subscription_api.h"
#include "engine/subscriptions/topics.h"
#include "engine/tls/tls_context.h"

namespace courier::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;

struct Shared {
  store::MessageStore& store;
  ServerOptions options;
  metrics::Registry* metrics;
  std::shared_ptr<spdlog::logger> log = courier::logger("http");
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<std::int64_t> inflight{0};           // requests read, answer not yet written
  std::atomic<std::int64_t> callbacks_pending{0};  // store/worker results not yet posted
  asio::thread_pool blocking{1};                   // store reads (/ready), off the I/O threads
  asio::thread_pool subscriptions{2};              // SubscriptionApi calls (store, handshakes)

  Shared(store::MessageStore& s, ServerOptions o, metrics::Registry* m) : store(s), options(std::move(o)), metrics(m) {}
  void add(std::atomic<std::int64_t>& counter, std::int64_t delta) {
    if (counter.fetch_add(delta) + delta == 0) {
      std::lock_guard lock(mu);
      cv.notify_all();
    }
  }
};

struct ListenerState {
  config::ListenerConfig config;
  tls::SslContextPtr tls;
  std::unique_ptr<RequestProcessor> processor;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<std::size_t> connections{0};
  std::uint16_t bound_port = 0;
};

class Connection;

class Registry {
 public:
  void add(std::uint64_t id, std::weak_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    map_.emplace(id, std::move(c));
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    map_.erase(id);
  }
  std::vector<std::shared_ptr<Connection>> snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Connection>> out;
    for (auto& [id, weak] : map_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> map_;
};

const char* routeName(Route r) {
  switch (r) {
    case Route::kHealth: return "health";
    case Route::kReady: return "ready";
    case Route::kMetrics: return "metrics";
    case Route::kMetadata: return "metadata";
    case Route::kBundle: return "bundle";
    case Route::kProcessMessage: return "process-message";
    case Route::kResource: return "resource";
    case Route::kSubscriptionTopic: return "subscription-topic";
    case Route::kSubscription: return "subscription";
    case Route::kNotFound: return "not-found";
  }
  return "?";
}

Response fromError(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kParse: return errorResponse(400, "invalid", e.message, e.location);
    case ErrorCode::kNotFound: return errorResponse(404, "not-found", e.message);
    case ErrorCode::kAlreadyExists: return errorResponse(409, "duplicate", e.message);
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout: return errorResponse(503, "transient", "the subscription store is not available");
    default: return errorResponse(500, "exception", "the subscription could not be handled");
  }
}

Response jsonResponse(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::optional<std::uint64_t> number(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

// Maps one /fhir/Subscription request onto the API (no rules here, only HTTP).
Response subscriptionResponse(subscriptions::SubscriptionApi& api, const std::string& method, const Target& t,
                              const std::string& identity, const std::string& body) {
  if (t.id.empty()) {
    auto created = api.create(identity, body);
    if (!created) return fromError(created.error());
    Response r = jsonResponse(201, std::move(created->json));
    r.headers.emplace_back("Location", "/fhir/Subscription/" + created->id);
    return r;
  }
  Result<std::string> out = Unexpected(Error(ErrorCode::kInternal, "unhandled"));
  if (t.operation == "$status") {
    out = api.status(identity, t.id);
  } else if (t.operation == "$events") {
    auto since_text = queryParam(t.query, "eventsSinceNumber");
    auto until_text = queryParam(t.query, "eventsUntilNumber");
    auto since = number(since_text);
    auto until = number(until_text);
    if ((since_text && !since) || (until_text && !until)) {
      return errorResponse(400, "invalid", "eventsSinceNumber and eventsUntilNumber must be whole numbers");
    }
    out = api.events(identity, t.id, since, until);
  } else if (method == "DELETE") {
    auto r = api.remove(identity, t.id);
    if (!r) return fromError(r.error());
    return jsonResponse(200, operationOutcome("information", "informational", "deleted"));
  } else if (method == "PUT") {
    out = api.update(identity, t.id, body);
  } else {
    out = api.read(identity, t.id);
  }
  if (!out) return fromError(out.error());
  return jsonResponse(200, std::move(*out));
}

// One TLS connection, requests one after another (HTTP/1.1 keep-alive). Owned by the
// shared_ptrs its pending operations hold.
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ListenerState& listener, Shared& shared, Registry& registry)
      : stream_(beast::tcp_stream(std::move(socket)), *listener.tls),
        listener_(listener),
        shared_(shared),
        registry_(registry),
        id_(shared.next_connection_id.fetch_add(1)) {}

  ~Connection() {
    listener_.connections--;
    shared_.metrics->connectionClosed(listener_.config.name);
    registry_.remove(id_);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  void start() {
    registry_.add(id_, weak_from_this());
    if (shared_.stopping) return close("server stopping");
    tcpStream().expires_after(shared_.options.handshake_timeout);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](const error_code& ec) { self->onHandshake(ec); });
  }

  // Shutdown phase 1: an idle connection closes now; a busy one after its answer.
  void drain() {
    draining_ = true;
    if (waiting_for_request_) close("draining");
  }

  void close(const char* reason) {
    if (closed_) return;
    closed_ = true;
    shared_.log->debug("conn {} closed: {}", id_, reason);
    tcpStream().close();
    if (request_open_) finishRequest();
  }

 private:
  beast::tcp_stream& tcpStream() { return stream_.next_layer(); }
  Clock& clock() { return shared_.options.clock ? *shared_.options.clock : Clock::system(); }

  void onHandshake(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      shared_.log->info("conn {} TLS handshake failed: {}", id_, ec.message());
      return close("handshake failed");
    }
    cert_names_ = tls::peerCertificateNames(stream_.native_handle());
    doReadHeader();
  }

  void doReadHeader() {
    if (closed_) return;
    if (draining_ || shared_.draining) return close("draining");
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(listener_.config.http.max_body_bytes);
    tcpStream().expires_after(first_request_ ? listener_.config.http.request_timeout
                                             : listener_.config.limits.idle_timeout);
    first_request_ = false;
    waiting_for_request_ = true;
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](const error_code& ec, std::size_t) { self->onHeader(ec); });
  }

  void onHeader(const error_code& ec) {
    waiting_for_request_ = false;
    if (closed_) return;
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == asio::ssl::error::stream_truncated) return close("peer closed");
      if (ec == beast::error::timeout) return close("idle or header timeout");
      if (ec == asio::error::operation_aborted) return close("aborted");
      startRequest();
      // Beast checks Content-Length against the body limit while parsing the headers.
      if (ec == bhttp::error::body_limit) {
        return reject(errorResponse(413, "too-costly", "the body is larger than this listener accepts"));
      }
      // Malformed request line or headers, or headers too large.
      return respond(errorResponse(ec == bhttp::error::header_limit ? 431 : 400, "structure",
                                   "the HTTP request could not be parsed"),
                     false);
    }
    startRequest();
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    target_ = parseTarget(req.target());
    if (target_.route != Route::kHealth) {
      auto who = listener_.processor->authenticate(req[bhttp::field::authorization], cert_names_);
      if (!who) return reject(std::move(who).error());
      identity_ = std::move(*who);
    }
    if (auto refusal = listener_.processor->checkRequest(method_, target_, req[bhttp::field::content_type])) {
      return reject(std::move(*refusal));
    }
    if (auto len = parser_->content_length(); len && *len > listener_.config.http.max_body_bytes) {
      return reject(errorResponse(413, "too-costly", "the body is larger than this listener accepts"));
    }
    if (parser_->is_done()) return onBody({});
    tcpStream().expires_after(listener_.config.http.request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](const error_code& ec, std::size_t) { self->onBody(ec); });
  }

  void onBody(const error_code& ec) {
    if (closed_) return;
    if (ec == bhttp::error::body_limit) {
      return reject(errorResponse(413, "too-costly", "the body is larger than this listener accepts"));
    }
    if (ec) return close(ec == beast::error::timeout ? "body timeout" : "read error");
    switch (target_.route) {
      case Route::kHealth: return respondText(200, "ok\n");
      case Route::kMetrics: return respondText(200, shared_.metrics->renderPrometheus(),
                                               "text/plain; version=0.0.4; charset=utf-8");
      case Route::kMetadata: {
        Response r;
        r.body = listener_.processor->capabilityStatement();
        return respond(std::move(r), true);
      }
      case Route::kReady: return checkReady();
      case Route::kSubscriptionTopic: {
        Response r;
        r.body = subscriptions::topicsBundleJson();
        return respond(std::move(r), true);
      }
      case Route::kSubscription: return handleSubscription(std::move(parser_->release().body()));
      case Route::kResource:
        if (method_ == "GET" || method_ == "HEAD") return handleRead();
        break;
      default: break;
    }
    auto prepared = listener_.processor->prepare(method_, target_, std::move(parser_->release().body()), identity_,
                                                 clock().now());
    if (!prepared) {
      return reject(std::move(prepared).error(), /*body_read=*/true);
    }
    submission_type_ = prepared->type_label;
    store::InboundMessage message = std::move(prepared->message);
    plan_ = std::move(*prepared);  // what to answer once stored (its message moved out)
    shared_.metrics->received(listener_.config.name, submission_type_);
    shared_.add(shared_.callbacks_pending, 1);
    submitted_at_ = SteadyClock::now();
    shared_.store.submit(std::move(message),
                         [self = shared_from_this()](Result<store::StoreReceipt> r) {
                           // Store thread: only post back to our io_context.
                           Shared& shared = self->shared_;
                           auto ex = self->executor();
                           asio::post(ex, [self = std::move(self), r = std::move(r)] { self->onStored(r); });
                           shared.add(shared.callbacks_pending, -1);
                         });
  }

  void onStored(const Result<store::StoreReceipt>& r) {
    if (closed_) return;
    const std::string& listener = listener_.config.name;
    if (!r) {
      shared_.log->warn("conn {} {} not stored: {}", id_, submission_type_, r.error().toString());
      shared_.metrics->rejected(listener, submission_type_, "503");
      Response resp = errorResponse(503, "transient", "the message could not be stored; send it again later");
      resp.headers.emplace_back("Retry-After", "5");
      return respond(std::move(resp), true);
    }
    const auto now = SteadyClock::now();
    shared_.metrics->acknowledged(listener, submission_type_, r->duplicate, now - request_start_, now - submitted_at_);
    Response resp = storedResponse(plan_, *r, baseUrl());
    plan_ = {};
    respond(std::move(resp), true);
  }

  // Where Location URLs point: https:// + the Host the client used (when it is a plain
  // host[:port]), else the address and port this listener is bound to.
  std::string baseUrl() const {
    std::string_view host = parser_ ? parser_->get()[bhttp::field::host] : std::string_view();
    const bool plain = !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    });
    if (plain) return "https://" + std::string(host);
    return "https://" + listener_.config.address + ":" + std::to_string(listener_.bound_port);
  }

  // GET/HEAD /fhir/{type}/{id}[/_history/{vid}]: the resource index is read on the
  // blocking pool (SQLite), the answer posted back to this connection's io_context.
  void handleRead() {
    store::ResourceIndex* index = shared_.store.resourceIndex();
    if (index == nullptr) {  // checkRequest refuses reads then; kept for safety
      return respond(errorResponse(405, "not-supported", "this store keeps no resource index"), true);
    }
    shared_.add(shared_.callbacks_pending, 1);
    asio::post(shared_.blocking, [self = shared_from_this(), index] {
      const Target& t = self->target_;
      const auto version = versionOf(t.version);
      Response r = !t.version.empty() && !version
                       ? errorResponse(404, "not-found", "no such version of this resource")
                       : readResponse(t, index->findResource(t.type, t.id, version));
      Shared& shared = self->shared_;
      auto ex = self->executor();
      asio::post(ex, [self = std::move(self), r = std::move(r)]() mutable {
        if (self->closed_) return;
        self->respond(std::move(r), true);
      });
      shared.add(shared.callbacks_pending, -1);
    });
  }

  // A version id is a stored message's id: digits. Anything else names no version.
  static std::optional<store::MessageId> versionOf(const std::string& vid) {
    auto n = number(vid);
    if (!n || *n > static_cast<std::uint64_t>(std::numeric_limits<store::MessageId>::max())) return std::nullopt;
    return static_cast<store::MessageId>(*n);
  }

  // /fhir/Subscription...: the SubscriptionApi decides (blocking: store, handshake), on the
  // subscriptions pool; the answer is posted back to this connection's io_context.
  void handleSubscription(std::string body) {
    subscriptions::SubscriptionApi* api = shared_.options.subscriptions;
    if (api == nullptr) {
      return respond(errorResponse(404, "not-supported", "subscriptions are not enabled on this server"), true);
    }
    shared_.add(shared_.callbacks_pending, 1);
    asio::post(shared_.subscriptions, [self = shared_from_this(), api, body = std::move(body)] {
      Response r = subscriptionResponse(*api, self->method_, self->target_, self->identity_, body);
      Shared& shared = self->shared_;
      auto ex = self->executor();
      asio::post(ex, [self = std::move(self), r = std::move(r)]() mutable {
        if (self->closed_) return;
        if (r.status >= 400) self->shared_.log->info("conn {} {} subscription refused: {}", self->id_, self->method_,
                                                     r.status);
        self->respond(std::move(r), true);
      });
      shared.add(shared.callbacks_pending, -1);
    });
  }

  void checkReady() {
    shared_.add(shared_.callbacks_pending, 1);
    asio::post(shared_.blocking, [self = shared_from_this()] {
      Shared& shared = self->shared_;
      const bool ok = !shared.draining && shared.store.duplicateCount().has_value();
      auto ex = self->executor();
      asio::post(ex, [self = std::move(self), ok] {
        if (self->closed_) return;
        if (ok) return self->respondText(200, "ready\n");
        self->respond(errorResponse(503, "transient", "the store is not reachable or the server is stopping"), true);
      });
      shared.add(shared.callbacks_pending, -1);
    });
  }

  // --- answering ---------------------------------------------------------------------

  void startRequest() {
    request_open_ = true;
    body_unread_ = false;
    request_start_ = SteadyClock::now();
    shared_.add(shared_.inflight, 1);
  }
  void finishRequest() {
    request_open_ = false;
    shared_.add(shared_.inflight, -1);
  }

  // A refusal before the store. When the body was not read, the connection closes after
  // the answer (the unread body would be taken for the next request).
  void reject(Response r, bool body_read = false) {
    if (r.status != 404 && r.status != 405 && target_.route != Route::kHealth) {
      const std::string type = target_.route == Route::kResource ? "FHIR^" + target_.type
                               : (target_.route == Route::kBundle || target_.route == Route::kProcessMessage)
                                   ? std::string("FHIR^Bundle")
                                   : std::string(routeName(target_.route));
      shared_.metrics->rejected(listener_.config.name, type, std::to_string(r.status));
    }
    shared_.log->info("conn {} {} {} refused: {}", id_, method_, routeName(target_.route), r.status);
    const bool keep = body_read || (parser_ && parser_->is_done());
    body_unread_ = !keep;
    respond(std::move(r), keep);
  }

  void respondText(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8") {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    respond(std::move(r), true);
  }

  void respond(Response r, bool keep_alive) {
    if (closed_) return;
    const bool request_keep = parser_ && parser_->get().keep_alive();
    keep_alive_ = keep_alive && request_keep && !draining_ && !shared_.draining;
    response_ = {};
    response_.version(11);
    response_.result(r.status);
    response_.set(bhttp::field::content_type, r.content_type);
    response_.set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) response_.set(name, value);
    if (method_ != "HEAD") response_.body() = std::move(r.body);
    response_.keep_alive(keep_alive_);
    response_.prepare_payload();
    tcpStream().expires_after(listener_.config.http.request_timeout);
    bhttp::async_write(stream_, response_,
                       [self = shared_from_this()](const error_code& ec, std::size_t) { self->onWrite(ec); });
  }

  void onWrite(const error_code& ec) {
    if (request_open_) finishRequest();
    if (closed_) return;
    if (ec) return close("write error");
    if (!keep_alive_) return body_unread_ ? doLinger() : doShutdown();
    doReadHeader();
  }

  // After refusing a request whose body was not read: read and drop what the client still
  // sends (bounded in bytes and time) before closing, so that closing with unread data
  // does not reset the connection before the client has read our answer.
  void doLinger() {
    if (closed_) return;
    if (linger_deadline_ == SteadyClock::time_point{}) linger_deadline_ = SteadyClock::now() + std::chrono::seconds(2);
    if (lingered_ > 4 * listener_.config.http.max_body_bytes + (1 << 20)) return close("linger limit");
    tcpStream().expires_at(linger_deadline_);
    scratch_.resize(16 * 1024);
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
      self->lingered_ += n;
      if (ec) return self->close("lingered");
      self->doLinger();
    });
  }

  void doShutdown() {
    tcpStream().expires_after(std::chrono::seconds(2));
    stream_.async_shutdown([self = shared_from_this()](const error_code&) { self->close("done"); });
  }

  asio::ssl::stream<beast::tcp_stream> stream_;
  ListenerState& listener_;
  Shared& shared_;
  Registry& registry_;
  const std::uint64_t id_;
  std::vector<std::string> cert_names_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  std::string method_;
  Target target_;
  std::string identity_;
  std::string submission_type_;
  Submission plan_;
  SteadyClock::time_point request_start_{};
  SteadyClock::time_point submitted_at_{};  // handed to the store (for the store latency)
  bool first_request_ = true;
  bool body_unread_ = false;
  std::size_t lingered_ = 0;
  SteadyClock::time_point linger_deadline_{};
  std::vector<char> scratch_;
  bool waiting_for_request_ = false;
  bool request_open_ = false;
  bool keep_alive_ = true;
  bool draining_ = false;
  bool closed_ = false;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(store::MessageStore& store, ServerOptions options)
      : own_metrics_(options.metrics ? nullptr : std::make_unique<metrics::Registry>()),
        shared_(store, options, options.metrics ? options.metrics : own_metrics_.get()) {}

  ~ServerImpl() override { stop(); }

  Result<void> init(std::vector<config::ListenerConfig> listeners) {
    for (auto& cfg : listeners) {
      auto l = std::make_unique<ListenerState>();
      l->config = std::move(cfg);
      auto fail = [&](std::string why) {
        return Unexpected(Error(ErrorCode::kConfig, "listener " + l->config.name + ": " + why));
      };
      if (l->config.kind != config::ListenerKind::kHttp) return fail("not an http listener");
      if (!l->config.tls.enabled) return fail("http listeners need TLS (tokens must not travel in clear)");
      auto ctx = tls::makeServerTlsContext(l->config.tls);
      if (!ctx) return fail(ctx.error().message);
      l->tls = std::move(*ctx);
      TokenFile tokens;
      if (!l->config.http.token_file.empty()) {
        auto t = TokenFile::load(l->config.http.token_file);
        if (!t) return fail(t.error().toString());
        tokens = std::move(*t);
      }
      l->processor = std::make_unique<RequestProcessor>(l->config, std::move(tokens),
                                                        shared_.store.resourceIndex() != nullptr);
      listeners_.push_back(std::move(l));
    }
    return Ok();
  }

  Result<void> start() override {
    std::size_t n = shared_.options.io_threads;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(asio::make_work_guard(*contexts_.back()));
    }
    for (auto& l : listeners_) {
      error_code ec;
      auto address = asio::ip::make_address(l->config.address, ec);
      if (ec) return Unexpected(Error(ErrorCode::kConfig, "listener " + l->config.name + ": bad address"));
      tcp::endpoint ep(address, l->config.port);
      auto acc = std::make_unique<tcp::acceptor>(*contexts_[0]);
      acc->open(ep.protocol(), ec);
      if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acc->bind(ep, ec);
      if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        return Unexpected(Error(ErrorCode::kUnavailable, "listener " + l->config.name + ": cannot listen on " +
                                                             l->config.address + ":" +
                                                             std::to_string(l->config.port) + ": " + ec.message()));
      }
      l->bound_port = acc->local_endpoint(ec).port();
      l->acceptor = std::move(acc);
      shared_.log->info("listener {} (HTTPS, FHIR REST) on {}:{}, client certificates {}, bearer tokens {}",
                        l->config.name, l->config.address, l->bound_port,
                        config::clientCertModeName(l->config.tls.client_certs),
                        l->config.http.token_file.empty() ? "off" : "on");
    }
    for (auto& l : listeners_) doAccept(*l);
    for (auto& ctx : contexts_) threads_.emplace_back([c = ctx.get()] { c->run(); });
    started_ = true;
    return Ok();
  }

  std::uint16_t port(std::string_view name) const override {
    for (const auto& l : listeners_) {
      if (l->config.name == name) return l->bound_port;
    }
    return 0;
  }

  void stopAccepting() override {
    if (!started_ || accepting_stopped_.exchange(true)) return;
    shared_.draining = true;
    std::promise<void> done;
    asio::post(*contexts_[0], [this, &done] {
      for (auto& l : listeners_) {
        error_code ec;
        if (l->acceptor) l->acceptor->close(ec);
      }
      done.set_value();
    });
    done.get_future().wait();
    for (auto& c : registry_.snapshot()) {
      auto ex = c->executor();
      asio::post(ex, [c = std::move(c)] { c->drain(); });
    }
  }

  bool waitForInFlight(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(shared_.mu);
    return shared_.cv.wait_for(lock, timeout, [&] { return shared_.inflight.load() == 0; });
  }

  void stop() override {
    if (!started_ || stopped_) return;
    stopped_ = true;
    stopAccepting();
    shared_.stopping = true;
    for (auto& c : registry_.snapshot()) {
      auto ex = c->executor();
      asio::post(ex, [c = std::move(c)] { c->close("server stopping"); });
    }
    {
      std::unique_lock lock(shared_.mu);
      if (!shared_.cv.wait_for(lock, std::chrono::seconds(60), [&] { return shared_.callbacks_pending.load() == 0; })) {
        shared_.log->error("stopping with {} store callbacks outstanding", shared_.callbacks_pending.load());
      }
    }
    shared_.blocking.join();
    shared_.subscriptions.join();
    guards_.clear();
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& l : listeners_) l->acceptor.reset();
    contexts_.clear();
  }

  metrics::Registry& metrics() override { return *shared_.metrics; }

 private:
  void doAccept(ListenerState& l) {
    const std::size_t index = next_context_++ % contexts_.size();
    l.acceptor->async_accept(*contexts_[index], [this, &l, index](const error_code& ec, tcp::socket socket) {
      onAccept(l, index, ec, std::move(socket));
    });
  }

  void onAccept(ListenerState& l, std::size_t index, const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !l.acceptor || !l.acceptor->is_open()) return;
      shared_.log->warn("listener {} accept failed: {}", l.config.name, ec.message());
      return doAccept(l);
    }
    if (l.connections.load() >= l.config.limits.max_connections) {
      shared_.log->warn("listener {} refused a connection: max_connections reached", l.config.name);
      error_code ignored;
      socket.close(ignored);
      return doAccept(l);
    }
    l.connections++;
    shared_.metrics->connectionOpened(l.config.name);
    auto conn = std::make_shared<Connection>(std::move(socket), l, shared_, registry_);
    asio::post(*contexts_[index], [conn] { conn->start(); });
    doAccept(l);
  }

  std::unique_ptr<metrics::Registry> own_metrics_;
  Shared shared_;
  Registry registry_;
  std::vector<std::unique_ptr<ListenerState>> listeners_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::size_t next_context_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  std::atomic<bool> accepting_stopped_{false};
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(std::vector<config::ListenerConfig> listeners,
                                               store::MessageStore& store, ServerOptions options) {
  auto server = std::make_unique<ServerImpl>(store, std::move(options));
  if (auto r = server->init(std::move(listeners)); !r) return Unexpected(r.error());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace courier::http
