// YAML file + SOCKETSHARK_* environment -> validated Settings (SPEC §5, §7).
//
// Loading never stops at the first problem: every key is read, every problem
// is collected as "<source>: <key.path>: <reason>", and one ConfigError
// carries them all, so an operator fixes a config in one pass.
#include "socketshark/config/loader.hpp"

#include <fstream>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>

#include "socketshark/util/logging.hpp"

extern char** environ;

namespace socketshark::config {

namespace {

constexpr std::string_view kEnvPrefix = "SOCKETSHARK_";
constexpr std::string_view kEnvSeparator = "__";
// Bounds every duration so that converting it to a timer can never overflow.
constexpr double kMaxDurationSeconds = 1e9;

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string to_upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string joined;
  for (const auto& line : lines) {
    if (!joined.empty()) joined += '\n';
    joined += line;
  }
  return joined;
}

// ---------------------------------------------------------------------------
// Key paths and problem collection

std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

std::string item_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

bool is_path_prefix(std::string_view prefix, std::string_view path) {
  if (!path.starts_with(prefix)) return false;
  if (path.size() == prefix.size()) return true;
  const char next = path[prefix.size()];
  return next == '.' || next == '[';
}

// Each problem stays on one line whatever the YAML held (multi-line keys or values).
std::string one_line(std::string text) {
  std::string out;
  for (const char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// An unknown key is echoed, but a runaway one (a mis-indented block read as
// one long key) is cut short.
std::string shortened(std::string_view key) {
  constexpr std::size_t kMaxShown = 60;
  if (key.size() <= kMaxShown) return std::string(key);
  return std::string(key.substr(0, kMaxShown)) + "...";
}

// Key path -> the SOCKETSHARK_* variable that set it, so that a problem in a
// value from the environment names the variable rather than the file.
using EnvOrigins = std::map<std::string, std::string>;

class Problems {
 public:
  Problems(std::string source, const EnvOrigins& origins)
      : source_(std::move(source)), origins_(origins) {}

  void add(std::string_view path, std::string_view reason) {
    if (const std::string* variable = origin_of(path)) {
      add_line("environment " + *variable + ": " + std::string(path) + ": " + std::string(reason));
    } else if (path.empty()) {
      add_line(source_ + ": " + std::string(reason));
    } else {
      add_line(source_ + ": " + std::string(path) + ": " + std::string(reason));
    }
  }

  void add_line(std::string line) { lines_.push_back(one_line(std::move(line))); }

  const std::string& source() const { return source_; }
  bool empty() const { return lines_.empty(); }
  std::vector<std::string> take() { return std::move(lines_); }

 private:
  const std::string* origin_of(std::string_view path) const {
    const std::string* best = nullptr;
    std::size_t best_length = 0;
    for (const auto& [origin_path, variable] : origins_) {
      if (is_path_prefix(origin_path, path) && (!best || origin_path.size() > best_length)) {
        best = &variable;
        best_length = origin_path.size();
      }
    }
    return best;
  }

  std::string source_;
  const EnvOrigins& origins_;
  std::vector<std::string> lines_;
};

// ---------------------------------------------------------------------------
// "did you mean" for unknown keys

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string_view> closest_key(std::string_view unknown,
                                            const std::vector<std::string_view>& known) {
  // Compared in lower case so that SocketShark's upper-case names (WS_PORT) are recognised.
  const std::string needle = to_lower(unknown);
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : known) {
    const std::size_t distance = edit_distance(needle, candidate);
    const std::size_t tolerated = std::max<std::size_t>(2, candidate.size() / 3);
    if (distance <= tolerated && distance < candidate.size() && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string unknown_key_reason(std::string_view key, const std::vector<std::string_view>& known) {
  if (auto suggestion = closest_key(key, known)) {
    return "unknown key (did you mean '" + std::string(*suggestion) + "'?)";
  }
  return "unknown key";
}

// ---------------------------------------------------------------------------
// Scalars as YAML 1.2's core schema reads them

// Plain (unquoted, untagged) scalars may be numbers, booleans or null;
// quoted or tagged ones are always strings.
bool is_plain(const YAML::Node& node) { return node.Tag() == "?"; }

// Undefined nodes (missed lookups) throw on Type(): always test IsDefined() first.
bool is_set(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// yaml-cpp has no public constructor for an undefined node; a missed const lookup gives one.
YAML::Node undefined_node() {
  const YAML::Node empty_map(YAML::NodeType::Map);
  return empty_map["absent"];
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  std::string text = node.Scalar();
  if (text.size() > 40) text = text.substr(0, 40) + "...";
  return "'" + text + "'";
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c); });
}

std::optional<long long> parse_integer_text(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const std::string_view digits = (!text.empty() && text.front() == '-') ? text.substr(1) : text;
  if (!all_digits(digits)) return std::nullopt;
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )?
bool looks_like_decimal(std::string_view text) {
  std::size_t i = 0;
  auto digits_from = [&](std::size_t start) {
    std::size_t end = start;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    return end;
  };
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  const std::size_t integer_end = digits_from(i);
  bool has_digits = integer_end > i;
  i = integer_end;
  if (i < text.size() && text[i] == '.') {
    const std::size_t fraction_end = digits_from(i + 1);
    has_digits = has_digits || fraction_end > i + 1;
    i = fraction_end;
  }
  if (!has_digits) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const std::size_t exponent_end = digits_from(i);
    if (exponent_end == i) return false;
    i = exponent_end;
  }
  return i == text.size();
}

std::optional<double> parse_number(const YAML::Node& node) {
  if (!node.IsScalar() || !is_plain(node)) return std::nullopt;
  std::string_view text = node.Scalar();
  if (!looks_like_decimal(text)) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(const YAML::Node& node) {
  if (!node.IsScalar() || !is_plain(node)) return std::nullopt;
  // YAML 1.2 true/false, plus the yes/no/on/off that yaml-cpp and YAML 1.1 users expect.
  const std::string text = to_lower(node.Scalar());
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// URLs: scheme://[user[:password]@]host[:port][/path][?query][#fragment]

std::optional<std::string> port_problem(std::string_view port) {
  const auto value = all_digits(port) ? parse_integer_text(port) : std::nullopt;
  if (!value || *value < 1 || *value > 65535) {
    return "invalid port '" + std::string(port) + "' (expected 1 to 65535)";
  }
  return std::nullopt;
}

// Checks "host:port" or "[v6]:port" (also the authority of a URL when
// `port_required` is false); returns the reason it is not valid.
std::optional<std::string> host_port_problem(std::string_view authority, bool port_required) {
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 address";
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "unexpected text after the IPv6 address";
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return "missing host";
  const bool host_chars_ok = std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || c == '%' || c == ':';
  });
  if (!host_chars_ok) return "invalid host '" + std::string(host) + "'";
  if (port) return port_problem(*port);
  if (port_required) return "missing port";
  return std::nullopt;
}

std::optional<std::string> url_problem(std::string_view url) {
  const bool has_blank = std::any_of(url.begin(), url.end(), [](unsigned char c) {
    return c <= ' ' || c == 0x7f;
  });
  if (has_blank) return "invalid URL: contains spaces or control characters";
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return "invalid URL: expected http(s)://host[:port]/path";
  }
  const std::string scheme = to_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return "invalid URL: scheme must be http or https, got '" + scheme + "'";
  }
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // Credentials are allowed (sent as Basic auth) and must never be echoed.
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (auto problem = host_port_problem(authority, false)) return "invalid URL: " + *problem;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Reading typed values out of one YAML map

enum class NullMeans { keep_default, zero };

struct Minimum {
  double value;
  bool inclusive;
};
constexpr Minimum kPositive{0, false};
constexpr Minimum kNonNegative{0, true};

std::string format_number(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string minimum_reason(Minimum minimum) {
  if (!minimum.inclusive) return "must be greater than " + format_number(minimum.value);
  if (minimum.value == 0) return "must be 0 or more";
  return "must be at least " + format_number(minimum.value);
}

bool satisfies(double value, Minimum minimum) {
  return minimum.inclusive ? value >= minimum.value : value > minimum.value;
}

// Calls visit(key_text, value) for each entry of a map node, reporting keys
// that are not strings and duplicates (yaml-cpp keeps both silently).
template <class Visit>
void for_each_entry(const YAML::Node& map, const std::string& path, Problems& problems,
                    Visit visit) {
  std::vector<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      problems.add(path, "keys must be strings, got " + describe(entry.first));
      continue;
    }
    const std::string& key = entry.first.Scalar();
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      problems.add(child_path(path, key), "duplicate key");
      continue;
    }
    seen.push_back(key);
    visit(key, entry.second);
  }
}

