#include "adapters/mllp/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "adapters/mllp/frame_processor.h"
#include "adapters/mllp/framer.h"
#include "adapters/mllp/tls.h"
#include "engine/core/log.h"
#include "engine/hl7v2/ack_builder.h"

namespace courier::mllp {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

namespace {

constexpr std::size_t kReadBufferBytes = 32 * 1024;
constexpr SteadyTime kNever = SteadyTime::max();

// The type label of /metrics, "ADT^A01", from a header that may belong to a frame that was
// refused: anything but 1-3 capitals/digits with an optional trigger of 1-3 is "unknown",
// so labels never carry what a sender made up.
std::string_view typeLabel(const hl7v2::MessageHeader& h, std::array<char, 8>& buf) {
  auto plain = [](std::string_view v) {
    if (v.size() > 3) return false;
    for (char c : v) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
  };
  if (h.message_type.empty() || !plain(h.message_type) || !plain(h.trigger_event)) return "unknown";
  std::size_t n = 0;
  for (char c : h.message_type) buf[n++] = c;
  if (!h.trigger_event.empty()) {
    buf[n++] = '^';
    for (char c : h.trigger_event) buf[n++] = c;
  }
  return {buf.data(), n};
}

struct Counters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> connections_active{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> frames{0};
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> store_errors{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> oversize_frames{0};
  std::atomic<std::uint64_t> skipped_bytes{0};
};

// What connections need from the server, shared by all of a listener's connections.
struct Shared {
  store::MessageStore& store;
  ServerOptions options;
  Counters counters;
  std::shared_ptr<spdlog::logger> log = courier::logger("mllp");
  std::atomic<std::uint64_t> next_connection_id{1};
  std::atomic<bool> draining{false};  // shutdown phase 1 began
  std::atomic<bool> stopping{false};  // shutdown phase 2 began

  // Frames read whose answer is not yet written (or dropped with their connection).
  // Counters on the data path are atomics; the mutex and condition variable are only
  // touched when a counter reaches zero (what shutdown waits for).
  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  std::atomic<std::int64_t> inflight{0};
  // Store callbacks not yet handed to their io_context; stop() waits for zero so that
  // no callback ever posts to a destroyed io_context.
  std::atomic<std::int64_t> callbacks_pending{0};

  explicit Shared(store::MessageStore& s, ServerOptions o) : store(s), options(std::move(o)) {}

  void addInflight(std::int64_t delta) {
    if (delta != 0 && inflight.fetch_add(delta) + delta == 0) notifyZero();
  }
  void addCallbacks(std::int64_t delta) {
    if (delta != 0 && callbacks_pending.fetch_add(delta) + delta == 0) notifyZero();
  }
  void notifyZero() {
    std::lock_guard lock(inflight_mu);
    inflight_cv.notify_all();
  }
};

struct ListenerState;
class ConnectionBase;

// Store results on their way back to one io_context. The store runs a whole group's
// callbacks in a row on its writer thread; instead of one post (and one wake-up of the
// I/O thread) per message, callbacks append here and only the first of a run posts a
// drain. This keeps the store's writer thread, the usual bottleneck, doing little.
class CompletionQueue {
 public:
  struct Item {
    std::shared_ptr<ConnectionBase> connection;
    std::uint64_t seq;
    Result<store::StoreReceipt> result;
  };

  explicit CompletionQueue(asio::io_context& ioc) : ioc_(ioc) {}

  void push(Item item);  // any thread

 private:
  void drain();  // on the io_context

  asio::io_context& ioc_;
  std::mutex mu_;
  std::vector<Item> items_;
  std::vector<Item> draining_;
  bool scheduled_ = false;
};

// The part of a connection the server can hold without knowing the stream type.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void start() = 0;
  virtual void drain() = 0;  // phase 1: stop reading; close once answers are written
  virtual void close(const char* reason) = 0;
  virtual asio::any_io_executor executor() = 0;
  virtual void onStored(std::uint64_t seq, const Result<store::StoreReceipt>& r) = 0;
};

void CompletionQueue::push(Item item) {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(item));
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) asio::post(ioc_, [this] { drain(); });
}

