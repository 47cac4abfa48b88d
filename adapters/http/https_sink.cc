#include "adapters/http/https_sink.h"

#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "adapters/http/retry_after.h"
#include "engine/core/log.h"
#include "engine/delivery/idle_closer.h"
#include "engine/delivery/window.h"

namespace courier::http {

namespace {

namespace fs = std::filesystem;
using delivery::Delivery;
using delivery::DeliveryResult;
using delivery::DeliveryStatus;

constexpr std::size_t kMaxKeptResponse = std::size_t{1} << 20;
constexpr std::size_t kMaxDetailText = 200;

DeliveryResult retry(std::string detail) { return {DeliveryStatus::kRetry, std::move(detail), {}, {}}; }

std::string oneLine(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, kMaxDetailText)) out += (c == '\r' || c == '\n' || c == '\t') ? ' ' : c;
  return out;
}

// The first issue's text of an OperationOutcome (details.text, else diagnostics); empty
// for anything else.
std::string outcomeText(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) return {};
  auto type = doc.FindMember("resourceType");
  if (type == doc.MemberEnd() || !type->value.IsString() || std::string_view(type->value.GetString()) != "OperationOutcome") {
    return {};
  }
  auto issues = doc.FindMember("issue");
  if (issues == doc.MemberEnd() || !issues->value.IsArray() || issues->value.Empty()) return {};
  const auto& issue = issues->value[0];
  if (!issue.IsObject()) return {};
  auto details = issue.FindMember("details");
  if (details != issue.MemberEnd() && details->value.IsObject()) {
    auto text = details->value.FindMember("text");
    if (text != details->value.MemberEnd() && text->value.IsString()) return oneLine(text->value.GetString());
  }
  auto diagnostics = issue.FindMember("diagnostics");
  if (diagnostics != issue.MemberEnd() && diagnostics->value.IsString()) return oneLine(diagnostics->value.GetString());
  return {};
}

// "Patient/123" from a FHIR resource's resourceType and id; nullopt when either is missing.
std::optional<std::string> resourcePath(const std::string& payload) {
  rapidjson::Document doc;
  doc.Parse(payload.data(), payload.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  auto type = doc.FindMember("resourceType");
  auto id = doc.FindMember("id");
  if (type == doc.MemberEnd() || id == doc.MemberEnd() || !type->value.IsString() || !id->value.IsString()) {
    return std::nullopt;
  }
  std::string t = type->value.GetString();
  std::string i = id->value.GetString();
  if (t.empty() || i.empty() || t.find_first_of("/?#") != std::string::npos ||
      i.find_first_of("/?# ") != std::string::npos) {
    return std::nullopt;
  }
  return t + "/" + i;
}

// The first line that is neither empty nor a '#' comment, trimmed.
Result<std::string> readToken(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return Unexpected(Error(ErrorCode::kConfig, "cannot read token file " + file.string()));
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const auto e = line.find_last_not_of(" \t\r");
    return line.substr(b, e - b + 1);
  }
  return Unexpected(Error(ErrorCode::kConfig, "token file " + file.string() + " holds no token"));
}

class HttpsSink final : public delivery::Sink {
 public:
  HttpsSink(const config::DestinationConfig& c, HttpsUrl url, tls::SslContextPtr context, std::string token)
      : config_(c),
        url_(std::move(url)),
        connection_(url_.host, url_.port, c.tls.server_name, std::move(context)),
        token_(std::move(token)),
        log_(logger("http")),
        idle_(c.keepalive_idle, [this] { connection_.close(); }) {
    if (!config_.token_file.empty()) {
      std::error_code ec;
      token_mtime_ = fs::last_write_time(config_.token_file, ec);
    }
  }

  ~HttpsSink() override {
    idle_.stop();
    connection_.close();
  }

