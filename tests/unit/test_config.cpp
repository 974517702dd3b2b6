// Configuration loading: defaults, every validation error with its key path,
// environment overrides, and the shipped config files (SPEC §5, §7).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "socketshark/config/loader.hpp"

namespace socketshark::config {
namespace {

const std::string kSourceDir = SOCKETSHARK_SOURCE_DIR;

Settings load(const std::string& yaml, const Environment& env = {}) {
  return load_settings_from_string(yaml, "cfg.yaml", env);
}

// The problems a load reports; fails the test when it loads cleanly.
std::vector<std::string> problems_of(const std::string& yaml, const Environment& env = {}) {
  try {
    load(yaml, env);
  } catch (const ConfigError& error) {
    return error.problems();
  }
  ADD_FAILURE() << "expected a ConfigError for:\n" << yaml;
  return {};
}

using Lines = std::vector<std::string>;

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A file in a fresh temporary directory, removed with the object.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& contents) {
    directory_ = std::filesystem::temp_directory_path() /
                 ("socketshark-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
    path_ = (directory_ / name).string();
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::filesystem::remove_all(directory_); }
  const std::string& path() const { return path_; }

 private:
  std::filesystem::path directory_;
  std::string path_;
};

// ---------------------------------------------------------------------------
// Defaults

void expect_spec_defaults(const Settings& s) {
  EXPECT_EQ(s.ws_host, "127.0.0.1");
  EXPECT_EQ(s.ws_port, 9000);
  EXPECT_FALSE(s.ws_ssl.enabled());
  EXPECT_EQ(s.ws_ssl.cert, "");
  EXPECT_EQ(s.ws_ssl.key, "");
  EXPECT_EQ(s.ws_ping.interval, 15);
  EXPECT_EQ(s.ws_ping.timeout, 15);
  EXPECT_EQ(s.log.level, "INFO");
  EXPECT_EQ(s.log.format, "json");
  EXPECT_EQ(s.log.trace_level, "INFO");
  EXPECT_FALSE(s.metrics.prometheus.has_value());
  EXPECT_FALSE(s.metrics.log);
  EXPECT_EQ(s.http.timeout, 15);
  EXPECT_EQ(s.http.tries, 3);
  EXPECT_EQ(s.http.wait, 3);
  EXPECT_FALSE(s.http.ssl_cafile.has_value());
  EXPECT_EQ(s.http.rate_limit_reset_header_names, Lines{"X-Rate-Limit-Reset"});
  EXPECT_EQ(s.broker, BrokerKind::memory);
  EXPECT_EQ(s.redis.host, "localhost");
  EXPECT_EQ(s.redis.port, 6379);
  EXPECT_EQ(s.redis.db, 0);
  EXPECT_FALSE(s.redis.password.has_value());
  EXPECT_EQ(s.redis.channel_prefix, "");
  EXPECT_EQ(s.redis.ping_interval, 10);
  EXPECT_EQ(s.redis.ping_timeout, 5);
  EXPECT_FALSE(s.redis.cluster.has_value());
  EXPECT_FALSE(s.redis_alt.has_value());
  EXPECT_FALSE(s.authentication.ticket.has_value());
  EXPECT_FALSE(s.authentication.jwt.has_value());
  EXPECT_TRUE(s.services.empty());
  EXPECT_TRUE(s.publish_api.keys.empty());
  EXPECT_EQ(s.publish_api.max_body_bytes, 1048576u);
  EXPECT_EQ(s.limits.max_message_bytes, 1048576u);
  EXPECT_EQ(s.limits.max_subscriptions_per_session, 0u);
  EXPECT_EQ(s.limits.max_connections, 0u);
  EXPECT_FALSE(s.limits.max_connections_per_user.field.has_value());
  EXPECT_EQ(s.limits.max_connections_per_user.max, 0u);
  EXPECT_EQ(s.limits.client_rate.rate, 0);
  EXPECT_EQ(s.limits.client_rate.burst, 0);
  EXPECT_EQ(s.limits.send_buffer_bytes, 4194304u);
  EXPECT_EQ(s.limits.handshake_timeout, 10.0);
  EXPECT_EQ(s.limits.auth_timeout, 0.0);
  EXPECT_EQ(s.shutdown.drain_seconds, 0);
}

TEST(ConfigDefaults, EmptyDocumentGivesEverySpecDefault) {
  expect_spec_defaults(load(""));
  expect_spec_defaults(load("# nothing but a comment\n"));
  expect_spec_defaults(load("{}"));
}

TEST(ConfigDefaults, NullValuesMeanDefault) {
  expect_spec_defaults(load(R"(
ws_host: null
ws_port: ~
ws_ssl:
ws_ping: {timeout: null}
log: {level: null, format: null}
metrics: null
http: {timeout: null, tries: null, wait: null, ssl_cafile: null}
redis_alt: null
authentication: {ticket: null, jwt: null}
services: null
publish_api: {keys: null, max_body_bytes: null}
limits: null
shutdown: {drain_seconds: null}
)"));
}

TEST(ConfigDefaults, EmptyServiceTakesServiceDefaults) {
  const Settings s = load("services:\n  chat:\n");
  ASSERT_EQ(s.services.count("chat"), 1u);
  const ServiceSettings& chat = s.services.at("chat");
  EXPECT_TRUE(chat.require_authentication);
  EXPECT_FALSE(chat.authorizer.has_value());
  EXPECT_TRUE(chat.authorizer_fields.empty());
  EXPECT_FALSE(chat.authorization_renewal_period.has_value());
  EXPECT_EQ(chat.authorization_renewal_jitter, 0);
  EXPECT_TRUE(chat.extra_fields.empty());
  EXPECT_TRUE(chat.filter_fields.empty());
  EXPECT_FALSE(chat.before_subscribe.has_value());
  EXPECT_FALSE(chat.on_subscribe.has_value());
  EXPECT_FALSE(chat.on_message.has_value());
  EXPECT_FALSE(chat.before_unsubscribe.has_value());
  EXPECT_FALSE(chat.on_unsubscribe.has_value());
  EXPECT_FALSE(chat.on_authorization_change.has_value());
  EXPECT_FALSE(chat.heartbeat_period.has_value());
  EXPECT_FALSE(chat.on_heartbeat.has_value());
}

TEST(ConfigDefaults, NullIntervalsDisablePings) {
  const Settings s = load("ws_ping: {interval: null}\nredis: {ping_interval: null}\n");
  EXPECT_EQ(s.ws_ping.interval, 0);
  EXPECT_EQ(s.ws_ping.timeout, 15);
  EXPECT_EQ(s.redis.ping_interval, 0);
}

TEST(ConfigDefaults, NullLimitMeansUnlimited) {
  const Settings s = load(R"(
limits:
  max_message_bytes: null
  send_buffer_bytes: 0
  max_connections_per_user: {field: user_id, max: null}
  client_rate: {rate: null, burst: null}
)");
  EXPECT_EQ(s.limits.max_message_bytes, 0u);
  EXPECT_EQ(s.limits.send_buffer_bytes, 0u);
  EXPECT_EQ(s.limits.max_connections_per_user.field, "user_id");
  EXPECT_EQ(s.limits.max_connections_per_user.max, 0u);
  EXPECT_EQ(s.limits.client_rate.rate, 0);
}

TEST(ConfigDefaults, MetricsProvidersEnabledByTheirSections) {
  const Settings s = load("metrics:\n  prometheus: {}\n  log: {}\n");
  ASSERT_TRUE(s.metrics.prometheus.has_value());
  EXPECT_EQ(s.metrics.prometheus->host, "");
  EXPECT_EQ(s.metrics.prometheus->port, 9090);
  EXPECT_TRUE(s.metrics.log);
}

// ---------------------------------------------------------------------------
// Broker default

TEST(ConfigBroker, MemoryWithoutRedisSection) {
  EXPECT_EQ(load("ws_port: 9000").broker, BrokerKind::memory);
  EXPECT_EQ(load("redis: null").broker, BrokerKind::memory);
}

TEST(ConfigBroker, RedisWhenFileHasRedisSection) {
  EXPECT_EQ(load("redis: {}").broker, BrokerKind::redis);
  EXPECT_EQ(load("redis: {host: r1}").broker, BrokerKind::redis);
}

TEST(ConfigBroker, ExplicitBrokerWins) {
  EXPECT_EQ(load("broker: memory\nredis: {host: r1}").broker, BrokerKind::memory);
  EXPECT_EQ(load("broker: redis").broker, BrokerKind::redis);
}

TEST(ConfigBroker, EnvironmentRedisCountsAsRedisSection) {
  EXPECT_EQ(load("", {{"SOCKETSHARK_REDIS__HOST", "redis"}}).broker, BrokerKind::redis);
  EXPECT_EQ(load("broker: memory", {{"SOCKETSHARK_REDIS__HOST", "redis"}}).broker,
            BrokerKind::memory);
}

TEST(ConfigBroker, UnknownBrokerIsAnError) {
  EXPECT_EQ(problems_of("broker: kafka"),
            Lines{"cfg.yaml: broker: expected memory or redis, got 'kafka'"});
}

// ---------------------------------------------------------------------------
// Values

TEST(ConfigValues, PortsAcceptNumericStrings) {
  const Settings s = load("ws_port: \"9000\"\nredis: {port: '6380'}\nmetrics: {prometheus: {port: \"9100\"}}");
  EXPECT_EQ(s.ws_port, 9000);
  EXPECT_EQ(s.redis.port, 6380);
  EXPECT_EQ(s.metrics.prometheus->port, 9100);
}

TEST(ConfigValues, DurationsMayBeFractional) {
  const Settings s = load(R"(
ws_ping: {interval: 0.1, timeout: .5}
http: {timeout: 2.5, wait: 1e-1}
redis: {ping_interval: 0.25, ping_timeout: 0.125}
services:
  chat:
    authorization_renewal_period: 0.1
    authorization_renewal_jitter: 0.05
    heartbeat_period: 0.2
shutdown: {drain_seconds: 1.5}
)");
  EXPECT_DOUBLE_EQ(s.ws_ping.interval, 0.1);
  EXPECT_DOUBLE_EQ(s.ws_ping.timeout, 0.5);
  EXPECT_DOUBLE_EQ(s.http.timeout, 2.5);
  EXPECT_DOUBLE_EQ(s.http.wait, 0.1);
  EXPECT_DOUBLE_EQ(s.redis.ping_interval, 0.25);
  EXPECT_DOUBLE_EQ(s.redis.ping_timeout, 0.125);
  EXPECT_DOUBLE_EQ(*s.services.at("chat").authorization_renewal_period, 0.1);
  EXPECT_DOUBLE_EQ(s.services.at("chat").authorization_renewal_jitter, 0.05);
  EXPECT_DOUBLE_EQ(*s.services.at("chat").heartbeat_period, 0.2);
  EXPECT_DOUBLE_EQ(s.shutdown.drain_seconds, 1.5);
}

TEST(ConfigValues, ZeroIsMeaningfulWhereDocumented) {
  const Settings s = load(R"(
ws_ping: {interval: 0, timeout: 0}
http: {wait: 0}
redis: {ping_interval: 0, ping_timeout: 0}
services: {chat: {authorization_renewal_jitter: 0}}
)");
  EXPECT_EQ(s.ws_ping.interval, 0);
  EXPECT_EQ(s.http.wait, 0);
  EXPECT_EQ(s.redis.ping_interval, 0);
}

TEST(ConfigValues, LevelsAreCaseInsensitiveAndNormalized) {
  const Settings s = load("log: {level: warn, trace_level: debug, format: console}");
  EXPECT_EQ(s.log.level, "WARNING");
  EXPECT_EQ(s.log.trace_level, "DEBUG");
  EXPECT_EQ(s.log.format, "console");
}

TEST(ConfigValues, BooleansInYamlSpellings) {
  EXPECT_FALSE(load("services: {a: {require_authentication: false}}").services.at("a").require_authentication);
  EXPECT_FALSE(load("services: {a: {require_authentication: no}}").services.at("a").require_authentication);
  EXPECT_TRUE(load("services: {a: {require_authentication: True}}").services.at("a").require_authentication);
}

TEST(ConfigValues, DeprecatedSingleRateLimitHeaderName) {
  // SocketShark: rate_limit_reset_header_names or [rate_limit_reset_header_name]
  EXPECT_EQ(load("http: {rate_limit_reset_header_name: Retry-After}").http.rate_limit_reset_header_names,
            Lines{"Retry-After"});
  EXPECT_EQ(load("http: {rate_limit_reset_header_name: Retry-After, rate_limit_reset_header_names: [A, B]}")
                .http.rate_limit_reset_header_names,
            (Lines{"A", "B"}));
  EXPECT_EQ(load("http: {rate_limit_reset_header_names: []}").http.rate_limit_reset_header_names,
            Lines{"X-Rate-Limit-Reset"});
}

TEST(ConfigValues, StringsMayLookLikeNumbers) {
  const Settings s = load("redis: {password: 12345, channel_prefix: 2024_}");
  EXPECT_EQ(s.redis.password, "12345");
  EXPECT_EQ(s.redis.channel_prefix, "2024_");
}

TEST(ConfigValues, RedisAltAndClusterAreRead) {
  const Settings s = load(R"(
redis:
  host: r1
  cluster: {nodes: ["10.0.0.1:7000", "[::1]:7001", "redis-2:7002"], sharded: false}
redis_alt: {host: old-redis, port: 6390, channel_prefix: "old:", db: 2, password: pw}
)");
  ASSERT_TRUE(s.redis.cluster.has_value());
  EXPECT_EQ(s.redis.cluster->nodes, (Lines{"10.0.0.1:7000", "[::1]:7001", "redis-2:7002"}));
  EXPECT_FALSE(s.redis.cluster->sharded);
  ASSERT_TRUE(s.redis_alt.has_value());
  EXPECT_EQ(s.redis_alt->host, "old-redis");
  EXPECT_EQ(s.redis_alt->port, 6390);
  EXPECT_EQ(s.redis_alt->channel_prefix, "old:");
  EXPECT_EQ(s.redis_alt->db, 2);
  EXPECT_EQ(s.redis_alt->password, "pw");
  EXPECT_EQ(s.redis_alt->ping_interval, 10);  // unset keys take the redis defaults
  EXPECT_TRUE(load("redis: {cluster: {nodes: [\"a:1\"]}}").redis.cluster->sharded);
}

TEST(ConfigValues, UrlsOfManyShapesAreAccepted) {
  const Settings s = load(R"(
services:
  chat:
    authorizer: https://user:secret@auth.example.com/authorize
    before_subscribe: http://127.0.0.1:8000/a/b?x=1#frag
    on_subscribe: HTTP://[::1]:8080/
    on_message: http://my-service
    on_heartbeat: http://my_service.internal:1/hb
)");
  const ServiceSettings& chat = s.services.at("chat");
  EXPECT_EQ(chat.authorizer, "https://user:secret@auth.example.com/authorize");
  EXPECT_EQ(chat.before_subscribe, "http://127.0.0.1:8000/a/b?x=1#frag");
  EXPECT_EQ(chat.on_subscribe, "HTTP://[::1]:8080/");
  EXPECT_EQ(chat.on_message, "http://my-service");
  EXPECT_EQ(chat.on_heartbeat, "http://my_service.internal:1/hb");
}

TEST(ConfigValues, YamlAnchorsWork) {
  const Settings s = load(R"(
services:
  a: &base {require_authentication: false, extra_fields: [org]}
  b: *base
)");
  EXPECT_EQ(s.services.at("b").extra_fields, Lines{"org"});
  EXPECT_FALSE(s.services.at("b").require_authentication);
}

// ---------------------------------------------------------------------------
// Authentication

TEST(ConfigAuthentication, TicketIsRead) {
  const Settings s = load(R"(
authentication:
  ticket: {validation_url: "http://auth/ticket/", auth_fields: [session_id, user_id]}
)");
  ASSERT_TRUE(s.authentication.ticket.has_value());
  EXPECT_EQ(s.authentication.ticket->validation_url, "http://auth/ticket/");
  EXPECT_EQ(s.authentication.ticket->auth_fields, (Lines{"session_id", "user_id"}));
}

TEST(ConfigAuthentication, TicketNeedsUrlAndFields) {
  EXPECT_EQ(problems_of("authentication: {ticket: {}}"),
            (Lines{"cfg.yaml: authentication.ticket.validation_url: required",
                   "cfg.yaml: authentication.ticket.auth_fields: required (the fields the "
                   "validation endpoint returns)"}));
}

TEST(ConfigAuthentication, JwtWithSecretAndFieldList) {
  const Settings s = load(R"(
authentication:
  jwt: {secret: s3cr3t, algorithms: [HS256, HS512], audience: app, issuer: me, leeway: 5,
        auth_fields: [user_id, session_id]}
)");
  ASSERT_TRUE(s.authentication.jwt.has_value());
  const JwtAuth& jwt = *s.authentication.jwt;
  EXPECT_EQ(jwt.secret, "s3cr3t");
  EXPECT_EQ(jwt.algorithms, (Lines{"HS256", "HS512"}));
  EXPECT_EQ(jwt.audience, "app");
  EXPECT_EQ(jwt.issuer, "me");
  EXPECT_EQ(jwt.leeway, 5);
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(jwt.auth_fields, (Pairs{{"user_id", "user_id"}, {"session_id", "session_id"}}));
}

TEST(ConfigAuthentication, JwtFieldMapKeepsOrderAndDefaults) {
  const Settings s = load("authentication: {jwt: {secret: x, algorithms: [HS256], "
                          "auth_fields: {session_id: sub, user_id: uid}}}");
  const JwtAuth& jwt = *s.authentication.jwt;
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(jwt.auth_fields, (Pairs{{"session_id", "sub"}, {"user_id", "uid"}}));
  EXPECT_EQ(jwt.leeway, 30);
  EXPECT_FALSE(jwt.audience.has_value());
  EXPECT_FALSE(jwt.issuer.has_value());
}

TEST(ConfigAuthentication, JwtPublicKeyFileIsRead) {
  const std::string pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQc=\n-----END PUBLIC KEY-----\n";
  const TempFile key("jwt.pem", pem);
  const Settings s = load("authentication: {jwt: {public_key_file: " + key.path() +
                          ", algorithms: [RS256, ES256], auth_fields: [user_id]}}");
  EXPECT_EQ(s.authentication.jwt->public_key_file, key.path());
  EXPECT_EQ(s.authentication.jwt->public_key, pem);
}

TEST(ConfigAuthentication, JwtAlgorithmProblems) {
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.algorithms: required (e.g. [HS256])"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.algorithms: must list at least one algorithm"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [HS256, none], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.algorithms[1]: 'none' is never accepted"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [NONE], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.algorithms[0]: 'none' is never accepted"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [HS257], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.algorithms[0]: unknown algorithm 'HS257' "
                  "(allowed: HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384)"});
}

