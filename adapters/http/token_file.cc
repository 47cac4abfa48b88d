#include "adapters/http/token_file.h"

#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace courier::http {

namespace {

std::array<unsigned char, 32> sha256(std::string_view s) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

Result<TokenFile> TokenFile::parse(std::string_view text, std::string_view default_identity) {
  TokenFile tf;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && isSpace(line[i])) ++i;
      std::size_t start = i;
      while (i < line.size() && !isSpace(line[i])) ++i;
      if (i > start) words.push_back(line.substr(start, i - start));
    }
    if (words.empty()) continue;
    if (words.size() > 2) {
      return Unexpected(Error(ErrorCode::kConfig, "token file: expected '<identity> <token>' or a bare token",
                              "line " + std::to_string(line_no)));
    }
    std::string_view token = words.back();
    if (token.size() < 16) {
      return Unexpected(Error(ErrorCode::kConfig, "token file: a token must have at least 16 characters",
                              "line " + std::to_string(line_no)));
    }
    tf.entries_.push_back({std::string(words.size() == 2 ? words[0] : default_identity), sha256(token)});
  }
  return tf;
}

Result<TokenFile> TokenFile::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Unexpected(Error(ErrorCode::kConfig, "cannot read the token file " + file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  auto r = parse(text.str(), file.filename().string());
  if (!r) {
    Error e = std::move(r).error();
    e.location = file.string() + ":" + e.location;
    return Unexpected(std::move(e));
  }
  return r;
}

std::optional<std::string> TokenFile::identityFor(std::string_view token) const {
  const auto digest = sha256(token);
  const Entry* found = nullptr;
  for (const auto& e : entries_) {  // no early exit: the time does not depend on which matched
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0 && found == nullptr) found = &e;
  }
  if (found == nullptr) return std::nullopt;
  return found->identity;
}

Result<std::string> TokenFile::randomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Unexpected(Error(ErrorCode::kInternal, "the random generator failed"));
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace courier::http