// One map of the configuration with the keys it may hold. Absent and null
// maps read as empty, so every value keeps its default.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path, std::vector<std::string_view> known,
            Problems& problems)
      : path_(std::move(path)), problems_(problems) {
    if (!is_set(node)) return;
    if (!node.IsMap()) {
      problems_.add(path_, "expected a map, got " + describe(node));
      return;
    }
    node_.reset(node);
    for_each_entry(node, path_, problems_, [&](const std::string& key, const YAML::Node&) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        problems_.add(child_path(path_, shortened(key)), unknown_key_reason(key, known));
      }
    });
  }

  std::string path_of(std::string_view key) const { return child_path(path_, key); }
  Problems& problems() const { return problems_; }

  // An undefined node when the key is absent (a default Node would read as null).
  YAML::Node get(std::string_view key) const {
    if (!node_.IsMap()) return undefined_node();
    const YAML::Node& map = node_;  // const lookup never inserts
    return map[std::string(key)];
  }
  // Present, null included.
  bool present(std::string_view key) const { return get(key).IsDefined(); }
  // Present and not null.
  bool has(std::string_view key) const { return is_set(get(key)); }

  MapReader section(std::string_view key, std::vector<std::string_view> known) const {
    return MapReader(get(key), path_of(key), std::move(known), problems_);
  }

  // Strings accept any scalar: a numeric password or prefix is still text.
  bool read_string(std::string_view key, std::string& out) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) return false;
    if (!node.IsScalar()) return fail(key, "expected a string, got " + describe(node));
    out = node.Scalar();
    return true;
  }

  void read_string(std::string_view key, std::optional<std::string>& out) const {
    std::string value;
    if (read_string(key, value)) out = std::move(value);
  }

  void read_bool(std::string_view key, bool& out) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) return;
    if (auto value = parse_bool(node)) {
      out = *value;
    } else {
      fail(key, "expected true or false, got " + describe(node));
    }
  }

  // Seconds; `null_means` zero is for intervals where null disables.
  bool read_seconds(std::string_view key, double& out, Minimum minimum,
                    NullMeans null_means = NullMeans::keep_default) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) {
      if (present(key) && null_means == NullMeans::zero) out = 0;
      return false;
    }
    const auto value = parse_number(node);
    if (!value) return fail(key, "expected a number of seconds, got " + describe(node));
    if (!satisfies(*value, minimum)) return fail(key, minimum_reason(minimum) + ", got " + node.Scalar());
    if (*value > kMaxDurationSeconds) {
      return fail(key, "must be at most " + format_number(kMaxDurationSeconds) + ", got " + node.Scalar());
    }
    out = *value;
    return true;
  }

  void read_seconds(std::string_view key, std::optional<double>& out, Minimum minimum) const {
    double value = 0;
    if (read_seconds(key, value, minimum)) out = value;
  }

  // A plain number such as a rate, which needs no upper bound.
  void read_number(std::string_view key, double& out, Minimum minimum, NullMeans null_means) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) {
      if (present(key) && null_means == NullMeans::zero) out = 0;
      return;
    }
    const auto value = parse_number(node);
    if (!value) {
      fail(key, "expected a number, got " + describe(node));
    } else if (!satisfies(*value, minimum)) {
      fail(key, minimum_reason(minimum) + ", got " + node.Scalar());
    } else {
      out = *value;
    }
  }

  template <class Integer>
  void read_integer(std::string_view key, Integer& out, long long minimum,
                    NullMeans null_means = NullMeans::keep_default) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) {
      if (present(key) && null_means == NullMeans::zero) out = 0;
      return;
    }
    const auto value = (node.IsScalar() && is_plain(node)) ? parse_integer_text(node.Scalar())
                                                           : std::nullopt;
    if (!value) {
      fail(key, "expected an integer, got " + describe(node));
    } else if (*value < minimum) {
      fail(key, minimum_reason({static_cast<double>(minimum), true}) + ", got " + node.Scalar());
    } else if (static_cast<unsigned long long>(*value) >
               static_cast<unsigned long long>(std::numeric_limits<Integer>::max())) {
      fail(key, "is too large, got " + node.Scalar());
    } else {
      out = static_cast<Integer>(*value);
    }
  }

  // Ports may be quoted: SocketShark's own example has WS_PORT = "9000".
  void read_port(std::string_view key, std::uint16_t& out) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) return;
    const auto value = node.IsScalar() ? parse_integer_text(node.Scalar()) : std::nullopt;
    if (!value) {
      fail(key, "expected an integer port, got " + describe(node));
    } else if (*value < 1 || *value > 65535) {
      fail(key, "must be a port number from 1 to 65535, got " + node.Scalar());
    } else {
      out = static_cast<std::uint16_t>(*value);
    }
  }

  bool read_string_list(std::string_view key, std::vector<std::string>& out) const {
    const YAML::Node node = get(key);
    if (!is_set(node)) return false;
    if (!node.IsSequence()) return fail(key, "expected a list, got " + describe(node));
    std::vector<std::string> values;
    bool valid = true;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      if (!is_set(item) || !item.IsScalar()) {
        problems_.add(item_path(path_of(key), i), "expected a string, got " + describe(item));
        valid = false;
      } else {
        values.push_back(item.Scalar());
      }
    }
    if (valid) out = std::move(values);
    return valid;
  }

  void read_url(std::string_view key, std::optional<std::string>& out) const {
    std::string url;
    if (!read_string(key, url)) return;
    if (auto problem = url_problem(url)) {
      fail(key, *problem);
    } else {
      out = std::move(url);
    }
  }

  // Returns false so that readers can `return fail(...)`.
  bool fail(std::string_view key, std::string_view reason) const {
    problems_.add(path_of(key), reason);
    return false;
  }

 private:
  YAML::Node node_;
  std::string path_;
  Problems& problems_;
};