TEST(ConfigAuthentication, JwtKeyMaterialProblems) {
  EXPECT_EQ(problems_of("authentication: {jwt: {algorithms: [HS384], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.secret: required by the HS* algorithms"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [ES384], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.public_key_file: required by the RS*/ES* algorithms"});
  EXPECT_EQ(problems_of("authentication: {jwt: {public_key_file: /nonexistent/k.pem, "
                        "algorithms: [RS256], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.public_key_file: cannot read file "
                  "'/nonexistent/k.pem': No such file or directory"});
  const TempFile not_pem("key.txt", "just text");
  EXPECT_EQ(problems_of("authentication: {jwt: {public_key_file: " + not_pem.path() +
                        ", algorithms: [RS256], auth_fields: [u]}}"),
            Lines{"cfg.yaml: authentication.jwt.public_key_file: '" + not_pem.path() +
                  "' is not a PEM public key"});
}

TEST(ConfigAuthentication, JwtAuthFieldProblems) {
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [HS256]}}"),
            Lines{"cfg.yaml: authentication.jwt.auth_fields: required (claims copied to auth "
                  "info, a list or a map field: claim)"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [HS256], auth_fields: user_id}}"),
            Lines{"cfg.yaml: authentication.jwt.auth_fields: expected a list or a map, got 'user_id'"});
  EXPECT_EQ(problems_of("authentication: {jwt: {secret: x, algorithms: [HS256], auth_fields: {a: [b]}}}"),
            (Lines{"cfg.yaml: authentication.jwt.auth_fields.a: expected a claim name, got a list",
                   "cfg.yaml: authentication.jwt.auth_fields: must name at least one claim"}));
}

