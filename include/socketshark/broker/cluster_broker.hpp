// The broker for `redis.cluster`: Redis Cluster pub/sub without hiredis' async
// API (see resp_connection.hpp).
//
// Sharded (the default): the topology comes from CLUSTER SLOTS on any
// reachable node; each channel (<channel_prefix><name>) is SSUBSCRIBEd on the
// primary owning its hash slot, one subscriber connection per primary, and
// publish() SPUBLISHes there. `sharded: false`: SUBSCRIBE and PUBLISH on one
// node (plain pub/sub is cluster-wide), another one if it fails.
//
// A -MOVED reply, an `sunsubscribe` the daemon did not ask for (slot
// migrated), a lost node connection or a missed PING refreshes the topology
// (exponential backoff with jitter) and resubscribes the affected channels on
// their new owner. Readiness is false while a node of the topology has no
// working connection or a live channel has no confirmed subscription.
// Messages published during such a gap are lost (pub/sub semantics).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "socketshark/broker/broker.hpp"
#include "socketshark/config/settings.hpp"

struct redisReply;

namespace socketshark::ops {
class Metrics;
}

namespace socketshark::broker {

class RespConnection;

class ClusterBroker : public Broker {
 public:
  ClusterBroker(boost::asio::any_io_executor executor, const config::RedisSettings& settings, ops::Metrics& metrics);
  ~ClusterBroker() override;

  void start(MessageSink on_message, StateSink on_state) override;
  void stop() override;
  boost::asio::awaitable<void> subscribe(std::string name) override;
  void unsubscribe(const std::string& name) override;
  void publish(const std::string& name, std::string payload) override;
  bool ready() const override;
  std::size_t channel_count() const override { return channels_.size(); }

 private:
  // Which node serves which slot, from CLUSTER SLOTS.
  struct Topology {
    std::vector<std::string> primaries;   // addresses owning at least one slot
    std::vector<std::string> nodes;       // every node listed, primaries first
    std::vector<std::int32_t> slot_owner;  // index into primaries; -1 = no owner
  };
  // The subscriber connection to one node.
  struct Link {
    std::uint64_t id = 0;
    std::shared_ptr<RespConnection> connection;
    bool up = false;  // connected, authenticated, answered a PING
    std::unique_ptr<boost::asio::steady_timer> ping_timer;
    std::uint64_t ping_sequence = 0;  // of the PING awaiting its reply; 0 = none
    std::set<std::string, std::less<>> unsubscribing;  // channels with an unsubscribe in flight
  };
  struct Channel {
    enum class State { unassigned, subscribing, confirmed };
    State state = State::unassigned;
    std::string link;          // node the subscription is on (subscribing/confirmed)
    std::uint64_t attempt = 0;  // of the subscribe in flight
    std::uint64_t generation = 0;
    bool live = false;          // subscribe() has returned: messages are expected
    bool lost = false;          // had a confirmed subscription and lost it
    std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;
  };
  struct Discovery;
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  // Callbacks run only while this broker exists (timers and connections may
  // outlive it by one queued handler).
  template <class Function>
  auto guarded(Function function);

  // Topology.
  static std::optional<Topology> parse_topology(const redisReply& reply, const std::string& queried_host,
                                                std::string& problem);
  void request_refresh(const std::string& why);
  void start_refresh();
  void try_next_candidate(const std::shared_ptr<Discovery>& discovery);
  void discovery_done(const std::shared_ptr<Discovery>& discovery, std::optional<Topology> topology);
  void apply_topology(Topology topology);
  std::optional<std::string> owner_of(std::string_view name) const;
  std::vector<std::string> wanted_links() const;

  // Links.
  void open_link(const std::string& address);
  void link_up(const std::string& address, std::uint64_t id);
  void link_failed(std::string address, std::uint64_t id, std::string why);
  void node_recovered(const std::string& address);
  void close_link(std::string address);
  void schedule_ping(const std::string& address, std::uint64_t id);
  void on_push(const std::string& address, std::uint64_t id, const redisReply& push, std::size_t queued_after);
  void unsubscribe_on(Link& link, const std::string& address, const std::string& channel);

  // Channels.
  void place_channels();
  void send_subscribe(const std::string& name, Channel& channel, const std::string& address);
  void on_subscribe_reply(const std::string& name, std::uint64_t attempt, const redisReply& reply);
  void lose(Channel& channel);
  static void wake(Channel& channel);
  void update_state();

  // Publishing.
  std::shared_ptr<RespConnection> publisher_for(const std::string& address);
  void send_publish(const std::string& address, const std::string& channel, std::string payload, bool may_redirect);

  // A connection to `address` that authenticates first when a password is set;
  // nullptr for an address that does not parse.
  std::shared_ptr<RespConnection> connect(const std::string& address,
                                          std::function<void(const redisReply&, std::size_t)> on_push,
                                          std::function<void(const std::string&, std::size_t)> on_closed);
  void schedule_topology_check();

  boost::asio::any_io_executor executor_;
  const config::RedisSettings& settings_;
  const config::RedisCluster& cluster_;
  ops::Metrics& metrics_;
  std::shared_ptr<int> lifetime_ = std::make_shared<int>(0);
  // Command and push names of the mode.
  std::string subscribe_command_, unsubscribe_command_, publish_command_;
  std::string message_push_, unsubscribe_push_;

  MessageSink on_message_;
  StateSink on_state_;
  bool started_ = false;
  bool stopped_ = false;
  bool reported_ready_ = false;

  std::optional<Topology> topology_;
  std::string plain_node_;               // sharded: false, the node used
  std::set<std::string> failed_nodes_;   // sharded: false, nodes that failed since the last success
  std::map<std::string, Link> links_;    // by node address
  std::map<std::string, std::shared_ptr<RespConnection>> publishers_;
  std::set<std::string> publish_failing_;  // publish connections logged as failing
  std::unordered_map<std::string, Channel, StringHash, std::equal_to<>> channels_;
  std::set<std::string> failing_nodes_;  // logged as failing: logged again only once they recover
  std::uint64_t next_id_ = 1;

  std::shared_ptr<Discovery> discovery_;
  boost::asio::steady_timer refresh_timer_;
  boost::asio::steady_timer check_timer_;
  bool refresh_scheduled_ = false;
  bool refresh_again_ = false;
  unsigned refresh_attempts_ = 0;  // refreshes since the last progress: the backoff exponent
  bool topology_unavailable_logged_ = false;
  std::string last_discovery_problems_;
};

}  // namespace socketshark::broker
