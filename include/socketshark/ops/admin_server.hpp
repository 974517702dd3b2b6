// The admin HTTP port (metrics.prometheus host:port): /metrics, /healthz,
// /readyz and, when publish_api.keys is set, POST /publish. Served from the
// daemon's own event loop, no extra thread.
#pragma once

#include <functional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "socketshark/config/settings.hpp"

namespace socketshark::broker {
class Broker;
}

namespace socketshark::ops {

class Metrics;

class AdminServer {
 public:
  AdminServer(boost::asio::any_io_executor executor, const config::Settings& settings, Metrics& metrics,
              broker::Broker& broker, std::function<bool()> ready);
  void open();
  boost::asio::awaitable<void> run();
  void close();
  unsigned short port() const;

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor executor_;
  const config::Settings& settings_;
  Metrics& metrics_;
  broker::Broker& broker_;
  std::function<bool()> ready_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

// POST /publish body -> (channel name, payload) pairs, or an error text (400).
struct PublishBatch {
  std::vector<std::pair<std::string, std::string>> messages;
  std::string error;
};
PublishBatch parse_publish_body(std::string_view body);

// Constant-time comparison of a bearer token against the configured keys.
bool publish_key_matches(std::string_view authorization, const std::vector<std::string>& keys);

}  // namespace socketshark::ops