// ---------------------------------------------------------------------------
// Each kind of problem, with its exact key path

TEST(ConfigErrors, UnknownKeySuggestsTheClosestKnownKey) {
  EXPECT_EQ(problems_of("services:\n  chat:\n    on_mesage: http://x/\n"),
            Lines{"cfg.yaml: services.chat.on_mesage: unknown key (did you mean 'on_message'?)"});
  EXPECT_EQ(problems_of("ws_prot: 9000"),
            Lines{"cfg.yaml: ws_prot: unknown key (did you mean 'ws_port'?)"});
  EXPECT_EQ(problems_of("redis: {hots: r}"),
            Lines{"cfg.yaml: redis.hots: unknown key (did you mean 'host'?)"});
  EXPECT_EQ(problems_of("limits: {client_rate: {brust: 1}}"),
            Lines{"cfg.yaml: limits.client_rate.brust: unknown key (did you mean 'burst'?)"});
}

TEST(ConfigErrors, UpperCaseSocketSharkNamesPointToTheLowerCaseKey) {
  EXPECT_EQ(problems_of("WS_PORT: 9000"),
            Lines{"cfg.yaml: WS_PORT: unknown key (did you mean 'ws_port'?)"});
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatch) {
  EXPECT_EQ(problems_of("colour: red"), Lines{"cfg.yaml: colour: unknown key"});
  EXPECT_EQ(problems_of("metrics: {statsd: {}}"), Lines{"cfg.yaml: metrics.statsd: unknown key"});
  EXPECT_EQ(problems_of("metrics: {log: {verbose: true}}"),
            Lines{"cfg.yaml: metrics.log.verbose: unknown key"});
}

