// Counts every allocation in the test_sched binary. In a translation unit of its own, so the
// compiler does not inline the replacement into test code and reason about its sizes. The
// replacements pair malloc with free; GCC's -Wmismatched-new-delete cannot see that once it
// inlines them.
#include "tests/unit/sched/alloc_count.hpp"

#include <cstdlib>
#include <new>

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace baton::net::test {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t n) {
  ++baton::net::test::allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
