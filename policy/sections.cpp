// The top-level sections of the node policy: one parse / render / compare group per section, the
// table that lists them, and the load and render entry points that walk the table.

#include "policy/sections.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <tuple>

#include "policy/console_auth_section.hpp"
#include "policy/fields.hpp"
#include "policy/render.hpp"
#include "policy/rule_list.hpp"
#include "policy/pep_section.hpp"
#include "policy/rim_section.hpp"
#include "policy/replica_section.hpp"
#include "policy/slr_section.hpp"

namespace baton::policy {

using detail::describe;
using detail::json;
using detail::value_ref;

// --- names of enumerations -------------------------------------------------------------------

namespace {

constexpr const char* role_names[role_count] = {"passthrough",    "cluster",        "slr",
                                                "host_agent",     "client_gateway", "server_gateway",
                                                "replica",        "pep",            "rim"};
constexpr const char* backend_names[] = {"tun", "af_packet", "raw", "memory", "af_xdp"};
constexpr const char* mode_names[] = {"passthrough"};
constexpr const char* action_names[] = {"forward", "drop"};
constexpr const char* disposition_names[] = {"forward", "discard"};


std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Text layout: a label column, then the content; continuation lines are indented to match.
constexpr std::size_t label_width = 11;
void line(std::string& out, std::string_view label, const std::string& text) {
  out += label;
  out.append(label_width > label.size() ? label_width - label.size() : 1, ' ');
  out += text;
  out += '\n';
}

}  // namespace

const char* to_string(role r) noexcept { return role_names[static_cast<std::size_t>(r)]; }
const char* to_string(io_backend b) noexcept { return backend_names[static_cast<std::size_t>(b)]; }
const char* to_string(io_mode m) noexcept { return mode_names[static_cast<std::size_t>(m)]; }
const char* to_string(profile_action a) noexcept { return action_names[static_cast<std::size_t>(a)]; }
const char* to_string(profile_disposition d) noexcept {
  return disposition_names[static_cast<std::size_t>(d)];
}
std::string to_string(const endpoint& e) {
  return format_ipv4(e.address) + ':' + std::to_string(e.port);
}

// --- field lists: equality and JSON come from these (policy/fields.hpp) ------------------------

using detail::field;
using detail::ipv4;

auto fields(const endpoint& x) {
  return std::make_tuple(field("address", x.address, ipv4), field("port", x.port));
}
auto fields(const identity_section& x) {
  return std::make_tuple(field("name", x.name), field("address", x.address, ipv4), field("port", x.port),
                         field("certificate", x.certificate).when(!x.certificate.empty()),
                         field("key", x.key).when(!x.key.empty()), field("ca", x.ca).when(!x.ca.empty()));
}
auto fields(const peer& x) {
  return std::make_tuple(field("name", x.name), field(nullptr, x.at),
                         field("console", x.console).when(!x.console.empty()));
}
auto fields(const timers_section& x) {
  return std::make_tuple(field("master_watchdog_ms", x.master_watchdog_ms),
                         field("master_offer_ms", x.master_offer_ms), field("rebalance_ms", x.rebalance_ms),
                         field("k", x.k), field("work_units", x.work_units));
}
auto fields(const group_section& x) {
  return std::make_tuple(field("peers", x.peers), field("discovery_broadcast", x.discovery_broadcast),
                         field("quorum", x.quorum), field("backup_takeover", x.backup_takeover),
                         field("successor_takeover", x.successor_takeover));
}
auto fields(const ipip_section& x) {
  return std::make_tuple(field("encap", x.encap), field("decap", x.decap),
                         field("local", x.local, ipv4).when(x.local != 0),
                         field("remote", x.remote, ipv4).when(x.remote != 0));
}
auto fields(const io_interface& x) {
  return std::make_tuple(field("name", x.name), field("kind", x.kind),
                         field("next_hop", x.next_hop, ipv4).when(x.next_hop != 0),
                         field("promiscuous", x.promiscuous));
}
auto fields(const io_section& x) {
  return std::make_tuple(field("backend", x.backend), field("interfaces", x.interfaces), field("mode", x.mode),
                         field("ipip", x.ipip), field("clamp_mss", x.clamp_mss).when(!x.clamp_mss));
}
auto fields(const profile& x) {
  return std::make_tuple(field("name", x.name), field("action", x.action), field("spoof", x.spoof),
                         field("three_way_handshake", x.three_way_handshake), field("priority", x.priority),
                         field("disposition", x.disposition), field("mss", x.mss), field("compress", x.compress),
                         field("encrypt", x.encrypt),
                         field("paths", x.paths, [](const auto& v) { return json(v); }).when(!x.paths.empty()),
                         field("rim", x.rim, detail::rim_reaction_json).when(x.rim != rim_reaction{}));
}
auto fields(const cluster_backend& x) {
  return std::make_tuple(field("address", x.address, ipv4), field("port", x.port));
}
auto fields(const cluster_service& x) {
  return std::make_tuple(field("protocol", x.protocol), field("port", x.port),
                         field("backends", x.backends));
}
auto fields(const cluster_section& x) {
  return std::make_tuple(field("ip", x.ip, ipv4), field("inside_ip", x.inside_ip, ipv4).when(x.inside_ip != 0),
                         field("mac", x.mac).when(!x.mac.empty()), field("outside", x.outside),
                         field("inside", x.inside), field("router", x.router, ipv4).when(x.router != 0),
                         field("mode", x.mode), field("traffic", x.traffic), field("hash", x.hash),
                         field("services", x.services));
}

using detail::equal_fields;
bool operator==(const endpoint& x, const endpoint& y) noexcept { return equal_fields(x, y); }
bool operator==(const identity_section& x, const identity_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const peer& x, const peer& y) noexcept { return equal_fields(x, y); }
bool operator==(const timers_section& x, const timers_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const group_section& x, const group_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const ipip_section& x, const ipip_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const io_interface& x, const io_interface& y) noexcept { return equal_fields(x, y); }
bool operator==(const io_section& x, const io_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const profile& x, const profile& y) noexcept { return equal_fields(x, y); }
bool operator==(const cluster_backend& x, const cluster_backend& y) noexcept { return equal_fields(x, y); }
bool operator==(const cluster_service& x, const cluster_service& y) noexcept { return equal_fields(x, y); }
bool operator==(const cluster_section& x, const cluster_section& y) noexcept { return equal_fields(x, y); }

bool operator==(const policy& x, const policy& y) {
  for (const auto& s : detail::sections())
    if (!s.equal(x, y)) return false;
  return true;
}

bool policy::has_role(role r) const noexcept {
  for (role x : roles)
    if (x == r) return true;
  return false;
}
const profile* policy::find_profile(std::string_view name) const noexcept {
  for (const auto& p : profiles)
    if (p.name == name) return &p;
  return nullptr;
}
const peer* policy::find_peer(std::string_view name) const noexcept {
  for (const auto& p : peers)
    if (p.name == name) return &p;
  return nullptr;
}

// --- the sections ----------------------------------------------------------------------------

namespace {

// identity -------------------------------------------------------------------------------------

void parse_identity(const value_ref& v, policy& out) {
  v.expect_object({"name", "address", "port", "certificate", "key", "ca"});
  auto& id = out.identity;
  id.name = v.get("name").as_name();
  id.address = v.get("address").as_ipv4();
  if (auto port = v.find("port")) id.port = static_cast<std::uint16_t>(port->as_uint(1, 65535));
  auto path = [&](const char* key) {
    auto p = v.find(key);
    if (!p) return std::string();
    std::string s = p->as_string();
    if (s.empty()) p->fail("an empty file path");
    return s;
  };
  id.certificate = path("certificate");
  id.key = path("key");
  id.ca = path("ca");
  // A certificate is useless without its key and the reverse (CAF refuses to start).
  if (!id.certificate.empty() && id.key.empty()) v.fail("missing required key \"key\" (a certificate is given)");
  if (id.certificate.empty() && !id.key.empty()) v.fail("missing required key \"certificate\" (a key is given)");
}
void identity_text(const policy& p, std::string& out) {
  line(out, "identity", p.identity.name + " " + format_ipv4(p.identity.address) + " port " +
                            std::to_string(p.identity.port));
  std::vector<std::string> files;
  if (!p.identity.certificate.empty()) files.push_back("certificate " + p.identity.certificate);
  if (!p.identity.key.empty()) files.push_back("key " + p.identity.key);
  if (!p.identity.ca.empty()) files.push_back("ca " + p.identity.ca);
  if (!files.empty()) line(out, "", join(files));
}

// roles ----------------------------------------------------------------------------------------

void parse_roles(const value_ref& v, policy& out) {
  std::size_t n = v.expect_array();
  if (n == 0) v.fail("a node needs at least one role");
  for (std::size_t i = 0; i < n; ++i) {
    auto item = v.at(i);
    auto r = static_cast<role>(one_of(item, role_names, "a role"));
    if (out.has_role(r)) item.fail(std::string("duplicate role \"") + to_string(r) + "\"");
    out.roles.push_back(r);
  }
}
void roles_text(const policy& p, std::string& out) {
  std::vector<std::string> names;
  for (role r : p.roles) names.push_back(to_string(r));
  line(out, "roles", join(names));
}

// console --------------------------------------------------------------------------------------

// "HOST:PORT" with an IPv4 host, as the console and a peer's console are written.
endpoint parse_console_address(const value_ref& v) {
  std::string s = v.as_string();
  std::size_t colon = s.rfind(':');
  auto bad = [&] { v.fail(describe(v.value()) + " is not an IPv4 host:port (e.g. \"127.0.0.1:9000\")"); };
  if (colon == std::string::npos) bad();
  auto address = detail::parse_ipv4(std::string_view(s).substr(0, colon));
  std::string port = s.substr(colon + 1);
  // Port 0 asks the kernel for a free port (batond logs the bound address in its "started" event).
  if (!address || port.empty() || port.size() > 5 || (port[0] == '0' && port.size() > 1) ||
      port.find_first_not_of("0123456789") != std::string::npos)
    bad();
  unsigned long n = std::stoul(port);
  if (n > 65535) bad();
  return {*address, static_cast<std::uint16_t>(n)};
}
void parse_console(const value_ref& v, policy& out) { out.console = parse_console_address(v); }
json console_json(const policy& p) { return to_string(p.console); }
void console_text(const policy& p, std::string& out) { line(out, "console", to_string(p.console)); }

// peers ----------------------------------------------------------------------------------------

void parse_peers(const value_ref& v, policy& out) {
  std::size_t n = v.expect_array();
  for (std::size_t i = 0; i < n; ++i) {
    auto item = v.at(i);
    item.expect_object({"name", "address", "port", "console"});
    peer p;
    auto name = item.get("name");
    p.name = name.as_name();
    p.at.address = item.get("address").as_ipv4();
    p.at.port = static_cast<std::uint16_t>(item.get("port").as_uint(1, 65535));
    if (auto console = item.find("console")) p.console = to_string(parse_console_address(*console));
    if (p.name == out.identity.name) name.fail("\"" + p.name + "\" is this node's own name");
    for (std::size_t j = 0; j < out.peers.size(); ++j) {
      if (out.peers[j].name == p.name)
        name.fail("duplicate peer name \"" + p.name + "\" (peer " + std::to_string(j) + " has it)");
      if (out.peers[j].at == p.at)
        item.fail("duplicate peer address " + to_string(p.at) + " (peer " + std::to_string(j) +
                  " has it)");
    }
    out.peers.push_back(std::move(p));
  }
}
void peers_text(const policy& p, std::string& out) {
  if (p.peers.empty()) line(out, "peers", "none");
  for (std::size_t i = 0; i < p.peers.size(); ++i)
    line(out, i == 0 ? "peers" : "",
         p.peers[i].name + " " + to_string(p.peers[i].at) +
           (p.peers[i].console.empty() ? "" : " console " + p.peers[i].console));
}

// timers ---------------------------------------------------------------------------------------

void parse_timers(const value_ref& v, policy& out) {
  v.expect_object({"master_watchdog_ms", "master_offer_ms", "rebalance_ms", "k", "work_units"});
  auto& t = out.timers;
  auto read = [&](const char* key, std::uint32_t& field, std::uint64_t lo, std::uint64_t hi) {
    if (auto x = v.find(key)) field = static_cast<std::uint32_t>(x->as_uint(lo, hi));
  };
  read("master_watchdog_ms", t.master_watchdog_ms, 1, 600000);
  read("master_offer_ms", t.master_offer_ms, 1, 600000);
  read("rebalance_ms", t.rebalance_ms, 1, 3600000);
  read("k", t.k, 1, 1000000000);
  read("work_units", t.work_units, 1, 65536);
}
void timers_text(const policy& p, std::string& out) {
  const auto& t = p.timers;
  line(out, "timers",
       "master watchdog " + std::to_string(t.master_watchdog_ms) + " ms, master offer " +
           std::to_string(t.master_offer_ms) + " ms, rebalance " + std::to_string(t.rebalance_ms) +
           " ms, K " + std::to_string(t.k) + ", work units " + std::to_string(t.work_units));
}

// group ----------------------------------------------------------------------------------------

void parse_group(const value_ref& v, policy& out) {
  v.expect_object({"peers", "discovery_broadcast", "quorum", "backup_takeover", "successor_takeover"});
  if (auto peers = v.find("peers")) {
    std::size_t n = peers->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = peers->at(i);
      std::string name = item.as_name();
      if (!out.find_peer(name)) item.fail("undefined peer \"" + name + "\" (not in /peers)");
      for (const auto& x : out.group.peers)
        if (x == name) item.fail("duplicate group peer \"" + name + "\"");
      out.group.peers.push_back(name);
    }
  }
  if (auto b = v.find("discovery_broadcast")) out.group.discovery_broadcast = b->as_bool();
  if (auto q = v.find("quorum")) out.group.quorum = static_cast<std::uint32_t>(q->as_uint(1, 64));
  if (auto b = v.find("backup_takeover")) out.group.backup_takeover = b->as_bool();
  if (auto b = v.find("successor_takeover")) out.group.successor_takeover = b->as_bool();
}
void group_text(const policy& p, std::string& out) {
  line(out, "group",
       "peers " + (p.group.peers.empty() ? std::string("none") : join(p.group.peers)) +
           "; discovery broadcast " + (p.group.discovery_broadcast ? "on" : "off") + "; quorum " +
           std::to_string(p.group.quorum) +
           (p.group.backup_takeover ? "" : "; backup take-over off") +
           (p.group.successor_takeover ? "" : "; successor take-over off"));
}

// io -------------------------------------------------------------------------------------------

void parse_io(const value_ref& v, policy& out) {
  v.expect_object({"backend", "interfaces", "mode", "ipip", "clamp_mss"});
  auto& io = out.io;
  if (auto b = v.find("backend")) io.backend = static_cast<io_backend>(one_of(*b, backend_names, "an I/O backend"));
  if (auto list = v.find("interfaces")) {
    std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      io_interface itf;
      auto name_ref = item;
      if (item.value().is_object()) {
        item.expect_object({"name", "kind", "next_hop", "promiscuous"});
        name_ref = item.get("name");
        if (auto k = item.find("kind"))
          itf.kind = static_cast<io_backend>(one_of(*k, backend_names, "an I/O backend"));
        if (auto h = item.find("next_hop")) itf.next_hop = h->as_ipv4();
        if (auto pr = item.find("promiscuous")) itf.promiscuous = pr->as_bool();
      }
      std::string name = name_ref.as_string();
      // Linux interface names: at most IFNAMSIZ - 1 = 15 bytes, no '/' or white space.
      bool ok = !name.empty() && name.size() <= 15 && name != "." && name != "..";
      for (char c : name) ok = ok && c != '/' && c > ' ' && c != 0x7f;
      if (!ok) name_ref.fail(describe(name_ref.value()) + " is not an interface name");
      for (const auto& x : io.interfaces)
        if (x.name == name) name_ref.fail("duplicate interface \"" + name + "\"");
      itf.name = name;
      io.interfaces.push_back(itf);
    }
  }
  if (io.interfaces.empty() && (io.backend == io_backend::tun || io.backend == io_backend::af_packet ||
                                 io.backend == io_backend::af_xdp)) {
    auto at = v.find("interfaces");
    (at ? *at : v).fail(std::string("backend \"") + to_string(io.backend) +
                        "\" needs at least one interface in \"interfaces\"");
  }
  if (auto m = v.find("mode")) io.mode = static_cast<io_mode>(one_of(*m, mode_names, "an I/O mode"));
  if (auto t = v.find("ipip")) {
    t->expect_object({"encap", "decap", "local", "remote"});
    if (auto x = t->find("encap")) io.ipip.encap = x->as_bool();
    if (auto x = t->find("decap")) io.ipip.decap = x->as_bool();
    if (auto x = t->find("local")) io.ipip.local = x->as_ipv4();
    if (auto x = t->find("remote")) io.ipip.remote = x->as_ipv4();
    if (io.ipip.encap && !t->has("local")) t->fail("missing required key \"local\" (encap is on)");
    if (io.ipip.encap && !t->has("remote")) t->fail("missing required key \"remote\" (encap is on)");
  }
  if (auto x = v.find("clamp_mss")) io.clamp_mss = x->as_bool();
}
std::vector<std::string> interface_names(const io_section& io) {
  std::vector<std::string> names;
  for (const auto& itf : io.interfaces) {
    std::string n = itf.name;
    if (itf.kind) n += std::string(" (") + to_string(*itf.kind) + ")";
    if (itf.next_hop) n += " next hop " + format_ipv4(itf.next_hop);
    names.push_back(n);
  }
  return names;
}
void io_text(const policy& p, std::string& out) {
  const auto& io = p.io;
  std::string s = std::string("backend ") + to_string(io.backend) + ", interfaces " +
                  (io.interfaces.empty() ? std::string("none") : join(interface_names(io))) + ", mode " +
                  to_string(io.mode);
  auto addr = [](std::uint32_t a) { return a ? format_ipv4(a) : std::string("any"); };
  if (io.ipip.encap) s += "; ipip encap " + addr(io.ipip.local) + " -> " + addr(io.ipip.remote);
  if (io.ipip.decap) s += "; ipip decap at " + addr(io.ipip.local);
  if (!io.clamp_mss) s += "; tunnelled SYNs keep their MSS";
  line(out, "io", s);
}

