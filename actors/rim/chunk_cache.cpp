// The rim's chunk cache. See chunk_cache.hpp.

#include "actors/rim/chunk_cache.hpp"

namespace baton::rim {

chunk_ptr chunk_cache::find(const std::string& object, std::uint64_t index) {
  auto it = index_.find({object, index});
  if (it == index_.end()) return nullptr;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->data;
}

void chunk_cache::drop(std::list<entry>::iterator it) {
  bytes_ -= it->data->size();
  index_.erase(it->k);
  entries_.erase(it);
}

void chunk_cache::insert(const std::string& object, std::uint64_t index, chunk_ptr data) {
  if (!data) return;
  auto old = index_.find({object, index});
  if (old != index_.end()) drop(old->second);
  if (data->size() > capacity_) return;
  entries_.push_front({{object, index}, std::move(data)});
  index_[{object, index}] = entries_.begin();
  bytes_ += entries_.front().data->size();
  while (bytes_ > capacity_) {
    drop(std::prev(entries_.end()));
    ++evicted_;
  }
}

void chunk_cache::forget(const std::string& object) {
  sizes_.erase(object);
  for (auto it = index_.lower_bound({object, 0}); it != index_.end() && it->first.first == object;) {
    auto next = std::next(it);
    drop(it->second);
    it = next;
  }
}

std::optional<std::uint64_t> chunk_cache::size_of(const std::string& object) const {
  auto it = sizes_.find(object);
  if (it == sizes_.end()) return std::nullopt;
  return it->second;
}

void chunk_cache::set_size(const std::string& object, std::uint64_t size) { sizes_[object] = size; }

}  // namespace baton::rim
