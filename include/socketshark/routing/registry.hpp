// Which sessions are subscribed to which channel, and the fan-out hot path:
// a broker message is parsed once, filtered per subscription, encoded once
// per distinct extra data and queued to each session as a shared buffer.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "socketshark/broker/broker.hpp"
#include "socketshark/routing/message.hpp"
#include "socketshark/routing/subscription.hpp"

namespace socketshark::ops {
class Metrics;
}

namespace socketshark::routing {

class Client;

class Registry {
 public:
  using Clock = std::function<double()>;  // monotonic seconds, injectable

  Registry(boost::asio::any_io_executor executor, broker::Broker& broker, ops::Metrics& metrics);

  // The broker sink: parses once and fans out.
  void on_broker_message(std::string_view name, std::string_view payload, std::size_t queue_size);

  // Step 5 of subscribe: provisional on its channel (broker SUBSCRIBE when first).
  boost::asio::awaitable<void> add_provisional(const std::shared_ptr<Subscription>& subscription);
  // Step 8: live; buffered messages go out through the filters.
  void confirm(Subscription& subscription);
  // Removes from its channel (broker UNSUBSCRIBE when last) and stops its timers.
  void remove(Subscription& subscription);

  // Runs one message through a subscription's filters (starting a throttle
  // timer when it is held); true when it should be sent now. Used for the
  // subscribe reply, whose before_subscribe answer is filtered as a message.
  bool admit(Subscription& subscription, const MessagePtr& message);

  std::size_t channel_count() const { return channels_.size(); }
  std::size_t subscription_count() const { return subscriptions_; }
  void set_clock(Clock clock) { clock_ = std::move(clock); }

 private:
  struct Channel {
    std::vector<Subscription*> live;
    std::vector<Subscription*> provisional;
    bool subscribed = false;  // the broker confirmed its SUBSCRIBE
    std::shared_ptr<boost::asio::steady_timer> subscribed_signal;  // wakes waiters
  };

  void fan_out(const std::string& name, Channel& channel, const MessagePtr& message);
  void start_throttle_timer(Subscription& subscription, const std::string& key, double due);
  void send(Subscription& subscription, const PublishedMessage& message, Route route);
  double now() const { return clock_(); }

  boost::asio::any_io_executor executor_;
  broker::Broker& broker_;
  ops::Metrics& metrics_;
  Clock clock_;
  std::unordered_map<std::string, Channel> channels_;
  std::size_t subscriptions_ = 0;
};

}  // namespace socketshark::routing