// profiles -------------------------------------------------------------------------------------

void parse_profiles(const value_ref& v, policy& out) {
  std::size_t n = v.expect_array();
  for (std::size_t i = 0; i < n; ++i) {
    auto item = v.at(i);
    item.expect_object({"name", "action", "spoof", "three_way_handshake", "priority",
                        "disposition", "mss", "compress", "encrypt", "paths", "rim"});
    profile p;
    auto name = item.get("name");
    p.name = name.as_name();
    for (std::size_t j = 0; j < out.profiles.size(); ++j)
      if (out.profiles[j].name == p.name)
        name.fail("duplicate profile name \"" + p.name + "\" (profile " + std::to_string(j) + " has it)");
    if (auto x = item.find("action")) p.action = static_cast<profile_action>(one_of(*x, action_names, "an action"));
    if (auto x = item.find("spoof")) p.spoof = x->as_bool();
    if (auto x = item.find("three_way_handshake")) p.three_way_handshake = x->as_bool();
    if (auto x = item.find("priority")) p.priority = static_cast<std::uint8_t>(x->as_uint(0, 3));
    if (auto x = item.find("disposition"))
      p.disposition = static_cast<profile_disposition>(one_of(*x, disposition_names, "a disposition"));
    if (auto x = item.find("mss")) {
      p.mss = static_cast<std::uint16_t>(x->as_uint(0, 65535));
      // 88 is the smallest MSS Linux accepts (TCP_MIN_MSS); 0 means "not configured".
      if (p.mss != 0 && p.mss < 88) x->fail(std::to_string(p.mss) + " is below the minimum MSS 88 (0 = from the path MTU)");
    }
    if (auto x = item.find("compress")) p.compress = x->as_bool();
    if (auto x = item.find("encrypt")) {
      p.encrypt = x->as_bool();
      // Document 003's encryption is the backbone's (TLS 1.3): a connection that is not spoofed
      // never enters a backbone and would cross the WAN as the hosts sent it.
      if (p.encrypt && !p.spoof && p.action == profile_action::forward)
        x->fail("encrypt needs \"spoof\": true: only spoofed connections cross the WAN inside an encrypted "
                "backbone; an unspoofed one would cross in clear");
    }
    if (auto list = item.find("paths")) {
      // Names only here: /pep (parsed after the profiles) checks that each names a path.
      const std::size_t m = list->expect_array();
      for (std::size_t j = 0; j < m; ++j) {
        auto x = list->at(j);
        p.paths.push_back(x.as_name());
        for (std::size_t k = 0; k + 1 < p.paths.size(); ++k)
          if (p.paths[k] == p.paths.back()) x.fail("path \"" + p.paths.back() + "\" listed twice");
      }
    }
    if (auto x = item.find("rim")) p.rim = parse_rim_reaction(*x, out);
    out.profiles.push_back(std::move(p));
  }
}
void profiles_text(const policy& p, std::string& out) {
  if (p.profiles.empty()) line(out, "profiles", "none");
  for (std::size_t i = 0; i < p.profiles.size(); ++i) {
    const auto& x = p.profiles[i];
    std::string s = x.name + ": " + to_string(x.action);
    if (x.spoof) {
      s += ", spoof (three-way handshake " + std::string(x.three_way_handshake ? "on" : "off") +
           ", disposition " + to_string(x.disposition) + ")";
    }
    s += ", priority " + std::to_string(x.priority);
    if (x.mss) s += ", mss " + std::to_string(x.mss);
    if (x.compress) s += ", compress";
    if (x.encrypt) s += ", encrypt";
    if (x.rim != rim_reaction{})
      s += ", rim: on loss above " + std::to_string(x.rim.loss_pct).substr(0, 4) + "% for " + std::to_string(x.rim.samples) +
           " reports " + to_string(x.rim.on_loss) + " (dwell " + std::to_string(x.rim.dwell_ms) + " ms)" +
           (x.rim.chain.empty() ? std::string() : " through " + join(x.rim.chain, " -> "));
    line(out, i == 0 ? "profiles" : "", s);
  }
}