// ---------------------------------------------------------------------------
// Sections

void read_ws_ssl(const MapReader& reader, WsSsl& out) {
  reader.read_string("cert", out.cert);
  reader.read_string("key", out.key);
  if (!out.cert.empty() && out.key.empty()) reader.fail("key", "required when cert is set");
  if (out.cert.empty() && !out.key.empty()) reader.fail("cert", "required when key is set");
  // Found by --check rather than at the first TLS handshake.
  for (auto [key, file] : {std::pair{"cert", &out.cert}, std::pair{"key", &out.key}})
    if (!file->empty() && !std::ifstream(*file)) reader.fail(key, "cannot read file '" + *file + "'");
}

void read_ws_ping(const MapReader& reader, WsPing& out) {
  reader.read_seconds("interval", out.interval, kNonNegative, NullMeans::zero);
  if (reader.read_seconds("timeout", out.timeout, kNonNegative) && out.interval > 0 &&
      out.timeout <= 0) {
    reader.fail("timeout", "must be greater than 0 when interval is set");
  }
}

void read_level(const MapReader& reader, std::string_view key, std::string& out) {
  std::string level;
  if (!reader.read_string(key, level)) return;
  if (!log::valid_level_name(level)) {
    reader.fail(key, "unknown level '" + level + "' (expected DEBUG, INFO, WARNING, ERROR or CRITICAL)");
    return;
  }
  out = to_upper(level);
  if (out == "WARN") out = "WARNING";
}

