// What the routing and protocol layers see of a connected session: auth info,
// subscriptions and a way to send frames. The WebSocket session implements it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "socketshark/protocol/token_bucket.hpp"
#include "socketshark/routing/frame.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::routing {

class Subscription;

class Client : public std::enable_shared_from_this<Client> {
 public:
  virtual ~Client() = default;

  // Queues an encoded frame; never blocks, never closes synchronously.
  virtual void send_frame(SharedFrame frame) = 0;
  void send_text(std::string_view json) { send_frame(encode_text_frame(json)); }
  // Starts closing the connection with `code`; cleanup follows asynchronously.
  virtual void close(unsigned short code, std::string_view reason) = 0;
  // False once the connection is closing: nothing more is delivered to it.
  virtual bool active() const = 0;
  virtual std::uint64_t id() const = 0;

  // Auth info: the auth_fields of the last successful auth (empty = anonymous).
  Json auth_info = Json::object();
  // limits.client_rate (disabled unless configured).
  protocol::TokenBucket event_rate{0, 0};

  Subscription* find(std::string_view name) const;
  void add(std::shared_ptr<Subscription> subscription);
  std::shared_ptr<Subscription> take(std::string_view name);
  // Live subscriptions, most recently added first (Python's dict.popitem order).
  std::vector<std::shared_ptr<Subscription>> take_all();
  std::size_t subscription_count() const { return subscriptions_.size(); }

 private:
  struct Entry {
    std::shared_ptr<Subscription> subscription;
    std::uint64_t order;
  };
  std::unordered_map<std::string, Entry> subscriptions_;
  std::uint64_t next_order_ = 0;
};

}  // namespace socketshark::routing