// rules and role sections that hold rule lists ---------------------------------------------------

void rules_lines(const rule_set& rs, std::string_view label, std::string& out) {
  if (rs.empty()) line(out, label, "none");
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const rule& r = rs.rules()[i];
    line(out, i == 0 ? label : "",
         std::to_string(i) + " " + r.name + ": " + rs.describe(i) + " -> " + r.profile);
  }
}

void parse_rules(const value_ref& v, policy& out) {
  out.rules = detail::parse_rule_list(v, out.profiles);
}
void rules_text(const policy& p, std::string& out) { rules_lines(p.rules, "rules", out); }


// cluster --------------------------------------------------------------------------------------

constexpr const char* cluster_mode_names[] = {"nat", "dsr"};
constexpr const char* service_protocol_names[] = {"tcp", "udp"};
constexpr const char* hash_names[] = {"document", "mixed"};
constexpr const char* traffic_names[] = {"unicast_mac", "multicast_mac", "forwarding"};

std::string as_interface(const value_ref& v) {
  std::string name = v.as_string();
  bool ok = !name.empty() && name.size() <= 15;
  for (char c : name) ok = ok && c != '/' && c > ' ' && c != 0x7f;
  if (!ok) v.fail(describe(v.value()) + " is not an interface name");
  return name;
}