TEST(ConfigErrors, EachProblemStaysOnOneLine) {
  EXPECT_EQ(problems_of("ws_host: [a]\n? |\n  multi\n  line\n: 1\n"),
            (Lines{"cfg.yaml: multi\\nline\\n: unknown key",
                   "cfg.yaml: ws_host: expected a string, got a list"}));
  const std::string long_key(100, 'k');
  EXPECT_EQ(problems_of(long_key + ": 1"),
            Lines{"cfg.yaml: " + long_key.substr(0, 60) + "...: unknown key"});
}

TEST(ConfigErrors, DuplicateKey) {
  EXPECT_EQ(problems_of("ws_port: 1\nws_port: 2\n"), Lines{"cfg.yaml: ws_port: duplicate key"});
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(problems_of("ws_host: [a, b]"), Lines{"cfg.yaml: ws_host: expected a string, got a list"});
  EXPECT_EQ(problems_of("ws_port: abc"), Lines{"cfg.yaml: ws_port: expected an integer port, got 'abc'"});
  EXPECT_EQ(problems_of("ws_port: 90.5"), Lines{"cfg.yaml: ws_port: expected an integer port, got '90.5'"});
  EXPECT_EQ(problems_of("ws_ping: 5"), Lines{"cfg.yaml: ws_ping: expected a map, got '5'"});
  EXPECT_EQ(problems_of("http: {tries: 2.5}"), Lines{"cfg.yaml: http.tries: expected an integer, got '2.5'"});
  EXPECT_EQ(problems_of("http: {tries: \"3\"}"), Lines{"cfg.yaml: http.tries: expected an integer, got '3'"});
  EXPECT_EQ(problems_of("http: {timeout: fast}"),
            Lines{"cfg.yaml: http.timeout: expected a number of seconds, got 'fast'"});
  EXPECT_EQ(problems_of("http: {timeout: .inf}"),
            Lines{"cfg.yaml: http.timeout: expected a number of seconds, got '.inf'"});
  EXPECT_EQ(problems_of("limits: {client_rate: {rate: {a: 1}}}"),
            Lines{"cfg.yaml: limits.client_rate.rate: expected a number, got a map"});
  EXPECT_EQ(problems_of("services: {chat: {require_authentication: maybe}}"),
            Lines{"cfg.yaml: services.chat.require_authentication: expected true or false, got 'maybe'"});
  EXPECT_EQ(problems_of("services: {chat: {extra_fields: org}}"),
            Lines{"cfg.yaml: services.chat.extra_fields: expected a list, got 'org'"});
  EXPECT_EQ(problems_of("services: {chat: {filter_fields: [a, [b], null]}}"),
            (Lines{"cfg.yaml: services.chat.filter_fields[1]: expected a string, got a list",
                   "cfg.yaml: services.chat.filter_fields[2]: expected a string, got null"}));
  EXPECT_EQ(problems_of("services: [chat]"),
            Lines{"cfg.yaml: services: expected a map of service name to settings, got a list"});
  EXPECT_EQ(problems_of("services: {chat: 1}"), Lines{"cfg.yaml: services.chat: expected a map, got '1'"});
  EXPECT_EQ(problems_of("publish_api: {max_body_bytes: 1e6}"),
            Lines{"cfg.yaml: publish_api.max_body_bytes: expected an integer, got '1e6'"});
}

TEST(ConfigErrors, OutOfRangeNumbers) {
  EXPECT_EQ(problems_of("ws_port: 0"), Lines{"cfg.yaml: ws_port: must be a port number from 1 to 65535, got 0"});
  EXPECT_EQ(problems_of("ws_port: 65536"),
            Lines{"cfg.yaml: ws_port: must be a port number from 1 to 65535, got 65536"});
  EXPECT_EQ(problems_of("redis: {port: -1}"),
            Lines{"cfg.yaml: redis.port: must be a port number from 1 to 65535, got -1"});
  EXPECT_EQ(problems_of("redis: {db: -1}"), Lines{"cfg.yaml: redis.db: must be 0 or more, got -1"});
  EXPECT_EQ(problems_of("http: {tries: 0}"), Lines{"cfg.yaml: http.tries: must be at least 1, got 0"});
  EXPECT_EQ(problems_of("http: {timeout: 0}"), Lines{"cfg.yaml: http.timeout: must be greater than 0, got 0"});
  EXPECT_EQ(problems_of("http: {wait: -0.5}"), Lines{"cfg.yaml: http.wait: must be 0 or more, got -0.5"});
  EXPECT_EQ(problems_of("ws_ping: {interval: -1}"), Lines{"cfg.yaml: ws_ping.interval: must be 0 or more, got -1"});
  EXPECT_EQ(problems_of("ws_ping: {interval: 15, timeout: 0}"),
            Lines{"cfg.yaml: ws_ping.timeout: must be greater than 0 when interval is set"});
  EXPECT_EQ(problems_of("redis: {ping_timeout: 0}"),
            Lines{"cfg.yaml: redis.ping_timeout: must be greater than 0 when ping_interval is set"});
  EXPECT_EQ(problems_of("shutdown: {drain_seconds: 1e10}"),
            Lines{"cfg.yaml: shutdown.drain_seconds: must be at most 1000000000, got 1e10"});
  EXPECT_EQ(problems_of("limits: {max_connections: -5}"),
            Lines{"cfg.yaml: limits.max_connections: must be 0 or more, got -5"});
  EXPECT_EQ(problems_of("limits: {client_rate: {burst: -1}}"),
            Lines{"cfg.yaml: limits.client_rate.burst: must be 0 or more, got -1"});
  EXPECT_EQ(problems_of("publish_api: {max_body_bytes: 0}"),
            Lines{"cfg.yaml: publish_api.max_body_bytes: must be at least 1, got 0"});
}

