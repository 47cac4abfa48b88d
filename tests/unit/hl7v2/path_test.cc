// Path: parsing the textual address of a value, valid and invalid forms.
#include "engine/hl7v2/path.h"

#include <gtest/gtest.h>

#include <string>

namespace courier::hl7v2 {
namespace {

struct Expected {
  const char* text;
  const char* segment;
  int segment_rep, field, repetition, component, subcomponent;
  const char* canonical;  // toString()
};

TEST(PathTest, ParsesValidPaths) {
  const Expected cases[] = {
      {"PID-5", "PID", 1, 5, 1, 0, 0, "PID-5"},
      {"PID-5.1", "PID", 1, 5, 1, 1, 0, "PID-5.1"},
      {"PID-3[2].1", "PID", 1, 3, 2, 1, 0, "PID-3[2].1"},
      {"PID-3(2).1", "PID", 1, 3, 2, 1, 0, "PID-3[2].1"},
      {"OBX[3]-5", "OBX", 3, 5, 1, 0, 0, "OBX[3]-5"},
      {"OBX(3)-5", "OBX", 3, 5, 1, 0, 0, "OBX[3]-5"},
      {"PID-11.1.2", "PID", 1, 11, 1, 1, 2, "PID-11.1.2"},
      {"OBX[12]-5[3].4.2", "OBX", 12, 5, 3, 4, 2, "OBX[12]-5[3].4.2"},
      {"MSH-1", "MSH", 1, 1, 1, 0, 0, "MSH-1"},
      {"MSH-9.2", "MSH", 1, 9, 1, 2, 0, "MSH-9.2"},
      {"pid-5", "PID", 1, 5, 1, 0, 0, "PID-5"},
      {"ZP1-2", "ZP1", 1, 2, 1, 0, 0, "ZP1-2"},
      {"PID.5", "PID", 1, 5, 1, 0, 0, "PID-5"},
      {"PID[1]-5[1]", "PID", 1, 5, 1, 0, 0, "PID-5"},
      {"OBX-999999", "OBX", 1, 999999, 1, 0, 0, "OBX-999999"},
  };
  for (const Expected& e : cases) {
    SCOPED_TRACE(e.text);
    auto p = Path::parse(e.text);
    ASSERT_TRUE(p.has_value()) << p.error().message;
    EXPECT_EQ(p->segmentId(), e.segment);
    EXPECT_EQ(p->segment_rep, e.segment_rep);
    EXPECT_EQ(p->field, e.field);
    EXPECT_EQ(p->repetition, e.repetition);
    EXPECT_EQ(p->component, e.component);
    EXPECT_EQ(p->subcomponent, e.subcomponent);
    EXPECT_EQ(p->toString(), e.canonical);
    auto again = Path::parse(p->toString());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->toString(), e.canonical);
  }
}

TEST(PathTest, RejectsInvalidPaths) {
  const char* cases[] = {
      "",           "P",          "PI",         "PID",        "PID-",        "PID-0",
      "PID-x",      "PID-5.",     "PID-5.0",    "PID-5.1.",   "PID-5.1.0",   "PID-5.1.2.3",
      "PID[0]-5",   "PID[]-5",    "PID[2-5",    "PID(2]-5",   "PID-5[0]",    "PID-5[",
      "PID-5[2",    "PID5",       "PID 5",      " PID-5",     "PID-5 ",      "PI D-5",
      "PID--5",     "PID-5..1",   "PID-5x",     "PID-1234567", "PID-5[-1]",  "PID_5",
      "PID-+5",     "PID-5.+1",   "P\xC3\x9C" "D-5", "PID-5\n", "PID\0-5",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    auto p = Path::parse(text);
    EXPECT_FALSE(p.has_value());
    if (!p) {
      EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
      EXPECT_NE(p.error().message.find("at character"), std::string::npos) << p.error().message;
    }
  }
  auto nul = Path::parse(std::string_view("PID\0-5", 6));
  EXPECT_FALSE(nul.has_value());
}

TEST(PathTest, ErrorNamesThePosition) {
  auto p = Path::parse("PID-5.x");
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("character 7"), std::string::npos) << p.error().message;
  EXPECT_EQ(p.error().location, "PID-5.x");
}

}  // namespace
}  // namespace courier::hl7v2