void CompletionQueue::drain() {
  {
    std::lock_guard lock(mu_);
    draining_.swap(items_);
    scheduled_ = false;
  }
  for (auto& item : draining_) item.connection->onStored(item.seq, item.result);
  draining_.clear();
}

struct ListenerState {
  config::ListenerConfig config;
  SslContextPtr tls;  // null: plain TCP
  std::unique_ptr<FrameProcessor> processor;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::atomic<std::size_t> connections{0};
  std::uint16_t bound_port = 0;
};

class Registry {
 public:
  void add(std::uint64_t id, std::weak_ptr<ConnectionBase> c) {
    std::lock_guard lock(mu_);
    map_.emplace(id, std::move(c));
  }
  void remove(std::uint64_t id) {
    std::lock_guard lock(mu_);
    map_.erase(id);
  }
  std::vector<std::shared_ptr<ConnectionBase>> snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<ConnectionBase>> out;
    for (auto& [id, weak] : map_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::uint64_t, std::weak_ptr<ConnectionBase>> map_;
};

// Plain and TLS streams differ only in the handshake and in how they are closed.
tcp::socket& lowestLayer(tcp::socket& s) { return s; }
tcp::socket& lowestLayer(asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

template <typename Stream>
constexpr bool kIsTls = !std::is_same_v<Stream, tcp::socket>;

// One accepted connection, living on one io_context (so no locks inside). Owned by the
// shared_ptrs its pending operations hold (the Beast example pattern): it dies when its
// last handler has run.
template <typename Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Stream stream, ListenerState& listener, Shared& shared, Registry& registry,
             CompletionQueue& completions)
      : stream_(std::move(stream)),
        completions_(completions),
        timer_(stream_.get_executor()),
        listener_(listener),
        shared_(shared),
        registry_(registry),
        framer_(FramerLimits{.max_frame_bytes = listener.config.limits.max_frame_bytes}),
        id_(shared.next_connection_id.fetch_add(1)),
        read_buffer_(kReadBufferBytes) {
    if (metrics()) metrics()->connectionOpened(listener_.config.name);
  }

  ~Connection() override {
    if (metrics()) metrics()->connectionClosed(listener_.config.name);
    shared_.counters.skipped_bytes += framer_.stats().skipped_bytes;
    shared_.counters.connections_active--;
    listener_.connections--;
    registry_.remove(id_);
  }

  asio::any_io_executor executor() override { return stream_.get_executor(); }

