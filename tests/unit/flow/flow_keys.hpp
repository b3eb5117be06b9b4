#pragma once
// Building flow keys field by field for the flow tests (all values host order).

#include <cstdint>

#include "net/flow/flow_key.hpp"

namespace baton::net::test {

inline flow_key key(std::uint32_t s, std::uint32_t d, std::uint16_t sp, std::uint16_t dp,
                    std::uint8_t p) {
  flow_key k;
  k.src_addr = s;
  k.dst_addr = d;
  k.src_port = sp;
  k.dst_port = dp;
  k.protocol = p;
  return k;
}

}  // namespace baton::net::test
