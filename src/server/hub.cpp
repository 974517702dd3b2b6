#include "socketshark/server/hub.hpp"

#include <algorithm>
#include <vector>

#include "socketshark/server/session.hpp"

namespace socketshark::server {

void Hub::add(const std::shared_ptr<Session>& session) { sessions_[session->id()] = session; }

void Hub::remove(std::uint64_t id) {
  if (sessions_.erase(id) && on_removed) on_removed();
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
