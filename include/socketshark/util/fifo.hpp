// A first-in first-out queue on a vector that owns no memory while empty.
// std::deque allocates a 512-byte block even when empty, which idle
// sessions would pay for twice (inbox and write queue).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace socketshark {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }

  void push_back(T item) { items_.push_back(std::move(item)); }
  T& front() { return items_[head_]; }
  T& operator[](std::size_t i) { return items_[head_ + i]; }

  T pop_front() {
    T item = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      items_.clear();  // keeps the capacity: the next burst needs it again
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Compact now and then so the consumed prefix does not grow forever.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return item;
  }

  // Removes the element at position `i` (counted from the front).
  void erase_at(std::size_t i) { items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(head_ + i)); }

  // Empties the queue; gives the memory back unless it is small.
  void clear() {
    if (items_.capacity() > kKeptCapacity)
      std::vector<T>().swap(items_);
    else
      items_.clear();
    head_ = 0;
  }

  static constexpr std::size_t kKeptCapacity = 16;

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace socketshark
