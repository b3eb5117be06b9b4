#pragma once
// The node policy (DESIGN §5): one JSON document per node, loaded into typed structures.
//
// Top-level sections (each parsed by its own function, registered in a table in sections.cpp):
//   identity  {name, address, certificate, key, ca}                      required
//   roles     ["passthrough", "cluster", "slr", ...]                       required
//   console   "host:port" of the introspection API                         default 127.0.0.1:9000
//   console_auth {tls, client_certificates, token_file}: console_auth_policy.hpp (TLS and
//             authentication; mandatory TLS when the console is not on loopback)
//   peers     [{name, address, port, console?}]  console: the peer's "HOST:PORT" (web console)
//   timers    document 004's timers                                        defaults below
//   group     {peers: [peer names], discovery_broadcast, quorum}
//   io        {backend, interfaces, mode, ipip: {encap, decap, local, remote}, clamp_mss}
//   profiles  [{name, action, spoof, three_way_handshake, priority, disposition, mss, compress,
//               encrypt, paths}]
//   rules     the node's rule list (see rule_list.hpp for its grammar)
//   pep       document 003: selection rules (same grammar, same profiles), peers, limits: pep_policy.hpp
//   cluster   {ip, inside_ip, mac, traffic, outside, inside, router, mode, hash, services}
//   slr       document 001's SLR / host agent (level, virtual subnets, F, G, ...): slr_section.cpp
//   shaping   start-time fair queueing classes on an access link: slr_section.cpp
//   replica   document 002: client gateway, server gateway, replica: replica_policy.hpp
//   rim       document 000: rim hosts (content, service port, uplink, TUN): rim_policy.hpp
// Unknown keys anywhere are errors, as are wrong types, out-of-range numbers, duplicate names,
// missing required keys and references to undefined names.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "policy/console_auth_policy.hpp"
#include "policy/policy_error.hpp"
#include "policy/pep_policy.hpp"
#include "policy/rim_policy.hpp"
#include "policy/replica_policy.hpp"
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
  std::string console;  // "HOST:PORT" of its introspection API, empty when not given (web console)
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
  /// Members the group must have before its master assigns units that nobody owns. 1 is document
  /// 004's behaviour; a larger quorum keeps a node that cannot link to anyone (no valid
  /// certificate, cut off at start) from claiming every unit of a shared cluster IP.
  std::uint32_t quorum = 1;
  /// Issue 14's departures from document 004 (actors/group/config.hpp): backups continue a lost
  /// master's units at once, and the lost master's deterministic successor offers itself without
  /// the join round. false: as the document.
  bool backup_takeover = true;
  bool successor_takeover = true;
};

/// af_xdp: an XDP socket (net/io/af_xdp_port.hpp); where the kernel refuses one, the port falls
/// back to AF_PACKET and says why in its status.
enum class io_backend : std::uint8_t { tun, af_packet, raw, memory, af_xdp };
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
  /// TCP SYNs the node sends into an IP-in-IP tunnel get an MSS that fits the port's MTU with the
  /// tunnel header (1440 on 1500 bytes); a host agent also lowers the MSS of the SYN-ACKs its
  /// services send from virtual addresses, so the uploads that come back through the tunnel fit.
  bool clamp_mss = true;
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
  std::vector<std::string> paths;      // PEP (document 003's PSK): the WAN paths to the peer in order
                                       // of preference (names in /pep/peers/*/paths); empty: the
                                       // cheapest path that is up
  rim_reaction rim;                    // document 000's management object (rim_policy.hpp)
};

/// A backend server behind the cluster IP.
struct cluster_backend {
  std::uint32_t address = 0;
  std::uint16_t port = 0;
};

/// The transport a cluster service is offered on.
enum class service_protocol : std::uint8_t { tcp, udp };
const char* to_string(service_protocol p) noexcept;
/// Its IP protocol number (6, 17).
std::uint8_t ip_protocol(service_protocol p) noexcept;

/// One service the cluster offers on its IP: a protocol and port, and the pool serving it.
struct cluster_service {
  service_protocol protocol = service_protocol::tcp;
  std::uint16_t port = 0;
  std::vector<cluster_backend> backends;
};

