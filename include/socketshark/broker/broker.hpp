// Where services' messages come from: Redis (SocketShark's) or in-process memory.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace socketshark::broker {

class Broker {
 public:
  // A message on `name` (the channel without its prefix); `queue_size` is the
  // number of broker messages read but not yet dispatched when it was read.
  using MessageSink = std::function<void(std::string_view name, std::string_view payload, std::size_t queue_size)>;
  // Called with false when deliveries can no longer be guaranteed (connection
  // lost, ping timeout) and with true once subscribed again.
  using StateSink = std::function<void(bool ready)>;

  virtual ~Broker() = default;
  virtual void start(MessageSink on_message, StateSink on_state) = 0;
  virtual void stop() = 0;

  // Subscribes `name`; completes once the broker confirmed it, so that
  // everything published afterwards reaches the sink. Called once per name
  // while subscribed (the registry reference-counts).
  virtual boost::asio::awaitable<void> subscribe(std::string name) = 0;
  virtual void unsubscribe(const std::string& name) = 0;
  // Publishes a message on `name` (the publish API).
  virtual void publish(const std::string& name, std::string payload) = 0;

  virtual bool ready() const = 0;
  // Broker-side subscription count, for tests and metrics.
  virtual std::size_t channel_count() const = 0;
};

}  // namespace socketshark::broker
