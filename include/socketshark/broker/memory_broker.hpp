// In-process broker: `broker: memory`. Publishing goes through the publish
// API; no Redis needed (development, single node).
#pragma once

#include <deque>
#include <string>
#include <unordered_set>

#include <boost/asio/any_io_executor.hpp>

#include "socketshark/broker/broker.hpp"

namespace socketshark::broker {

class MemoryBroker : public Broker {
 public:
  explicit MemoryBroker(boost::asio::any_io_executor executor);

  void start(MessageSink on_message, StateSink on_state) override;
  void stop() override;
  boost::asio::awaitable<void> subscribe(std::string name) override;
  void unsubscribe(const std::string& name) override;
  void publish(const std::string& name, std::string payload) override;
  bool ready() const override { return started_; }
  std::size_t channel_count() const override { return channels_.size(); }

 private:
  void drain();

  boost::asio::any_io_executor executor_;
  MessageSink on_message_;
  bool started_ = false;
  bool draining_ = false;
  std::unordered_set<std::string> channels_;
  std::deque<std::pair<std::string, std::string>> queue_;  // published, not yet dispatched
};

}  // namespace socketshark::broker