void parse_cluster(const value_ref& v, policy& out) {
  v.expect_object({"ip", "inside_ip", "mac", "traffic", "outside", "inside", "router", "mode", "hash",
                   "services"});
  cluster_section c;
  c.ip = v.get("ip").as_ipv4();
  if (auto m = v.find("mode")) c.mode = static_cast<cluster_mode>(one_of(*m, cluster_mode_names, "a cluster mode"));
  if (auto h = v.find("hash")) c.hash = static_cast<work_unit_hash_name>(one_of(*h, hash_names, "a work-unit hash"));
  if (c.mode == cluster_mode::nat) c.inside_ip = v.get("inside_ip").as_ipv4();
  else if (auto i = v.find("inside_ip")) c.inside_ip = i->as_ipv4();
  if (auto t = v.find("traffic")) c.traffic = static_cast<traffic_mode>(one_of(*t, traffic_names, "a traffic mode"));
  // Forwarding binds the cluster addresses to the master's own MAC: a cluster MAC is optional.
  if (c.traffic != traffic_mode::forwarding || v.find("mac")) {
    auto mac = v.get("mac");
    c.mac = mac.as_string();
    bool mac_ok = c.mac.size() == 17;
    for (std::size_t i = 0; mac_ok && i < 17; ++i)
      mac_ok = (i % 3 == 2) ? c.mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(c.mac[i])) != 0;
    if (!mac_ok) mac.fail(describe(mac.value()) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
    bool multicast = std::stoi(c.mac.substr(0, 2), nullptr, 16) & 1;
    if (multicast && c.traffic == traffic_mode::unicast_mac)
      mac.fail(describe(mac.value()) + " is a multicast MAC; the unicast_mac traffic mode needs a unicast one");
    if (!multicast && c.traffic == traffic_mode::multicast_mac)
      mac.fail(describe(mac.value()) + " is a unicast MAC; the multicast_mac traffic mode needs a multicast one");
  }
  c.outside = as_interface(v.get("outside"));
  // NAT replies go back out through the outside router (TCP drops frames not sent to its MAC).
  if (c.mode == cluster_mode::nat) c.router = v.get("router").as_ipv4();
  else if (auto r = v.find("router")) c.router = r->as_ipv4();
  c.inside = as_interface(v.get("inside"));
  if (c.outside == c.inside) v.get("inside").fail("\"" + c.inside + "\" is also the outside interface");
  auto services = v.get("services");
  std::size_t n = services.expect_array();
  if (n == 0) services.fail("a cluster needs at least one service");
  for (std::size_t i = 0; i < n; ++i) {
    auto item = services.at(i);
    item.expect_object({"protocol", "port", "backends"});
    cluster_service svc;
    if (auto pr = item.find("protocol"))
      svc.protocol = static_cast<service_protocol>(one_of(*pr, service_protocol_names, "a service protocol"));
    svc.port = static_cast<std::uint16_t>(item.get("port").as_uint(1, 65535));
    for (const auto& other : c.services)
      if (other.port == svc.port && other.protocol == svc.protocol)
        item.get("port").fail(std::string(to_string(svc.protocol)) + " port " + std::to_string(svc.port) +
                              " is already a service");
    auto backends = item.get("backends");
    std::size_t m = backends.expect_array();
    if (m == 0) backends.fail("a service needs at least one backend");
    for (std::size_t j = 0; j < m; ++j) {
      auto b = backends.at(j);
      b.expect_object({"address", "port"});
      svc.backends.push_back({b.get("address").as_ipv4(),
                              static_cast<std::uint16_t>(b.get("port").as_uint(1, 65535))});
    }
    c.services.push_back(std::move(svc));
  }
  out.cluster = std::move(c);
}
void cluster_text(const policy& p, std::string& out) {
  const auto& c = *p.cluster;
  line(out, "cluster", "ip " + format_ipv4(c.ip) + (c.mac.empty() ? "" : " mac " + c.mac) + " (" +
                           to_string(c.traffic) + "), " + to_string(c.mode) +
                           ", hash " + to_string(c.hash) + ", outside " + c.outside + ", inside " +
                           c.inside + (c.inside_ip ? " (gateway " + format_ipv4(c.inside_ip) + ")" : ""));
  for (const auto& svc : c.services) {
    std::vector<std::string> pool;
    for (const auto& b : svc.backends) pool.push_back(format_ipv4(b.address) + ":" + std::to_string(b.port));
    line(out, "", std::string(to_string(svc.protocol)) + " port " + std::to_string(svc.port) + " -> " +
                      join(pool));
  }
}

