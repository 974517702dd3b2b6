// Per-subscription message filters of SPEC §3, pure and clock-injected.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "socketshark/routing/message_options.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::routing {

// Filter fields: for each of `filter_fields` present in `message`, compare it
// (JSON equality, null included) with `extra_data[field]` when the field is one
// of `extra_fields`, else with `auth_info[field]`; a missing value counts as null.
bool filter_fields_match(const Json& message, const std::vector<std::string>& filter_fields,
                         const std::vector<std::string>& extra_fields, const Json& extra_data,
                         const Json& auth_info);

// Highest order seen per order key on one subscription.
class OrderState {
 public:
  // True (and records it) when `options.order` is absent or greater than the
  // highest seen for its key; false when the message is out of order.
  bool accept(const MessageOptions& options);
  std::size_t size() const { return highest_.size(); }

 private:
  std::unordered_map<std::string, double> highest_;
};

// Throttle per key on one subscription (SocketShark's (ts, pending, task) state).
// Times are seconds on any monotonic clock, injected by the caller.
template <class Pending>
class ThrottleState {
 public:
  struct Offer {
    bool send_now = false;             // deliver this message at once
    std::optional<double> schedule_at;  // start a timer firing at this time
  };

  // A message with options.throttle = `period` under `key` arrives at `now`.
  Offer offer(const std::string& key, double period, double now, Pending message) {
    auto it = slots_.find(key);
    if (it != slots_.end()) {
      Slot& slot = it->second;
      if (slot.timer_pending) {  // the timer will send the latest one
        slot.pending = std::move(message);
        return {};
      }
      if (now - slot.last_sent < period) {
        slot.pending = std::move(message);
        slot.timer_pending = true;
        return {false, slot.last_sent + period};
      }
    }
    slots_[key] = Slot{now, std::nullopt, false};
    return {true, std::nullopt};
  }

  // The timer for `key` fired at `now`: returns the message to send now.
  std::optional<Pending> fire(const std::string& key, double now) {
    auto it = slots_.find(key);
    if (it == slots_.end() || !it->second.timer_pending) return std::nullopt;
    Slot& slot = it->second;
    std::optional<Pending> out = std::move(slot.pending);
    slot.pending.reset();
    slot.timer_pending = false;
    slot.last_sent = now;
    return out;
  }

  bool has_pending() const {
    for (auto& [k, s] : slots_)
      if (s.timer_pending) return true;
    return false;
  }
  std::size_t size() const { return slots_.size(); }
  void clear() { slots_.clear(); }

 private:
  struct Slot {
    double last_sent = 0;
    std::optional<Pending> pending;
    bool timer_pending = false;
  };
  std::unordered_map<std::string, Slot> slots_;
};

}  // namespace socketshark::routing
