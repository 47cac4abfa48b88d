// mllp_load: an MLLP load driver. C connections (plain or TLS), unique control ids, every
// ACK checked (MSA-1 must be AA or CA and MSA-2 must echo the message's MSH-10, in order).
//
// Closed loop (default): each connection keeps --window messages in flight for
// --duration seconds (or until --count messages in all). Open loop (--rate R): messages
// are offered at R per second in total, whatever the answers do, and latency counts from
// the moment each message was due (no coordinated omission); --window then only caps
// what may wait on one connection.
//
// Prints one JSON object: throughput and ACK latency p50/p95/p99/max in milliseconds.
//
//   mllp_load --port 2575 --tls --ca var/certs/ca.crt --connections 16 --window 64 --duration 10
//   mllp_load --port 2575 --tls --ca var/certs/ca.crt --connections 16 --rate 10000 --duration 10
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <CLI/CLI.hpp>

#include "adapters/mllp/framer.h"
#include "adapters/mllp/tls.h"

namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 2575;
  bool tls = false;
  std::string ca, cert, key;
  int connections = 16;
  int window = 64;
  double duration_s = 10;
  long long count = 0;  // 0: run for duration
  double rate = 0;      // 0: closed loop
  int threads = 1;
  int body_segments = 4;  // OBX segments per message (size)
};

struct Totals {
  std::vector<std::uint32_t> latencies_us;
  long long sent = 0;
  long long acked = 0;
  long long bad = 0;
  std::string first_error;
};

std::string g_run_id;

std::string makeMessage(const std::string& control_id, int obx) {
  std::string m;
  m.reserve(400 + obx * 80);
  m += "MSH|^~\\&|LOADGEN|LOADFAC|COURIER|HOSP|20240101120000||ORU^R01^ORU_R01|";
  m += control_id;
  m += "|P|2.5.1\rPID|1||";
  m += control_id;
  m += "^^^HOSP^MR||LOAD^TEST||19700101|F\rOBR|1||";
  m += control_id;
  m += "|24331-1^Lipid panel^LN\r";
  for (int i = 1; i <= obx; ++i) {
    m += "OBX|";
    m += std::to_string(i);
    m += "|NM|2093-3^Cholesterol^LN||";
    m += std::to_string(150 + i);
    m += "|mg/dL|<200|N|||F\r";
  }
  return m;
}

// MSA-1 and MSA-2 of an ACK, without a full parse (the driver shares the CPU).
bool readAck(std::string_view ack, std::string_view& code, std::string_view& control_id) {
  if (ack.size() == 1) {  // MLLP commit acknowledgement: no control id to check
    code = ack[0] == courier::mllp::kCommitAck ? "CA" : "NAK";
    control_id = {};
    return true;
  }
  std::size_t at = ack.find("\rMSA|");
  if (at == std::string_view::npos) return false;
  std::string_view rest = ack.substr(at + 5);
  std::size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return false;
  code = rest.substr(0, bar);
  rest = rest.substr(bar + 1);
  std::size_t end = rest.find_first_of("|\r^");
  control_id = rest.substr(0, end);
  return true;
}


class ConnBase {
 public:
  virtual ~ConnBase() = default;
  virtual void start() = 0;
  virtual void stopSending() = 0;
  virtual bool finished() const = 0;
  Totals totals;
};

// The shared run state (one per process): when to stop, how much was sent.
struct Run {
  Options o;
  Clock::time_point start;
  Clock::time_point stop_at;
  std::atomic<long long> sent{0};
  std::atomic<bool> stopping{false};
  std::atomic<int> done_connections{0};
};

template <typename Stream>
class Conn final : public ConnBase, public std::enable_shared_from_this<Conn<Stream>> {
 public:
  Conn(Stream stream, Run& run, int index)
      : stream_(std::move(stream)), timer_(stream_.get_executor()), run_(run), index_(index) {
    prefix_ = g_run_id + "-" + std::to_string(index) + "-";
    if (run.o.rate > 0) rate_ = run.o.rate / run.o.connections;
  }

  void start() override {
    doRead();
    if (rate_ > 0) {
      tick();
    } else {
      refill();
    }
  }

  void stopSending() override { stop_ = true; }
  bool finished() const override { return finished_; }

 private:
  struct InFlight {
    std::string control_id;
    Clock::time_point due;  // when it was (to be) sent
  };

  bool mayStartAnother() {
    if (stop_ || run_.stopping) return false;
    if (run_.o.count > 0) return run_.sent.fetch_add(1) < run_.o.count;
    if (Clock::now() >= run_.stop_at) return false;
    run_.sent.fetch_add(1);
    return true;
  }

