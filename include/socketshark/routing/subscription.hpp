// One session's subscription to `service.topic`: its data, filter state and timers.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "socketshark/config/settings.hpp"
#include "socketshark/routing/filters.hpp"
#include "socketshark/routing/message.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::routing {

class Client;

class Subscription : public std::enable_shared_from_this<Subscription> {
 public:
  enum class State { provisional, live, removed };

  Subscription(std::string name, std::string service_name, const config::ServiceSettings& service,
               Json extra_data, const std::shared_ptr<Client>& owner, boost::asio::any_io_executor executor);

  const std::string& name() const { return name_; }
  const std::string& service_name() const { return service_name_; }
  const config::ServiceSettings& service() const { return service_; }
  const Json& extra_data() const { return extra_data_; }
  const std::string& extra_json() const { return extra_json_; }
  bool extra_collides() const { return extra_collides_; }
  std::shared_ptr<Client> owner() const { return owner_.lock(); }
  // The hot path's view of the owner: valid while the subscription is in the
  // registry (a session removes its subscriptions before it goes away).
  Client* owner_raw() const { return owner_raw_; }
  boost::asio::any_io_executor executor() const { return executor_; }

  State state = State::provisional;
  Json authorizer_data;  // null until the authorizer answered (Python's None)

  // {"subscription": S} + extra data + authorizer data + auth info (later keys win).
  Json service_request_body(const Json& auth_info) const;

  // Filters of SPEC §3 in order; true when the message goes out now. A
  // throttled message is kept and sent by a timer (through `deliver_later`).
  bool should_deliver(const MessagePtr& message, const Json& auth_info, double now_seconds);

  // Messages that arrived while provisional, delivered after the subscribe reply.
  std::vector<MessagePtr> buffered;

  // Index in the registry's list of its channel (swap-remove bookkeeping).
  std::size_t registry_slot = 0;

  // Cancels every timer (periodic authorization, heartbeat, throttle).
  void cancel_timers();
  std::vector<std::shared_ptr<boost::asio::steady_timer>> periodic_timers;

  // Throttle: pending messages and their timers, per key.
  ThrottleState<MessagePtr> throttle;
  std::unordered_map<std::string, std::shared_ptr<boost::asio::steady_timer>> throttle_timers;
  OrderState order;

  // Why the last should_deliver said no (for metrics): "fields", "order", "throttle".
  const char* last_drop_reason = "";
  // Set by should_deliver when a throttle timer must start: key and due time.
  std::optional<std::pair<std::string, double>> throttle_schedule;

 private:
  std::string name_;
  std::string service_name_;
  const config::ServiceSettings& service_;
  Json extra_data_;
  std::string extra_json_;
  bool extra_collides_;
  std::weak_ptr<Client> owner_;
  Client* owner_raw_;
  boost::asio::any_io_executor executor_;
};

}  // namespace socketshark::routing