void read_log(const MapReader& reader, LogSettings& out) {
  read_level(reader, "level", out.level);
  read_level(reader, "trace_level", out.trace_level);
  std::string format;
  if (reader.read_string("format", format)) {
    if (format == "json" || format == "console") {
      out.format = format;
    } else {
      reader.fail("format", "expected json or console, got '" + format + "'");
    }
  }
}

void read_metrics(const MapReader& reader, MetricsSettings& out) {
  if (reader.has("prometheus")) {
    const MapReader prometheus = reader.section("prometheus", {"host", "port"});
    PrometheusSettings settings;
    prometheus.read_string("host", settings.host);
    prometheus.read_port("port", settings.port);
    out.prometheus = settings;
  }
  if (reader.has("log")) {
    reader.section("log", {});  // the log provider takes no settings; reports any key
    out.log = true;
  }
}

void read_http(const MapReader& reader, HttpSettings& out) {
  reader.read_seconds("timeout", out.timeout, kPositive);
  reader.read_integer("tries", out.tries, 1);
  reader.read_seconds("wait", out.wait, kNonNegative);
  reader.read_string("ssl_cafile", out.ssl_cafile);
  if (out.ssl_cafile && !std::ifstream(*out.ssl_cafile))
    reader.fail("ssl_cafile", "cannot read file '" + *out.ssl_cafile + "'");
  // SocketShark: names = rate_limit_reset_header_names or [rate_limit_reset_header_name]
  std::vector<std::string> names;
  std::string deprecated_name;
  reader.read_string_list("rate_limit_reset_header_names", names);
  if (!names.empty()) {
    out.rate_limit_reset_header_names = std::move(names);
  } else if (reader.read_string("rate_limit_reset_header_name", deprecated_name)) {
    out.rate_limit_reset_header_names = {deprecated_name};
  }
}

void read_cluster(const MapReader& reader, RedisCluster& out) {
  reader.read_bool("sharded", out.sharded);
  if (!reader.has("nodes")) {
    reader.fail("nodes", "required (a list of \"host:port\")");
    return;
  }
  if (!reader.read_string_list("nodes", out.nodes)) return;
  if (out.nodes.empty()) reader.fail("nodes", "must list at least one \"host:port\"");
  for (std::size_t i = 0; i < out.nodes.size(); ++i) {
    if (auto problem = host_port_problem(out.nodes[i], true)) {
      reader.problems().add(item_path(reader.path_of("nodes"), i),
                            "expected host:port, " + *problem);
    }
  }
}

const std::vector<std::string_view> kRedisKeys = {
    "host", "port", "db", "password", "channel_prefix", "ping_interval", "ping_timeout", "cluster"};

