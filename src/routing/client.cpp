#include "socketshark/routing/client.hpp"

#include <algorithm>

#include "socketshark/routing/subscription.hpp"

namespace socketshark::routing {

Subscription* Client::find(std::string_view name) const {
  auto it = subscriptions_.find(std::string(name));
  return it == subscriptions_.end() ? nullptr : it->second.subscription.get();
}

void Client::add(std::shared_ptr<Subscription> subscription) {
  std::string name = subscription->name();
  subscriptions_[std::move(name)] = Entry{std::move(subscription), next_order_++};
}

std::shared_ptr<Subscription> Client::take(std::string_view name) {
  auto it = subscriptions_.find(std::string(name));
  if (it == subscriptions_.end()) return nullptr;
  auto subscription = std::move(it->second.subscription);
  subscriptions_.erase(it);
  return subscription;
}

std::vector<std::shared_ptr<Subscription>> Client::take_all() {
  std::vector<Entry> entries;
  entries.reserve(subscriptions_.size());
  for (auto& [name, entry] : subscriptions_) entries.push_back(std::move(entry));
  subscriptions_.clear();
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.order > b.order; });
  std::vector<std::shared_ptr<Subscription>> out;
  out.reserve(entries.size());
  for (auto& entry : entries) out.push_back(std::move(entry.subscription));
  return out;
}

}  // namespace socketshark::routing
