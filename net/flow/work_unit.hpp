#pragma once
// Work units (document 004, "NORMAL IP PACKET PROCESSING"): every packet addressed to the cluster
// is hashed to one of N work units (N = 1024 in the document); the master assigns each unit to one
// cluster member, and each member drops the packets of the units it does not own.
//
// Two hashes, chosen by name in the policy:
//   "document" — the document's Cluster_Filtering_Function, as written (see its definition);
//   "mixed"    — a symmetric, well-mixed hash of the full 5-tuple.
// All members of a cluster must use the same hash and the same N, or they disagree on ownership.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "net/flow/flow_key.hpp"

namespace baton::net {

/// The document's number of work units ("a unique work unit number between 0 and 1023").
inline constexpr std::uint32_t default_work_units = 1024;
/// Largest supported N: a work unit must fit the 16-bit field of a flow-table entry.
inline constexpr std::uint32_t max_work_units = 65536;

/// Which of the document's two filters applies (Figure 9): packets addressed to a cluster IP
/// address go through the "work set filter" (911); packets this member forwards as a router go
/// through the "forward filter" (913).
enum class filter : std::uint8_t {
  work_set,  // destination is a cluster IP address
  forward,   // packet is being forwarded (not for a cluster address)
};

/// Which hash function maps a packet to its work unit.
enum class work_unit_hash : std::uint8_t {
  document,  // the document's XOR of header fields, folded modulo N
  mixed,     // symmetric multiplicative mix of the full 5-tuple, reduced to [0, N)
};

/// "document" or "mixed". Never returns null.
const char* to_string(work_unit_hash h) noexcept;

/// Parses a policy name ("document" / "mixed", exact, lower case). Returns nullopt for anything
/// else; the caller reports the error with its JSON pointer.
std::optional<work_unit_hash> parse_work_unit_hash(std::string_view name) noexcept;

/// The document's hash, before folding: for the work-set filter, TCP and UDP give
/// source address XOR source port and any other protocol gives source XOR destination address;
/// for the forward filter, source XOR destination address. All values in host order.
std::uint32_t document_hash_value(const flow_key& k, filter f) noexcept;

/// The document's work unit: document_hash_value() modulo `units`.
/// Precondition: 1 <= units <= max_work_units (checked by work_unit_hasher, not here).
std::uint32_t document_work_unit(const flow_key& k, filter f,
                                 std::uint32_t units = default_work_units) noexcept;

/// The alternative: a 64-bit mix of the whole 5-tuple, symmetric in its two endpoints
/// (mixed_work_unit(k) == mixed_work_unit(k.reverse())), reduced to [0, units) by a multiply,
/// so N need not be a power of two. The filter argument does not change the result: both
/// filters hash the unordered endpoint pair plus protocol (see the definition for why).
/// Precondition: 1 <= units <= max_work_units.
std::uint32_t mixed_work_unit(const flow_key& k, filter f,
                              std::uint32_t units = default_work_units) noexcept;

// Definitions of the three functions above: inline, they run once per packet.

// Document 004, Cluster_Filtering_Function:
//   if (Forwarding)                 i = ip_dst ^ ip_src;
//   else { i = ip_src;
//          if (ip_p == IPPROTO_UDP) i ^= uh_sport;
//          else if (ip_p == IPPROTO_TCP) i ^= th_sport;
//          else i ^= ip_dst; }
//   return IP_CLUSTER_HASH(i);
// The sample reads the header words straight from memory (network order). We XOR the same
// fields as numbers in host order, so the result is the same on every machine; the document's
// folding below is stated on the numbers ("modulo 1024"), not on a memory layout.
inline std::uint32_t document_hash_value(const flow_key& k, filter f) noexcept {
  if (f == filter::forward) return k.src_addr ^ k.dst_addr;
  std::uint32_t i = k.src_addr;
  if (k.protocol == 17 /* UDP */ || k.protocol == 6 /* TCP */) {
    i ^= k.src_port;
  } else {
    i ^= k.dst_addr;
  }
  return i;
}

// The document folds i into a work unit in two sentences that describe one operation:
//   "the IP source and destination addresses are hashed modulo 1024 to produce an index value"
//   "... are all added together (logical XOR) and then shifted to produce a unique "work unit"
//    number between 0 and 1023."
// IP_CLUSTER_HASH itself is not given. We take "modulo 1024" literally: keep the low 10 bits.
// The "shifted" reading as "take the high bits" cannot be meant: i >> 22 would drop the 16-bit
// port the sample code just XORed in. For N other than 1024 the same rule is i modulo N.
// The sample's i is a signed int; we use unsigned arithmetic so the modulo is never negative.
inline std::uint32_t document_work_unit(const flow_key& k, filter f, std::uint32_t units) noexcept {
  const std::uint32_t i = document_hash_value(k, f);
  if ((units & (units - 1)) == 0) return i & (units - 1);  // 1024: the low 10 bits
  return i % units;
}

// Why the alternative looks like this:
// - Full 5-tuple: the document decides the unit by the low 10 bits of the XORed fields. Clients
//   with a fixed source port (DNS resolvers, NTP, port-preserving NATs) in subnets whose third
//   octets share their two low bits (10.s.0.0/24 at every site) reach only 256 of 1024 units;
//   forwarded traffic is keyed on the address pair alone, so a few busy host pairs (backups,
//   replication) load as many units as there are pairs, however many flows they carry.
//   Mixing every bit of all five fields spreads those cases as well as random ones.
//   The price: when there are only about as many distinct flows as units (e.g. one ESP tunnel
//   per client of a /22), the document's XOR maps a contiguous block one-to-one onto units,
//   which no random-looking hash does; bench_flow shows both sides.
// - Symmetric: the document's forward filter (src XOR dst) gives both directions of a forwarded
//   flow the same unit, so the member that owns it sees its replies too; stateful forwarding
//   (NAT, the flow table) needs that. We keep the property by hashing the unordered pair of
//   endpoints {(addr, port), (addr, port)}, and use the same function for the work-set filter so
//   a member can also classify the return direction of a cluster flow (rim reverse-flow
//   forwarding, replies seen on a shared segment). One compare and two conditional moves are its
//   whole cost.
// - Reduction by multiply-high ((h32 * N) >> 32) uses the best-mixed top bits and works for any N.
inline std::uint32_t mixed_work_unit(const flow_key& k, filter /*f*/,
                                     std::uint32_t units) noexcept {
  const std::uint64_t x = (std::uint64_t{k.src_addr} << 16) | k.src_port;
  const std::uint64_t y = (std::uint64_t{k.dst_addr} << 16) | k.dst_port;
  // Conditional moves, not a branch: which endpoint is lower is a coin flip per packet.
  const std::uint64_t lo = x < y ? x : y;
  const std::uint64_t hi = x < y ? y : x;
  const std::uint64_t h = mix64(lo * 0x9e3779b97f4a7c15ULL ^ hi * 0xc2b2ae3d27d4eb4fULL ^
                                (std::uint64_t{k.protocol} << 56));
  return static_cast<std::uint32_t>(((h >> 32) * units) >> 32);
}

/// A chosen hash and unit count, checked once at construction, applied per packet.
class work_unit_hasher {
 public:
  /// Throws std::invalid_argument if units is 0 or above max_work_units.
  explicit work_unit_hasher(work_unit_hash kind = work_unit_hash::document,
                            std::uint32_t units = default_work_units);