TEST(ConfigErrors, ServiceDurations) {
  EXPECT_EQ(problems_of("services: {chat: {authorization_renewal_period: 0}}"),
            Lines{"cfg.yaml: services.chat.authorization_renewal_period: must be greater than 0, got 0"});
  EXPECT_EQ(problems_of("services: {chat: {authorization_renewal_jitter: -1}}"),
            Lines{"cfg.yaml: services.chat.authorization_renewal_jitter: must be 0 or more, got -1"});
  EXPECT_EQ(problems_of("services: {chat: {authorization_renewal_period: 10, authorization_renewal_jitter: 11}}"),
            Lines{"cfg.yaml: services.chat.authorization_renewal_jitter: must not exceed "
                  "authorization_renewal_period"});
  EXPECT_EQ(problems_of("services: {chat: {heartbeat_period: -2}}"),
            Lines{"cfg.yaml: services.chat.heartbeat_period: must be greater than 0, got -2"});
}

TEST(ConfigErrors, BadUrls) {
  const std::string at = "cfg.yaml: services.chat.on_message: ";
  auto problem_for = [](const std::string& url) {
    return problems_of("services: {chat: {on_message: '" + url + "'}}");
  };
  EXPECT_EQ(problem_for("ftp://host/x"), Lines{at + "invalid URL: scheme must be http or https, got 'ftp'"});
  EXPECT_EQ(problem_for("my-service/on_message"), Lines{at + "invalid URL: expected http(s)://host[:port]/path"});
  EXPECT_EQ(problem_for("http://"), Lines{at + "invalid URL: missing host"});
  EXPECT_EQ(problem_for("http://:8000/x"), Lines{at + "invalid URL: missing host"});
  EXPECT_EQ(problem_for("http://host:port/x"), Lines{at + "invalid URL: invalid port 'port' (expected 1 to 65535)"});
  EXPECT_EQ(problem_for("http://host:99999/"), Lines{at + "invalid URL: invalid port '99999' (expected 1 to 65535)"});
  EXPECT_EQ(problem_for("http://my service/"), Lines{at + "invalid URL: contains spaces or control characters"});
  EXPECT_EQ(problem_for("http://ho$t/"), Lines{at + "invalid URL: invalid host 'ho$t'"});
  EXPECT_EQ(problem_for("http://[::1/"), Lines{at + "invalid URL: unterminated IPv6 address"});
}

TEST(ConfigErrors, UrlProblemsNeverEchoCredentials) {
  const Lines problems = problems_of("services: {chat: {authorizer: 'https://user:hunter2@:8000/'}}");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].find("hunter2"), std::string::npos) << problems[0];
}

TEST(ConfigErrors, EveryCallbackUrlIsChecked) {
  const Lines problems = problems_of(R"(
authentication: {ticket: {validation_url: x, auth_fields: []}}
services:
  s:
    authorizer: x
    before_subscribe: x
    on_subscribe: x
    on_message: x
    before_unsubscribe: x
    on_unsubscribe: x
    on_authorization_change: x
    on_heartbeat: x
)");
  const std::string reason = ": invalid URL: expected http(s)://host[:port]/path";
  EXPECT_EQ(problems, (Lines{"cfg.yaml: authentication.ticket.validation_url" + reason,
                             "cfg.yaml: services.s.authorizer" + reason,
                             "cfg.yaml: services.s.before_subscribe" + reason,
                             "cfg.yaml: services.s.on_subscribe" + reason,
                             "cfg.yaml: services.s.on_message" + reason,
                             "cfg.yaml: services.s.before_unsubscribe" + reason,
                             "cfg.yaml: services.s.on_unsubscribe" + reason,
                             "cfg.yaml: services.s.on_authorization_change" + reason,
                             "cfg.yaml: services.s.on_heartbeat" + reason}));
}

TEST(ConfigErrors, ServiceNameWithDot) {
  EXPECT_EQ(problems_of("services: {chat.room: {}}"),
            Lines{"cfg.yaml: services.chat.room: service name must not contain '.'"});
  EXPECT_EQ(problems_of("services: {'': {}}"), Lines{"cfg.yaml: services.: service name must not be empty"});
}

TEST(ConfigErrors, LogSettings) {
  EXPECT_EQ(problems_of("log: {level: verbose}"),
            Lines{"cfg.yaml: log.level: unknown level 'verbose' (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)"});
  EXPECT_EQ(problems_of("log: {trace_level: TRACE}"),
            Lines{"cfg.yaml: log.trace_level: unknown level 'TRACE' (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)"});
  EXPECT_EQ(problems_of("log: {format: '%(message)s'}"),
            Lines{"cfg.yaml: log.format: expected json or console, got '%(message)s'"});
}

TEST(ConfigErrors, WsSslNeedsCertAndKey) {
  const std::string readable = kSourceDir + "/LICENSE";
  EXPECT_EQ(problems_of("ws_ssl: {cert: " + readable + "}"), Lines{"cfg.yaml: ws_ssl.key: required when cert is set"});
  EXPECT_EQ(problems_of("ws_ssl: {key: " + readable + "}"), Lines{"cfg.yaml: ws_ssl.cert: required when key is set"});
  const Settings s = load("ws_ssl: {cert: " + readable + ", key: " + readable + "}");
  EXPECT_TRUE(s.ws_ssl.enabled());
  EXPECT_EQ(s.ws_ssl.key, readable);
}

TEST(ConfigErrors, TlsFilesMustBeReadable) {
  EXPECT_EQ(problems_of("ws_ssl: {cert: /nonexistent/a.crt, key: /nonexistent/a.key}\n"
                        "http: {ssl_cafile: /nonexistent/ca.pem}"),
            (Lines{"cfg.yaml: ws_ssl.cert: cannot read file '/nonexistent/a.crt'",
                   "cfg.yaml: ws_ssl.key: cannot read file '/nonexistent/a.key'",
                   "cfg.yaml: http.ssl_cafile: cannot read file '/nonexistent/ca.pem'"}));
}

TEST(ConfigEnvironment, UnknownKeyInsideAMapCreatedByAVariableNamesTheVariable) {
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_REDDIS__HOST", "r"}}),
            Lines{"environment SOCKETSHARK_REDDIS__HOST: reddis: unknown key (did you mean 'redis'?)"});
}

