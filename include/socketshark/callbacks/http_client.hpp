// Service callbacks: JSON POSTs over a keep-alive connection pool per host,
// with SocketShark's tries, waits, timeouts and 429 handling (SPEC §2).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "socketshark/config/settings.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::ops {
class Metrics;
}

namespace socketshark::callbacks {

// A 2xx answer with a JSON content type whose body is not a JSON object:
// SocketShark's unexpected failure (the event fails with "Unhandled exception.").
class UnexpectedAnswer : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "https://user:pass@host/x" -> "https://*****:*****@host/x" (for logs).
std::string scrub_url(std::string_view url);

// Seconds to wait after a 429, from the first present header of `names`
// (0 <= v <= 3600; over 3600 -> 3600; invalid -> `fallback`).
double rate_limit_wait(const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::vector<std::string>& names, double fallback);

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, const config::HttpSettings& settings, ops::Metrics& metrics);
  ~HttpClient();

  // POSTs `body` to `url`. Returns the service's answer (a JSON object), or
  // {"status":"error","error":"Service unavailable."} after the last try.
  // Throws UnexpectedAnswer (see above).
  boost::asio::awaitable<Json> post(std::string_view callback, const std::string& url, const Json& body);

  // Idle pooled connections (tests, metrics).
  std::size_t idle_connections() const;
  void shutdown();  // closes idle connections

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace socketshark::callbacks
