// Typed settings: the YAML file of SPEC §5 and §7 after validation.
// Every field carries SocketShark's default; durations are seconds (double).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace socketshark::config {

struct WsSsl {
  std::string cert;  // both empty = plain ws
  std::string key;
  bool enabled() const { return !cert.empty(); }
};

struct WsPing {
  double interval = 15;  // 0 disables pings
  double timeout = 15;
};

struct LogSettings {
  std::string level = "INFO";        // DEBUG, INFO, WARNING, ERROR, CRITICAL (case-insensitive)
  std::string format = "json";       // json | console
  std::string trace_level = "INFO";  // DEBUG enables per-event traces
};

struct PrometheusSettings {
  std::string host;  // "" = all interfaces, as SocketShark
  std::uint16_t port = 9090;
};

struct MetricsSettings {
  std::optional<PrometheusSettings> prometheus;  // {prometheus: {...}} enables /metrics
  bool log = false;                              // {log: {}} enables the log provider
};

struct HttpSettings {
  double timeout = 15;
  int tries = 3;
  double wait = 3;
  std::optional<std::string> ssl_cafile;
  std::vector<std::string> rate_limit_reset_header_names = {"X-Rate-Limit-Reset"};
};

struct RedisCluster {
  std::vector<std::string> nodes;  // "host:port"
  bool sharded = true;
};

struct RedisSettings {
  std::string host = "localhost";
  std::uint16_t port = 6379;
  int db = 0;
  std::optional<std::string> password;
  std::string channel_prefix;
  double ping_interval = 10;  // 0 disables
  double ping_timeout = 5;
  std::optional<RedisCluster> cluster;
};

enum class BrokerKind { memory, redis };

struct TicketAuth {
  std::string validation_url;
  std::vector<std::string> auth_fields;
};

struct JwtAuth {
  std::string secret;           // HS*
  std::string public_key_file;  // RS*/ES*
  std::string public_key;       // contents of public_key_file, read at load time
  std::vector<std::string> algorithms;
  std::optional<std::string> audience;
  std::optional<std::string> issuer;
  double leeway = 30;
  // auth field -> claim; a list [a, b] in YAML maps each field to itself.
  std::vector<std::pair<std::string, std::string>> auth_fields;
};

struct Authentication {
  std::optional<TicketAuth> ticket;
  std::optional<JwtAuth> jwt;
};

struct ServiceSettings {
  bool require_authentication = true;
  std::optional<std::string> authorizer;
  std::vector<std::string> authorizer_fields;
  std::optional<double> authorization_renewal_period;
  double authorization_renewal_jitter = 0;
  std::vector<std::string> extra_fields;
  std::vector<std::string> filter_fields;
  std::optional<std::string> before_subscribe;
  std::optional<std::string> on_subscribe;
  std::optional<std::string> on_message;
  std::optional<std::string> before_unsubscribe;
  std::optional<std::string> on_unsubscribe;
  std::optional<std::string> on_authorization_change;
  std::optional<double> heartbeat_period;
  std::optional<std::string> on_heartbeat;
};

struct PublishApi {
  std::vector<std::string> keys;  // empty = no publish API
  std::size_t max_body_bytes = 1048576;
};

struct ConnectionsPerUser {
  std::optional<std::string> field;
  std::size_t max = 0;
};

struct ClientRate {
  double rate = 0;  // events per second; 0 = unlimited
  double burst = 0;
};

// 0 = unlimited everywhere.
struct Limits {
  std::size_t max_message_bytes = 1048576;
  std::size_t max_subscriptions_per_session = 0;
  std::size_t max_connections = 0;
  ConnectionsPerUser max_connections_per_user;
  ClientRate client_rate;
  std::size_t send_buffer_bytes = 4194304;
  // Beyond SPEC §7 (hostile clients): seconds to finish the TLS + HTTP
  // upgrade, and seconds a session may stay unauthenticated (0 = forever).
  double handshake_timeout = 10;
  double auth_timeout = 0;
};

struct Shutdown {
  double drain_seconds = 0;
};

struct Settings {
  std::string ws_host = "127.0.0.1";
  std::uint16_t ws_port = 9000;
  WsSsl ws_ssl;
  WsPing ws_ping;
  LogSettings log;
  MetricsSettings metrics;
  HttpSettings http;
  BrokerKind broker = BrokerKind::memory;  // redis when the file has a `redis` section
  RedisSettings redis;
  std::optional<RedisSettings> redis_alt;
  Authentication authentication;
  std::map<std::string, ServiceSettings> services;
  PublishApi publish_api;
  Limits limits;
  Shutdown shutdown;
  // SOCKETSHARK_* variables that name no setting (logged as a warning).
  std::vector<std::string> ignored_environment;
};

}  // namespace socketshark::config
