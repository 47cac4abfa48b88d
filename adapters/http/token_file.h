// TokenFile: the bearer tokens of an HTTP listener, one client per line:
//
//   # comment
//   lab-system  3f9c...e1      <identity> <token>
//   5b7d...0a                  a bare token: its identity is the file's name ("dev-token")
//
// Tokens are kept only as SHA-256 digests and compared in constant time. Never log a
// token. Thread-safety: immutable after load.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace courier::http {

class TokenFile {
 public:
  TokenFile() = default;  // no tokens: every bearer token is refused

  // Errors: kConfig (unreadable file, or a line that is neither a token nor
  // "<identity> <token>", with the line number), never the token itself.
  [[nodiscard]] static Result<TokenFile> load(const std::filesystem::path& file);
  // From text (tests); `default_identity` names bare tokens.
  [[nodiscard]] static Result<TokenFile> parse(std::string_view text, std::string_view default_identity);

  // The identity whose token this is, or nullopt.
  std::optional<std::string> identityFor(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

  // A fresh random token (32 bytes from the OS CSPRNG, hex). Errors: kInternal.
  [[nodiscard]] static Result<std::string> randomToken();

 private:
  struct Entry {
    std::string identity;
    std::array<unsigned char, 32> digest;
  };
  std::vector<Entry> entries_;
};

}  // namespace courier::http
