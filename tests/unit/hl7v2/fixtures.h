// Test helpers: fixture files under tests/data/hl7v2/ and the shared corpus.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace courier::hl7v2::test {

inline std::filesystem::path fixtureDir() {
  return std::filesystem::path(COURIER_SOURCE_DIR) / "tests" / "data" / "hl7v2";
}

// The shared corpus sits beside the repository (../shared/corpus); it may be absent.
inline std::filesystem::path corpusDir() {
  return std::filesystem::path(COURIER_SOURCE_DIR) / ".." / "shared" / "corpus";
}

// The exact bytes of a file; an unreadable file fails the calling test.
inline std::string readBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string readFixture(const std::string& name) { return readBytes(fixtureDir() / name); }

}  // namespace courier::hl7v2::test