// The row of the section held in the policy member M: present unless it is an absent optional,
// written as JSON from its field list, compared with its operator== (also from its field list).
template <auto M>
bool member_present(const policy& p) {
  if constexpr (detail::is_optional<std::decay_t<decltype(p.*M)>>::value) return (p.*M).has_value();
  else return true;
}
template <auto M>
json member_json(const policy& p) {
  if constexpr (detail::is_optional<std::decay_t<decltype(p.*M)>>::value) return detail::write_json(*(p.*M));
  else return detail::write_json(p.*M);
}
template <auto M>
bool member_equal(const policy& x, const policy& y) {
  return x.*M == y.*M;
}
template <auto M>
constexpr detail::section_entry row(std::string_view name, bool required, void (*parse)(const value_ref&, policy&),
                                    void (*text)(const policy&, std::string&),
                                    json (*to_json)(const policy&) = member_json<M>) {
  return {name, required, parse, member_present<M>, to_json, text, member_equal<M>};
}

constexpr detail::section_entry section_rows[] = {
    row<&policy::identity>("identity", true, parse_identity, identity_text),
    row<&policy::roles>("roles", true, parse_roles, roles_text),
    row<&policy::console>("console", false, parse_console, console_text, console_json),
    row<&policy::console_auth>("console_auth", false, detail::parse_console_auth,
                               detail::console_auth_text, detail::console_auth_json),
    row<&policy::peers>("peers", false, parse_peers, peers_text),
    row<&policy::timers>("timers", false, parse_timers, timers_text),
    row<&policy::group>("group", false, parse_group, group_text),
    row<&policy::io>("io", false, parse_io, io_text),
    row<&policy::profiles>("profiles", false, parse_profiles, profiles_text),
    row<&policy::rules>("rules", false, parse_rules, rules_text),
    row<&policy::pep>("pep", false, detail::parse_pep, detail::pep_text, detail::pep_json),
    row<&policy::cluster>("cluster", false, parse_cluster, cluster_text),
    row<&policy::slr>("slr", false, detail::parse_slr, detail::slr_text, detail::slr_json),
    row<&policy::shaping>("shaping", false, detail::parse_shaping, detail::shaping_text, detail::shaping_json),
    row<&policy::replica>("replica", false, detail::parse_replica, detail::replica_text, detail::replica_json),
    row<&policy::rim>("rim", false, detail::parse_rim, detail::rim_text, detail::rim_json),
};
static_assert(std::size(section_rows) == detail::member_count<policy>(),
              "every member of policy is a section with a row");

}  // namespace

