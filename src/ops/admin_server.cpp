#include "socketshark/ops/admin_server.hpp"

#include <openssl/crypto.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "socketshark/broker/broker.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/replies.hpp"
#include "socketshark/server/http_endpoints.hpp"
#include "socketshark/util/json.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::ops {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto no_throw = net::as_tuple(net::use_awaitable);

PublishBatch parse_publish_body(std::string_view body) {
  PublishBatch batch;
  Json parsed = parse_untrusted_json(body);
  if (parsed.is_discarded()) {
    batch.error = "Body must be JSON (nested at most " + std::to_string(max_json_depth) + " levels).";
    return batch;
  }
  std::vector<Json> items;
  if (parsed.is_array()) {
    for (auto& item : parsed) items.push_back(item);
  } else {
    items.push_back(std::move(parsed));
  }
  if (items.empty()) {
    batch.error = "No messages.";
    return batch;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    const std::string where = items.size() > 1 ? "message " + std::to_string(i) + ": " : "";
    if (!item.is_object()) {
      batch.error = where + "each message must be a JSON object.";
      return batch;
    }
    auto subscription = item.find("subscription");
    if (subscription == item.end() || !subscription->is_string() || subscription->get_ref<const std::string&>().empty()) {
      batch.error = where + "\"subscription\" must be a non-empty string.";
      return batch;
    }
    if (!item.contains("data")) {
      batch.error = where + "\"data\" is required.";
      return batch;
    }
    batch.messages.emplace_back(subscription->get<std::string>(), protocol::to_wire(item));
  }
  return batch;
}

bool publish_key_matches(std::string_view authorization, const std::vector<std::string>& keys) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() || authorization.substr(0, scheme.size()) != scheme) return false;
  auto token = authorization.substr(scheme.size());
  bool matched = false;
  for (const auto& key : keys) {
    // Every key is compared in full whatever the outcome, in constant time.
    if (key.size() == token.size())
      matched |= CRYPTO_memcmp(key.data(), token.data(), key.size()) == 0;
  }
  return matched;
}

AdminServer::AdminServer(net::any_io_executor executor, const config::Settings& settings, Metrics& metrics,
                         broker::Broker& broker, std::function<bool()> ready)
    : executor_(executor),
      settings_(settings),
      metrics_(metrics),
      broker_(broker),
      ready_(std::move(ready)),
      acceptor_(executor) {}

void AdminServer::open() {
  const auto& prometheus = *settings_.metrics.prometheus;
  tcp::resolver resolver(executor_);
  const std::string host = prometheus.host.empty() ? "0.0.0.0" : prometheus.host;
  auto endpoint = resolver.resolve(host, std::to_string(prometheus.port), tcp::resolver::passive).begin()->endpoint();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

unsigned short AdminServer::port() const {
  error_code ec;
  auto endpoint = acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void AdminServer::close() {
  error_code ignored;
  acceptor_.close(ignored);
}

net::awaitable<void> AdminServer::run() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(no_throw);
    if (ec) {
      if (!acceptor_.is_open()) break;
      continue;
    }
    net::co_spawn(executor_, serve(std::move(socket)), net::detached);
  }
}

net::awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  const auto& publish = settings_.publish_api;
  while (true) {
    stream.expires_after(std::chrono::seconds(30));
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(publish.max_body_bytes);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, no_throw);
    if (ec == http::error::body_limit) {
      server::HttpRequest head;
      auto response = server::json_response(head, 413, R"({"status":"error","error":"Body too large."})");
      response.keep_alive(false);
      co_await http::async_write(stream, response, no_throw);
      break;
    }
    if (ec) break;
    server::HttpRequest request = parser.release();
    server::HttpResponse response;
    auto target = request.target();
    if (auto probe = server::probe_response(request, ready_())) {
      response = std::move(*probe);
    } else if (target == "/metrics" && request.method() == http::verb::get) {
      response = server::json_response(request, 200, metrics_.serialize());
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    } else if (target == "/publish" && !publish.keys.empty()) {
      if (request.method() != http::verb::post) {
        response = server::json_response(request, 405, R"({"status":"error","error":"Use POST."})");
      } else if (!publish_key_matches(request[http::field::authorization], publish.keys)) {
        metrics_.refused("publish_unauthorized");
        response = server::json_response(request, 401, R"({"status":"error","error":"Unauthorized."})");
        response.set(http::field::www_authenticate, "Bearer");
      } else {
        auto batch = parse_publish_body(request.body());
        if (!batch.error.empty()) {
          response = server::json_response(request, 400,
                                           protocol::to_wire(Json{{"status", "error"}, {"error", batch.error}}));
        } else {
          for (auto& [name, payload] : batch.messages) broker_.publish(name, std::move(payload));
          response = server::json_response(
              request, 200, protocol::to_wire(Json{{"status", "ok"}, {"published", batch.messages.size()}}));
        }
      }
    } else {
      response = server::json_response(request, 404, R"({"status":"error","error":"Not found."})");
    }
    response.content_length(response.body().size());
    auto [wec, written] = co_await http::async_write(stream, response, no_throw);
    if (wec || !response.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace socketshark::ops