TEST(ConfigErrors, RedisCluster) {
  EXPECT_EQ(problems_of("redis: {cluster: {sharded: true}}"),
            Lines{"cfg.yaml: redis.cluster.nodes: required (a list of \"host:port\")"});
  EXPECT_EQ(problems_of("redis: {cluster: {nodes: []}}"),
            Lines{"cfg.yaml: redis.cluster.nodes: must list at least one \"host:port\""});
  EXPECT_EQ(problems_of("redis: {cluster: {nodes: [\"a:1\", redis-2, \":7000\"]}}"),
            (Lines{"cfg.yaml: redis.cluster.nodes[1]: expected host:port, missing port",
                   "cfg.yaml: redis.cluster.nodes[2]: expected host:port, missing host"}));
  EXPECT_EQ(problems_of("redis_alt: {clustr: {}}"),
            Lines{"cfg.yaml: redis_alt.clustr: unknown key (did you mean 'cluster'?)"});
}

TEST(ConfigErrors, LimitsAndPublishApi) {
  EXPECT_EQ(problems_of("limits: {max_connections_per_user: {max: 3}}"),
            Lines{"cfg.yaml: limits.max_connections_per_user.field: required when max is set "
                  "(the auth info field naming the user)"});
  EXPECT_EQ(problems_of("publish_api: {keys: [good, '']}"),
            Lines{"cfg.yaml: publish_api.keys[1]: must not be empty"});
}

TEST(ConfigErrors, TopLevelMustBeAMap) {
  EXPECT_EQ(problems_of("- a\n- b\n"),
            Lines{"cfg.yaml: expected a map of settings at the top level, got a list"});
  EXPECT_EQ(problems_of("just text"),
            Lines{"cfg.yaml: expected a map of settings at the top level, got 'just text'"});
}

TEST(ConfigErrors, YamlSyntaxErrorGivesOneBasedLineAndColumn) {
  EXPECT_EQ(problems_of("ws_host: a\nws_port: [1,\nlog: {}\n"),
            Lines{"cfg.yaml:4:1: end of sequence flow not found"});
  EXPECT_EQ(problems_of("ws_host: a\n  ws_port: 1\n"), Lines{"cfg.yaml:2:10: illegal map value"});
}

TEST(ConfigErrors, MissingFileNamesFileAndReason) {
  try {
    load_settings_file("/nonexistent/socketshark.yaml");
    FAIL() << "no ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems(),
              Lines{"/nonexistent/socketshark.yaml: cannot read file: No such file or directory"});
  }
  try {
    load_settings_file(std::filesystem::temp_directory_path().string());
    FAIL() << "no ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems(), Lines{std::filesystem::temp_directory_path().string() +
                                      ": cannot read file: Is a directory"});
  }
}

TEST(ConfigErrors, ErrorsInAFileNameTheFile) {
  const TempFile file("bad.yaml", "ws_port: 0\n");
  try {
    load_settings_file(file.path());
    FAIL() << "no ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.problems(),
              Lines{file.path() + ": ws_port: must be a port number from 1 to 65535, got 0"});
  }
}

TEST(ConfigErrors, AllProblemsAreReportedTogether) {
  const std::string yaml = R"(
ws_port: 0
ws_prot: 1
log: {format: xml}
http: {tries: 0, timeout: -1}
broker: rabbit
services:
  chat:
    on_mesage: http://x/
    authorizer: ftp://x/
  a.b: {}
authentication: {ticket: {auth_fields: [user_id]}}
)";
  try {
    load(yaml);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& error) {
    const Lines expected = {
        "cfg.yaml: ws_prot: unknown key (did you mean 'ws_port'?)",
        "cfg.yaml: ws_port: must be a port number from 1 to 65535, got 0",
        "cfg.yaml: log.format: expected json or console, got 'xml'",
        "cfg.yaml: http.timeout: must be greater than 0, got -1",
        "cfg.yaml: http.tries: must be at least 1, got 0",
        "cfg.yaml: broker: expected memory or redis, got 'rabbit'",
        "cfg.yaml: authentication.ticket.validation_url: required",
        "cfg.yaml: services.chat.on_mesage: unknown key (did you mean 'on_message'?)",
        "cfg.yaml: services.chat.authorizer: invalid URL: scheme must be http or https, got 'ftp'",
        "cfg.yaml: services.a.b: service name must not contain '.'",
    };
    EXPECT_EQ(error.problems(), expected);
    // what() carries the same lines, one per line, for a plain `catch (std::exception&)`.
    std::string joined;
    for (const auto& line : expected) joined += (joined.empty() ? "" : "\n") + line;
    EXPECT_EQ(std::string(error.what()), joined);
  }
}

// ---------------------------------------------------------------------------
// Environment overrides

TEST(ConfigEnvironment, OverridesScalarsAndCreatesSections) {
  const Settings s = load("ws_port: 9000\nredis: {host: localhost, port: 6379}\n",
                          {{"SOCKETSHARK_REDIS__HOST", "redis"},
                           {"SOCKETSHARK_WS_PORT", "9001"},
                           {"SOCKETSHARK_HTTP__WAIT", "0.5"},
                           {"SOCKETSHARK_LOG__FORMAT", "console"},
                           {"SOCKETSHARK_SHUTDOWN__DRAIN_SECONDS", "2.5"}});
  EXPECT_EQ(s.redis.host, "redis");
  EXPECT_EQ(s.redis.port, 6379);
  EXPECT_EQ(s.ws_port, 9001);
  EXPECT_DOUBLE_EQ(s.http.wait, 0.5);
  EXPECT_EQ(s.log.format, "console");
  EXPECT_DOUBLE_EQ(s.shutdown.drain_seconds, 2.5);
}

TEST(ConfigEnvironment, NestedServiceKeys) {
  const Settings s = load("services:\n  chat:\n    require_authentication: false\n",
                          {{"SOCKETSHARK_SERVICES__CHAT__ON_MESSAGE", "http://chat:8000/on_message/"},
                           {"SOCKETSHARK_SERVICES__CHAT__HEARTBEAT_PERIOD", "0.1"},
                           {"SOCKETSHARK_SERVICES__NEWS__REQUIRE_AUTHENTICATION", "false"}});
  const ServiceSettings& chat = s.services.at("chat");
  EXPECT_FALSE(chat.require_authentication);  // from the file, kept
  EXPECT_EQ(chat.on_message, "http://chat:8000/on_message/");
  EXPECT_DOUBLE_EQ(*chat.heartbeat_period, 0.1);
  ASSERT_EQ(s.services.count("news"), 1u);  // created by the environment
  EXPECT_FALSE(s.services.at("news").require_authentication);
}

TEST(ConfigEnvironment, KeysMatchExistingSpellingCaseInsensitively) {
  const Settings s = load("services:\n  MyService: {}\n",
                          {{"SOCKETSHARK_SERVICES__MYSERVICE__ON_MESSAGE", "http://s/"}});
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services.at("MyService").on_message, "http://s/");
}

