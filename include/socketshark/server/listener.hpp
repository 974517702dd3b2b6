// Accepts TCP (or TLS) connections on ws_host:ws_port, reads the HTTP
// request, and either upgrades it to a WebSocket session or answers the
// load-balancer probes (/healthz, /readyz).
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

namespace socketshark::server {

class Hub;
}  // namespace socketshark::server
namespace socketshark::auth {
class JwtVerifier;
}
namespace socketshark::server {

class Listener {
 public:
  // `ready` answers /readyz.
  Listener(boost::asio::any_io_executor executor, Hub& hub, std::function<bool()> ready,
           const auth::JwtVerifier* jwt = nullptr);

  // Binds; throws with a clear message when the address is unusable.
  void open();
  boost::asio::awaitable<void> run();
  void close();  // stops accepting at once
  bool is_open() const { return acceptor_.is_open(); }
  unsigned short port() const;

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor executor_;
  Hub& hub_;
  std::function<bool()> ready_;
  const auth::JwtVerifier* jwt_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> tls_;
};

}  // namespace socketshark::server
