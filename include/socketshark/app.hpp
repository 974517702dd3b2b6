// The daemon: one io_context wiring the listener, sessions, registry,
// broker, callback client and admin server together; signals and shutdown.
#pragma once

#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "socketshark/auth/jwt_verifier.hpp"
#include "socketshark/broker/broker.hpp"
#include "socketshark/callbacks/http_client.hpp"
#include "socketshark/config/settings.hpp"
#include "socketshark/ops/admin_server.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/event_handler.hpp"
#include "socketshark/routing/registry.hpp"
#include "socketshark/server/hub.hpp"
#include "socketshark/server/listener.hpp"

namespace socketshark {

class App {
 public:
  explicit App(config::Settings settings);
  ~App();
  // Runs until shut down by a signal; returns the process exit code.
  int run();

 private:
  bool ready() const;
  void update_readiness();
  void on_broker_state(bool connected);
  void on_signal(int signal);
  void drain_next();
  void finish_if_drained();

  config::Settings settings_;
  boost::asio::io_context io_{1};
  ops::Metrics metrics_;
  std::unique_ptr<auth::JwtVerifier> jwt_;
  std::unique_ptr<broker::Broker> broker_;
  routing::Registry registry_;
  callbacks::HttpClient http_;
  protocol::EventHandler events_;
  server::Hub hub_;
  server::Listener listener_;
  std::optional<ops::AdminServer> admin_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  bool broker_connected_ = false;
  bool announced_ready_ = false;
  int signals_received_ = 0;
  bool stopping_ = false;
};

}  // namespace socketshark
