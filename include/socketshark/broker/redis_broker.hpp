// SocketShark's broker: Redis pub/sub through hiredis on Asio. One SUBSCRIBE
// per channel per process (the registry reference-counts), on the main Redis
// and on redis_alt when set. Liveness is an end-to-end probe: a token
// PUBLISHed through the command connection must come back on the subscriber
// within ping_timeout. A lost connection or a missed probe reports "not
// ready", then the broker reconnects with backoff and resubscribes everything.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "socketshark/broker/broker.hpp"
#include "socketshark/config/settings.hpp"

namespace socketshark::ops {
class Metrics;
}

namespace socketshark::broker {

class RedisLink;

class RedisBroker : public Broker {
 public:
  RedisBroker(boost::asio::any_io_executor executor, const config::RedisSettings& main,
              const std::optional<config::RedisSettings>& alt, ops::Metrics& metrics);
  ~RedisBroker() override;

  void start(MessageSink on_message, StateSink on_state) override;
  void stop() override;
  boost::asio::awaitable<void> subscribe(std::string name) override;
  void unsubscribe(const std::string& name) override;
  void publish(const std::string& name, std::string payload) override;
  bool ready() const override;
  std::size_t channel_count() const override { return channels_.size(); }

 private:
  friend class RedisLink;
  void link_state_changed();

  boost::asio::any_io_executor executor_;
  ops::Metrics& metrics_;
  std::vector<std::shared_ptr<RedisLink>> links_;
  MessageSink on_message_;
  StateSink on_state_;
  bool reported_ready_ = false;
  // Channels wanted (names without prefix), each with timers of subscribers
  // waiting for the SUBSCRIBE to be confirmed.
  struct Channel {
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  };
  std::unordered_map<std::string, Channel> channels_;
};

}  // namespace socketshark::broker
