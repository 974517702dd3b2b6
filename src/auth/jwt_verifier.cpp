#include "socketshark/auth/jwt_verifier.hpp"

#include <algorithm>

#include <jwt/jwt.hpp>

namespace socketshark::auth {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return out;
}

}  // namespace

JwtVerifier::JwtVerifier(const config::JwtAuth& settings) : settings_(settings) {}

JwtResult JwtVerifier::verify(std::string_view token) const {
  JwtResult result;
  if (token.empty()) {
    result.error = "empty token";
    return result;
  }
  // cpp-jwt parses the claims before checking the signature: bound what an
  // anonymous client can make it parse (real tokens are a few hundred bytes).
  constexpr std::size_t max_token_bytes = 8192;
  if (token.size() > max_token_bytes) {
    result.error = "token too long";
    return result;
  }
  // A JWT is three base64url parts. Anything else is refused here: cpp-jwt's
  // base64 decoder indexes its table with a (signed) char, so a byte >= 0x80
  // reads outside the table (found by the ASan suite; its assertion fires in
  // debug builds).
  const auto base64_or_dot = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '=' || c == '+' || c == '/';
  };
  if (!std::all_of(token.begin(), token.end(), base64_or_dot)) {
    result.error = "malformed token";
    return result;
  }
  const std::string& key = settings_.secret.empty() ? settings_.public_key : settings_.secret;
  const auto leeway = static_cast<uint32_t>(settings_.leeway);
  const std::string owned(token);  // cpp-jwt reads .data() as a C string in places
  std::error_code ec;
  // cpp-jwt takes optional checks as extra parameters: pass only the configured ones.
  auto decode = [&](auto&&... checks) {
    return jwt::decode(jwt::string_view(owned), jwt::params::algorithms(settings_.algorithms),
                       ec, jwt::params::secret(key), jwt::params::verify(true), jwt::params::leeway(leeway),
                       checks...);
  };
  try {
    auto decoded = [&] {
      if (settings_.audience && settings_.issuer)
        return decode(jwt::params::aud(*settings_.audience), jwt::params::issuer(*settings_.issuer));
      if (settings_.audience) return decode(jwt::params::aud(*settings_.audience));
      if (settings_.issuer) return decode(jwt::params::issuer(*settings_.issuer));
      return decode();
    }();
    if (ec) {
      result.error = ec.message();
      return result;
    }
    // The algorithm list is the contract: refuse anything else explicitly,
    // `none` included, whatever the library's defaults.
    const std::string algorithm(jwt::alg_to_str(decoded.header().algo()));
    bool allowed = false;
    for (const auto& name : settings_.algorithms) allowed = allowed || name == algorithm;
    if (!allowed || algorithm == "NONE" || algorithm == "none") {
      result.error = "algorithm not allowed";
      return result;
    }
    auto claims = decoded.payload().create_json_obj();
    Json auth_info = Json::object();
    for (const auto& [field, claim] : settings_.auth_fields) {
      auto it = claims.find(claim);
      if (it == claims.end()) {
        result.error = "token lacks claim '" + claim + "'";
        return result;
      }
      auth_info[field] = Json::parse(it->dump());
    }
    result.auth_info = std::move(auth_info);
  } catch (const std::exception& e) {
    result.error = std::string("invalid token: ") + e.what();
  }
  return result;
}

std::optional<HandshakeToken> token_from_handshake(std::string_view subprotocol_header, std::string_view target) {
  // "bearer, <jwt>": the token travels as the second offered subprotocol.
  auto comma = subprotocol_header.find(',');
  if (comma != std::string_view::npos && trim(subprotocol_header.substr(0, comma)) == "bearer") {
    auto rest = trim(subprotocol_header.substr(comma + 1));
    rest = rest.substr(0, rest.find(','));
    if (!trim(rest).empty()) return HandshakeToken{std::string(trim(rest)), true};
  }
  auto query = target.find('?');
  if (query == std::string_view::npos) return std::nullopt;
  auto params = target.substr(query + 1);
  while (!params.empty()) {
    auto amp = params.find('&');
    auto pair = params.substr(0, amp);
    if (pair.substr(0, 6) == "token=") return HandshakeToken{percent_decode(pair.substr(6)), false};
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace socketshark::auth