TEST(ConfigEnvironment, ListsMapsAndNull) {
  const Settings s = load("redis: {password: secret}\nservices: {chat: {extra_fields: [a]}}\n",
                          {{"SOCKETSHARK_SERVICES__CHAT__EXTRA_FIELDS", "[org_id, team_id]"},
                           {"SOCKETSHARK_REDIS__PASSWORD", "null"},
                           {"SOCKETSHARK_PUBLISH_API__KEYS", "[k1, k2]"},
                           {"SOCKETSHARK_REDIS__CLUSTER", "{nodes: [\"r1:7000\"], sharded: true}"}});
  EXPECT_EQ(s.services.at("chat").extra_fields, (Lines{"org_id", "team_id"}));
  EXPECT_FALSE(s.redis.password.has_value());
  EXPECT_EQ(s.publish_api.keys, (Lines{"k1", "k2"}));
  EXPECT_EQ(s.redis.cluster->nodes, Lines{"r1:7000"});
}

TEST(ConfigEnvironment, NullSectionInFileBecomesAMap) {
  const Settings s = load("redis_alt: null\n", {{"SOCKETSHARK_REDIS_ALT__HOST", "old"}});
  ASSERT_TRUE(s.redis_alt.has_value());
  EXPECT_EQ(s.redis_alt->host, "old");
}

TEST(ConfigEnvironment, TextThatIsNotYamlStaysAString) {
  const Settings s = load("", {{"SOCKETSHARK_REDIS__PASSWORD", "*not-an-alias"}});
  EXPECT_EQ(s.redis.password, "*not-an-alias");
}

TEST(ConfigEnvironment, BadValueNamesTheVariable) {
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_REDIS__PORT", "abc"}}),
            Lines{"environment SOCKETSHARK_REDIS__PORT: redis.port: expected an integer port, got 'abc'"});
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_HTTP__TRIES", "0"}}),
            Lines{"environment SOCKETSHARK_HTTP__TRIES: http.tries: must be at least 1, got 0"});
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_REDIS", "{hots: r}"}}),
            Lines{"environment SOCKETSHARK_REDIS: redis.hots: unknown key (did you mean 'host'?)"});
}

TEST(ConfigEnvironment, UnknownVariableNamesTheVariable) {
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_REDIS__HSOT", "r"}}),
            Lines{"environment SOCKETSHARK_REDIS__HSOT: redis.hsot: unknown key (did you mean 'host'?)"});
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_WS_PROT", "1"}}),
            Lines{"environment SOCKETSHARK_WS_PROT: ws_prot: unknown key (did you mean 'ws_port'?)"});
}

TEST(ConfigEnvironment, ForeignVariablesAreIgnoredAndListed) {
  // Kubernetes service links and test runners set SOCKETSHARK_* variables of their own.
  const Environment env{{"SOCKETSHARK_PORT", "tcp://10.0.0.1:9000"},
                        {"SOCKETSHARK_SERVICE_HOST", "10.0.0.1"},
                        {"SOCKETSHARK_BINARY", "/usr/bin/socketshark"},
                        {"SOCKETSHARK_WS_PORT", "9100"}};
  const Settings s = load_settings_from_string("", "cfg.yaml", env);
  EXPECT_EQ(s.ws_port, 9100);
  EXPECT_EQ(s.ignored_environment,
            (std::vector<std::string>{"SOCKETSHARK_BINARY", "SOCKETSHARK_PORT", "SOCKETSHARK_SERVICE_HOST"}));
}

TEST(ConfigEnvironment, StructuralProblems) {
  EXPECT_EQ(problems_of("ws_host: a\n", {{"SOCKETSHARK_WS_HOST__X", "1"}}),
            Lines{"environment SOCKETSHARK_WS_HOST__X: ws_host: cannot set a key inside 'a'"});
  EXPECT_EQ(problems_of("", {{"SOCKETSHARK_REDIS____HOST", "r"}}),
            Lines{"environment SOCKETSHARK_REDIS____HOST: cannot map the name to a key path "
                  "(empty key around '__')"});
}

TEST(ConfigEnvironment, FileProblemsStillNameTheFile) {
  EXPECT_EQ(problems_of("redis: {port: 0}\n", {{"SOCKETSHARK_REDIS__HOST", "r"}}),
            Lines{"cfg.yaml: redis.port: must be a port number from 1 to 65535, got 0"});
}

TEST(ConfigEnvironment, ProcessEnvironmentKeepsOnlySocketSharkVariables) {
  ::setenv("SOCKETSHARK_TEST_ONLY__X", "42", 1);
  ::setenv("NOT_SOCKETSHARK_TEST_ONLY", "1", 1);
  const Environment env = process_environment();
  ::unsetenv("SOCKETSHARK_TEST_ONLY__X");
  ::unsetenv("NOT_SOCKETSHARK_TEST_ONLY");
  ASSERT_EQ(env.count("SOCKETSHARK_TEST_ONLY__X"), 1u);
  EXPECT_EQ(env.at("SOCKETSHARK_TEST_ONLY__X"), "42");
  for (const auto& [name, value] : env) EXPECT_EQ(name.rfind("SOCKETSHARK_", 0), 0u) << name;
}

// ---------------------------------------------------------------------------
// SocketShark's example_config.py, translated key by key

