// Client events (SPEC §1) and the service callbacks they drive (SPEC §2),
// written top to bottom as coroutines: one event of a session at a time.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "socketshark/config/settings.hpp"
#include "socketshark/protocol/client_event.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::routing {
class Client;
class Registry;
class Subscription;
}  // namespace socketshark::routing
namespace socketshark::callbacks {
class HttpClient;
}
namespace socketshark::ops {
class Metrics;
}
namespace socketshark::auth {
class JwtVerifier;
}

namespace socketshark::protocol {

struct Services {
  const config::Settings& settings;
  routing::Registry& registry;
  callbacks::HttpClient& http;
  ops::Metrics& metrics;
  boost::asio::any_io_executor executor;
  const auth::JwtVerifier* jwt = nullptr;  // set when authentication.jwt is configured
};

class EventHandler {
 public:
  explicit EventHandler(Services services);

  // Handles one client frame completely, after-reply callbacks included.
  boost::asio::awaitable<void> handle(std::shared_ptr<routing::Client> client, std::string_view frame);

  // Connection closed: removes every subscription, then before_unsubscribe
  // (errors ignored) and on_unsubscribe for each, most recent first.
  boost::asio::awaitable<void> unsubscribe_all(std::shared_ptr<routing::Client> client);

  const Services& services() const { return services_; }
  // Called whenever a client's auth info is set (auth event or handshake token).
  void on_authenticated(std::function<void(routing::Client&)> hook) { authenticated_ = std::move(hook); }
  void authenticated(routing::Client& client) {
    if (authenticated_) authenticated_(client);
  }

 private:
  struct Reply;
  boost::asio::awaitable<bool> process(routing::Client& client, const ClientEvent& event, Reply& reply);
  boost::asio::awaitable<bool> authenticate(routing::Client& client, const ClientEvent& event, Reply& reply);
  boost::asio::awaitable<bool> subscribe(routing::Client& client, const ClientEvent& event, Reply& reply);
  boost::asio::awaitable<bool> message(routing::Client& client, const ClientEvent& event, Reply& reply);
  boost::asio::awaitable<bool> unsubscribe(routing::Client& client, const ClientEvent& event, Reply& reply);

  // A service callback of a subscription; an unconfigured one answers ok.
  boost::asio::awaitable<Json> call(std::string_view callback, const routing::Subscription& subscription,
                                    const Json& auth_info, const Json* message_data = nullptr);
  boost::asio::awaitable<void> authorize(routing::Subscription& subscription, const Json& auth_info);
  void start_periodic_tasks(const std::shared_ptr<routing::Subscription>& subscription);
  boost::asio::awaitable<void> renew_authorization(std::shared_ptr<routing::Subscription> subscription);
  boost::asio::awaitable<void> send_heartbeats(std::shared_ptr<routing::Subscription> subscription);
  boost::asio::awaitable<void> self_unsubscribe(std::shared_ptr<routing::Subscription> subscription, Json error);
  double random_fraction();

  Services services_;
  std::mt19937_64 random_;
  std::function<void(routing::Client&)> authenticated_;
};

}  // namespace socketshark::protocol
