// A bounded multi-producer multi-consumer queue with a chosen overflow policy. Perception uses
// kDropOldest with capacity 1 for frames ("latest frame wins": a slow detector never makes the
// decoder wait, it just sees fewer, fresher frames) and kBlock for offline processing where every
// frame must be seen. Every dropped item is counted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace vigil::vision {

enum class OverflowPolicy {
  kBlock,       // push() waits for room (or close())
  kDropOldest,  // push() discards the oldest item to make room
};

template <typename T>
class BoundedQueue {
 public:
  BoundedQueue(size_t capacity, OverflowPolicy policy)
      : capacity_(capacity == 0 ? 1 : capacity), policy_(policy) {}

  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Returns false (and drops `item`) when the queue is closed.
  bool push(T item) {
    std::unique_lock lock(mutex_);
    if (policy_ == OverflowPolicy::kBlock) {
      not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    }
    if (closed_) return false;
    while (items_.size() >= capacity_) {
      items_.pop_front();
      ++dropped_;
    }
    items_.push_back(std::move(item));
    ++pushed_;
    not_empty_.notify_one();
    return true;
  }

  // Waits up to `timeout` for an item. Empty optional on timeout, or when closed and drained.
  template <typename Rep, typename Period>
  std::optional<T> pop_for(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); })) {
      return std::nullopt;
    }
    return take(lock);
  }

  // Waits for an item; empty optional only when closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    return take(lock);
  }

  std::optional<T> try_pop() {
    std::unique_lock lock(mutex_);
    return take(lock);
  }

  // Wakes all waiters; later pushes fail, pops drain what is left.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }
  uint64_t pushed() const {
    std::lock_guard lock(mutex_);
    return pushed_;
  }

 private:
  std::optional<T> take(std::unique_lock<std::mutex>&) {
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  const size_t capacity_;
  const OverflowPolicy policy_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
  uint64_t pushed_ = 0;
};

}  // namespace vigil::vision
