#pragma once
// RingDeque<T>: a double-ended queue in one growable ring of slots, for the hot queues that
// move one envelope per message (port queues, mailboxes, send windows). std::deque gives an
// element as large as an Envelope a heap block of its own, so every push allocates and every
// pop frees, often on another thread than the one that allocated; a ring allocates only when
// it grows, and hands its memory back when it empties after a burst.
// Thread: none of its own; the owner guards it like any container.

#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace zmesh {

template <class T>
class RingDeque {
 public:
  // Slots kept when the ring empties; a larger ring (left by a burst) is released then.
  static constexpr std::size_t kept_slots = 1024;

  template <bool Const>
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;

    Iterator() = default;
    Iterator(std::conditional_t<Const, const RingDeque*, RingDeque*> ring, std::size_t index)
        : ring_(ring), index_(index) {}
    reference operator*() const { return (*ring_)[index_]; }
    pointer operator->() const { return &(*ring_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++index_;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.index_ == b.index_; }

   private:
    std::conditional_t<Const, const RingDeque*, RingDeque*> ring_ = nullptr;
    std::size_t index_ = 0;
  };
  using iterator = Iterator<false>;
  using const_iterator = Iterator<true>;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // Slots held: elements fit without allocating up to this many.
  std::size_t capacity() const noexcept { return slots_.size(); }

  T& operator[](std::size_t i) { return *slots_[slot(i)]; }
  const T& operator[](std::size_t i) const { return *slots_[slot(i)]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

  void push_back(T value) {
    grow_if_full();
    slots_[slot(size_)].emplace(std::move(value));
    ++size_;
  }
  void push_front(T value) {
    grow_if_full();
    head_ = (head_ + slots_.size() - 1) & mask();
    slots_[head_].emplace(std::move(value));
    ++size_;
  }
  void pop_front() {
    slots_[head_].reset();
    head_ = (head_ + 1) & mask();
    if (--size_ == 0) release_if_large();
  }
  void pop_back() {
    slots_[slot(size_ - 1)].reset();
    if (--size_ == 0) release_if_large();
  }

  void clear() {
    while (!empty()) pop_back();
  }
  void swap(RingDeque& other) noexcept {
    slots_.swap(other.slots_);
    std::swap(head_, other.head_);
    std::swap(size_, other.size_);
  }

  // Removes the elements `remove` holds true for, keeping the order of the others; returns
  // how many went.
  template <class Predicate>
  std::size_t erase_if(Predicate remove) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      if (remove(std::as_const((*this)[i]))) continue;
      if (kept != i) (*this)[kept] = std::move((*this)[i]);
      ++kept;
    }
    const std::size_t removed = size_ - kept;
    while (size_ > kept) pop_back();
    return removed;
  }

 private:
  std::size_t mask() const noexcept { return slots_.size() - 1; }
  std::size_t slot(std::size_t i) const noexcept { return (head_ + i) & mask(); }

  void grow_if_full() {
    if (size_ < slots_.size()) return;
    std::vector<std::optional<T>> grown(slots_.empty() ? 16 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) grown[i].emplace(std::move(*slots_[slot(i)]));
    slots_.swap(grown);
    head_ = 0;
  }
  void release_if_large() {
    head_ = 0;
    if (slots_.size() > kept_slots) std::vector<std::optional<T>>().swap(slots_);
  }

  std::vector<std::optional<T>> slots_;  // a power of two in size, or empty
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace zmesh
