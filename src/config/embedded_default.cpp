// The text of config/dev.yaml, compiled in as the default configuration.
// Keep it byte-identical to config/dev.yaml (tests/unit/test_config.cpp checks).
#include "socketshark/config/loader.hpp"

namespace socketshark::config {

const char* embedded_default_yaml() {
  return R"yaml(# socketshark development defaults.
#
# Compiled into the binary (src/config/embedded_default.cpp) and used when
# socketshark runs without -c: everything on 127.0.0.1, no Redis needed.
# Keep the two files identical; a unit test compares them.
# See config/example.yaml for every key.

# The embedded broker: messages only reach clients of this process.
broker: memory

# WebSocket listener.
ws_host: 127.0.0.1
ws_port: 9000

# Human-readable log lines while developing (json in production).
log:
  level: INFO
  format: console

# /metrics, /healthz and /readyz.
metrics:
  prometheus:
    host: 127.0.0.1
    port: 9090

services:
  # A demo service that anyone may subscribe to ("demo.<topic>"). It has no
  # callbacks, so subscribing, unsubscribing and messages need no backend.
  # To publish to it, give the HTTP publish API a key, e.g.
  #   publish_api: {keys: [dev-only-key]}
  # and POST {"subscription": "demo.news", "data": {...}} to
  # http://127.0.0.1:9090/publish with "Authorization: Bearer dev-only-key".
  demo:
    require_authentication: false
)yaml";
}

}  // namespace socketshark::config
