#include "socketshark/callbacks/http_client.hpp"

#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <variant>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "socketshark/ops/metrics.hpp"
#include "socketshark/protocol/errors.hpp"
#include "socketshark/protocol/replies.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::callbacks {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using net::use_awaitable;
constexpr auto no_throw = net::as_tuple(use_awaitable);

namespace {

// A service answer bigger than this is a failure, not a reason to run out of memory.
constexpr std::size_t max_answer_bytes = 8 * 1024 * 1024;
constexpr std::size_t max_idle_per_host = 64;

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path;           // path + query, "/" when empty
  std::string authorization;  // "Basic ..." from URL credentials
  std::string pool_key() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

std::optional<Target> parse_target(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return std::nullopt;
  const auto& u = *parsed;
  Target t;
  std::string scheme(u.scheme());
  if (scheme == "https")
    t.tls = true;
  else if (scheme != "http")
    return std::nullopt;
  t.host = std::string(u.encoded_host());
  if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.path = std::string(u.encoded_path());
  if (t.path.empty()) t.path = "/";
  if (u.has_query()) t.path += "?" + std::string(u.encoded_query());
  if (u.has_userinfo()) {
    std::string credentials = u.user() + ":" + u.password();
    std::string encoded(beast::detail::base64::encoded_size(credentials.size()), '\0');
    encoded.resize(beast::detail::base64::encode(encoded.data(), credentials.data(), credentials.size()));
    t.authorization = "Basic " + encoded;
  }
  return t;
}

bool is_json_content_type(std::string_view value) {
  auto semicolon = value.find(';');
  std::string type(value.substr(0, semicolon));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "application/json") return true;
  return type.rfind("application/", 0) == 0 && type.size() > 17 && type.ends_with("+json");
}

std::optional<double> parse_seconds(std::string text) {
  // Python float(): surrounding whitespace allowed.
  auto begin = text.find_first_not_of(" \t\r\n\f\v");
  if (begin == std::string::npos) return std::nullopt;
  auto end = text.find_last_not_of(" \t\r\n\f\v");
  text = text.substr(begin, end - begin + 1);
  char* stop = nullptr;
  double value = std::strtod(text.c_str(), &stop);
  if (stop != text.c_str() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string scrub_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || !parsed->has_password()) return std::string(url);
  boost::urls::url copy(*parsed);
  copy.set_userinfo("*****:*****");
  return std::string(copy.buffer());
}

double rate_limit_wait(const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::vector<std::string>& names, double fallback) {
  constexpr double max_wait = 3600;
  for (const auto& name : names) {
    for (const auto& [key, value] : headers) {
      if (!beast::iequals(key, name)) continue;
      if (value.empty()) return fallback;  // Python: an empty header is "not found"
      auto seconds = parse_seconds(value);
      if (!seconds || std::isnan(*seconds) || *seconds < 0) {
        log::warn("invalid rate reset value", {{"name", name}, {"value", value}});
        return fallback;
      }
      if (*seconds > max_wait) {
        log::warn("rate reset value too high", {{"name", name}, {"value", value}});
        return max_wait;
      }
      return *seconds;
    }
  }
  log::warn("got a 429 but no rate limit reset header found in response");
  return fallback;
}

struct Connection {
  std::variant<beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() {
    if (auto* plain = std::get_if<beast::tcp_stream>(&stream)) return *plain;
    return beast::get_lowest_layer(std::get<1>(stream)) ;
  }
};

struct Answer {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpClient::Impl : std::enable_shared_from_this<Impl> {
  net::any_io_executor executor;
  const config::HttpSettings& settings;
  ops::Metrics& metrics;
  ssl::context tls_context{ssl::context::tls_client};
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;
  std::unordered_map<std::string, tcp::resolver::results_type> resolved;