  void start() override {
    registry_.add(id_, weak_from_this());
    if (shared_.stopping) {
      close("server stopping");
      return;
    }
    if (shared_.draining) draining_ = true;
    error_code ec;
    lowestLayer(stream_).set_option(tcp::no_delay(true), ec);
    if constexpr (kIsTls<Stream>) {
      read_deadline_ = SteadyClock::now() + shared_.options.handshake_timeout;
      armTimer();
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = self()](const error_code& ec) { self->onHandshake(ec); });
    } else {
      onPeerKnown({});
    }
  }

  void drain() override {
    if (closed_) return;
    draining_ = true;
    maybeFinish();
  }

  void close(const char* reason) override {
    if (closed_) return;
    closed_ = true;
    shared_.log->debug("conn {} closed: {}", id_, reason);
    error_code ec;
    lowestLayer(stream_).shutdown(tcp::socket::shutdown_both, ec);
    lowestLayer(stream_).close(ec);
    timer_.cancel();
    // Frames read but never answered are no longer in flight.
    shared_.addInflight(-static_cast<std::int64_t>(slots_.size() + out_count_));
    first_seq_ += slots_.size();
    slots_.clear();
    out_count_ = 0;
    out_.clear();
  }

 private:
  struct Slot {
    bool ready = false;
    std::optional<std::string> answer;
    hl7v2::MessageHeader header;  // for the answer once stored
    // For /metrics: when its frame was read, how long the store took, and whether the
    // answer is positive (stored, or a duplicate).
    SteadyTime read_at{};
    std::chrono::nanoseconds store_latency{0};
    bool acknowledged = false;
    bool duplicate = false;
  };

  metrics::Registry* metrics() const { return shared_.options.metrics; }

  std::size_t unanswered() const { return slots_.size() + out_count_ + writing_count_; }

  std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(shared_from_this()); }
  const FrameProcessor& processor() const { return *listener_.processor; }

  void onHandshake(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      shared_.counters.tls_handshake_failures++;
      shared_.log->info("conn {} TLS handshake failed: {}", id_, ec.message());
      close("handshake failed");
      return;
    }
    if constexpr (kIsTls<Stream>) {
      onPeerKnown(peerCertificateNames(stream_.native_handle()));
    }
  }

  void onPeerKnown(const std::vector<std::string>& names) {
    auto peer = processor().resolvePeer(names);
    if (!peer) {
      shared_.counters.connections_refused++;
      shared_.log->warn("conn {} refused on listener {}: {}", id_, listener_.config.name, peer.error().message);
      close("identity not allowed");
      return;
    }
    peer_ = std::move(*peer);
    peer_known_ = true;
    if (draining_) {
      close("draining");
      return;
    }
    shared_.log->debug("conn {} ready on listener {} identity '{}'", id_, listener_.config.name, peer_.identity);
    updateReadDeadline(false);
    armTimer();
    doRead();
  }

  // --- reading ---------------------------------------------------------------------

  void doRead() {
    if (reading_ || closed_ || draining_ || peer_closed_) return;
    // Frames read but unanswered, plus answers not yet written (a peer that does not read
    // its ACKs), are bounded: past the limit reading pauses until flush() frees room.
    if (unanswered() >= shared_.options.max_pipelined_frames) return;
    reading_ = true;
    stream_.async_read_some(asio::buffer(read_buffer_),
                            [self = self()](const error_code& ec, std::size_t n) { self->onRead(ec, n); });
  }

  void onRead(const error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        peer_closed_ = true;  // answer what was read, then close
        maybeFinish();
      } else {
        close("read error");
      }
      return;
    }
    if (draining_) {  // phase 1 of shutdown: bytes read after it are not taken
      maybeFinish();
      return;
    }
    const std::uint64_t frames_before = framer_.stats().frames + framer_.stats().oversize_frames;
    const bool was_in_frame = framer_.inFrame();
    events_.clear();
    read_at_ = SteadyClock::now();
    framer_.feed(std::string_view(read_buffer_.data(), n), events_);
    for (auto& e : events_) onFrameEvent(e);
    if (closed_) return;
    const bool same_frame =
        was_in_frame && framer_.inFrame() && frames_before == framer_.stats().frames + framer_.stats().oversize_frames;
    updateReadDeadline(same_frame);
    flush();
    doRead();
  }

  void onFrameEvent(FrameEvent& e) {
    switch (e.kind) {
      case FrameEvent::Kind::kFatal:
        shared_.log->warn("conn {} framing lost: no end block within {} bytes; closing", id_, e.size);
        draining_ = true;  // answer what came before, then close
        return;
      case FrameEvent::Kind::kTooLarge: {
        shared_.counters.oversize_frames++;
        shared_.counters.frames++;
        FrameDecision d = processor().onTooLarge(e.payload, e.size);
        if (metrics()) {
          std::array<char, 8> buf;
          const std::string_view type = typeLabel(d.header, buf);
          metrics()->received(listener_.config.name, type);
          metrics()->rejected(listener_.config.name, type, d.reason);
        }
        shared_.log->info("conn {} control id '{}' refused: {}", id_, d.header.control_id, d.refusal);
        pushAnswered(std::move(d.answer));
        return;
      }
      case FrameEvent::Kind::kFrame:
        break;
    }
    shared_.counters.frames++;
    FrameDecision d = processor().onFrame(std::move(e.payload), peer_);
    if (metrics()) {
      std::array<char, 8> buf;
      const std::string_view type = typeLabel(d.header, buf);
      metrics()->received(listener_.config.name, type);
      if (!d.message && *d.reason != '\0') metrics()->rejected(listener_.config.name, type, d.reason);
    }
    if (!d.message) {
      shared_.counters.refused++;
      shared_.log->debug("conn {} control id '{}' refused: {}", id_, d.header.control_id, d.refusal);
      pushAnswered(std::move(d.answer));
      return;
    }
    const std::uint64_t seq = first_seq_ + slots_.size();
    Slot& slot = slots_.emplace_back();
    slot.header = std::move(d.header);
    slot.read_at = read_at_;
    shared_.addInflight(1);
    shared_.addCallbacks(1);
    shared_.counters.submitted++;
    // The callback runs on the store's writer thread: only post back to our io_context.
    shared_.store.submit(std::move(*d.message), [self = self(), seq](Result<store::StoreReceipt> r) mutable {
      Shared& shared = self->shared_;
      CompletionQueue& completions = self->completions_;
      completions.push({std::move(self), seq, std::move(r)});
      shared.addCallbacks(-1);
    });
  }

  void pushAnswered(std::optional<std::string> answer) {
    Slot& slot = slots_.emplace_back();
    slot.ready = true;
    slot.answer = std::move(answer);
    shared_.addInflight(1);
  }

  void onStored(std::uint64_t seq, const Result<store::StoreReceipt>& r) override {
    if (closed_ || seq < first_seq_) return;
    Slot& slot = slots_[seq - first_seq_];
    if (!r) {
      shared_.counters.store_errors++;
      shared_.log->warn("conn {} control id '{}' not stored: {}", id_, slot.header.control_id, r.error().toString());
      if (metrics()) {
        std::array<char, 8> buf;
        metrics()->rejected(listener_.config.name, typeLabel(slot.header, buf), "store-unavailable");
      }
    } else {
      if (r->duplicate) shared_.counters.duplicates++;
      shared_.counters.accepted++;
      slot.acknowledged = true;
      slot.duplicate = r->duplicate;
      if (metrics()) slot.store_latency = SteadyClock::now() - slot.read_at;
    }
    slot.answer = processor().answerFor(slot.header, r);
    slot.ready = true;
    flush();
  }

  // --- writing (answers in frame order) ----------------------------------------------

  void flush() {
    if (closed_) return;
    SteadyTime now{};
    while (!slots_.empty() && slots_.front().ready) {
      if (slots_.front().acknowledged && metrics()) {
        const Slot& slot = slots_.front();
        if (now == SteadyTime{}) now = SteadyClock::now();
        std::array<char, 8> buf;
        metrics()->acknowledged(listener_.config.name, typeLabel(slot.header, buf), slot.duplicate,
                                now - slot.read_at, slot.store_latency);
      }
      if (slots_.front().answer) Framer::appendFrame(*slots_.front().answer, out_);
      ++out_count_;
      slots_.pop_front();
      ++first_seq_;
    }
    if (!writing_ && out_count_ > 0) doWrite();
    if (unanswered() < shared_.options.max_pipelined_frames / 2) doRead();
    maybeFinish();
  }

  void doWrite() {
    writing_ = true;
    std::swap(out_, write_buffer_);
    out_.clear();
    writing_count_ = out_count_;
    out_count_ = 0;
    if (write_buffer_.empty()) {  // every answer of this batch was "send nothing"
      asio::post(stream_.get_executor(), [self = self()] { self->onWrite({}, 0); });
      return;
    }
    write_deadline_ = SteadyClock::now() + shared_.options.write_timeout;
    armTimer();
    asio::async_write(stream_, asio::buffer(write_buffer_),
                      [self = self()](const error_code& ec, std::size_t n) { self->onWrite(ec, n); });
  }

  void onWrite(const error_code& ec, std::size_t) {
    writing_ = false;
    write_deadline_ = kNever;
    shared_.addInflight(-static_cast<std::int64_t>(writing_count_));
    writing_count_ = 0;
    if (closed_) return;
    if (ec) {
      close("write error");
      return;
    }
    if (write_buffer_.capacity() > 1 << 20) write_buffer_ = std::string();
    updateReadDeadline(framer_.inFrame());
    flush();
  }

  // Closes once nothing is left to answer, when the peer or shutdown asked for it.
  void maybeFinish() {
    if (closed_) return;
    if ((draining_ || peer_closed_) && slots_.empty() && !writing_ && out_count_ == 0) {
      close(draining_ ? "drained" : "peer closed");
    }
  }

  // --- deadlines -----------------------------------------------------------------------
  // One timer per connection; deadlines are plain time points updated on every event and
  // checked when the timer fires (re-armed only when a deadline moves earlier), so the
  // data path does not pay a timer operation per read.

  void updateReadDeadline(bool same_frame) {
    const auto now = SteadyClock::now();
    if (framer_.inFrame()) {
      if (!same_frame) read_deadline_ = now + listener_.config.limits.read_timeout;
    } else if (slots_.empty() && !writing_) {
      read_deadline_ = now + listener_.config.limits.idle_timeout;
    } else {
      read_deadline_ = kNever;  // waiting for the store: its answers are not the peer's fault
    }
    armTimer();
  }

  SteadyTime nextDeadline() const { return std::min(read_deadline_, write_deadline_); }

  void armTimer() {
    if (closed_) return;
    const SteadyTime due = nextDeadline();
    if (timer_armed_ && due >= timer_due_) return;  // the pending wait fires early enough
    timer_due_ = due;
    timer_armed_ = true;
    const std::uint64_t gen = ++timer_gen_;
    timer_.expires_at(due);
    timer_.async_wait([self = self(), gen](const error_code& ec) { self->onTimer(ec, gen); });
  }

  void onTimer(const error_code& ec, std::uint64_t gen) {
    if (gen != timer_gen_) return;  // superseded by a re-arm
    timer_armed_ = false;
    if (closed_ || ec == asio::error::operation_aborted) return;
    const SteadyTime due = nextDeadline();
    if (due <= SteadyClock::now()) {
      shared_.counters.timeouts++;
      const char* what = write_deadline_ <= SteadyClock::now() ? "write timeout"
                         : !peer_known_                        ? "handshake timeout"
                         : framer_.inFrame()                   ? "read timeout inside a frame"
                                                               : "idle timeout";
      shared_.log->info("conn {} closed: {}", id_, what);
      close(what);
      return;
    }
    armTimer();
  }

  Stream stream_;
  CompletionQueue& completions_;
  asio::steady_timer timer_;
  ListenerState& listener_;
  Shared& shared_;
  Registry& registry_;
  Framer framer_;
  const std::uint64_t id_;
  Peer peer_;

  std::vector<char> read_buffer_;
  std::vector<FrameEvent> events_;
  std::deque<Slot> slots_;        // frames read, in order, not yet written
  std::uint64_t first_seq_ = 0;   // sequence number of slots_.front()
  std::string out_;               // answers ready, waiting for the current write
  std::size_t out_count_ = 0;     // frames (slots) whose answers are in out_
  std::string write_buffer_;      // being written
  std::size_t writing_count_ = 0;

  SteadyTime read_deadline_ = kNever;
  SteadyTime read_at_{};  // when the bytes being framed were read (for /metrics)
  SteadyTime write_deadline_ = kNever;
  SteadyTime timer_due_ = kNever;
  bool timer_armed_ = false;
  std::uint64_t timer_gen_ = 0;

  bool peer_known_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool draining_ = false;
  bool peer_closed_ = false;
  bool closed_ = false;
};

