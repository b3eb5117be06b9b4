#pragma once
// Allocations made by this test binary so far (operator new is replaced in alloc_count.cpp), so a
// test can show a data path makes none.

#include <atomic>
#include <cstddef>

namespace baton::net::test {
extern std::atomic<std::size_t> allocations;
}