enum class cluster_mode : std::uint8_t { nat, dsr };
/// How the cluster IP's frames reach every member (document 004): a unicast cluster MAC that no
/// member ever sends from (so switches flood it), or a multicast cluster MAC (for switched
/// segments): each member captures the frames and the work-unit filter decides. Or forwarding:
/// the master answers ARP for the cluster addresses with its own MAC and forwards each datagram to
/// its unit's owner (the cluster MAC is then unused).
enum class traffic_mode : std::uint8_t { unicast_mac, multicast_mac, forwarding };
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
  std::string mac;               // "02:ba:70:00:00:01": the cluster MAC (multicast for multicast_mac;
                                 // optional, may be empty, for forwarding)
  std::string outside;           // interface toward clients
  std::string inside;            // interface toward backends
  std::uint32_t router = 0;      // outside next hop for replies to clients (required for NAT)
  cluster_mode mode = cluster_mode::nat;
  traffic_mode traffic = traffic_mode::unicast_mac;
  work_unit_hash_name hash = work_unit_hash_name::document;
  std::vector<cluster_service> services;
};

/// A virtual subnet (document 001): a prefix of virtual host addresses, host byte order, no
/// bits set past `length`.
struct virtual_subnet {
  std::uint32_t prefix = 0;
  std::uint8_t length = 32;
  /// Whether `address` lies in this subnet.
  bool contains(std::uint32_t address) const noexcept {
    return length == 0 || (address >> (32 - length)) == (prefix >> (32 - length));
  }
  /// Whether `other` lies wholly inside this subnet (equal counts).
  bool covers(const virtual_subnet& other) const noexcept {
    return other.length >= length && contains(other.prefix);
  }
};
bool operator==(const virtual_subnet& x, const virtual_subnet& y) noexcept;
inline bool operator!=(const virtual_subnet& x, const virtual_subnet& y) noexcept { return !(x == y); }
/// Orders by prefix, then by length (shorter first).
bool operator<(const virtual_subnet& x, const virtual_subnet& y) noexcept;
/// "a.b.c.d/len".
std::string to_string(const virtual_subnet& s);

/// The SLR's place in document 001's hierarchy; `host` is the host agent at the bottom.
enum class slr_level : std::uint8_t { network, system, site, host };
/// How Figure 9's table turns costs into the data path's choice for new connections:
/// `lowest` sends them all to the lowest cost m (the document's step 9300); `spread` gives each
/// candidate a share proportional to 1 / (epsilon + m).
enum class slr_selection : std::uint8_t { spread, lowest };
/// F in m = F(s, r): weighted_sum = load_weight * s + cost_weight * r; least_load = s;
/// lowest_cost = r.
enum class slr_function_kind : std::uint8_t { weighted_sum, least_load, lowest_cost };
/// G in M_k = G(s_k1..s_kJ, r_1..r_J) (steps 9310 / 9320): min = the lowest load below;
/// mean = the plain mean of the loads; weighted_mean = mean weighted by 1 / r_j (near nodes count
/// more). aggregate_cost is added to each result.
enum class slr_aggregate : std::uint8_t { min, mean, weighted_mean };
/// Where the host agent's load index comes from.
enum class load_source : std::uint8_t { connections, cpu, command, fixed /* "static" */ };
const char* to_string(slr_level x) noexcept;
const char* to_string(slr_selection x) noexcept;
const char* to_string(slr_function_kind x) noexcept;
const char* to_string(slr_aggregate x) noexcept;
const char* to_string(load_source x) noexcept;

struct slr_function {
  slr_function_kind kind = slr_function_kind::weighted_sum;
  double load_weight = 1.0;  // weighted_sum only; both >= 0
  double cost_weight = 0.0;
};

/// A time-of-day rule: between local hours [from_hour, to_hour) (wrapping past midnight when
/// from_hour > to_hour; "00-24" is all day), for the virtual subnets inside `subnet` (all when
/// absent), F is `function`. Rules apply in order, the first match wins, slr_section::function
/// is the default.
struct slr_time_rule {
  std::uint8_t from_hour = 0;  // 0..23
  std::uint8_t to_hour = 24;   // 1..24, != from_hour
  std::optional<virtual_subnet> subnet;
  slr_function function;
};

/// Another SLR this node talks to: one level up (upper: hello and state updates) or at the
/// same level (neighbors: WHOHAS). `port` is where its node listens (its identity.port).
/// Port SLRs listen on for SLR links (hello, state, tunnel objects, WHOHAS); the group keeps 4790.
inline constexpr std::uint16_t default_slr_port = 4792;

struct slr_upper {
  std::string name;
  std::uint32_t address = 0;
  std::uint16_t port = default_slr_port;
};

struct slr_route_cost {
  std::uint32_t next_hop = 0;  // a lower node's tunnel address
  double cost = 1.0;           // r_j, >= 0
};

