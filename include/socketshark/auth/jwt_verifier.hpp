// JWT authentication (SPEC §7), checked locally with cpp-jwt: signature,
// algorithm in the configured list (`none` never), exp/nbf with leeway,
// aud and iss when configured; claims mapped to auth info.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "socketshark/config/settings.hpp"
#include "socketshark/util/json.hpp"

namespace socketshark::auth {

struct JwtResult {
  std::optional<Json> auth_info;  // set when the token is valid
  std::string error;              // why not (never contains the token)
};

class JwtVerifier {
 public:
  explicit JwtVerifier(const config::JwtAuth& settings);
  JwtResult verify(std::string_view token) const;

 private:
  const config::JwtAuth& settings_;
};

// The token a WebSocket handshake carries, in SPEC §7's order of preference:
// `Sec-WebSocket-Protocol: bearer, <jwt>`, then `?token=<jwt>` in the target.
struct HandshakeToken {
  std::string token;
  bool via_subprotocol = false;  // the answer must then select "bearer"
};
std::optional<HandshakeToken> token_from_handshake(std::string_view subprotocol_header, std::string_view target);

}  // namespace socketshark::auth
