#include "adapters/mllp/ack_mapping.h"

#include <gtest/gtest.h>

#include <string>

namespace courier::mllp {
namespace {

using config::NakAction;
using delivery::DeliveryStatus;

std::string ack(std::string_view code, std::string_view control_id, std::string_view extra = "") {
  std::string m = "MSH|^~\\&|RCV|RF|COURIER|HOSP|20240101120000||ACK^A01^ACK|A1|P|2.5.1\rMSA|";
  m += code;
  m += '|';
  m += control_id;
  m += '\r';
  m += extra;
  return m;
}

TEST(AckMappingTest, PositiveAcksDeliver) {
  for (const char* code : {"AA", "CA"}) {
    auto o = mapAck("C1", ack(code, "C1"), NakAction::kRetry, NakAction::kDeadLetter);
    EXPECT_EQ(o.status, DeliveryStatus::kDelivered) << code;
    EXPECT_EQ(o.detail, code);
    EXPECT_FALSE(o.drop_connection);
  }
}

TEST(AckMappingTest, ErrorsFollowTheirNakAction) {
  const std::string err = "ERR||PID^1^3|207^Application internal error^HL70357|E||||Database busy\r";
  auto ae = mapAck("C1", ack("AE", "C1", err), NakAction::kRetry, NakAction::kDeadLetter);
  EXPECT_EQ(ae.status, DeliveryStatus::kRetry);
  EXPECT_EQ(ae.detail, "AE: ERR 207 Database busy");
  EXPECT_FALSE(ae.drop_connection);
  auto ce = mapAck("C1", ack("CE", "C1", err), NakAction::kDeadLetter, NakAction::kRetry);
  EXPECT_EQ(ce.status, DeliveryStatus::kDeadLetter);

  auto ar = mapAck("C1", ack("AR", "C1"), NakAction::kRetry, NakAction::kDeadLetter);
  EXPECT_EQ(ar.status, DeliveryStatus::kDeadLetter);
  EXPECT_EQ(ar.detail, "AR");
  auto cr = mapAck("C1", ack("CR", "C1"), NakAction::kRetry, NakAction::kRetry);
  EXPECT_EQ(cr.status, DeliveryStatus::kRetry);
}

TEST(AckMappingTest, OlderErrSegmentsAndMsa3) {
  // v2.3: ERR-1 is an ELD (segment^sequence^field^code&text).
  auto v23 = mapAck("C1", ack("AE", "C1", "ERR|PID^1^3^101&Required field missing\r"), NakAction::kRetry,
                    NakAction::kRetry);
  EXPECT_EQ(v23.detail, "AE: ERR 101 Required field missing");
  auto msa3 = mapAck("C1", ack("AR", "C1|Unknown patient"), NakAction::kRetry, NakAction::kDeadLetter);
  EXPECT_EQ(msa3.detail, "AR: Unknown patient");
}

TEST(AckMappingTest, AnotherControlIdRetriesAndDropsTheConnection) {
  auto o = mapAck("C1", ack("AA", "C2"), NakAction::kRetry, NakAction::kDeadLetter);
  EXPECT_EQ(o.status, DeliveryStatus::kRetry);
  EXPECT_TRUE(o.drop_connection);
  EXPECT_NE(o.detail.find("MSA-2"), std::string::npos);
}

TEST(AckMappingTest, JunkAndNonAcksRetryAndDrop) {
  for (std::string_view answer : {std::string_view("hello"), std::string_view(""),
                                  std::string_view("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P|2.5\rPID|1\r")}) {
    auto o = mapAck("C1", answer, NakAction::kRetry, NakAction::kDeadLetter);
    EXPECT_EQ(o.status, DeliveryStatus::kRetry) << answer;
    EXPECT_TRUE(o.drop_connection) << answer;
  }
}

TEST(AckMappingTest, UnknownCodeRetriesWithoutDropping) {
  auto o = mapAck("C1", ack("ZZ", "C1"), NakAction::kDeadLetter, NakAction::kDeadLetter);
  EXPECT_EQ(o.status, DeliveryStatus::kRetry);
  EXPECT_FALSE(o.drop_connection);
}

TEST(AckMappingTest, DetailIsOneBoundedLine) {
  std::string text(1000, 'x');
  auto o = mapAck("C1", ack("AE", "C1", "ERR||||E||||" + text + "\r"), NakAction::kRetry, NakAction::kRetry);
  EXPECT_LE(o.detail.size(), 210u);
  EXPECT_EQ(o.detail.find('\r'), std::string::npos);
}

TEST(AckMappingTest, ControlIdOfReadsMsh10) {
  EXPECT_EQ(controlIdOf("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|MSG00042|P|2.5\rPID|1\r"), "MSG00042");
  EXPECT_EQ(controlIdOf("no header"), "");
}

}  // namespace
}  // namespace courier::mllp
