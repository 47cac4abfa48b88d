// Matcher: which active subscriptions want an event.
//
//   Matcher m;
//   m.add(spec);                                   // spec.id set by the store
//   std::vector<std::string_view> ids;
//   for (const Event& e : eventsFor(rec, &coded, specialties, claim_made)) {
//     m.match(e, ids);                             // ids of the subscriptions to notify
//     ...
//   }
//
// Subscriptions are indexed by topic, then by their most selective filter: an exact patient,
// else their codes (exact codes in a hash map, ranges such as C00-D49 in a stabbing index:
// the sorted range bounds cut the code line into intervals, each holding the subscriptions
// that cover it, so one binary search finds every range that holds a code), else specialty,
// facility, patient class; a subscription without filters is a candidate for every event of
// its topic. Each candidate is then checked against all its filters (AND of filters, OR of
// the values within one), so indexes only narrow, never decide. Cost per event grows with
// the number of candidates, not with the number of subscriptions.
//
// The Matcher matches what it holds: the caller adds the subscriptions that should receive
// events (requested or active) and removes those that are turned off, ended or in error.
//
// Thread-safety: match() is const and may run on many threads at once (its scratch space is
// thread_local); add/remove/update must not run concurrently with anything else. A caller
// that changes subscriptions while events flow guards it with a shared_mutex, or builds a
// new Matcher and swaps a pointer to it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/subscriptions/event.h"
#include "engine/subscriptions/subscription.h"

namespace courier::subscriptions {

class Matcher {
 public:
  Matcher();
  ~Matcher();
  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;

  // kInvalidArgument when spec.id is empty; kAlreadyExists when the id is taken.
  Result<void> add(SubscriptionSpec spec);
  // Replaces the subscription with spec.id (kNotFound when there is none).
  Result<void> update(SubscriptionSpec spec);
  // False when there was no such subscription.
  bool remove(std::string_view id);

  const SubscriptionSpec* find(std::string_view id) const;
  std::size_t size() const;

  // The ids of the subscriptions that `event` satisfies, in no particular order, each once.
  // `out` is cleared first; the views stay valid until the next add/update/remove.
  void match(const Event& event, std::vector<std::string_view>& out) const;
  std::vector<std::string> match(const Event& event) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace courier::subscriptions