  void queueMessage(Clock::time_point due) {
    std::string id = prefix_ + std::to_string(seq_++);
    courier::mllp::Framer::appendFrame(makeMessage(id, run_.o.body_segments), out_);
    inflight_.push_back({std::move(id), due});
    totals.sent++;
  }

  // Closed loop: keep `window` in flight.
  void refill() {
    while (static_cast<int>(inflight_.size()) < run_.o.window && mayStartAnother()) queueMessage(Clock::now());
    flush();
    checkDone();
  }

  // Open loop: every millisecond, queue what has come due.
  void tick() {
    const auto now = Clock::now();
    if (!stop_ && !run_.stopping && now < run_.stop_at) {
      const double elapsed = std::chrono::duration<double>(now - run_.start).count();
      // Message k is due at start + k / rate: k = 0 at once. (Without the + 1 every
      // message went out one interval after the time it was measured from, which added
      // 1.6 ms to every latency at 10k/s over 16 connections, 80 ms at 200/s.)
      const long long due_count = static_cast<long long>(elapsed * rate_) + 1;
      while (offered_ < due_count) {
        auto due = run_.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(offered_ / rate_));
        ++offered_;
        if (static_cast<int>(inflight_.size()) >= run_.o.window) {
          totals.bad++;  // could not even be offered: the receiver is far behind
          if (totals.first_error.empty()) totals.first_error = "window full at the offered rate";
          continue;
        }
        run_.sent.fetch_add(1);
        queueMessage(due);
      }
      flush();
      timer_.expires_after(std::chrono::microseconds(500));
      timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
        if (!ec) self->tick();
      });
    } else {
      stop_ = true;
      checkDone();
    }
  }

  void flush() {
    if (writing_ || out_.empty()) return;
    writing_ = true;
    std::swap(out_, wbuf_);
    out_.clear();
    asio::async_write(stream_, asio::buffer(wbuf_), [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      self->writing_ = false;
      if (ec) return self->fail("write: " + ec.message());
      self->flush();
    });
  }

  void doRead() {
    stream_.async_read_some(asio::buffer(rbuf_), [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
      self->onRead(ec, n);
    });
  }

  void onRead(const error_code& ec, std::size_t n) {
    if (ec) {
      if (!inflight_.empty()) fail("read: " + ec.message());
      finished_ = true;
      return;
    }
    events_.clear();
    framer_.feed(std::string_view(rbuf_.data(), n), events_);
    const auto now = Clock::now();
    for (auto& e : events_) {
      if (inflight_.empty()) {
        bad("answer without a message");
        continue;
      }
      InFlight f = std::move(inflight_.front());
      inflight_.pop_front();
      std::string_view code, id;
      if (e.kind != courier::mllp::FrameEvent::Kind::kFrame || !readAck(e.payload, code, id)) {
        bad("unreadable answer");
        continue;
      }
      if ((code != "AA" && code != "CA") || (!id.empty() && id != f.control_id)) {
        bad("answer " + std::string(code) + " for " + f.control_id);
        continue;
      }
      totals.acked++;
      totals.latencies_us.push_back(
          static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - f.due).count()));
    }
    if (rate_ <= 0) refill();
    checkDone();
    if (!finished_) doRead();
  }

  void bad(std::string what) {
    totals.bad++;
    if (totals.first_error.empty()) totals.first_error = std::move(what);
  }

  void fail(std::string what) {
    bad(std::move(what));
    totals.bad += static_cast<long long>(inflight_.size());
    inflight_.clear();
    finish();
  }

  void checkDone() {
    if (finished_) return;
    const bool sending_over = stop_ || run_.stopping || (run_.o.count > 0 ? run_.sent.load() >= run_.o.count
                                                                          : Clock::now() >= run_.stop_at);
    if (sending_over && inflight_.empty() && !writing_) finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    run_.done_connections++;
    error_code ignored;
    timer_.cancel();
    lowest().close(ignored);
  }

  tcp::socket& lowest() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) return stream_;
    else return stream_.next_layer();
  }

  Stream stream_;
  asio::steady_timer timer_;
  Run& run_;
  int index_;
  std::string prefix_;
  std::uint64_t seq_ = 0;
  double rate_ = 0;
  long long offered_ = 0;
  courier::mllp::Framer framer_;
  std::vector<courier::mllp::FrameEvent> events_;
  std::deque<InFlight> inflight_;
  std::string out_, wbuf_;
  std::vector<char> rbuf_ = std::vector<char>(64 * 1024);
  bool writing_ = false;
  bool stop_ = false;
  bool finished_ = false;
};