  DeliveryResult deliver(const Delivery& item) override {
    auto use = idle_.use();
    Prepared p = prepare(item);
    if (p.refused) return std::move(*p.refused);
    const HttpHeaders& headers = p.headers;
    const std::string& target = p.target;

    for (int attempt = 0;; ++attempt) {
      const bool reused = connection_.reusable();
      if (!reused) {
        if (auto r = connection_.connect(config_.connect_timeout); !r) {
          log_->warn("destination {}: {}", config_.name, r.error().message);
          return retry(r.error().message);
        }
        ++connection_id_;
      }
      auto response = connection_.request(config_.method, target, headers, item.payload, config_.response_timeout);
      if (!response) {
        if (reused && attempt == 0 && connection_.failedBeforeResponse()) continue;
        log_->debug("destination {}: connection {} key {}: {}", config_.name, connection_id_, item.idempotency_key,
                    response.error().message);
        return retry(response.error().message);
      }
      DeliveryResult result = mapHttpResponse(*response, std::chrono::system_clock::now());
      if (result.status != DeliveryStatus::kDelivered) {
        log_->debug("destination {}: connection {} key {}: HTTP {}", config_.name, connection_id_,
                    item.idempotency_key, response->status);
      }
      return result;
    }
  }

  // Up to kWindow requests pipelined on the kept connection (HTTP/1.1), window after
  // window: one request at a time left the deliverer waiting a round trip per item
  // (issue 6). Results in order up to the first that is not delivered; items after a
  // window the server cut short (it closed the connection after an answer) get no result
  // and stay pending without a try counted. Windows are cut by delivery::Windows: never
  // two items of one patient, an item without a patient key alone.
  std::vector<DeliveryResult> deliverBatch(const std::vector<Delivery>& items) override {
    auto use = idle_.use();
    std::vector<DeliveryResult> results;
    results.reserve(items.size());
    std::vector<Prepared> prepared;
    std::vector<HttpRequest> requests;
    std::size_t next = 0;
    bool may_repeat = true;  // a kept connection found closed is tried once more, fresh
    while (next < items.size()) {
      prepared.clear();
      requests.clear();
      const std::size_t end = windows_.end(items, next);
      for (std::size_t i = next; i < end; ++i) {
        Prepared p = prepare(items[i]);
        if (p.refused) {
          if (prepared.empty()) {
            results.push_back(std::move(*p.refused));
            return results;
          }
          break;  // the window ends before it; it is refused when it comes first
        }
        prepared.push_back(std::move(p));
      }
      for (std::size_t k = 0; k < prepared.size(); ++k) {
        requests.push_back(HttpRequest{config_.method, prepared[k].target, &prepared[k].headers, items[next + k].payload});
      }
      const bool reused = connection_.reusable();
      if (!reused) {
        if (auto r = connection_.connect(config_.connect_timeout); !r) {
          log_->warn("destination {}: {}", config_.name, r.error().message);
          results.push_back(retry(r.error().message));
          return results;
        }
        ++connection_id_;
      }
      auto answered = connection_.pipeline(requests, config_.response_timeout);
      if (answered.responses.empty()) {
        if (answered.error && reused && may_repeat && connection_.failedBeforeResponse()) {
          may_repeat = false;
          continue;
        }
        const std::string why = answered.error ? answered.error->message : "connection closed without an answer";
        log_->debug("destination {}: connection {} key {}: {}", config_.name, connection_id_,
                    items[next].idempotency_key, why);
        results.push_back(retry(why));
        return results;
      }
      may_repeat = false;
      const auto now = std::chrono::system_clock::now();
      for (std::size_t k = 0; k < answered.responses.size(); ++k) {
        DeliveryResult result = mapHttpResponse(answered.responses[k], now);
        const bool delivered = result.status == DeliveryStatus::kDelivered;
        if (!delivered) {
          log_->debug("destination {}: connection {} key {}: HTTP {}", config_.name, connection_id_,
                      items[next + k].idempotency_key, answered.responses[k].status);
        }
        results.push_back(std::move(result));
        if (!delivered) {
          // Answers after it belong to items that stay queued behind it (FIFO); they go
          // again later with the same keys. Their answers may still be on the way.
          connection_.close();
          return results;
        }
      }
      next += answered.responses.size();
      // An error after some answers: the unanswered go again next round (same keys).
      if (answered.error) return results;
    }
    return results;
  }

  void close() override {
    std::lock_guard<std::mutex> g(idle_.mutex());
    connection_.close();
  }

 private:
  static constexpr std::size_t kWindow = 64;
  static constexpr std::size_t kWindowBytes = std::size_t{1} << 20;
  delivery::Windows windows_{kWindow, kWindowBytes};

  // One item's request target and headers, or why it can never be sent.
  struct Prepared {
    std::string target;
    HttpHeaders headers;
    std::optional<DeliveryResult> refused;
  };

