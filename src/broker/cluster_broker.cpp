#include "socketshark/broker/cluster_broker.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "socketshark/broker/cluster_slot.hpp"
#include "socketshark/broker/resp_connection.hpp"
#include "socketshark/ops/metrics.hpp"
#include "socketshark/util/logging.hpp"

namespace socketshark::broker {

namespace net = boost::asio;

namespace {

// Refresh backoff: immediate, then 0.1 s doubling up to this, with jitter.
constexpr double kMaxBackoffSeconds = 2.0;
// How long subscribe() waits for the cluster's confirmation.
constexpr double kSubscribeTimeoutSeconds = 10.0;
// Topology re-read while all is well, to notice changes no event announced.
constexpr double kTopologyCheckSeconds = 30.0;

net::steady_timer::duration seconds(double value) {
  return std::chrono::duration_cast<net::steady_timer::duration>(std::chrono::duration<double>(value));
}

double backoff_seconds(unsigned attempts) {
  if (attempts == 0) return 0;
  static std::mt19937 random{std::random_device{}()};
  const double base = std::min(0.1 * std::pow(2.0, static_cast<double>(std::min(attempts - 1, 16u))), kMaxBackoffSeconds);
  return base * std::uniform_real_distribution<double>(0.5, 1.0)(random);
}

struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
};

// "host:port" or "[v6]:port" (the loader has validated the seeds already).
std::optional<NodeAddress> parse_address(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
    return std::nullopt;
  return NodeAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

std::string_view text_of(const redisReply* reply) {
  if (!reply || !reply->str) return {};
  return {reply->str, reply->len};
}

bool is_text(const redisReply* reply) {
  return reply && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS);
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace

struct ClusterBroker::Discovery {
  std::vector<std::string> candidates;
  std::size_t next = 0;
  std::shared_ptr<RespConnection> connection;
  std::unique_ptr<net::steady_timer> timer;
  std::vector<std::string> problems;  // "node: why", for the log

  void end() {
    if (connection) connection->close();
    if (timer) timer->cancel();
  }
};

template <class Function>
auto ClusterBroker::guarded(Function function) {
  return [alive = std::weak_ptr<int>(lifetime_), function = std::move(function)](auto&&... args) mutable {
    if (alive.expired()) return;
    function(std::forward<decltype(args)>(args)...);
  };
}

ClusterBroker::ClusterBroker(net::any_io_executor executor, const config::RedisSettings& settings,
                             ops::Metrics& metrics)
    : executor_(executor),
      settings_(settings),
      cluster_(*settings.cluster),
      metrics_(metrics),
      refresh_timer_(executor),
      check_timer_(executor) {
  if (cluster_.sharded) {
    subscribe_command_ = "SSUBSCRIBE";
    unsubscribe_command_ = "SUNSUBSCRIBE";
    publish_command_ = "SPUBLISH";
    message_push_ = "smessage";
    unsubscribe_push_ = "sunsubscribe";
  } else {
    subscribe_command_ = "SUBSCRIBE";
    unsubscribe_command_ = "UNSUBSCRIBE";
    publish_command_ = "PUBLISH";
    message_push_ = "message";
    unsubscribe_push_ = "unsubscribe";
  }
}

ClusterBroker::~ClusterBroker() {
  stop();
  lifetime_.reset();
}

void ClusterBroker::start(MessageSink on_message, StateSink on_state) {
  on_message_ = std::move(on_message);
  on_state_ = std::move(on_state);
  started_ = true;
  if (settings_.db != 0)
    log::warn("redis.db is ignored with redis.cluster (a cluster has database 0 only)", {{"db", settings_.db}});
  log::info("redis cluster broker starting", {{"seeds", join(cluster_.nodes, ",")}, {"sharded", cluster_.sharded}});
  start_refresh();
  schedule_topology_check();
}

void ClusterBroker::stop() {
  if (stopped_) return;
  stopped_ = true;
  refresh_timer_.cancel();
  check_timer_.cancel();
  if (discovery_) {
    discovery_->end();
    discovery_.reset();
  }
  for (auto& [address, link] : links_) {
    link.connection->close();
    link.ping_timer->cancel();
  }
  links_.clear();
  for (auto& [address, publisher] : publishers_) publisher->close();
  publishers_.clear();
  for (auto& [name, channel] : channels_) wake(channel);
}

// ---------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------

std::optional<ClusterBroker::Topology> ClusterBroker::parse_topology(const redisReply& reply,
                                                                     const std::string& queried_host,
                                                                     std::string& problem) {
  if (reply.type == REDIS_REPLY_ERROR) {
    problem = std::string(text_of(&reply));
    return std::nullopt;
  }
  if (reply.type != REDIS_REPLY_ARRAY) {
    problem = "CLUSTER SLOTS answered with type " + std::to_string(reply.type);
    return std::nullopt;
  }
  Topology topology;
  topology.slot_owner.assign(kClusterSlots, -1);
  std::vector<std::string> replicas;
  // Each range: [first slot, last slot, primary [ip, port, id, ...], replica..., ...].
  auto node_address = [&](const redisReply* node) -> std::optional<std::string> {
    if (!node || node->type != REDIS_REPLY_ARRAY || node->elements < 2 || !is_text(node->element[0]) ||
        node->element[1]->type != REDIS_REPLY_INTEGER)
      return std::nullopt;
    std::string host(text_of(node->element[0]));
    const long long port = node->element[1]->integer;
    if (port <= 0 || port > 65535) return std::nullopt;
    // A node that does not know its own address answers "" (or "?").
    if (host.empty() || host == "?") host = queried_host;
    return RespConnection::address_of(host, static_cast<std::uint16_t>(port));
  };
  for (std::size_t i = 0; i < reply.elements; ++i) {
    const redisReply* range = reply.element[i];
    if (!range || range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
        range->element[0]->type != REDIS_REPLY_INTEGER || range->element[1]->type != REDIS_REPLY_INTEGER) {
      problem = "malformed CLUSTER SLOTS range";
      return std::nullopt;
    }
    const long long first = range->element[0]->integer, last = range->element[1]->integer;
    const auto primary = node_address(range->element[2]);
    if (first < 0 || last < first || last >= kClusterSlots || !primary) {
      problem = "malformed CLUSTER SLOTS range";
      return std::nullopt;
    }
    auto found = std::find(topology.primaries.begin(), topology.primaries.end(), *primary);
    const auto index = static_cast<std::int32_t>(found - topology.primaries.begin());
    if (found == topology.primaries.end()) topology.primaries.push_back(*primary);
    std::fill(topology.slot_owner.begin() + first, topology.slot_owner.begin() + last + 1, index);
    for (std::size_t r = 3; r < range->elements; ++r)
      if (auto replica = node_address(range->element[r])) replicas.push_back(*replica);
  }
  if (topology.primaries.empty()) {
    problem = "no slot is assigned to any node";
    return std::nullopt;
  }
  topology.nodes = topology.primaries;
  for (auto& replica : replicas)
    if (std::find(topology.nodes.begin(), topology.nodes.end(), replica) == topology.nodes.end())
      topology.nodes.push_back(replica);
  return topology;
}

void ClusterBroker::request_refresh(const std::string& why) {
  if (stopped_ || !started_) return;
  if (discovery_) {
    refresh_again_ = true;  // the answer on its way may predate the change
    return;
  }
  if (refresh_scheduled_) return;
  const double delay = backoff_seconds(refresh_attempts_++);
  log::debug("redis cluster topology refresh scheduled", {{"reason", why}, {"delay", delay}});
  refresh_scheduled_ = true;
  refresh_timer_.expires_after(seconds(delay));
  refresh_timer_.async_wait(guarded([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    refresh_scheduled_ = false;
    start_refresh();
  }));
}

void ClusterBroker::start_refresh() {
  if (stopped_ || discovery_) return;
  auto discovery = std::make_shared<Discovery>();
  // Known nodes first (those failing last), then the configured seeds.
  std::vector<std::string> known = topology_ ? topology_->nodes : std::vector<std::string>{};
  std::stable_partition(known.begin(), known.end(),
                        [this](const std::string& address) { return !failing_nodes_.contains(address); });
  for (const auto& address : known) discovery->candidates.push_back(address);
  for (const auto& seed : cluster_.nodes) {
    auto parsed = parse_address(seed);
    const std::string address = parsed ? RespConnection::address_of(parsed->host, parsed->port) : seed;
    if (std::find(discovery->candidates.begin(), discovery->candidates.end(), address) ==
        discovery->candidates.end())
      discovery->candidates.push_back(address);
  }
  discovery->timer = std::make_unique<net::steady_timer>(executor_);
  discovery_ = discovery;
  try_next_candidate(discovery);
}

void ClusterBroker::try_next_candidate(const std::shared_ptr<Discovery>& discovery) {
  if (discovery_ != discovery) return;
  if (discovery->connection) discovery->connection->close();
  if (discovery->next >= discovery->candidates.size()) {
    discovery_done(discovery, std::nullopt);
    return;
  }
  const std::size_t index = discovery->next++;
  const std::string address = discovery->candidates[index];
  const auto parsed = parse_address(address);
  auto next = guarded([this, discovery, index, address](const std::string& why) {
    if (discovery_ != discovery || discovery->next != index + 1) return;  // moved on already
    discovery->problems.push_back(address + ": " + why);
    try_next_candidate(discovery);
  });
  discovery->connection = connect(address, {}, [next](const std::string& why, std::size_t) mutable { next(why); });
  if (!discovery->connection) {
    next("invalid address");
    return;
  }
  discovery->connection->command(
      {"CLUSTER", "SLOTS"}, guarded([this, discovery, index, address, host = parsed ? parsed->host : std::string(),
                                     next](const redisReply& reply) mutable {
        if (discovery_ != discovery || discovery->next != index + 1) return;
        std::string problem;
        auto topology = parse_topology(reply, host, problem);
        if (!topology) {
          next(problem);
          return;
        }
        discovery_done(discovery, std::move(topology));
      }));
  // A node that accepts the connection but never answers must not stall the refresh.
  const double timeout = settings_.ping_timeout > 0 ? settings_.ping_timeout : 5.0;
  discovery->timer->expires_after(seconds(timeout));
  discovery->timer->async_wait([next](boost::system::error_code ec) mutable {
    if (!ec) next("no answer to CLUSTER SLOTS in time");
  });
}

void ClusterBroker::discovery_done(const std::shared_ptr<Discovery>& discovery, std::optional<Topology> topology) {
  discovery->end();
  discovery_.reset();
  if (!topology) {
    const std::string tried = join(discovery->problems, "; ");
    if (!topology_unavailable_logged_) {
      topology_unavailable_logged_ = true;
      log::error("redis cluster topology unavailable from every node", {{"tried", tried}});
    } else {
      log::debug("redis cluster topology still unavailable", {{"tried", tried}});
    }
    request_refresh("topology unavailable");
    return;
  }
  if (topology_unavailable_logged_) {
    topology_unavailable_logged_ = false;
    log::info("redis cluster topology available again");
  }
  // Nodes tried before the one that answered (a wrong seed, say): said once.
  std::string problems = join(discovery->problems, "; ");
  if (!problems.empty() && problems != last_discovery_problems_)
    log::warn("some redis cluster nodes did not give the topology", {{"problems", problems}});
  last_discovery_problems_ = std::move(problems);
  apply_topology(std::move(*topology));
  if (refresh_again_) {
    refresh_again_ = false;
    request_refresh("changed during the refresh");
  }
}

void ClusterBroker::apply_topology(Topology topology) {
  const bool changed = !topology_ || topology_->primaries != topology.primaries ||
                       topology_->slot_owner != topology.slot_owner || topology_->nodes != topology.nodes;
  topology_ = std::move(topology);
  if (changed) log::info("redis cluster topology", {{"primaries", join(topology_->primaries, ",")},
                                                    {"nodes", topology_->nodes.size()}});
  // Forget failures of nodes that left the topology.
  std::erase_if(failing_nodes_, [this](const std::string& address) {
    return std::find(topology_->nodes.begin(), topology_->nodes.end(), address) == topology_->nodes.end();
  });
  if (!cluster_.sharded) {
    // Any node serves plain pub/sub; keep the current one unless it failed.
    const auto& nodes = topology_->nodes;
    const bool keep = !plain_node_.empty() && !failed_nodes_.contains(plain_node_) &&
                      std::find(nodes.begin(), nodes.end(), plain_node_) != nodes.end();
    if (!keep) {
      auto usable = std::find_if(nodes.begin(), nodes.end(),
                                 [this](const std::string& address) { return !failed_nodes_.contains(address); });
      if (usable == nodes.end()) {
        failed_nodes_.clear();  // all failed once: start over
        usable = nodes.begin();
      }
      plain_node_ = *usable;
      log::info("redis cluster node for plain pub/sub", {{"node", plain_node_}});
    }
  }
  const auto wanted = wanted_links();
  std::vector<std::string> unwanted;
  for (const auto& [address, link] : links_)
    if (std::find(wanted.begin(), wanted.end(), address) == wanted.end()) unwanted.push_back(address);
  for (const auto& address : unwanted) close_link(address);
  for (const auto& address : wanted)
    if (!links_.contains(address)) open_link(address);
  std::erase_if(publishers_, [this](auto& entry) {
    const auto& nodes = topology_->nodes;
    if (std::find(nodes.begin(), nodes.end(), entry.first) != nodes.end()) return false;
    entry.second->close();
    return true;
  });
  place_channels();
  update_state();
}

std::optional<std::string> ClusterBroker::owner_of(std::string_view name) const {
  if (!topology_) return std::nullopt;
  if (!cluster_.sharded) {
    if (plain_node_.empty()) return std::nullopt;
    return plain_node_;
  }
  std::string channel = settings_.channel_prefix;
  channel += name;
  const auto owner = topology_->slot_owner[key_hash_slot(channel)];
  if (owner < 0) return std::nullopt;
  return topology_->primaries[static_cast<std::size_t>(owner)];
}

std::vector<std::string> ClusterBroker::wanted_links() const {
  if (!topology_) return {};
  if (!cluster_.sharded) return plain_node_.empty() ? std::vector<std::string>{} : std::vector{plain_node_};
  return topology_->primaries;
}

void ClusterBroker::schedule_topology_check() {
  check_timer_.expires_after(seconds(kTopologyCheckSeconds));
  check_timer_.async_wait(guarded([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    if (!discovery_ && !refresh_scheduled_) start_refresh();
    schedule_topology_check();
  }));
}

// ---------------------------------------------------------------------------
// Links: one subscriber connection per primary (or the one plain node)
// ---------------------------------------------------------------------------

std::shared_ptr<RespConnection> ClusterBroker::connect(
    const std::string& address, std::function<void(const redisReply&, std::size_t)> on_push,
    std::function<void(const std::string&, std::size_t)> on_closed) {
  const auto parsed = parse_address(address);
  if (!parsed) return nullptr;
  const double timeout = settings_.ping_timeout > 0 ? settings_.ping_timeout : 5.0;
  auto connection = RespConnection::open(executor_, parsed->host, parsed->port, timeout,
                                         RespConnection::Events{.on_connected = {},
                                                                .on_push = std::move(on_push),
                                                                .on_closed = std::move(on_closed)});
  if (settings_.password) {
    connection->command({"AUTH", *settings_.password}, [weak = std::weak_ptr(connection)](const redisReply& reply) {
      auto connection = weak.lock();
      if (connection && reply.type == REDIS_REPLY_ERROR)
        connection->abort("AUTH failed: " + std::string(text_of(&reply)));
    });
  }
  return connection;
}

void ClusterBroker::open_link(const std::string& address) {
  const std::uint64_t id = next_id_++;
  auto connection = connect(
      address, guarded([this, address, id](const redisReply& push, std::size_t queued_after) {
        on_push(address, id, push, queued_after);
      }),
      guarded([this, address, id](const std::string& why, std::size_t) { link_failed(address, id, why); }));
  if (!connection) {
    log::error("invalid redis cluster node address", {{"node", address}});
    return;
  }
  Link& link = links_[address];
  link.id = id;
  link.connection = std::move(connection);
  link.ping_timer = std::make_unique<net::steady_timer>(executor_);
  // The first PING's answer proves the connection (and AUTH) work.
  link.connection->command({"PING"}, guarded([this, address, id](const redisReply& reply) {
    if (reply.type == REDIS_REPLY_ERROR) {
      link_failed(address, id, "PING refused: " + std::string(text_of(&reply)));
      return;
    }
    link_up(address, id);
  }));
}

void ClusterBroker::link_up(const std::string& address, std::uint64_t id) {
  auto it = links_.find(address);
  if (stopped_ || it == links_.end() || it->second.id != id) return;
  it->second.up = true;
  if (!cluster_.sharded) failed_nodes_.clear();
  log::debug("redis cluster node connected", {{"node", address}});
  // A node that failed counts as recovered only after a periodic PING, not on
  // this first answer: one that answers and then breaks must not reset the
  // backoff and make the broker reconnect at full speed.
  if (settings_.ping_interval <= 0 || settings_.ping_timeout <= 0) node_recovered(address);
  schedule_ping(address, id);
  place_channels();
  update_state();
}

void ClusterBroker::link_failed(std::string address, std::uint64_t id, std::string why) {
  auto it = links_.find(address);
  if (stopped_ || it == links_.end() || it->second.id != id) return;
  std::size_t affected = 0;
  for (const auto& [name, channel] : channels_)
    if (channel.link == address) ++affected;
  if (failing_nodes_.insert(address).second)
    log::error("redis cluster node unavailable", {{"node", address}, {"error", why}, {"channels", affected}});
  else
    log::debug("redis cluster node still unavailable", {{"node", address}, {"error", why}});
  close_link(address);
  if (!cluster_.sharded) failed_nodes_.insert(address);
  update_state();
  request_refresh("node " + address + ": " + why);
}

void ClusterBroker::node_recovered(const std::string& address) {
  if (!failing_nodes_.erase(address)) return;
  log::info("redis cluster node reachable again", {{"node", address}});
  if (failing_nodes_.empty() && ready()) refresh_attempts_ = 0;
}

void ClusterBroker::close_link(std::string address) {
  auto it = links_.find(address);
  if (it == links_.end()) return;
  for (auto& [name, channel] : channels_)
    if (channel.state != Channel::State::unassigned && channel.link == address) lose(channel);
  it->second.connection->close();
  it->second.ping_timer->cancel();
  links_.erase(it);
}

void ClusterBroker::schedule_ping(const std::string& address, std::uint64_t id) {
  if (settings_.ping_interval <= 0 || settings_.ping_timeout <= 0) return;
  auto it = links_.find(address);
  if (it == links_.end() || it->second.id != id) return;
  it->second.ping_timer->expires_after(seconds(settings_.ping_interval));
  it->second.ping_timer->async_wait(guarded([this, address, id](boost::system::error_code ec) {
    auto it = links_.find(address);
    if (ec || stopped_ || it == links_.end() || it->second.id != id) return;
    Link& link = it->second;
    const std::uint64_t sequence = next_id_++;
    link.ping_sequence = sequence;
    // In subscribed mode Redis 7 answers ["pong", ""]; either way it is the
    // next reply in order.
    link.connection->command({"PING"}, guarded([this, address, id, sequence](const redisReply& reply) {
      auto it = links_.find(address);
      if (stopped_ || it == links_.end() || it->second.id != id || it->second.ping_sequence != sequence) return;
      it->second.ping_sequence = 0;
      if (reply.type == REDIS_REPLY_ERROR) {
        link_failed(address, id, "PING refused: " + std::string(text_of(&reply)));
        return;
      }
      node_recovered(address);
      schedule_ping(address, id);
    }));
    link.ping_timer->expires_after(seconds(settings_.ping_timeout));
    link.ping_timer->async_wait(guarded([this, address, id, sequence](boost::system::error_code ec) {
      auto it = links_.find(address);
      if (ec || stopped_ || it == links_.end() || it->second.id != id || it->second.ping_sequence != sequence) return;
      link_failed(address, id, "no PING reply within ping_timeout");
    }));
  }));
}

void ClusterBroker::on_push(const std::string& address, std::uint64_t id, const redisReply& push,
                            std::size_t queued_after) {
  auto link = links_.find(address);
  if (stopped_ || link == links_.end() || link->second.id != id) return;
  const std::string_view kind = text_of(push.element[0]);  // RespConnection checked it is a string
  const std::string_view prefix = settings_.channel_prefix;
  if (kind == message_push_) {
    if (push.elements != 3 || push.element[1]->type != REDIS_REPLY_STRING ||
        push.element[2]->type != REDIS_REPLY_STRING) {
      log::warn("malformed message push from a redis cluster node", {{"node", address}});
      return;
    }
    const std::string_view channel = text_of(push.element[1]);
    if (!channel.starts_with(prefix)) return;
    const std::string_view name = channel.substr(prefix.size());
    auto wanted = channels_.find(name);
    if ((wanted == channels_.end() || wanted->second.link != address) &&
        !link->second.unsubscribing.contains(channel)) {
      // Subscribed here but not wanted from here (an unsubscribe the node
      // refused, or the channel moved): drop the stale subscription.
      unsubscribe_on(link->second, address, std::string(channel));
    }
    if (wanted != channels_.end() && on_message_) on_message_(name, text_of(push.element[2]), queued_after);
    return;
  }
  if (kind == unsubscribe_push_ && push.elements >= 2 && is_text(push.element[1])) {
    // Not an answer to our unsubscribe: the node dropped the subscription
    // itself, because the channel's slot now belongs to another primary.
    const std::string_view channel = text_of(push.element[1]);
    if (!channel.starts_with(prefix)) return;
    auto wanted = channels_.find(channel.substr(prefix.size()));
    if (wanted == channels_.end() || wanted->second.link != address ||
        wanted->second.state == Channel::State::unassigned)
      return;
    log::warn("redis cluster dropped a subscription (slot migrated)",
              {{"node", address}, {"channel", std::string(channel)}});
    lose(wanted->second);
    update_state();
    request_refresh("unsubscribed by " + address);
    return;
  }
  log::debug("unexpected push from a redis cluster node", {{"node", address}, {"kind", std::string(kind)}});
}

void ClusterBroker::unsubscribe_on(Link& link, const std::string& address, const std::string& channel) {
  link.unsubscribing.insert(channel);
  link.connection->command({unsubscribe_command_, channel},
                           guarded([this, address, id = link.id, channel](const redisReply& reply) {
                             auto it = links_.find(address);
                             if (it == links_.end() || it->second.id != id) return;
                             it->second.unsubscribing.erase(channel);
                             if (reply.type == REDIS_REPLY_ERROR)
                               log::debug("redis cluster node refused an unsubscribe",
                                          {{"node", address}, {"channel", channel},
                                           {"error", std::string(text_of(&reply))}});
                           }));
}

// ---------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------

void ClusterBroker::place_channels() {
  if (stopped_) return;
  std::size_t resubscribed = 0;
  bool unowned = false;
  for (auto& [name, channel] : channels_) {
    const auto owner = owner_of(name);
    if (channel.state != Channel::State::unassigned) {
      if (owner && *owner == channel.link) continue;  // where it belongs
      // Its slot moved: drop the old subscription, subscribe on the owner.
      auto old = links_.find(channel.link);
      if (old != links_.end() && old->second.up)
        unsubscribe_on(old->second, old->first, settings_.channel_prefix + name);
      lose(channel);
    }
    if (!owner) {
      unowned = true;  // the cluster does not serve its slot (yet)
      continue;
    }
    auto link = links_.find(*owner);
    if (link == links_.end() || !link->second.up) continue;  // placed once the link is up
    if (channel.lost) ++resubscribed;
    send_subscribe(name, channel, *owner);
  }
  if (resubscribed) {
    metrics_.cluster_resubscribed(resubscribed);
    log::info("redis cluster: resubscribing channels on their new owner", {{"channels", resubscribed}});
  }
  if (unowned && topology_) request_refresh("a channel's slot has no owner");
}

void ClusterBroker::send_subscribe(const std::string& name, Channel& channel, const std::string& address) {
  channel.state = Channel::State::subscribing;
  channel.link = address;
  channel.attempt = next_id_++;
  links_.at(address).connection->command(
      {subscribe_command_, settings_.channel_prefix + name},
      guarded([this, name, attempt = channel.attempt](const redisReply& reply) {
        on_subscribe_reply(name, attempt, reply);
      }));
}

void ClusterBroker::on_subscribe_reply(const std::string& name, std::uint64_t attempt, const redisReply& reply) {
  auto it = channels_.find(name);
  if (stopped_ || it == channels_.end() || it->second.attempt != attempt) return;
  Channel& channel = it->second;
  if (reply.type == REDIS_REPLY_ERROR) {
    // -MOVED: the topology changed; anything else (CLUSTERDOWN, NOPERM...)
    // is retried with the same backoff.
    const std::string error(text_of(&reply));
    log::warn("redis cluster refused a subscription",
              {{"node", channel.link}, {"channel", settings_.channel_prefix + name}, {"error", error}});
    channel.state = Channel::State::unassigned;
    channel.link.clear();
    channel.attempt = 0;
    update_state();
    request_refresh(error);
    return;
  }
  channel.state = Channel::State::confirmed;
  channel.lost = false;
  refresh_attempts_ = 0;  // progress: no backoff for the next problem
  wake(channel);
  update_state();
}

void ClusterBroker::lose(Channel& channel) {
  channel.lost = channel.lost || channel.state == Channel::State::confirmed;
  channel.state = Channel::State::unassigned;
  channel.link.clear();
  channel.attempt = 0;
}

void ClusterBroker::wake(Channel& channel) {
  for (auto& waiter : channel.waiters) waiter->cancel();
  channel.waiters.clear();
}

bool ClusterBroker::ready() const {
  if (stopped_ || !topology_) return false;
  for (const auto& address : wanted_links()) {
    auto link = links_.find(address);
    if (link == links_.end() || !link->second.up) return false;
  }
  for (const auto& [name, channel] : channels_)
    if (channel.live && channel.state != Channel::State::confirmed) return false;
  return true;
}

void ClusterBroker::update_state() {
  if (stopped_) return;
  const bool now_ready = ready();
  if (now_ready == reported_ready_) return;
  reported_ready_ = now_ready;
  // Recovered: the next problem is refreshed at once (unless a node still
  // counts as failing: see node_recovered()).
  if (now_ready && failing_nodes_.empty()) refresh_attempts_ = 0;
  if (now_ready) {
    log::info("redis cluster ready", {{"nodes", links_.size()}, {"channels", channels_.size()}});
  } else {
    // Subscribers waiting for a confirmation must not hang (their sessions
    // are about to be closed): let them go, as the single-Redis broker does.
    for (auto& [name, channel] : channels_) wake(channel);
    std::size_t links_down = 0, unconfirmed = 0;
    for (const auto& address : wanted_links())
      if (!links_.contains(address) || !links_.at(address).up) ++links_down;
    for (const auto& [name, channel] : channels_)
      if (channel.live && channel.state != Channel::State::confirmed) ++unconfirmed;
    log::warn("redis cluster not ready", {{"nodes_down", links_down}, {"channels_unsubscribed", unconfirmed}});
  }
  if (on_state_) on_state_(now_ready);
}

net::awaitable<void> ClusterBroker::subscribe(std::string name) {
  if (stopped_) co_return;
  auto [it, created] = channels_.try_emplace(name);
  Channel& channel = it->second;
  if (created) channel.generation = next_id_++;
  const std::uint64_t generation = channel.generation;
  if (channel.state == Channel::State::unassigned) {
    const auto owner = owner_of(name);
    auto link = owner ? links_.find(*owner) : links_.end();
    if (link != links_.end() && link->second.up) send_subscribe(name, channel, *owner);
    // else: subscribed by place_channels() once the topology and link are there
  }
  // Not ready and not sendable: answer at once, as the single-Redis broker
  // does; the channel is subscribed once the cluster is back (and keeps the
  // broker unready meanwhile). Otherwise wait for the confirmation.
  const bool hopeless = !reported_ready_ && channel.state == Channel::State::unassigned;
  if (channel.state != Channel::State::confirmed && !hopeless) {
    auto waiter = std::make_shared<net::steady_timer>(executor_, seconds(kSubscribeTimeoutSeconds));
    channel.waiters.push_back(waiter);
    std::weak_ptr<int> alive = lifetime_;
    co_await waiter->async_wait(net::as_tuple(net::use_awaitable));
    if (alive.expired() || stopped_) co_return;
  }
  auto again = channels_.find(name);
  if (again == channels_.end() || again->second.generation != generation || again->second.live) co_return;
  again->second.live = true;
  if (again->second.state != Channel::State::confirmed)
    log::warn("redis cluster did not confirm a subscription in time",
              {{"channel", settings_.channel_prefix + name}, {"seconds", kSubscribeTimeoutSeconds}});
  update_state();
}

void ClusterBroker::unsubscribe(const std::string& name) {
  auto it = channels_.find(name);
  if (it == channels_.end()) return;
  Channel& channel = it->second;
  wake(channel);
  if (channel.state != Channel::State::unassigned) {
    auto link = links_.find(channel.link);
    if (link != links_.end() && link->second.up)
      unsubscribe_on(link->second, link->first, settings_.channel_prefix + name);
  }
  channels_.erase(it);
  update_state();
}

// ---------------------------------------------------------------------------
// Publishing (the publish API)
// ---------------------------------------------------------------------------

void ClusterBroker::publish(const std::string& name, std::string payload) {
  if (stopped_) return;
  const auto owner = owner_of(name);
  if (!owner) {
    log::warn("publish dropped: no redis cluster node serves the channel", {{"subscription", name}});
    return;
  }
  send_publish(*owner, settings_.channel_prefix + name, std::move(payload), true);
}

std::shared_ptr<RespConnection> ClusterBroker::publisher_for(const std::string& address) {
  auto it = publishers_.find(address);
  if (it != publishers_.end()) return it->second;
  auto connection = std::make_shared<std::weak_ptr<RespConnection>>();
  auto publisher = connect(
      address, {}, guarded([this, address, connection](const std::string& why, std::size_t unanswered) {
        auto it = publishers_.find(address);
        if (it == publishers_.end() || it->second != connection->lock()) return;
        publishers_.erase(it);
        // Every publish may try a new connection: said once until one works.
        if (publish_failing_.insert(address).second)
          log::warn("redis cluster publish connection lost",
                    {{"node", address}, {"error", why}, {"unpublished", unanswered}});
        else
          log::debug("redis cluster publish connection failed again",
                     {{"node", address}, {"error", why}, {"unpublished", unanswered}});
      }));
  if (!publisher) return nullptr;
  *connection = publisher;
  publishers_.emplace(address, publisher);
  return publisher;
}

void ClusterBroker::send_publish(const std::string& address, const std::string& channel, std::string payload,
                                 bool may_redirect) {
  auto publisher = publisher_for(address);
  if (!publisher) {
    log::warn("publish dropped: invalid redis cluster node address", {{"node", address}, {"channel", channel}});
    return;
  }
  // The arguments are built before the handler takes the payload over.
  const std::vector<std::string> args{publish_command_, channel, payload};
  publisher->command(args,
                     guarded([this, address, channel, may_redirect,
                              payload = may_redirect ? std::move(payload) : std::string()](const redisReply& reply) mutable {
                       if (reply.type != REDIS_REPLY_ERROR) {
                         if (!publish_failing_.empty()) publish_failing_.erase(address);
                         return;
                       }
                       const std::string error(text_of(&reply));
                       // "MOVED <slot> <host:port>": send it there once, and re-read the topology.
                       if (error.starts_with("MOVED ")) {
                         request_refresh("MOVED on publish");
                         const auto target = error.substr(error.rfind(' ') + 1);
                         if (may_redirect) {
                           send_publish(target, channel, std::move(payload), false);
                           return;
                         }
                       }
                       log::warn("redis cluster refused a publish",
                                 {{"node", address}, {"channel", channel}, {"error", error}});
                     }));
}

}  // namespace socketshark::broker
