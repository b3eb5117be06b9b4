#pragma once
// The node policy (DESIGN §5): one JSON document per node, loaded into typed structures.
//
// Top-level sections (each parsed by its own function, registered in a table in sections.cpp):
//   identity  {name, address, certificate, key, ca}                      required
//   roles     ["passthrough", "cluster", "slr", ...]                       required
//   console   "host:port" of the introspection API                         default 127.0.0.1:9000
//   peers     [{name, address, port}]
//   timers    document 004's timers                                        defaults below
//   group     {peers: [peer names], discovery_broadcast}
//   io        {backend, interfaces, mode, ipip: {encap, decap, local, remote}}
//   profiles  [{name, action, spoof, three_way_handshake, priority, disposition, mss, compress,
//               encrypt}]
//   rules     the node's rule list (see rule_list.hpp for its grammar)
//   pep       {rules: [...]}: the PEP endpoint's selection rules, same grammar, same profiles
//   cluster   {ip, inside_ip, mac, traffic, outside, inside, router, mode, hash, services}
// Unknown keys anywhere are errors, as are wrong types, out-of-range numbers, duplicate names,
// missing required keys and references to undefined names.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "policy/policy_error.hpp"
#include "policy/rules.hpp"

namespace baton::policy {

/// The roles one batond can play (DESIGN §1).
enum class role : std::uint8_t {
  passthrough,
  cluster,
  slr,
  host_agent,
  client_gateway,
  server_gateway,
  replica,
  pep,
  rim,
};
inline constexpr std::size_t role_count = 9;
/// The policy name of a role ("host_agent", ...).
const char* to_string(role r) noexcept;

/// An IPv4 address and port, both in host byte order.
struct endpoint {
  std::uint32_t address = 0;
  std::uint16_t port = 0;
};
/// "a.b.c.d:port".
std::string to_string(const endpoint& e);

struct identity_section {
  std::string name;         // node name; also the certificate's subject CN by convention
  std::uint32_t address = 0;
  std::uint16_t port = 4790;  // where this node's group actor listens for peers (when it has any)
  std::string certificate;  // PEM file paths as written in the policy; empty = not given
  std::string key;
  std::string ca;
};

struct peer {
  std::string name;
  endpoint at;
};

/// Document 004's timers; the defaults are the document's values (DESIGN §4).
struct timers_section {
  std::uint32_t master_watchdog_ms = 200;  // a member declares the master dead after this
  std::uint32_t master_offer_ms = 100;     // silence after offering to be master before taking over
  std::uint32_t rebalance_ms = 2000;       // period of work-unit rebalancing
  std::uint32_t k = 3600;                  // K in 1/K = n P^n (adaptive keepalive interval)
  std::uint32_t work_units = 1024;         // number of hash work units
};

struct group_section {
  std::vector<std::string> peers;     // names from /peers that form this node's group
  bool discovery_broadcast = false;   // also find members by broadcast on the segment
};

enum class io_backend : std::uint8_t { tun, af_packet, raw, memory };
enum class io_mode : std::uint8_t { passthrough };
const char* to_string(io_backend b) noexcept;
const char* to_string(io_mode m) noexcept;

/// User-space IP-in-IP (the kernel here has no ipip module, DESIGN §3).
struct ipip_section {
  bool encap = false;          // wrap forwarded packets from local to remote
  bool decap = false;          // unwrap protocol-4 packets addressed to local
  std::uint32_t local = 0;     // tunnel endpoints; 0 = not given (required when encap)
  std::uint32_t remote = 0;
};

/// One device of the data path. In the policy either a name ("eth0") or an object
/// {"name": "eth0", "kind": "af_packet", "next_hop": "10.0.0.1", "promiscuous": false}.
struct io_interface {
  std::string name;
  std::optional<io_backend> kind;  // absent: the section's backend
  std::uint32_t next_hop = 0;      // AF_PACKET: whose MAC sent frames go to; 0 = broadcast
  bool promiscuous = false;        // AF_PACKET: capture frames for other MACs too
};

struct io_section {
  io_backend backend = io_backend::memory;
  std::vector<io_interface> interfaces;  // in order: pass-through forwards 0 -> 1 and 1 -> 0
  io_mode mode = io_mode::passthrough;
  ipip_section ipip;
};

enum class profile_action : std::uint8_t { forward, drop };
enum class profile_disposition : std::uint8_t { forward, discard };
const char* to_string(profile_action a) noexcept;
const char* to_string(profile_disposition d) noexcept;

/// A named set of parameters that rules select (document 003's TCP spoofing parameter profile,
/// priority and path profiles, generalised so every role that selects can share them).
struct profile {
  std::string name;
  profile_action action = profile_action::forward;  // what to do with matching traffic
  bool spoof = false;                  // TCP spoofing on (document 003: "unspoofed" = false)
  bool three_way_handshake = true;     // three-way handshake spoofing (on by default, [241])
  std::uint8_t priority = 0;           // connection priority 0..3 (two bits of the handle)
  profile_disposition disposition = profile_disposition::forward;  // no backbone at priority
  std::uint16_t mss = 0;               // MSS to advertise; 0 = from the path MTU
  bool compress = false;
  bool encrypt = false;
};

/// A backend server behind the cluster IP.
struct cluster_backend {
  std::uint32_t address = 0;
  std::uint16_t port = 0;
};

/// One service the cluster offers on its IP: a port and the pool serving it.
struct cluster_service {
  std::uint16_t port = 0;
  std::vector<cluster_backend> backends;
};

enum class cluster_mode : std::uint8_t { nat, dsr };
/// How the cluster IP's frames reach every member (document 004): a unicast cluster MAC that no
/// member ever sends from (so switches flood it), or a multicast cluster MAC (for switched
/// segments). Either way each member captures the frames and the work-unit filter decides.
enum class traffic_mode : std::uint8_t { unicast_mac, multicast_mac };
const char* to_string(traffic_mode m) noexcept;
enum class work_unit_hash_name : std::uint8_t { document, mixed };
const char* to_string(cluster_mode m) noexcept;
const char* to_string(work_unit_hash_name h) noexcept;

/// The cluster member's section (document 004): the shared cluster IP on the outside segment, the
/// inside address backends use as their gateway, the cluster MAC both are reached at, and the
/// services with their backend pools.
struct cluster_section {
  std::uint32_t ip = 0;          // the cluster (virtual) IP clients connect to
  std::uint32_t inside_ip = 0;   // the backends' gateway; 0 in DSR mode (replies bypass us)
  std::string mac;               // "02:ba:70:00:00:01": the cluster MAC (multicast for multicast_mac)
  std::string outside;           // interface toward clients
  std::string inside;            // interface toward backends
  std::uint32_t router = 0;      // outside next hop for replies to clients (required for NAT)
  cluster_mode mode = cluster_mode::nat;
  traffic_mode traffic = traffic_mode::unicast_mac;
  work_unit_hash_name hash = work_unit_hash_name::document;
  std::vector<cluster_service> services;
};

/// The PEP endpoint's section: its selection rules over the shared profiles.
struct pep_section {
  rule_set rules;
};

struct policy {
  identity_section identity;
  std::vector<role> roles;
  endpoint console{0x7f000001u, 9000};
  std::vector<peer> peers;
  timers_section timers;
  group_section group;
  io_section io;
  std::vector<profile> profiles;
  rule_set rules;
  std::optional<pep_section> pep;
  std::optional<cluster_section> cluster;

