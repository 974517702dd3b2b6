#include "socketshark/server/hub.hpp"

#include <algorithm>
#include <vector>

#include "socketshark/ops/metrics.hpp"
#include "socketshark/server/session.hpp"

namespace socketshark::server {

void Hub::add(const std::shared_ptr<Session>& session) { sessions_[session->id()] = session; }

void Hub::remove(std::uint64_t id) {
  forget_user(id);
  if (sessions_.erase(id) && on_removed) on_removed();
}

void Hub::forget_user(std::uint64_t id) {
  auto user = user_of_session_.find(id);
  if (user == user_of_session_.end()) return;
  auto list = sessions_by_user_.find(user->second);
  if (list != sessions_by_user_.end()) {
    std::erase(list->second, id);
    if (list->second.empty()) sessions_by_user_.erase(list);
  }
  user_of_session_.erase(user);
}

void Hub::authenticated(Session& session) {
  const auto& per_user = settings.limits.max_connections_per_user;
  if (!per_user.field || per_user.max == 0) return;
  forget_user(session.id());
  auto value = session.auth_info.find(*per_user.field);
  if (value == session.auth_info.end() || value->is_null()) return;
  std::string user = value->dump();
  auto& ids = sessions_by_user_[user];
  ids.push_back(session.id());
  user_of_session_[session.id()] = user;
  while (ids.size() > per_user.max) {
    const std::uint64_t oldest = ids.front();
    ids.erase(ids.begin());
    user_of_session_.erase(oldest);
    metrics.refused("max_connections_per_user");
    auto found = sessions_.find(oldest);
    if (found == sessions_.end()) continue;
    if (auto victim = found->second.lock()) victim->close(4429, "");
  }
}

void Hub::close_all(unsigned short code) {
  // Snapshot: closing changes the map.
  std::vector<std::shared_ptr<Session>> open;
  open.reserve(sessions_.size());
  for (auto& [id, weak] : sessions_)
    if (auto session = weak.lock()) open.push_back(std::move(session));
  for (auto& session : open) session->close(code, "");
}

bool Hub::close_oldest(unsigned short code) {
  std::shared_ptr<Session> oldest;
  for (auto& [id, weak] : sessions_) {
    auto session = weak.lock();
    if (session && session->active() && (!oldest || session->id() < oldest->id())) oldest = std::move(session);
  }
  if (!oldest) return false;
  oldest->close(code, "");
  return true;
}

}  // namespace socketshark::server
