#include "adapters/mllp/framer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace courier::mllp {
namespace {

using Kind = FrameEvent::Kind;

std::vector<FrameEvent> feedAll(Framer& f, std::string_view bytes) {
  std::vector<FrameEvent> out;
  f.feed(bytes, out);
  return out;
}

TEST(FramerTest, OneFrame) {
  Framer f;
  auto ev = feedAll(f, "\x0bMSH|^~\\&|A\r\x1c\x0d");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kFrame);
  EXPECT_EQ(ev[0].payload, "MSH|^~\\&|A\r");
  EXPECT_EQ(ev[0].size, ev[0].payload.size());
  EXPECT_FALSE(f.inFrame());
  EXPECT_EQ(f.stats().frames, 1u);
}

TEST(FramerTest, ManyFramesInOneReadKeepOrder) {
  Framer f;
  std::string wire;
  for (int i = 0; i < 50; ++i) Framer::appendFrame("M" + std::to_string(i), wire);
  auto ev = feedAll(f, wire);
  ASSERT_EQ(ev.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(ev[i].payload, "M" + std::to_string(i));
}

TEST(FramerTest, EverySplitPointGivesTheSameFrames) {
  std::string wire = "junk" + Framer::frame("first\rsecond") + "\r\n" + Framer::frame("third");
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    for (std::size_t cut2 = cut; cut2 <= wire.size(); cut2 += 3) {
      Framer f;
      std::vector<FrameEvent> ev;
      f.feed(std::string_view(wire).substr(0, cut), ev);
      f.feed(std::string_view(wire).substr(cut, cut2 - cut), ev);
      f.feed(std::string_view(wire).substr(cut2), ev);
      ASSERT_EQ(ev.size(), 2u) << cut << "/" << cut2;
      EXPECT_EQ(ev[0].payload, "first\rsecond");
      EXPECT_EQ(ev[1].payload, "third");
      EXPECT_EQ(f.stats().skipped_bytes, 6u);
    }
  }
}

TEST(FramerTest, ByteAtATime) {
  std::string wire = Framer::frame("abc") + Framer::frame("") + Framer::frame("de");
  Framer f;
  std::vector<FrameEvent> ev;
  for (char c : wire) f.feed(std::string_view(&c, 1), ev);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].payload, "abc");
  EXPECT_EQ(ev[1].payload, "");
  EXPECT_EQ(ev[2].payload, "de");
}

TEST(FramerTest, BytesBeforeStartBlockAreSkippedAndCounted) {
  Framer f;
  auto ev = feedAll(f, "hello\r\n\x0bX\x1c\x0d trailing");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].payload, "X");
  EXPECT_EQ(f.stats().skipped_bytes, 7u + 9u);
  EXPECT_FALSE(f.inFrame());
}

TEST(FramerTest, InFrameWhileAFrameIsOpen) {
  Framer f;
  EXPECT_TRUE(feedAll(f, "\x0bpartial").empty());
  EXPECT_TRUE(f.inFrame());
  EXPECT_TRUE(feedAll(f, "\x1c").empty());
  EXPECT_TRUE(f.inFrame());
  EXPECT_EQ(feedAll(f, "\x0d").size(), 1u);
  EXPECT_FALSE(f.inFrame());
}

TEST(FramerTest, StartBlockInsideAFrameAbandonsIt) {
  Framer f;
  auto ev = feedAll(f, "\x0bhalf a mess\x0bwhole\x1c\x0d");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].payload, "whole");
  EXPECT_EQ(f.stats().abandoned_frames, 1u);
}

TEST(FramerTest, LoneEndBlockIsPayload) {
  Framer f;
  auto ev = feedAll(f, std::string("\x0b" "a\x1c" "b\x1c\x1c\x0d", 7));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].payload, std::string("a\x1c" "b\x1c", 4));
}

TEST(FramerTest, CommitAckFrames) {
  Framer f;
  auto ev = feedAll(f, "\x0b\x06\x1c\x0d\x0b\x15\x1c\x0d");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].payload, std::string(1, kCommitAck));
  EXPECT_EQ(ev[1].payload, std::string(1, kCommitNak));
}

TEST(FramerTest, FrameAtTheLimitPasses) {
  Framer f({.max_frame_bytes = 16});
  auto ev = feedAll(f, Framer::frame(std::string(16, 'x')));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kFrame);
}

TEST(FramerTest, OversizeFrameIsReportedWithPrefixAndTheStreamGoesOn) {
  Framer f({.max_frame_bytes = 1024, .keep_prefix_bytes = 10});
  std::string big = "MSH|^~\\&|" + std::string(5000, 'y');
  std::string wire = Framer::frame(big) + Framer::frame("next");
  std::vector<FrameEvent> ev;
  // Fed in pieces so the limit is crossed inside a run and discarding spans reads.
  for (std::size_t i = 0; i < wire.size(); i += 700) f.feed(std::string_view(wire).substr(i, 700), ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::kTooLarge);
  EXPECT_EQ(ev[0].size, big.size());
  EXPECT_EQ(ev[0].payload, big.substr(0, 10));
  EXPECT_EQ(ev[1].kind, Kind::kFrame);
  EXPECT_EQ(ev[1].payload, "next");
  EXPECT_EQ(f.stats().oversize_frames, 1u);
}

TEST(FramerTest, EndlessFrameIsFatal) {
  Framer f({.max_frame_bytes = 1024, .keep_prefix_bytes = 10, .max_discard_bytes = 4096});
  std::vector<FrameEvent> ev;
  f.feed("\x0b", ev);
  std::string chunk(1000, 'z');
  for (int i = 0; i < 10 && ev.empty(); ++i) f.feed(chunk, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::kFatal);
  EXPECT_TRUE(f.failed());
  EXPECT_FALSE(f.inFrame());
  ev.clear();
  f.feed(Framer::frame("ignored"), ev);
  EXPECT_TRUE(ev.empty());
}

TEST(FramerTest, RandomBytesNeverCrashAndRespectLimits) {
  std::mt19937 rng(42);
  const char alphabet[] = {'\x0b', '\x1c', '\x0d', 'a', 'b', '|'};
  for (int round = 0; round < 200; ++round) {
    Framer f({.max_frame_bytes = 64, .keep_prefix_bytes = 8, .max_discard_bytes = 256});
    std::vector<FrameEvent> ev;
    std::string buf;
    for (int i = 0; i < 2000; ++i) buf.push_back(alphabet[rng() % sizeof(alphabet)]);
    std::size_t pos = 0;
    while (pos < buf.size()) {
      std::size_t len = 1 + rng() % 97;
      f.feed(std::string_view(buf).substr(pos, len), ev);
      pos += len;
    }
    for (const auto& e : ev) {
      if (e.kind == Kind::kFrame) {
        EXPECT_LE(e.payload.size(), 64u);
      } else if (e.kind == Kind::kTooLarge) {
        EXPECT_LE(e.payload.size(), 8u);
      }
    }
  }
}

}  // namespace
}  // namespace courier::mllp