const char* to_string(cluster_mode m) noexcept { return cluster_mode_names[static_cast<std::size_t>(m)]; }
const char* to_string(service_protocol p) noexcept {
  return service_protocol_names[static_cast<std::size_t>(p)];
}
std::uint8_t ip_protocol(service_protocol p) noexcept { return p == service_protocol::udp ? 17 : 6; }
const char* to_string(work_unit_hash_name h) noexcept { return hash_names[static_cast<std::size_t>(h)]; }
const char* to_string(traffic_mode m) noexcept { return traffic_names[static_cast<std::size_t>(m)]; }

namespace detail {

const std::vector<section_entry>& sections() {
  static const std::vector<section_entry> table(std::begin(section_rows), std::end(section_rows));
  return table;
}

}  // namespace detail

std::vector<std::string_view> section_names() {
  std::vector<std::string_view> out;
  for (const auto& s : detail::sections()) out.push_back(s.name);
  return out;
}

// --- loading ---------------------------------------------------------------------------------

policy load_policy(const json& doc) {
  if (!doc.is_object()) throw policy_error("", "a policy is a JSON object, got " + describe(doc));
  value_ref root(doc, "");
  // Unknown top-level keys first: a misspelt section would otherwise look like a missing one.
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool known = false;
    for (const auto& s : detail::sections()) known = known || s.name == it.key();
    if (!known) {
      std::string list;
      for (const auto& s : detail::sections()) list += (list.empty() ? "" : ", ") + std::string(s.name);
      throw policy_error("/" + detail::escape_pointer_token(it.key()),
                         "unknown key (expected one of: " + list + ")");
    }
  }
  policy out;
  for (const auto& s : detail::sections()) {
    if (auto v = root.find(s.name)) s.parse(*v, out);
    else if (s.required) root.fail("missing required key \"" + std::string(s.name) + "\"");
  }
  detail::check_console_auth(out);  // needs /console and /identity whether or not it is given
  return out;
}

