#pragma once
// The chunks of origin objects a rim host keeps in memory, least recently used evicted first, at
// most `capacity` bytes; and the sizes of the objects it has learnt from the origin. A chunk is
// shared (shared_ptr): a connection writing from an evicted chunk keeps it until it moves on, so
// memory is the capacity plus at most one chunk per connection. Used on the service's thread only.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace baton::rim {

using chunk_ptr = std::shared_ptr<const std::string>;

class chunk_cache {
 public:
  explicit chunk_cache(std::uint64_t capacity) : capacity_(capacity) {}

  /// Chunk `index` of `object`, now the most recently used; nullptr when not held.
  chunk_ptr find(const std::string& object, std::uint64_t index);
  /// Keeps `data` as chunk `index` of `object` (replacing one held), then evicts the least recently
  /// used chunks until the bytes held fit the capacity (a chunk larger than it is not kept).
  void insert(const std::string& object, std::uint64_t index, chunk_ptr data);
  /// Forgets the object's chunks and size (it changed at the origin).
  void forget(const std::string& object);

  std::optional<std::uint64_t> size_of(const std::string& object) const;
  void set_size(const std::string& object, std::uint64_t size);

  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t chunks() const { return entries_.size(); }
  std::uint64_t evicted() const { return evicted_; }

 private:
  using key = std::pair<std::string, std::uint64_t>;
  struct entry {
    key k;
    chunk_ptr data;
  };
  void drop(std::list<entry>::iterator it);

  std::uint64_t capacity_;
  std::uint64_t bytes_ = 0;
  std::uint64_t evicted_ = 0;
  std::list<entry> entries_;  // most recently used first
  std::map<key, std::list<entry>::iterator> index_;
  std::map<std::string, std::uint64_t> sizes_;
};

}  // namespace baton::rim