struct slr_load {
  load_source source = load_source::connections;
  std::string command;            // command: run with /bin/sh -c; the first number printed
  std::uint32_t command_timeout_ms = 1000;
  double value = 0.0;             // static: the constant load index
};

struct slr_hot_spare {
  std::uint32_t address = 0;  // the SLR cluster address the primary and its spare share
  std::string mac;            // "aa:bb:cc:dd:ee:ff", empty = not given
};

/// Document 001's service level router (network / system / site) or host agent (host).
struct slr_section {
  slr_level level = slr_level::site;
  std::vector<virtual_subnet> virtual_subnets;  // what this node serves (site / host)
  std::uint32_t tunnel_address = 0;            // where tunnels to this node end; default identity
  std::uint16_t port = default_slr_port;        // SLRs: where lower nodes and neighbours dial
  std::vector<slr_upper> upper;                 // the SLR(s) one level up: hello + state updates
  std::vector<slr_upper> neighbors;             // SLRs of the same level asked by WHOHAS
  std::uint32_t update_interval_ms = 500;       // Figure 9's period and the state update period
  std::uint32_t expiry_ms = 1500;               // state older than this is dropped (3 x interval)
  slr_selection selection = slr_selection::spread;
  double epsilon = 0.01;                        // spread: share ~ 1 / (epsilon + m)
  slr_function function;                        // the default F
  std::vector<slr_time_rule> time_of_day;
  slr_aggregate aggregate = slr_aggregate::min;
  double aggregate_cost = 0.0;                  // added to every M_k sent upward
  std::vector<slr_route_cost> route_costs;      // r_j per next hop; others cost 1
  bool shortcuts = true;                        // tell the upstream SLR the chosen tunnel end
  std::uint32_t flow_capacity = 65536;          // pinned flows this node keeps
  slr_load load;                                // host agent
  std::uint32_t progress_timeout_ms = 1000;     // host agent: Figure 10's no-feedback time
  std::optional<slr_hot_spare> hot_spare;
};

/// One class of start-time fair queueing on an access link: traffic from `source` (the virtual
/// host addresses of the reverse flow) gets `share` of the link relative to the other classes.
struct shaping_class {
  std::string name;
  virtual_subnet source;
  std::uint32_t share = 1;
};

/// Link scheduling on an access link (document 001: e.g. 20% for client X's web, 30% for
/// client Y's audio).
struct shaping_section {
  std::string interface;
  double rate_mbit = 0;            // the link rate the scheduler paces to
  std::uint32_t burst_kbyte = 64;
  std::vector<shaping_class> classes;
  std::uint32_t default_share = 1;  // traffic matching no class
};

bool operator==(const slr_function& x, const slr_function& y) noexcept;
bool operator==(const slr_time_rule& x, const slr_time_rule& y) noexcept;
bool operator==(const slr_upper& x, const slr_upper& y) noexcept;
bool operator==(const slr_route_cost& x, const slr_route_cost& y) noexcept;
bool operator==(const slr_load& x, const slr_load& y) noexcept;
bool operator==(const slr_hot_spare& x, const slr_hot_spare& y) noexcept;
bool operator==(const slr_section& x, const slr_section& y) noexcept;
bool operator==(const shaping_class& x, const shaping_class& y) noexcept;
bool operator==(const shaping_section& x, const shaping_section& y) noexcept;

struct policy {
  identity_section identity;
  std::vector<role> roles;
  endpoint console{0x7f000001u, 9000};
  std::optional<console_auth_section> console_auth;  // policy/console_auth_section.cpp
  std::vector<peer> peers;
  timers_section timers;
  group_section group;
  io_section io;
  std::vector<profile> profiles;
  rule_set rules;
  std::optional<pep_section> pep;
  std::optional<cluster_section> cluster;
  std::optional<slr_section> slr;          // policy/slr_section.cpp
  std::optional<shaping_section> shaping;  // policy/slr_section.cpp
  std::optional<replica_section> replica;  // policy/replica_section.cpp (document 002)
  std::optional<rim_section> rim;          // policy/rim_section.cpp (document 000)

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
/// appears twice in one object is refused too (JSON parsers silently keep the last one); a number
/// too large for a double throws policy_error "<origin>: number overflow parsing '<number>'".
policy load_policy_text(std::string_view text, std::string_view origin = "policy");

/// Reads and loads the policy file at `path`. An unreadable file throws policy_error
/// "<path>: cannot read: <errno text>"; otherwise as load_policy_text with origin = path.
policy load_policy_file(const std::string& path);

/// The top-level section names, in the order they are parsed, rendered and diffed.
std::vector<std::string_view> section_names();

}  // namespace baton::policy