  bool has_role(role r) const noexcept;
  /// The profile / peer called `name`, or nullptr. Pointers live as long as this policy.
  const profile* find_profile(std::string_view name) const noexcept;
  const peer* find_peer(std::string_view name) const noexcept;
};

bool operator==(const endpoint& x, const endpoint& y) noexcept;
bool operator==(const identity_section& x, const identity_section& y) noexcept;
bool operator==(const peer& x, const peer& y) noexcept;
bool operator==(const timers_section& x, const timers_section& y) noexcept;
bool operator==(const group_section& x, const group_section& y) noexcept;
bool operator==(const ipip_section& x, const ipip_section& y) noexcept;
bool operator==(const io_interface& x, const io_interface& y) noexcept;
bool operator==(const io_section& x, const io_section& y) noexcept;
bool operator==(const profile& x, const profile& y) noexcept;
bool operator==(const pep_section& x, const pep_section& y);
bool operator==(const cluster_backend& x, const cluster_backend& y) noexcept;
bool operator==(const cluster_service& x, const cluster_service& y) noexcept;
bool operator==(const cluster_section& x, const cluster_section& y) noexcept;
bool operator==(const policy& x, const policy& y);
inline bool operator!=(const policy& x, const policy& y) { return !(x == y); }

/// Validates `doc` and returns the typed policy. Throws policy_error naming the JSON pointer of
/// the first problem found and why. `doc` is only read.
policy load_policy(const nlohmann::json& doc);

/// Parses `text` as JSON and loads it. JSON syntax errors throw policy_error with an empty
/// pointer and a reason "<origin>:<line>:<column>: <what the parser expected>"; a key that
/// appears twice in one object is refused too (JSON parsers silently keep the last one).
policy load_policy_text(std::string_view text, std::string_view origin = "policy");

/// Reads and loads the policy file at `path`. An unreadable file throws policy_error
/// "<path>: cannot read: <errno text>"; otherwise as load_policy_text with origin = path.
policy load_policy_file(const std::string& path);

/// The top-level section names, in the order they are parsed, rendered and diffed.
std::vector<std::string_view> section_names();

}  // namespace baton::policy