void read_redis(const MapReader& reader, RedisSettings& out) {
  reader.read_string("host", out.host);
  reader.read_port("port", out.port);
  reader.read_integer("db", out.db, 0);
  reader.read_string("password", out.password);
  reader.read_string("channel_prefix", out.channel_prefix);
  reader.read_seconds("ping_interval", out.ping_interval, kNonNegative, NullMeans::zero);
  if (reader.read_seconds("ping_timeout", out.ping_timeout, kNonNegative) &&
      out.ping_interval > 0 && out.ping_timeout <= 0) {
    reader.fail("ping_timeout", "must be greater than 0 when ping_interval is set");
  }
  if (reader.has("cluster")) {
    RedisCluster cluster;
    read_cluster(reader.section("cluster", {"nodes", "sharded"}), cluster);
    out.cluster = std::move(cluster);
  }
}

void read_broker(const MapReader& reader, bool has_redis_section, BrokerKind& out) {
  out = has_redis_section ? BrokerKind::redis : BrokerKind::memory;
  std::string broker;
  if (!reader.read_string("broker", broker)) return;
  if (broker == "memory") {
    out = BrokerKind::memory;
  } else if (broker == "redis") {
    out = BrokerKind::redis;
  } else {
    reader.fail("broker", "expected memory or redis, got '" + broker + "'");
  }
}

void read_ticket(const MapReader& reader, TicketAuth& out) {
  std::optional<std::string> url;
  if (reader.has("validation_url")) {
    reader.read_url("validation_url", url);
  } else {
    reader.fail("validation_url", "required");
  }
  if (url) out.validation_url = *url;
  if (!reader.has("auth_fields")) {
    reader.fail("auth_fields", "required (the fields the validation endpoint returns)");
  } else {
    reader.read_string_list("auth_fields", out.auth_fields);
  }
}

const std::vector<std::string_view> kJwtAlgorithms = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384"};

void read_jwt_algorithms(const MapReader& reader, JwtAuth& out) {
  if (!reader.has("algorithms")) {
    reader.fail("algorithms", "required (e.g. [HS256])");
    return;
  }
  std::vector<std::string> algorithms;
  if (!reader.read_string_list("algorithms", algorithms)) return;
  if (algorithms.empty()) {
    reader.fail("algorithms", "must list at least one algorithm");
    return;
  }
  bool valid = true;
  for (std::size_t i = 0; i < algorithms.size(); ++i) {
    const std::string& algorithm = algorithms[i];
    const std::string path = item_path(reader.path_of("algorithms"), i);
    if (to_lower(algorithm) == "none") {
      reader.problems().add(path, "'none' is never accepted");
      valid = false;
    } else if (std::find(kJwtAlgorithms.begin(), kJwtAlgorithms.end(), algorithm) ==
               kJwtAlgorithms.end()) {
      reader.problems().add(path, "unknown algorithm '" + algorithm +
                                      "' (allowed: HS256 HS384 HS512 RS256 RS384 RS512 ES256 ES384)");
      valid = false;
    }
  }
  if (valid) out.algorithms = std::move(algorithms);
}

std::optional<std::string> read_whole_file(const std::string& path, std::string& error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  std::string contents;
  char buffer[8192];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file)) > 0) contents.append(buffer, count);
  const bool failed = std::ferror(file);
  const int read_errno = errno;
  std::fclose(file);
  if (failed) {
    error = std::strerror(read_errno);
    return std::nullopt;
  }
  return contents;
}

void read_jwt_auth_fields(const MapReader& reader, JwtAuth& out) {
  const YAML::Node node = reader.get("auth_fields");
  if (!is_set(node)) {
    reader.fail("auth_fields", "required (claims copied to auth info, a list or a map field: claim)");
    return;
  }
  if (node.IsSequence()) {
    std::vector<std::string> fields;
    if (!reader.read_string_list("auth_fields", fields)) return;
    for (auto& field : fields) out.auth_fields.emplace_back(field, field);
  } else if (node.IsMap()) {
    const std::string path = reader.path_of("auth_fields");
    for_each_entry(node, path, reader.problems(), [&](const std::string& field, const YAML::Node& claim) {
      if (!is_set(claim) || !claim.IsScalar()) {
        reader.problems().add(child_path(path, field), "expected a claim name, got " + describe(claim));
      } else {
        out.auth_fields.emplace_back(field, claim.Scalar());
      }
    });
  } else {
    reader.fail("auth_fields", "expected a list or a map, got " + describe(node));
    return;
  }
  if (out.auth_fields.empty()) reader.fail("auth_fields", "must name at least one claim");
}

