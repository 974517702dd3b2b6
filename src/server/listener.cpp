#include "socketshark/server/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "socketshark/auth/jwt_verifier.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/server/http_endpoints.hpp"
#include "socketshark/server/hub.hpp"
#include "socketshark/server/session.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using net::use_awaitable;
constexpr auto no_throw = net::as_tuple(use_awaitable);

namespace {
constexpr std::size_t max_request_header_bytes = 8 * 1024;

// Closes `socket` if the handshake is not done by the deadline.
struct Deadline {
  net::steady_timer timer;
  Deadline(tcp::socket& socket, double seconds)
      : timer(socket.get_executor(), std::chrono::duration_cast<net::steady_timer::duration>(
                                         std::chrono::duration<double>(seconds))) {
    timer.async_wait([&socket](error_code ec) {
      if (ec) return;
      error_code ignored;
      socket.close(ignored);
    });
  }
  ~Deadline() { timer.cancel(); }
};

template <class Stream>
net::awaitable<void> answer(Stream& stream, HttpResponse response) {
  response.keep_alive(false);
  co_await http::async_write(stream, response, no_throw);
}
}  // namespace

Listener::Listener(net::any_io_executor executor, Hub& hub, std::function<bool()> ready,
                   const auth::JwtVerifier* jwt)
    : executor_(executor), hub_(hub), ready_(std::move(ready)), jwt_(jwt), acceptor_(executor) {
  const auto& ssl_settings = hub.settings.ws_ssl;
  if (ssl_settings.enabled()) {
    tls_.emplace(ssl::context::tls_server);
    tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_->use_certificate_chain_file(ssl_settings.cert);
    tls_->use_private_key_file(ssl_settings.key, ssl::context::pem);
  }
}

void Listener::open() {
  const auto& settings = hub_.settings;
  tcp::resolver resolver(executor_);
  auto endpoints = resolver.resolve(settings.ws_host, std::to_string(settings.ws_port), tcp::resolver::passive);
  auto endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

unsigned short Listener::port() const {
  error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Listener::close() {
  error_code ignored;
  acceptor_.close(ignored);
}

net::awaitable<void> Listener::run() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(no_throw);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) break;
      log::warn("accept failed", {{"error", ec.message()}});
      if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space) {
        // Out of file descriptors: back off instead of spinning.
        net::steady_timer pause(executor_, std::chrono::milliseconds(100));
        co_await pause.async_wait(no_throw);
      }
      continue;
    }
    net::co_spawn(executor_, serve(std::move(socket)), [](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        log::error("connection failed", {{"error", e.what()}});
      }
    });
  }
}

net::awaitable<void> Listener::serve(tcp::socket socket) {
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::optional<FrameSocket::tls_stream> tls;
  beast::flat_buffer buffer;
  http::request_parser<http::string_body> parser;
  parser.header_limit(max_request_header_bytes);
  parser.body_limit(64 * 1024);
  {
    Deadline deadline(socket, hub_.settings.limits.handshake_timeout);
    if (tls_) {
      tls.emplace(std::move(socket), *tls_);
      auto [ec] = co_await tls->async_handshake(ssl::stream_base::server, no_throw);
      if (ec) co_return;
      auto [rec, n] = co_await http::async_read(*tls, buffer, parser, no_throw);
      if (rec) co_return;
    } else {
      auto [rec, n] = co_await http::async_read(socket, buffer, parser, no_throw);
      if (rec) {
        if (rec == http::error::header_limit) {
          hub_.metrics.refused("request_header_too_large");
          HttpRequest dummy;
          co_await answer(socket, json_response(dummy, 431, R"({"status":"error","error":"Request header too large."})"));
        }
        co_return;
      }
    }
  }
  HttpRequest request = parser.release();

  auto reply = [&](HttpResponse response) -> net::awaitable<void> {
    if (tls)
      co_await answer(*tls, std::move(response));
    else
      co_await answer(socket, std::move(response));
  };

  if (!beast::websocket::is_upgrade(request)) {
    if (auto probe = probe_response(request, ready_())) {
      co_await reply(std::move(*probe));
    } else {
      co_await reply(json_response(request, 426, R"({"status":"error","error":"WebSocket upgrade required."})"));
    }
    co_return;
  }
  const auto& limits = hub_.settings.limits;
  if (limits.max_connections && hub_.size() >= limits.max_connections) {
    hub_.metrics.refused("max_connections");
    co_await reply(json_response(request, 503, R"({"status":"error","error":"Too many connections."})"));
    co_return;
  }
  auto session = tls ? std::make_shared<Session>(FrameSocket(std::move(*tls)), hub_)
                     : std::make_shared<Session>(FrameSocket(std::move(socket)), hub_);
  std::string subprotocol;
  unsigned short reject_code = 0;
  if (jwt_) {
    // A token at the handshake authenticates the session before its first
    // event; a bad one is refused with 4401 after the upgrade, since a
    // browser cannot read the status of a failed upgrade.
    auto token = auth::token_from_handshake(request[http::field::sec_websocket_protocol], request.target());
    if (token) {
      if (token->via_subprotocol) subprotocol = "bearer";
      auto verified = jwt_->verify(token->token);
      if (verified.auth_info) {
        session->auth_info = std::move(*verified.auth_info);
      } else {
        log::info("jwt rejected at handshake", {{"reason", verified.error}});
        hub_.metrics.refused("jwt");
        reject_code = 4401;
      }
    }
  }
  // The session runs on its own: this coroutine's frame (request parser,
  // buffers) is freed now instead of living as long as the connection.
  net::co_spawn(executor_, session->run(std::move(request), std::move(subprotocol), reject_code),
                [](std::exception_ptr failure) {
                  if (!failure) return;
                  try {
                    std::rethrow_exception(failure);
                  } catch (const std::exception& e) {
                    log::error("session failed", {{"error", e.what()}});
                  }
                });
}

}  // namespace socketshark::server
