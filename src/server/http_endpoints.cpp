#include "socketshark/server/http_endpoints.hpp"

#include <boost/beast/http.hpp>

namespace socketshark::server {

namespace http = boost::beast::http;

HttpResponse json_response(const HttpRequest& request, unsigned status, std::string body) {
  HttpResponse response{static_cast<http::status>(status), request.version()};
  response.set(http::field::server, "socketshark-cpp/" SOCKETSHARK_VERSION);
  response.set(http::field::content_type, "application/json");
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::optional<HttpResponse> probe_response(const HttpRequest& request, bool ready) {
  auto target = request.target();
  if (auto query = target.find('?'); query != std::string_view::npos) target = target.substr(0, query);
  if (request.method() != http::verb::get && request.method() != http::verb::head) return std::nullopt;
  if (target == "/healthz") return json_response(request, 200, R"({"status":"ok"})");
  if (target == "/readyz")
    return ready ? json_response(request, 200, R"({"status":"ready"})")
                 : json_response(request, 503, R"({"status":"not ready"})");
  return std::nullopt;
}

}  // namespace socketshark::server