void read_jwt(const MapReader& reader, JwtAuth& out) {
  reader.read_string("secret", out.secret);
  reader.read_string("public_key_file", out.public_key_file);
  read_jwt_algorithms(reader, out);
  reader.read_string("audience", out.audience);
  reader.read_string("issuer", out.issuer);
  reader.read_seconds("leeway", out.leeway, kNonNegative);
  read_jwt_auth_fields(reader, out);

  const auto uses_family = [&](char family) {
    return std::any_of(out.algorithms.begin(), out.algorithms.end(),
                       [&](const std::string& a) { return a.front() == family; });
  };
  if (uses_family('H') && out.secret.empty()) {
    reader.fail("secret", "required by the HS* algorithms");
  }
  if (uses_family('R') || uses_family('E')) {
    if (out.public_key_file.empty()) {
      reader.fail("public_key_file", "required by the RS*/ES* algorithms");
      return;
    }
    std::string error;
    if (auto key = read_whole_file(out.public_key_file, error)) {
      if (key->find("-----BEGIN") == std::string::npos) {
        reader.fail("public_key_file", "'" + out.public_key_file + "' is not a PEM public key");
      } else {
        out.public_key = std::move(*key);
      }
    } else {
      reader.fail("public_key_file", "cannot read file '" + out.public_key_file + "': " + error);
    }
  }
}

void read_authentication(const MapReader& reader, Authentication& out) {
  if (reader.has("ticket")) {
    TicketAuth ticket;
    read_ticket(reader.section("ticket", {"validation_url", "auth_fields"}), ticket);
    out.ticket = std::move(ticket);
  }
  if (reader.has("jwt")) {
    JwtAuth jwt;
    read_jwt(reader.section("jwt", {"secret", "public_key_file", "algorithms", "audience",
                                    "issuer", "leeway", "auth_fields"}),
             jwt);
    out.jwt = std::move(jwt);
  }
}

const std::vector<std::string_view> kServiceKeys = {
    "require_authentication", "authorizer", "authorizer_fields", "authorization_renewal_period",
    "authorization_renewal_jitter", "extra_fields", "filter_fields", "before_subscribe",
    "on_subscribe", "on_message", "before_unsubscribe", "on_unsubscribe",
    "on_authorization_change", "heartbeat_period", "on_heartbeat"};

void read_service(const MapReader& reader, ServiceSettings& out) {
  reader.read_bool("require_authentication", out.require_authentication);
  reader.read_url("authorizer", out.authorizer);
  reader.read_string_list("authorizer_fields", out.authorizer_fields);
  reader.read_seconds("authorization_renewal_period", out.authorization_renewal_period, kPositive);
  if (reader.read_seconds("authorization_renewal_jitter", out.authorization_renewal_jitter,
                          kNonNegative) &&
      out.authorization_renewal_period &&
      out.authorization_renewal_jitter > *out.authorization_renewal_period) {
    // The next renewal is period - random(0..jitter): it must not be negative.
    reader.fail("authorization_renewal_jitter", "must not exceed authorization_renewal_period");
  }
  reader.read_string_list("extra_fields", out.extra_fields);
  reader.read_string_list("filter_fields", out.filter_fields);
  reader.read_url("before_subscribe", out.before_subscribe);
  reader.read_url("on_subscribe", out.on_subscribe);
  reader.read_url("on_message", out.on_message);
  reader.read_url("before_unsubscribe", out.before_unsubscribe);
  reader.read_url("on_unsubscribe", out.on_unsubscribe);
  reader.read_url("on_authorization_change", out.on_authorization_change);
  reader.read_seconds("heartbeat_period", out.heartbeat_period, kPositive);
  reader.read_url("on_heartbeat", out.on_heartbeat);
}

void read_services(const YAML::Node& node, Problems& problems,
                   std::map<std::string, ServiceSettings>& out) {
  const std::string path = "services";
  if (!is_set(node)) return;
  if (!node.IsMap()) {
    problems.add(path, "expected a map of service name to settings, got " + describe(node));
    return;
  }
  for_each_entry(node, path, problems, [&](const std::string& name, const YAML::Node& value) {
    const std::string service_path = child_path(path, name);
    if (name.empty()) {
      problems.add(service_path, "service name must not be empty");
      return;
    }
    if (name.find('.') != std::string::npos) {
      // A subscription "service.topic" is split at its first '.'.
      problems.add(service_path, "service name must not contain '.'");
      return;
    }
    ServiceSettings service;
    read_service(MapReader(value, service_path, kServiceKeys, problems), service);
    out.emplace(name, std::move(service));
  });
}

void read_publish_api(const MapReader& reader, PublishApi& out) {
  if (reader.read_string_list("keys", out.keys)) {
    for (std::size_t i = 0; i < out.keys.size(); ++i) {
      // An empty key would let "Authorization: Bearer " through.
      if (out.keys[i].empty()) {
        reader.problems().add(item_path(reader.path_of("keys"), i), "must not be empty");
      }
    }
  }
  reader.read_integer("max_body_bytes", out.max_body_bytes, 1);
}

