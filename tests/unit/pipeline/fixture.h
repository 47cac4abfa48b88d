// The store fixture of the store tests, with a way to put raw HL7 v2 messages in the
// inbox, for the pipeline and deliverer tests.
#pragma once

#include <string>
#include <vector>

#include "tests/unit/store/store_fixture.h"

namespace courier::pipeline::testing {

class StoreFixture : public store::testing::StoreFixture {
 protected:
  // Stores raw messages (committed when this returns); their ids in order.
  std::vector<store::MessageId> store(const std::vector<std::string>& raws, const std::string& patient = "P1") {
    std::vector<store::InboundMessage> messages;
    for (const auto& raw : raws) {
      store::InboundMessage m;
      m.raw = raw;
      m.listener = "test";
      m.control_id = "T" + std::to_string(counter_++);
      m.sending_facility = "F";
      m.message_type = "DFT";
      m.patient_id = patient;
      messages.push_back(std::move(m));
    }
    return submitAll(std::move(messages));
  }

  int counter_ = 0;
};

}  // namespace courier::pipeline::testing