TEST(ConfigSocketSharkExample, TranslatedExampleLoads) {
  const Settings s = load(R"(
ws_host: "127.0.0.1"
ws_port: "9000"
redis:
  host: localhost
  port: 6379
metrics:
  prometheus:
    port: 9090
authentication:
  ticket:
    validation_url: "http://auth-service/auth/ticket/"
    auth_fields: [session_id, user_id]
services:
  my_service:
    require_authentication: true
    authorizer: "http://auth-service/auth/authorizer/"
    authorizer_fields: [capabilities]
    authorization_renewal_period: 300
    authorization_renewal_jitter: 30
    extra_fields: [organization_id]
    filter_fields: [user_id]
    before_subscribe: "http://my-service/subscribe/"
    before_unsubscribe: "http://my-service/unsubscribe/"
    on_subscribe: "http://my-service/on_subscribe/"
    on_unsubscribe: "http://my-service/on_unsubscribe/"
    on_message: "http://my-service/on_message/"
    heartbeat_period: 30
    on_heartbeat: "http://my-service/on_heartbeat/"
)");
  EXPECT_EQ(s.ws_host, "127.0.0.1");
  EXPECT_EQ(s.ws_port, 9000);
  EXPECT_EQ(s.broker, BrokerKind::redis);
  EXPECT_EQ(s.redis.host, "localhost");
  EXPECT_EQ(s.redis.port, 6379);
  ASSERT_TRUE(s.metrics.prometheus.has_value());
  EXPECT_EQ(s.metrics.prometheus->host, "");
  EXPECT_EQ(s.metrics.prometheus->port, 9090);
  EXPECT_EQ(s.authentication.ticket->validation_url, "http://auth-service/auth/ticket/");
  EXPECT_EQ(s.authentication.ticket->auth_fields, (Lines{"session_id", "user_id"}));
  ASSERT_EQ(s.services.size(), 1u);
  const ServiceSettings& service = s.services.at("my_service");
  EXPECT_TRUE(service.require_authentication);
  EXPECT_EQ(service.authorizer, "http://auth-service/auth/authorizer/");
  EXPECT_EQ(service.authorizer_fields, Lines{"capabilities"});
  EXPECT_EQ(service.authorization_renewal_period, 300);
  EXPECT_EQ(service.authorization_renewal_jitter, 30);
  EXPECT_EQ(service.extra_fields, Lines{"organization_id"});
  EXPECT_EQ(service.filter_fields, Lines{"user_id"});
  EXPECT_EQ(service.before_subscribe, "http://my-service/subscribe/");
  EXPECT_EQ(service.before_unsubscribe, "http://my-service/unsubscribe/");
  EXPECT_EQ(service.on_subscribe, "http://my-service/on_subscribe/");
  EXPECT_EQ(service.on_unsubscribe, "http://my-service/on_unsubscribe/");
  EXPECT_EQ(service.on_message, "http://my-service/on_message/");
  EXPECT_FALSE(service.on_authorization_change.has_value());
  EXPECT_EQ(service.heartbeat_period, 30);
  EXPECT_EQ(service.on_heartbeat, "http://my-service/on_heartbeat/");
  // Everything the example leaves out keeps SocketShark's defaults.
  EXPECT_EQ(s.ws_ping.interval, 15);
  EXPECT_EQ(s.http.tries, 3);
  EXPECT_EQ(s.redis.ping_interval, 10);
}

// ---------------------------------------------------------------------------
// Shipped files

TEST(ConfigShippedFiles, ExampleYamlLoadsWithEveryDocumentedValue) {
  const Settings s = load_settings_file(kSourceDir + "/config/example.yaml");
  EXPECT_EQ(s.broker, BrokerKind::redis);
  EXPECT_EQ(s.ws_port, 9000);
  EXPECT_FALSE(s.ws_ssl.enabled());
  EXPECT_EQ(s.log.format, "json");
  ASSERT_TRUE(s.metrics.prometheus.has_value());
  EXPECT_EQ(s.metrics.prometheus->port, 9090);
  EXPECT_TRUE(s.metrics.log);
  EXPECT_EQ(s.http.rate_limit_reset_header_names, Lines{"X-Rate-Limit-Reset"});
  EXPECT_FALSE(s.redis_alt.has_value());
  ASSERT_TRUE(s.authentication.ticket.has_value());
  EXPECT_EQ(s.authentication.ticket->validation_url, "http://127.0.0.1:8000/auth/ticket/");
  EXPECT_FALSE(s.authentication.jwt.has_value());
  ASSERT_EQ(s.services.count("my_service"), 1u);
  const ServiceSettings& service = s.services.at("my_service");
  EXPECT_TRUE(service.authorizer && service.before_subscribe && service.on_subscribe &&
              service.on_message && service.before_unsubscribe && service.on_unsubscribe &&
              service.on_authorization_change && service.on_heartbeat);
  EXPECT_EQ(service.authorization_renewal_period, 300);
  EXPECT_EQ(service.heartbeat_period, 30);
  EXPECT_FALSE(s.services.at("public_news").require_authentication);
  EXPECT_TRUE(s.publish_api.keys.empty());
  EXPECT_EQ(s.limits.send_buffer_bytes, 4194304u);
}

TEST(ConfigShippedFiles, ExampleYamlMentionsEveryKey) {
  // "covering every key": each key the loader knows appears in the example.
  const std::string text = read_text(kSourceDir + "/config/example.yaml");
  for (const char* key :
       {"ws_host", "ws_port", "ws_ssl", "cert", "key", "ws_ping", "interval", "timeout", "log",
        "level", "format", "trace_level", "metrics", "prometheus", "host", "port", "http", "tries",
        "wait", "ssl_cafile", "rate_limit_reset_header_names", "rate_limit_reset_header_name",
        "broker", "redis", "db", "password", "channel_prefix", "ping_interval", "ping_timeout",
        "cluster", "nodes", "sharded", "redis_alt", "authentication", "ticket", "validation_url",
        "auth_fields", "jwt", "secret", "public_key_file", "algorithms", "audience", "issuer",
        "leeway", "services", "require_authentication", "authorizer", "authorizer_fields",
        "authorization_renewal_period", "authorization_renewal_jitter", "extra_fields",
        "filter_fields", "before_subscribe", "on_subscribe", "on_message", "before_unsubscribe",
        "on_unsubscribe", "on_authorization_change", "heartbeat_period", "on_heartbeat",
        "publish_api", "keys", "max_body_bytes", "limits", "max_message_bytes",
        "max_subscriptions_per_session", "max_connections", "max_connections_per_user", "field",
        "max", "client_rate", "rate", "burst", "send_buffer_bytes", "handshake_timeout",
        "auth_timeout", "shutdown", "drain_seconds"}) {
    EXPECT_NE(text.find(std::string(key) + ":"), std::string::npos) << key;
  }
}

TEST(ConfigShippedFiles, DevYamlLoads) {
  const Settings s = load_settings_file(kSourceDir + "/config/dev.yaml");
  EXPECT_EQ(s.broker, BrokerKind::memory);
  EXPECT_EQ(s.ws_host, "127.0.0.1");
  EXPECT_EQ(s.ws_port, 9000);
  EXPECT_EQ(s.log.format, "console");
  ASSERT_TRUE(s.metrics.prometheus.has_value());
  EXPECT_EQ(s.metrics.prometheus->host, "127.0.0.1");
  EXPECT_EQ(s.metrics.prometheus->port, 9090);
  ASSERT_EQ(s.services.size(), 1u);
  const ServiceSettings& demo = s.services.at("demo");
  EXPECT_FALSE(demo.require_authentication);
  EXPECT_FALSE(demo.authorizer || demo.before_subscribe || demo.on_subscribe || demo.on_message ||
               demo.before_unsubscribe || demo.on_unsubscribe || demo.on_authorization_change ||
               demo.on_heartbeat);
}

TEST(ConfigShippedFiles, EmbeddedDefaultIsDevYaml) {
  EXPECT_EQ(std::string(embedded_default_yaml()), read_text(kSourceDir + "/config/dev.yaml"));
}

TEST(ConfigShippedFiles, DefaultSettingsAreDevYamlWithEnvironment) {
  const Settings s = default_settings({{"SOCKETSHARK_WS_PORT", "9100"}});
  EXPECT_EQ(s.broker, BrokerKind::memory);
  EXPECT_EQ(s.ws_port, 9100);
  EXPECT_EQ(s.services.count("demo"), 1u);
}

}  // namespace
}  // namespace socketshark::config