  Impl(net::any_io_executor ex, const config::HttpSettings& s, ops::Metrics& m)
      : executor(std::move(ex)), settings(s), metrics(m) {
    tls_context.set_verify_mode(ssl::verify_peer);
    if (settings.ssl_cafile)
      tls_context.load_verify_file(*settings.ssl_cafile);
    else
      tls_context.set_default_verify_paths();
  }

  std::chrono::steady_clock::duration timeout() const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(settings.timeout));
  }

  net::awaitable<std::unique_ptr<Connection>> connect(const Target& target) {
    auto key = target.host + ":" + target.port;
    auto cached = resolved.find(key);
    if (cached == resolved.end()) {
      tcp::resolver resolver(executor);
      auto [ec, results] = co_await resolver.async_resolve(target.host, target.port, no_throw);
      if (ec) throw boost::system::system_error(ec, "resolve " + target.host);
      cached = resolved.emplace(key, std::move(results)).first;
    }
    auto connection = std::make_unique<Connection>(Connection{beast::tcp_stream(executor), {}});
    if (target.tls) connection->stream.emplace<1>(beast::tcp_stream(executor), tls_context);
    auto& tcp_layer = connection->tcp();
    tcp_layer.expires_after(timeout());
    auto [ec, endpoint] = co_await tcp_layer.async_connect(cached->second, no_throw);
    if (ec) {
      resolved.erase(key);  // resolve again next time (the service may have moved)
      throw boost::system::system_error(ec, "connect");
    }
    tcp_layer.socket().set_option(tcp::no_delay(true));
    if (target.tls) {
      auto& tls = std::get<1>(connection->stream);
      if (!SSL_set_tlsext_host_name(tls.native_handle(), target.host.c_str()))
        throw boost::system::system_error(error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()), "SNI");
      tls.set_verify_callback(ssl::host_name_verification(target.host));
      auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, no_throw);
      if (hec) throw boost::system::system_error(hec, "TLS handshake");
    }
    co_return connection;
  }

  template <class Stream>
  net::awaitable<error_code> exchange(Stream& stream, beast::flat_buffer& buffer,
                                      http::request<http::string_body>& request, Answer& answer,
                                      bool& keep_alive, bool& got_bytes) {
    auto [wec, written] = co_await http::async_write(stream, request, no_throw);
    if (wec) co_return wec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_answer_bytes);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, no_throw);
    got_bytes = read > 0;
    if (rec) co_return rec;
    auto& response = parser.get();
    answer.status = response.result_int();
    answer.content_type = std::string(response[http::field::content_type]);
    for (auto& field : response) answer.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    answer.body = std::move(response.body());
    keep_alive = response.keep_alive();
    co_return error_code{};
  }

  // One HTTP exchange; a pooled connection the server closed meanwhile is
  // replaced by a fresh one without using up a try.
  net::awaitable<Answer> request_once(const Target& target, const std::string& payload) {
    http::request<http::string_body> request{http::verb::post, target.path, 11};
    request.set(http::field::host, target.port == (target.tls ? "443" : "80") ? target.host
                                                                               : target.host + ":" + target.port);
    request.set(http::field::user_agent, "socketshark-cpp/" SOCKETSHARK_VERSION);
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "application/json");
    if (!target.authorization.empty()) request.set(http::field::authorization, target.authorization);
    request.keep_alive(true);
    request.body() = payload;
    request.prepare_payload();

    const auto key = target.pool_key();
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> connection;
      bool reused = false;
      auto& pool = idle[key];
      if (!pool.empty() && attempt == 0) {
        connection = std::move(pool.back());
        pool.pop_back();
        reused = true;
      } else {
        connection = co_await connect(target);
      }
      connection->tcp().expires_after(timeout());
      Answer answer;
      bool keep_alive = false, got_bytes = false;
      error_code ec;
      if (auto* plain = std::get_if<beast::tcp_stream>(&connection->stream))
        ec = co_await exchange(*plain, connection->buffer, request, answer, keep_alive, got_bytes);
      else
        ec = co_await exchange(std::get<1>(connection->stream), connection->buffer, request, answer, keep_alive,
                               got_bytes);
      if (ec) {
        if (reused && !got_bytes && ec != beast::error::timeout) continue;  // stale keep-alive connection
        throw boost::system::system_error(ec);
      }
      if (keep_alive) {
        connection->tcp().expires_never();
        auto& back = idle[key];
        if (back.size() < max_idle_per_host) back.push_back(std::move(connection));
      }
      co_return answer;
    }
    throw boost::system::system_error(net::error::connection_reset);
  }

  net::awaitable<void> sleep(double seconds) {
    if (seconds <= 0) co_return;
    net::steady_timer timer(executor);
    timer.expires_after(std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(seconds)));
    co_await timer.async_wait(no_throw);
  }
};