  Prepared prepare(const Delivery& item) {
    Prepared p;
    p.target = url_.path;
    if (config_.method == "PUT") {
      auto path = resourcePath(item.payload);
      if (!path) {
        p.refused = DeliveryResult{DeliveryStatus::kDeadLetter, "PUT needs a resource with resourceType and id", {}, {}};
        return p;
      }
      if (p.target.back() != '/') p.target += '/';
      p.target += *path;
    }
    refreshToken();
    p.headers = config_.headers;
    p.headers.emplace_back("Content-Type", item.content_type.empty() ? "application/fhir+json" : item.content_type);
    p.headers.emplace_back("Idempotency-Key", item.idempotency_key);
    p.headers.emplace_back("X-Request-ID", item.idempotency_key);
    if (!token_.empty()) p.headers.emplace_back("Authorization", "Bearer " + token_);
    return p;
  }

  // Tokens rotate (an external job rewrites the file); a stat per request notices.
  void refreshToken() {
    if (config_.token_file.empty()) return;
    std::error_code ec;
    auto mtime = fs::last_write_time(config_.token_file, ec);
    if (ec || mtime == token_mtime_) return;
    if (auto t = readToken(config_.token_file)) {
      token_ = std::move(*t);
      token_mtime_ = mtime;
    }  // else keep the token we have; the receiver's 401 will tell
  }

  const config::DestinationConfig config_;
  const HttpsUrl url_;
  HttpsConnection connection_;
  std::string token_;
  fs::file_time_type token_mtime_{};
  std::shared_ptr<spdlog::logger> log_;
  std::uint64_t connection_id_ = 0;
  delivery::IdleCloser idle_;  // last: stops before the rest goes
};

}  // namespace

DeliveryResult mapHttpResponse(const HttpResponse& response, std::chrono::system_clock::time_point now) {
  DeliveryResult r;
  const int s = response.status;
  r.detail = "HTTP " + std::to_string(s);
  r.response = response.body.substr(0, kMaxKeptResponse);
  if (s >= 200 && s < 300) {
    r.status = DeliveryStatus::kDelivered;
    return r;
  }
  const bool transient = s == 408 || s == 429 || s >= 500 || s < 200 || (s >= 300 && s < 400);
  r.status = transient ? DeliveryStatus::kRetry : DeliveryStatus::kDeadLetter;
  if (transient) {
    if (auto header = response.header("Retry-After"); !header.empty()) {
      r.retry_after = parseRetryAfter(header, now);
      if (r.retry_after) r.detail += " (Retry-After " + std::to_string(r.retry_after->count() / 1000) + " s)";
    }
    if (s >= 300 && s < 400) r.detail += ": redirects are not followed";
  }
  if (std::string text = outcomeText(response.body); !text.empty()) r.detail += ": " + text;
  return r;
}

Result<std::unique_ptr<delivery::Sink>> makeHttpsSink(const config::DestinationConfig& destination) {
  const std::string where = "destinations." + destination.name;
  auto fail = [&](const Error& e, std::string_view key) {
    return Unexpected(Error(ErrorCode::kConfig, e.message, where + std::string(key)));
  };
  if (destination.kind != config::DestinationKind::kHttps) {
    return fail(Error(ErrorCode::kConfig, "not an https destination"), "");
  }
  if (!destination.tls.enabled) {
    return fail(Error(ErrorCode::kConfig, "https destinations always use TLS (tls.enabled must be true)"), ".tls");
  }
  if (destination.method != "POST" && destination.method != "PUT") {
    return fail(Error(ErrorCode::kConfig, "method must be POST or PUT"), ".method");
  }
  auto url = parseHttpsUrl(destination.url);
  if (!url) return fail(url.error(), ".url");
  auto context = tls::makeDestinationTlsContext(destination.tls);
  if (!context) return fail(context.error(), ".tls");
  std::string token;
  if (!destination.token_file.empty()) {
    auto t = readToken(destination.token_file);
    if (!t) return fail(t.error(), ".token_file");
    token = std::move(*t);
  }
  return std::unique_ptr<delivery::Sink>(
      std::make_unique<HttpsSink>(destination, std::move(*url), std::move(*context), std::move(token)));
}

}  // namespace courier::http