namespace {

// Tracks where the parser is, to refuse a key repeated in one object with its pointer.
class duplicate_key_check {
 public:
  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: frames_.push_back({false, 0, {}, {}}); break;
      case json::parse_event_t::array_start: frames_.push_back({true, 0, {}, {}}); break;
      case json::parse_event_t::key: {
        frame& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second) throw policy_error(pointer(), "duplicate key");
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        element_done();
        break;
      case json::parse_event_t::value: element_done(); break;
    }
    return true;
  }

 private:
  struct frame {
    bool array;
    std::size_t index;
    std::string key;
    std::set<std::string> keys;
  };
  void element_done() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::string pointer() const {
    std::string out;
    for (const auto& f : frames_)
      out += '/' + (f.array ? std::to_string(f.index) : detail::escape_pointer_token(f.key));
    return out;
  }
  std::vector<frame> frames_;
};

// nlohmann's message is "[json.exception.parse_error.101] parse error at line 3, column 5: why";
// keep "3:5" and "why".
std::string syntax_reason(std::string_view origin, const json::parse_error& e) {
  std::string msg = e.what();
  std::string where, why = msg;
  std::size_t at = msg.find("at line ");
  std::size_t colon = msg.find(": ", at == std::string::npos ? 0 : at);
  if (at != std::string::npos && colon != std::string::npos) {
    std::string lc = msg.substr(at + 8, colon - at - 8);  // "3, column 5"
    std::size_t comma = lc.find(", column ");
    if (comma != std::string::npos) where = lc.substr(0, comma) + ':' + lc.substr(comma + 9);
    why = msg.substr(colon + 2);
  } else if (colon != std::string::npos) {
    why = msg.substr(colon + 2);
  }
  return std::string(origin) + (where.empty() ? "" : ":" + where) + ": " + why;
}

}  // namespace

