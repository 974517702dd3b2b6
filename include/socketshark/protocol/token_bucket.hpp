// Client event rate limit (limits.client_rate): a token bucket per session.
// Times are seconds on any monotonic clock, injected by the caller.
#pragma once

#include <algorithm>

namespace socketshark::protocol {

class TokenBucket {
 public:
  enum class Verdict { allowed, refused, abusive };

  TokenBucket(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

  bool enabled() const { return rate_ > 0; }

  // One client event at `now`. `refused`: answer "Rate limit exceeded." and
  // skip the event; `abusive`: the client kept sending through `burst` more
  // refusals: close it.
  Verdict take(double now) {
    if (!enabled()) return Verdict::allowed;
    if (last_ >= 0) tokens_ = std::min(burst_, tokens_ + (now - last_) * rate_);
    last_ = now;
    if (tokens_ >= 1) {
      tokens_ -= 1;
      refused_in_a_row_ = 0;
      return Verdict::allowed;
    }
    ++refused_in_a_row_;
    return refused_in_a_row_ > burst_ ? Verdict::abusive : Verdict::refused;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  double last_ = -1;
  double refused_in_a_row_ = 0;
};

}  // namespace socketshark::protocol