void read_limits(const MapReader& reader, Limits& out) {
  // "0 or null = unlimited" (SPEC §7): null reads as 0 here, unlike elsewhere.
  reader.read_integer("max_message_bytes", out.max_message_bytes, 0, NullMeans::zero);
  reader.read_integer("max_subscriptions_per_session", out.max_subscriptions_per_session, 0,
                      NullMeans::zero);
  reader.read_integer("max_connections", out.max_connections, 0, NullMeans::zero);
  reader.read_integer("send_buffer_bytes", out.send_buffer_bytes, 0, NullMeans::zero);
  reader.read_seconds("handshake_timeout", out.handshake_timeout, kPositive);
  reader.read_seconds("auth_timeout", out.auth_timeout, kNonNegative, NullMeans::zero);

  const MapReader per_user = reader.section("max_connections_per_user", {"field", "max"});
  per_user.read_string("field", out.max_connections_per_user.field);
  per_user.read_integer("max", out.max_connections_per_user.max, 0, NullMeans::zero);
  if (out.max_connections_per_user.max > 0 && !out.max_connections_per_user.field) {
    per_user.fail("field", "required when max is set (the auth info field naming the user)");
  }

  const MapReader client_rate = reader.section("client_rate", {"rate", "burst"});
  client_rate.read_number("rate", out.client_rate.rate, kNonNegative, NullMeans::zero);
  client_rate.read_number("burst", out.client_rate.burst, kNonNegative, NullMeans::zero);
}

const std::vector<std::string_view> kTopLevelKeys = {
    "ws_host", "ws_port", "ws_ssl",         "ws_ping",  "log",         "metrics", "http",
    "redis",   "redis_alt", "broker", "authentication", "services", "publish_api", "limits",
    "shutdown"};

Settings read_settings(const YAML::Node& root, bool has_redis_section, Problems& problems) {
  Settings settings;
  const MapReader top(root, "", kTopLevelKeys, problems);
  top.read_string("ws_host", settings.ws_host);
  top.read_port("ws_port", settings.ws_port);
  read_ws_ssl(top.section("ws_ssl", {"cert", "key"}), settings.ws_ssl);
  read_ws_ping(top.section("ws_ping", {"interval", "timeout"}), settings.ws_ping);
  read_log(top.section("log", {"level", "format", "trace_level"}), settings.log);
  read_metrics(top.section("metrics", {"prometheus", "log"}), settings.metrics);
  read_http(top.section("http", {"timeout", "tries", "wait", "ssl_cafile",
                                 "rate_limit_reset_header_names", "rate_limit_reset_header_name"}),
            settings.http);
  read_redis(top.section("redis", kRedisKeys), settings.redis);
  if (top.has("redis_alt")) {
    RedisSettings alternative;
    read_redis(top.section("redis_alt", kRedisKeys), alternative);
    settings.redis_alt = std::move(alternative);
  }
  read_broker(top, has_redis_section, settings.broker);
  read_authentication(top.section("authentication", {"ticket", "jwt"}), settings.authentication);
  read_services(top.get("services"), problems, settings.services);
  read_publish_api(top.section("publish_api", {"keys", "max_body_bytes"}), settings.publish_api);
  read_limits(top.section("limits", {"max_message_bytes", "max_subscriptions_per_session",
                                     "max_connections", "max_connections_per_user",
                                     "client_rate", "send_buffer_bytes", "handshake_timeout",
                                     "auth_timeout"}),
              settings.limits);
  top.section("shutdown", {"drain_seconds"})
      .read_seconds("drain_seconds", settings.shutdown.drain_seconds, kNonNegative);
  return settings;
}

// ---------------------------------------------------------------------------
// Environment overrides

// The value of a variable as YAML ("0.5", "true", "[a, b]", "null"); text that
// is not valid YAML (a password such as "*secret") stays a plain string.
YAML::Node parse_environment_value(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception&) {
    return YAML::Node(text);
  }
}

std::vector<std::string> split_environment_name(std::string_view name) {
  std::vector<std::string> parts;
  std::string_view rest = name;
  while (true) {
    const std::size_t separator = rest.find(kEnvSeparator);
    parts.push_back(to_lower(rest.substr(0, separator)));
    if (separator == std::string_view::npos) break;
    rest.remove_prefix(separator + kEnvSeparator.size());
  }
  return parts;
}

// The spelling of `lower_key` already used in the map (keys match case-insensitively).
std::string existing_spelling(const YAML::Node& map, const std::string& lower_key) {
  for (const auto& entry : map) {
    if (entry.first.IsScalar() && to_lower(entry.first.Scalar()) == lower_key) {
      return entry.first.Scalar();
    }
  }
  return lower_key;
}

