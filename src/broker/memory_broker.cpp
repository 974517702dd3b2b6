#include "socketshark/broker/memory_broker.hpp"

#include <boost/asio/post.hpp>

namespace socketshark::broker {

MemoryBroker::MemoryBroker(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

void MemoryBroker::start(MessageSink on_message, StateSink on_state) {
  on_message_ = std::move(on_message);
  started_ = true;
  if (on_state) on_state(true);
}

void MemoryBroker::stop() {
  started_ = false;
  queue_.clear();
}

boost::asio::awaitable<void> MemoryBroker::subscribe(std::string name) {
  channels_.insert(std::move(name));
  co_return;
}

void MemoryBroker::unsubscribe(const std::string& name) { channels_.erase(name); }

// Delivery is asynchronous, as through Redis: a publisher never re-enters the fan-out.
void MemoryBroker::publish(const std::string& name, std::string payload) {
  if (!started_) return;
  queue_.emplace_back(name, std::move(payload));
  if (draining_) return;
  draining_ = true;
  boost::asio::post(executor_, [this] { drain(); });
}

void MemoryBroker::drain() {
  draining_ = false;
  while (!queue_.empty()) {
    auto [name, payload] = std::move(queue_.front());
    queue_.pop_front();
    if (started_ && channels_.count(name)) on_message_(name, payload, queue_.size());
  }
}

}  // namespace socketshark::broker
