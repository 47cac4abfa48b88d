// DirectJsonWriter must write the bytes RapidJSON's Writer writes (Bundles are
// compared byte for byte against golden files written that way), and the UUIDs
// held inline must be the ones deterministicUuid returns.
#include "engine/fhir/direct_writer.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "engine/fhir/ids.h"
#include "engine/fhir/json.h"

namespace courier::fhir {
namespace {

std::string rapidjsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string directString(std::string_view s) {
  JsonBuffer buf(16);  // small, so that writing grows it
  DirectJsonWriter w(buf);
  w.stringValue(s);
  return std::string(buf.view());
}

TEST(DirectJsonWriter, StringsAreEscapedLikeRapidJsonAtEveryLengthAndPosition) {
  // Every byte that needs an escape (and some that do not), at every position of
  // strings from 0 to 40 bytes: the word-at-a-time paths (8 to 16 bytes in two words,
  // the overlapping last word) must never copy an escapable byte verbatim.
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\r", "\t", "\b", "\f", std::string(1, '\0'),
                                             "\x01", "\x1f", "\x7f", "\xc3\xa9", " ", "/"};
  for (size_t len = 0; len <= 40; ++len) {
    std::string plain;
    for (size_t i = 0; i < len; ++i) plain += static_cast<char>('a' + i % 26);
    ASSERT_EQ(directString(plain), rapidjsonString(plain)) << len;
    for (const std::string& special : specials) {
      for (size_t at = 0; at < len; ++at) {
        std::string s = plain;
        s.replace(at, 1, special);
        ASSERT_EQ(directString(s), rapidjsonString(s)) << "length " << len << " at " << at;
        std::string twice = s;
        twice.replace(len - 1 - (at % len) , 1, special);
        ASSERT_EQ(directString(twice), rapidjsonString(twice)) << "length " << len << " at " << at;
      }
    }
  }
}

TEST(DirectJsonWriter, DocumentMatchesRapidJsonWriter) {
  JsonBuffer buf(8);
  DirectJsonWriter d(buf);
  rapidjson::StringBuffer rbuf;
  rapidjson::Writer<rapidjson::StringBuffer> r(rbuf);

  d.startObject();
  r.StartObject();
  d.keyAndString("resourceType", "Bundle");
  r.Key("resourceType");
  r.String("Bundle");
  d.keyAndPlain("id", "0f1e2d3c-0000-8000-8000-000000000000");
  r.Key("id");
  r.String("0f1e2d3c-0000-8000-8000-000000000000");
  d.plainKey("entry");
  r.Key("entry");
  d.startArray();
  r.StartArray();
  for (int i = 0; i < 3; ++i) {
    d.startObject();
    r.StartObject();
    d.plainKey("fullUrl");
    d.urnUuid("0000-1111");
    r.Key("fullUrl");
    r.String("urn:uuid:0000-1111");
    d.reference("subject", "abcd");
    r.Key("subject");
    r.StartObject();
    r.Key("reference");
    r.String("urn:uuid:abcd");
    r.EndObject();
    d.reference("encounter", "");  // empty: nothing written
    d.plainKey("rank");
    d.integer(-i * 1000);
    r.Key("rank");
    r.Int(-i * 1000);
    d.plainKey("flag");
    d.boolean(i % 2 == 0);
    r.Key("flag");
    r.Bool(i % 2 == 0);
    d.plainKey("value");
    d.rawNumber("125.00");
    r.Key("value");
    r.RawValue("125.00", 6, rapidjson::kNumberType);
    d.plainKey("given");
    d.startArray();
    r.Key("given");
    r.StartArray();
    d.stringValue("A \"quoted\" name");
    r.String("A \"quoted\" name");
    d.startArray();
    d.endArray();
    r.StartArray();
    r.EndArray();
    d.stringValue("x");
    r.String("x");
    d.endArray();
    r.EndArray();
    d.endObject();
    r.EndObject();
  }
  d.endArray();
  r.EndArray();
  d.endObject();
  r.EndObject();
  EXPECT_EQ(buf.view(), std::string_view(rbuf.GetString(), rbuf.GetSize()));
}

TEST(JsonBuffer, GrowsKeepingWhatWasWrittenAndClearKeepsCapacity) {
  JsonBuffer buf(4);
  DirectJsonWriter w(buf);
  std::string expected = "[";
  w.startArray();
  for (int i = 0; i < 2000; ++i) {
    w.stringValue("value");
    expected += i == 0 ? "\"value\"" : ",\"value\"";
  }
  w.endArray();
  expected += "]";
  EXPECT_EQ(buf.view(), expected);
  const size_t capacity = buf.capacity();
  EXPECT_GE(capacity, expected.size());
  buf.clear();
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.capacity(), capacity);
  buf.shrinkTo(64);
  EXPECT_EQ(buf.capacity(), 64u);
  EXPECT_EQ(buf.size(), 0u);
}

TEST(Uuid, InlineUuidIsTheDeterministicUuid) {
  EXPECT_TRUE(Uuid().empty());
  EXPECT_EQ(Uuid().view(), "");
  for (std::string_view seed : {"", "a", "facility|app|MSG00001|20260301|Patient|PID"}) {
    Uuid id = uuidOf(Hasher().add(seed));
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(id.view().size(), Uuid::kSize);
    EXPECT_EQ(id.view(), deterministicUuid(seed));
  }
  // Parts hash like their concatenation.
  EXPECT_EQ(uuidOf(Hasher().add("abc|").add("PID").add("-7")).view(), deterministicUuid("abc|PID-7"));
}

// Decimals are written as JSON numbers as they came (an HL7 amount, a quantity): only
// those a JSON reader takes back. "1E0260210" has the syntax but overflows a double; the
// record fuzzer found it in an FT1 amount, and RapidJSON then refused the whole Bundle.
TEST(FhirDecimal, TheSyntaxAndWhatADoubleCanHold) {
  for (std::string_view ok : {"0", "-0", "125.00", "-3.5", "1e5", "2.5E-3", "1E+299", "1e-300",
                              "0.00000000000000000000000000000000000000001"}) {
    EXPECT_TRUE(isFhirDecimal(ok)) << ok;
    rapidjson::Document doc;
    doc.Parse(ok.data(), ok.size());
    EXPECT_FALSE(doc.HasParseError()) << ok;
  }
  const std::string digits400(400, '9');
  for (std::string_view bad : {"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1,5", "1 ", "0x10", "NaN", "1E0260210",
                               "1e301", "123e298", "1e-301", "1e99999999999999999999999"}) {
    EXPECT_FALSE(isFhirDecimal(bad)) << bad;
  }
  EXPECT_FALSE(isFhirDecimal(digits400));
}

}  // namespace
}  // namespace courier::fhir