// Sets map[keys[depth]]...[keys.back()] = value, creating maps on the way.
// Returns the key path set, or the reason it could not be set.
// `created`: the paths of the maps this call had to create, so that a problem
// found in them later (an unknown key, say) names the variable.
bool set_at_path(YAML::Node map, const std::vector<std::string>& keys, std::size_t depth,
                 const YAML::Node& value, std::string& path, std::string& problem,
                 std::vector<std::string>& created) {
  const std::string key = existing_spelling(map, keys[depth]);
  path = child_path(path, key);
  if (depth + 1 == keys.size()) {
    map[key] = value;
    return true;
  }
  if (!is_set(map[key])) {
    map[key] = YAML::Node(YAML::NodeType::Map);
    created.push_back(path);
  }
  YAML::Node child = map[key];
  if (!child.IsMap()) {
    problem = path + ": cannot set a key inside " + describe(child);
    return false;
  }
  return set_at_path(child, keys, depth + 1, value, path, problem, created);
}

// Applies every SOCKETSHARK_* variable onto `root`; records which variable set
// which path. Platforms put SOCKETSHARK_* variables of their own in the
// environment (Kubernetes service links for a service named "socketshark":
// SOCKETSHARK_PORT=tcp://..., SOCKETSHARK_SERVICE_HOST; test runners'
// SOCKETSHARK_BINARY): a variable whose first key is not one of ours, and
// not a near miss of one, is ignored and listed in `ignored` for a warning.
void apply_environment(YAML::Node& root, const Environment& env, EnvOrigins& origins, Problems& problems,
                       std::vector<std::string>& ignored) {
  for (const auto& [name, text] : env) {
    if (!name.starts_with(kEnvPrefix)) continue;
    const std::vector<std::string> keys = split_environment_name(name.substr(kEnvPrefix.size()));
    if (!keys.empty() && !keys.front().empty() &&
        std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), keys.front()) == kTopLevelKeys.end() &&
        !closest_key(keys.front(), kTopLevelKeys)) {
      ignored.push_back(name);
      continue;
    }
    if (std::any_of(keys.begin(), keys.end(), [](const std::string& k) { return k.empty(); })) {
      problems.add_line("environment " + name + ": cannot map the name to a key path (empty key around '__')");
      continue;
    }
    if (!root.IsMap()) continue;  // the top level is already reported as not a map
    std::string path, problem;
    std::vector<std::string> created;
    if (set_at_path(root, keys, 0, parse_environment_value(text), path, problem, created)) {
      origins[path] = name;
      for (const auto& made : created) origins.emplace(made, name);
    } else {
      problems.add_line("environment " + name + ": " + problem);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Public interface

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_lines(problems)), problems_(std::move(problems)) {}

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string_view text = *entry;
    const std::size_t equals = text.find('=');
    if (equals == std::string_view::npos || !text.starts_with(kEnvPrefix)) continue;
    env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
  }
  return env;
}

Settings load_settings_from_string(const std::string& yaml_text, const std::string& source_name,
                                   const Environment& env) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& error) {
    throw ConfigError({source_name + ":" + std::to_string(error.mark.line + 1) + ":" +
                       std::to_string(error.mark.column + 1) + ": " + error.msg});
  } catch (const YAML::Exception& error) {
    throw ConfigError({source_name + ": " + error.what()});
  }

  EnvOrigins origins;
  Problems problems(source_name, origins);
  if (!is_set(root)) {
    root = YAML::Node(YAML::NodeType::Map);  // an empty file means all defaults
  } else if (!root.IsMap()) {
    problems.add("", "expected a map of settings at the top level, got " + describe(root));
  }
  std::vector<std::string> ignored_environment;
  apply_environment(root, env, origins, problems, ignored_environment);
  // The broker defaults to redis when the file or the environment configures one.
  const YAML::Node& const_root = root;  // const lookup never inserts
  const bool has_redis_section = root.IsMap() && is_set(const_root["redis"]);

  Settings settings = read_settings(root.IsMap() ? root : YAML::Node(), has_redis_section, problems);
  if (!problems.empty()) throw ConfigError(problems.take());
  settings.ignored_environment = std::move(ignored_environment);
  return settings;
}

Settings load_settings_file(const std::string& path, const Environment& env) {
  std::string error;
  const auto text = read_whole_file(path, error);
  if (!text) throw ConfigError({path + ": cannot read file: " + error});
  return load_settings_from_string(*text, path, env);
}

Settings default_settings(const Environment& env) {
  return load_settings_from_string(embedded_default_yaml(), "embedded config/dev.yaml", env);
}

}  // namespace socketshark::config