policy load_policy_text(std::string_view text, std::string_view origin) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw policy_error("", std::string(origin) + ": empty, expected a JSON object");
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), duplicate_key_check{});
  } catch (const json::parse_error& e) {
    throw policy_error("", syntax_reason(origin, e));
  } catch (const json::exception& e) {  // out_of_range 406: a number too large for a double
    std::string why = e.what();
    if (std::size_t b = why.find("] "); b != std::string::npos) why.erase(0, b + 2);
    throw policy_error("", std::string(origin) + ": " + why);
  }
  return load_policy(doc);
}

policy load_policy_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw policy_error("", path + ": cannot read: is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw policy_error("", path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw policy_error("", path + ": cannot read: " + std::strerror(errno));
  return load_policy_text(text.str(), path);
}

// --- rendering -------------------------------------------------------------------------------

std::string to_text(const policy& p) {
  std::string out;
  for (const auto& s : detail::sections())
    if (s.present(p)) s.to_text(p, out);
  return out;
}

json to_json(const policy& p) {
  json out = json::object();
  for (const auto& s : detail::sections())
    if (s.present(p)) out[std::string(s.name)] = s.to_json(p);
  return out;
}

std::string to_json_string(const policy& p, int indent) { return to_json(p).dump(indent); }

}  // namespace baton::policy