HttpClient::HttpClient(net::any_io_executor executor, const config::HttpSettings& settings, ops::Metrics& metrics)
    : impl_(std::make_shared<Impl>(std::move(executor), settings, metrics)) {}

HttpClient::~HttpClient() = default;

std::size_t HttpClient::idle_connections() const {
  std::size_t n = 0;
  for (auto& [key, pool] : impl_->idle) n += pool.size();
  return n;
}

void HttpClient::shutdown() { impl_->idle.clear(); }

net::awaitable<Json> HttpClient::post(std::string_view callback, const std::string& url, const Json& body) {
  auto impl = impl_;  // keeps the pool alive across suspensions
  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  const std::string scrubbed = scrub_url(url);
  auto target = parse_target(url);
  const std::string payload = protocol::to_wire(body);
  const auto& settings = impl->settings;

  double wait = settings.wait;
  for (int attempt = 0; target && attempt < settings.tries; ++attempt) {
    if (attempt > 0) co_await impl->sleep(wait);
    std::string failure;
    try {
      Answer answer = co_await impl->request_once(*target, payload);
      if (answer.status == 429) {
        wait = rate_limit_wait(answer.headers, settings.rate_limit_reset_header_names, settings.wait);
        log::warn("callback rate limited", {{"url", scrubbed}, {"callback", callback}, {"wait", wait}});
        continue;
      }
      wait = settings.wait;
      if (answer.status < 200 || answer.status >= 300) {
        failure = "HTTP " + std::to_string(answer.status);
      } else if (!is_json_content_type(answer.content_type)) {
        failure = "content type is not JSON: " + answer.content_type;
      } else {
        Json parsed = parse_untrusted_json(answer.body);
        if (!parsed.is_object()) {
          impl->metrics.callback(callback, "unexpected", elapsed());
          log::error("callback answer is not a JSON object", {{"url", scrubbed}, {"callback", callback}});
          throw UnexpectedAnswer("callback answer is not a JSON object");
        }
        auto status = parsed.find("status");
        bool ok = status != parsed.end() && *status == "ok";
        impl->metrics.callback(callback, ok ? "ok" : "error", elapsed());
        log::debug("http request", {{"url", scrubbed}, {"callback", callback}, {"status", answer.status},
                                    {"duration", elapsed()}});
        co_return parsed;
      }
    } catch (const boost::system::system_error& e) {
      failure = e.code() == beast::error::timeout ? std::string("timeout") : std::string(e.what());
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const UnexpectedAnswer&) {
      throw;
    } catch (const std::exception& e) {
      failure = e.what();
    }
    log::warn("callback failed", {{"url", scrubbed}, {"callback", callback}, {"try", attempt + 1},
                                  {"tries", settings.tries}, {"error", failure}});
  }
  if (!target) log::error("callback URL cannot be used", {{"url", scrubbed}, {"callback", callback}});
  impl->metrics.callback(callback, "unavailable", elapsed());
  co_return Json{{"status", "error"}, {"error", protocol::errors::service_unavailable}};
}

}  // namespace socketshark::callbacks