double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"MLLP load driver: throughput and ACK latency of an MLLP listener."};
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->required();
  app.add_flag("--tls", o.tls);
  app.add_option("--ca", o.ca, "CA that signs the server certificate");
  app.add_option("--cert", o.cert, "client certificate");
  app.add_option("--key", o.key, "client key");
  app.add_option("--connections,-c", o.connections)->capture_default_str();
  app.add_option("--window,-w", o.window, "messages in flight per connection")->capture_default_str();
  app.add_option("--duration,-d", o.duration_s, "seconds of sending")->capture_default_str();
  app.add_option("--count,-n", o.count, "total messages (instead of --duration)");
  app.add_option("--rate,-r", o.rate, "offered messages per second in total (open loop)");
  app.add_option("--threads,-t", o.threads, "driver threads")->capture_default_str();
  app.add_option("--obx", o.body_segments, "OBX segments per message")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.rate > 0 && !app.count("--window")) o.window = 100000;

  g_run_id = "B" + std::to_string(getpid()) + "x" +
             std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 100000000);

  courier::mllp::SslContextPtr tls;
  if (o.tls) {
    courier::mllp::ClientTlsOptions t;
    t.ca_file = o.ca;
    t.cert_file = o.cert;
    t.key_file = o.key.empty() ? o.cert : o.key;
    t.verify_server = !o.ca.empty();
    auto ctx = courier::mllp::makeClientTlsContext(t);
    if (!ctx) {
      std::fprintf(stderr, "mllp_load: %s\n", ctx.error().toString().c_str());
      return 2;
    }
    tls = *ctx;
  }

  const int nthreads = std::max(1, o.threads);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < nthreads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  Run run;
  run.o = o;
  std::vector<std::shared_ptr<ConnBase>> conns;
  for (int i = 0; i < o.connections; ++i) {
    asio::io_context& ioc = *contexts[i % nthreads];
    tcp::resolver resolver(ioc);
    error_code ec;
    auto eps = resolver.resolve(o.host, std::to_string(o.port), ec);
    tcp::socket sock(ioc);
    if (!ec) asio::connect(sock, eps, ec);
    if (ec) {
      std::fprintf(stderr, "mllp_load: connect %s:%u: %s\n", o.host.c_str(), o.port, ec.message().c_str());
      return 2;
    }
    sock.set_option(tcp::no_delay(true));
    if (tls) {
      asio::ssl::stream<tcp::socket> s(std::move(sock), *tls);
      s.handshake(asio::ssl::stream_base::client, ec);
      if (ec) {
        std::fprintf(stderr, "mllp_load: TLS handshake: %s\n", ec.message().c_str());
        return 2;
      }
      conns.push_back(std::make_shared<Conn<asio::ssl::stream<tcp::socket>>>(std::move(s), run, i));
    } else {
      conns.push_back(std::make_shared<Conn<tcp::socket>>(std::move(sock), run, i));
    }
  }
  run.start = Clock::now();
  run.stop_at = run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  for (auto& c : conns) c->start();
  std::vector<std::thread> threads;
  for (auto& ctx : contexts) threads.emplace_back([c = ctx.get()] { c->run_for(std::chrono::minutes(10)); });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - run.start).count();

  Totals all;
  for (auto& c : conns) {
    all.sent += c->totals.sent;
    all.acked += c->totals.acked;
    all.bad += c->totals.bad;
    if (all.first_error.empty()) all.first_error = c->totals.first_error;
    all.latencies_us.insert(all.latencies_us.end(), c->totals.latencies_us.begin(), c->totals.latencies_us.end());
  }
  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  std::printf(
      "{\"mode\":\"%s\",\"tls\":%s,\"connections\":%d,\"window\":%d,\"offered_rate\":%.0f,\"sent\":%lld,"
      "\"acked\":%lld,\"errors\":%lld,\"seconds\":%.3f,\"throughput_msgs_per_s\":%.0f,"
      "\"latency_ms\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f}%s%s%s}\n",
      o.rate > 0 ? "open" : "closed", o.tls ? "true" : "false", o.connections, o.window, o.rate, all.sent, all.acked,
      all.bad, seconds, all.acked / seconds, percentile(all.latencies_us, 50), percentile(all.latencies_us, 95),
      percentile(all.latencies_us, 99), all.latencies_us.empty() ? 0.0 : all.latencies_us.back() / 1000.0,
      all.first_error.empty() ? "" : ",\"first_error\":\"", all.first_error.c_str(),
      all.first_error.empty() ? "" : "\"");
  return all.bad == 0 && all.acked == all.sent ? 0 : 1;
}
