// The live sessions of this process: counted, found, closed together.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "socketshark/config/settings.hpp"

namespace socketshark::protocol {
class EventHandler;
}
namespace socketshark::ops {
class Metrics;
}

namespace socketshark::server {

class Session;

class Hub {
 public:
  Hub(const config::Settings& settings, protocol::EventHandler& events, ops::Metrics& metrics)
      : settings(settings), events(events), metrics(metrics) {}

  const config::Settings& settings;
  protocol::EventHandler& events;
  ops::Metrics& metrics;

  std::uint64_t next_id() { return ++last_id_; }
  void add(const std::shared_ptr<Session>& session);
  void remove(std::uint64_t id);
  std::size_t size() const { return sessions_.size(); }
  // Closes every session with `code` (each then runs its close callbacks).
  void close_all(unsigned short code);
  // Closes the oldest session, if any; returns false when none is left.
  bool close_oldest(unsigned short code);
  // Called whenever a session is gone (the shutdown waits on it).
  std::function<void()> on_removed;

  // limits.max_connections_per_user: records the session under its auth
  // info's `field` value and closes the oldest beyond `max` with 4429.
  void authenticated(Session& session);

 private:
  std::uint64_t last_id_ = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> sessions_by_user_;  // oldest first
  std::unordered_map<std::uint64_t, std::string> user_of_session_;
  void forget_user(std::uint64_t id);
};

}  // namespace socketshark::server