class ServerImpl final : public Server {
 public:
  ServerImpl(store::MessageStore& store, ServerOptions options) : shared_(store, std::move(options)) {}

  ~ServerImpl() override { stop(); }

  Result<void> init(std::vector<config::ListenerConfig> listeners) {
    Clock& clock = shared_.options.clock ? *shared_.options.clock : Clock::system();
    acks_ = std::make_unique<hl7v2::AckBuilder>(shared_.options.ack_id_prefix, clock);
    for (auto& cfg : listeners) {
      auto l = std::make_unique<ListenerState>();
      l->config = std::move(cfg);
      if (l->config.tls.enabled) {
        auto ctx = makeServerTlsContext(l->config.tls);
        if (!ctx) {
          Error e = ctx.error();
          e.message = "listener " + l->config.name + ": " + e.message;
          return Unexpected(std::move(e));
        }
        l->tls = std::move(*ctx);
      }
      l->processor = std::make_unique<FrameProcessor>(l->config, *acks_, clock);
      listeners_.push_back(std::move(l));
    }
    return Ok();
  }

  Result<void> start() override {
    std::size_t n = shared_.options.io_threads;
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      completions_.push_back(std::make_unique<CompletionQueue>(*contexts_.back()));
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
      shared_.log->info("listener {} on {}:{} ({}, client certificates {})", l->config.name, l->config.address,
                        l->bound_port, l->tls ? "TLS" : "plain TCP",
                        config::clientCertModeName(l->config.tls.client_certs));
    }
    for (auto& l : listeners_) doAccept(*l);
    for (auto& ctx : contexts_) {
      threads_.emplace_back([c = ctx.get()] { c->run(); });
    }
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
    std::unique_lock lock(shared_.inflight_mu);
    return shared_.inflight_cv.wait_for(lock, timeout, [&] { return shared_.inflight.load() == 0; });
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
      // Store callbacks still to come post to our io_contexts: wait for them (the store
      // answers every submit, within one commit when it is healthy).
      std::unique_lock lock(shared_.inflight_mu);
      if (!shared_.inflight_cv.wait_for(lock, std::chrono::seconds(60),
                                        [&] { return shared_.callbacks_pending.load() == 0; })) {
        shared_.log->error("stopping with {} store callbacks outstanding", shared_.callbacks_pending.load());
      }
    }
    guards_.clear();
    // Connections are closed and their handlers complete at once; run() then returns.
    for (auto& t : threads_) t.join();
    threads_.clear();
    for (auto& l : listeners_) l->acceptor.reset();
    completions_.clear();  // normally empty: drained by the io threads before run() returned
    contexts_.clear();     // destroys pending handlers (and the connections they own)
  }

  ServerStats stats() const override {
    const Counters& c = shared_.counters;
    ServerStats s;
    s.connections_accepted = c.connections_accepted;
    s.connections_refused = c.connections_refused;
    s.connections_active = c.connections_active;
    s.tls_handshake_failures = c.tls_handshake_failures;
    s.timeouts = c.timeouts;
    s.frames = c.frames;
    s.submitted = c.submitted;
    s.accepted = c.accepted;
    s.refused = c.refused;
    s.store_errors = c.store_errors;
    s.duplicates = c.duplicates;
    s.oversize_frames = c.oversize_frames;
    s.skipped_bytes = c.skipped_bytes;
    s.in_flight = static_cast<std::uint64_t>(std::max<std::int64_t>(0, shared_.inflight.load()));
    return s;
  }

 private:
  void doAccept(ListenerState& l) {
    const std::size_t index = next_context_++ % contexts_.size();
    asio::io_context& target = *contexts_[index];
    l.acceptor->async_accept(target, [this, &l, index](const error_code& ec, tcp::socket socket) {
      onAccept(l, index, ec, std::move(socket));
    });
  }

  void onAccept(ListenerState& l, std::size_t index, const error_code& ec, tcp::socket socket) {
    asio::io_context& target = *contexts_[index];
    if (ec) {
      if (ec == asio::error::operation_aborted || !l.acceptor || !l.acceptor->is_open()) return;
      shared_.log->warn("listener {} accept failed: {}", l.config.name, ec.message());
      doAccept(l);
      return;
    }
    if (l.connections.load() >= l.config.limits.max_connections) {
      shared_.counters.connections_refused++;
      shared_.log->warn("listener {} refused a connection: {} connections open (max_connections)", l.config.name,
                        l.connections.load());
      error_code ignored;
      socket.close(ignored);
      doAccept(l);
      return;
    }
    l.connections++;
    shared_.counters.connections_accepted++;
    shared_.counters.connections_active++;
    std::shared_ptr<ConnectionBase> conn;
    if (l.tls) {
      conn = std::make_shared<Connection<asio::ssl::stream<tcp::socket>>>(
          asio::ssl::stream<tcp::socket>(std::move(socket), *l.tls), l, shared_, registry_, *completions_[index]);
    } else {
      conn = std::make_shared<Connection<tcp::socket>>(std::move(socket), l, shared_, registry_, *completions_[index]);
    }
    asio::post(target, [conn] { conn->start(); });
    doAccept(l);
  }

  Shared shared_;
  std::unique_ptr<hl7v2::AckBuilder> acks_;  // one per process: its control ids are unique
  Registry registry_;
  std::vector<std::unique_ptr<ListenerState>> listeners_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<std::unique_ptr<CompletionQueue>> completions_;  // one per io_context
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

}  // namespace courier::mllp