  /// The work unit of a packet with key `k` under filter `f`: always < units(). Never throws.
  std::uint32_t operator()(const flow_key& k, filter f = filter::work_set) const noexcept {
    return kind_ == work_unit_hash::document ? document_work_unit(k, f, units_)
                                             : mixed_work_unit(k, f, units_);
  }

  work_unit_hash kind() const noexcept { return kind_; }
  std::uint32_t units() const noexcept { return units_; }

 private:
  work_unit_hash kind_;
  std::uint32_t units_;
};

/// A fixed-size set of work units, one bit each: the per-packet "do I own this unit?" check.
/// 1024 bits = 128 bytes = two cache lines for the document's N. Plain value type; copying it
/// is how a control actor publishes a new assignment to the packet loop.
template <std::size_t Bits>
class unit_bitmap {
  static_assert(Bits > 0 && Bits % 64 == 0, "whole 64-bit words only");

 public:
  static constexpr std::size_t size() noexcept { return Bits; }

  /// True if unit `u` is in the set; false for u >= size(). Never throws.
  bool test(std::uint32_t u) const noexcept {
    return u < Bits && ((words_[u >> 6] >> (u & 63)) & 1U) != 0;
  }
  /// Adds unit `u`. Returns false (and changes nothing) if u >= size().
  bool set(std::uint32_t u) noexcept {
    if (u >= Bits) return false;
    words_[u >> 6] |= std::uint64_t{1} << (u & 63);
    return true;
  }
  /// Removes unit `u`. Returns false (and changes nothing) if u >= size().
  bool reset(std::uint32_t u) noexcept {
    if (u >= Bits) return false;
    words_[u >> 6] &= ~(std::uint64_t{1} << (u & 63));
    return true;
  }
  /// Adds units [0, n), n clipped to size(): "own everything" for a cluster of N units.
  void set_first(std::size_t n) noexcept {
    if (n > Bits) n = Bits;
    for (std::size_t u = 0; u < n; ++u) words_[u >> 6] |= std::uint64_t{1} << (u & 63);
  }
  void clear() noexcept { words_.fill(0); }
  /// Number of units in the set.
  std::size_t count() const noexcept {
    std::size_t n = 0;
    for (auto w : words_) n += static_cast<std::size_t>(__builtin_popcountll(w));
    return n;
  }
  bool none() const noexcept { return count() == 0; }

  friend bool operator==(const unit_bitmap& a, const unit_bitmap& b) noexcept {
    return a.words_ == b.words_;
  }
  friend bool operator!=(const unit_bitmap& a, const unit_bitmap& b) noexcept {
    return !(a == b);
  }

 private:
  std::array<std::uint64_t, Bits / 64> words_{};
};

/// The owned-units set for the document's 1024 work units.
using owned_units = unit_bitmap<default_work_units>;
static_assert(sizeof(owned_units) == 128);

}  // namespace baton::net
