// Plain HTTP answers shared by the WebSocket port and the admin port.
#pragma once

#include <optional>
#include <string>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace socketshark::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

HttpResponse json_response(const HttpRequest& request, unsigned status, std::string body);

// /healthz (process up) and /readyz (broker connected, listener open);
// nullopt for any other target.
std::optional<HttpResponse> probe_response(const HttpRequest& request, bool ready);

}  // namespace socketshark::server
