// The rim's chunk cache (actors/rim/chunk_cache.hpp): bounded, least recently used first.

#include <doctest/doctest.h>

#include <string>

#include "actors/rim/chunk_cache.hpp"

using namespace baton::rim;

namespace {
chunk_ptr bytes(std::size_t n, char c = 'x') { return std::make_shared<const std::string>(n, c); }
bool has(chunk_cache& c, const char* object, std::uint64_t index) { return c.find(object, index) != nullptr; }
}  // namespace

TEST_CASE("the chunk cache keeps at most its capacity, least recently used go first") {
  chunk_cache c(300);
  c.insert("a", 0, bytes(100));
  c.insert("a", 1, bytes(100));
  c.insert("b", 0, bytes(100));
  CHECK(c.bytes() == 300);
  REQUIRE(has(c, "a", 0));  // a/0 is now the most recent: a/1 goes next
  c.insert("b", 1, bytes(100));
  CHECK(c.bytes() == 300);
  CHECK(c.evicted() == 1);
  CHECK(!has(c, "a", 1));
  CHECK(has(c, "a", 0));
  CHECK(has(c, "b", 1));
  SUBCASE("a chunk held elsewhere outlives its eviction") {
    auto held = c.find("b", 0);
    c.insert("c", 0, bytes(300));
    CHECK(!has(c, "b", 0));
    CHECK(held->size() == 100);
    CHECK(c.chunks() == 1);
  }
  SUBCASE("a chunk larger than the capacity is not kept, and evicts nothing") {
    c.insert("big", 0, bytes(301));
    CHECK(!has(c, "big", 0));
    CHECK(c.bytes() == 300);
  }
  SUBCASE("replacing a chunk counts its bytes once") {
    c.insert("a", 0, bytes(50));
    CHECK(c.bytes() == 250);
  }
  SUBCASE("forgetting an object drops its chunks and size, no other's") {
    c.set_size("b", 1000);
    c.set_size("a", 10);
    c.forget("b");
    CHECK(!has(c, "b", 1));
    CHECK(!c.size_of("b"));
    CHECK(c.size_of("a") == 10u);
    CHECK(has(c, "a", 0));
    CHECK(c.bytes() == 100);
  }
}
