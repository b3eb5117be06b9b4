// The top-level sections of the node policy: one parse / render / compare group per section, the
// table that lists them, and the load and render entry points that walk the table.

#include "policy/sections.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "policy/render.hpp"
#include "policy/rule_list.hpp"
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
constexpr const char* backend_names[] = {"tun", "af_packet", "raw", "memory"};
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

// --- comparison ------------------------------------------------------------------------------

bool operator==(const endpoint& x, const endpoint& y) noexcept {
  return x.address == y.address && x.port == y.port;
}
bool operator==(const identity_section& x, const identity_section& y) noexcept {
  return std::tie(x.name, x.address, x.certificate, x.key, x.ca) ==
         std::tie(y.name, y.address, y.certificate, y.key, y.ca);
}
bool operator==(const peer& x, const peer& y) noexcept { return x.name == y.name && x.at == y.at; }
bool operator==(const timers_section& x, const timers_section& y) noexcept {
  return std::tie(x.master_watchdog_ms, x.master_offer_ms, x.rebalance_ms, x.k, x.work_units) ==
         std::tie(y.master_watchdog_ms, y.master_offer_ms, y.rebalance_ms, y.k, y.work_units);
}
bool operator==(const group_section& x, const group_section& y) noexcept {
  return x.peers == y.peers && x.discovery_broadcast == y.discovery_broadcast &&
         x.quorum == y.quorum;
}
bool operator==(const ipip_section& x, const ipip_section& y) noexcept {
  return std::tie(x.encap, x.decap, x.local, x.remote) ==
         std::tie(y.encap, y.decap, y.local, y.remote);
}
bool operator==(const io_interface& x, const io_interface& y) noexcept {
  return x.name == y.name && x.kind == y.kind && x.next_hop == y.next_hop &&
         x.promiscuous == y.promiscuous;
}
bool operator==(const io_section& x, const io_section& y) noexcept {
  return x.backend == y.backend && x.interfaces == y.interfaces && x.mode == y.mode &&
         x.ipip == y.ipip;
}
bool operator==(const profile& x, const profile& y) noexcept {
  return std::tie(x.name, x.action, x.spoof, x.three_way_handshake, x.priority, x.disposition,
                  x.mss, x.compress, x.encrypt) ==
         std::tie(y.name, y.action, y.spoof, y.three_way_handshake, y.priority, y.disposition,
                  y.mss, y.compress, y.encrypt);
}
bool operator==(const pep_section& x, const pep_section& y) { return x.rules == y.rules; }

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
json identity_json(const policy& p) {
  json j{{"name", p.identity.name}, {"address", format_ipv4(p.identity.address)},
         {"port", p.identity.port}};
  if (!p.identity.certificate.empty()) j["certificate"] = p.identity.certificate;
  if (!p.identity.key.empty()) j["key"] = p.identity.key;
  if (!p.identity.ca.empty()) j["ca"] = p.identity.ca;
  return j;
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
json roles_json(const policy& p) {
  json j = json::array();
  for (role r : p.roles) j.push_back(to_string(r));
  return j;
}
void roles_text(const policy& p, std::string& out) {
  std::vector<std::string> names;
  for (role r : p.roles) names.push_back(to_string(r));
  line(out, "roles", join(names));
}

// console --------------------------------------------------------------------------------------

void parse_console(const value_ref& v, policy& out) {
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
  out.console = {*address, static_cast<std::uint16_t>(n)};
}
json console_json(const policy& p) { return to_string(p.console); }
void console_text(const policy& p, std::string& out) { line(out, "console", to_string(p.console)); }

// peers ----------------------------------------------------------------------------------------

void parse_peers(const value_ref& v, policy& out) {
  std::size_t n = v.expect_array();
  for (std::size_t i = 0; i < n; ++i) {
    auto item = v.at(i);
    item.expect_object({"name", "address", "port"});
    peer p;
    auto name = item.get("name");
    p.name = name.as_name();
    p.at.address = item.get("address").as_ipv4();
    p.at.port = static_cast<std::uint16_t>(item.get("port").as_uint(1, 65535));
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
json peers_json(const policy& p) {
  json j = json::array();
  for (const auto& x : p.peers)
    j.push_back({{"name", x.name}, {"address", format_ipv4(x.at.address)}, {"port", x.at.port}});
  return j;
}
void peers_text(const policy& p, std::string& out) {
  if (p.peers.empty()) line(out, "peers", "none");
  for (std::size_t i = 0; i < p.peers.size(); ++i)
    line(out, i == 0 ? "peers" : "", p.peers[i].name + " " + to_string(p.peers[i].at));
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
json timers_json(const policy& p) {
  const auto& t = p.timers;
  return {{"master_watchdog_ms", t.master_watchdog_ms}, {"master_offer_ms", t.master_offer_ms},
          {"rebalance_ms", t.rebalance_ms}, {"k", t.k}, {"work_units", t.work_units}};
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
  v.expect_object({"peers", "discovery_broadcast", "quorum"});
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
}
json group_json(const policy& p) {
  return {{"peers", p.group.peers}, {"discovery_broadcast", p.group.discovery_broadcast},
          {"quorum", p.group.quorum}};
}
void group_text(const policy& p, std::string& out) {
  line(out, "group",
       "peers " + (p.group.peers.empty() ? std::string("none") : join(p.group.peers)) +
           "; discovery broadcast " + (p.group.discovery_broadcast ? "on" : "off") + "; quorum " +
           std::to_string(p.group.quorum));
}

// io -------------------------------------------------------------------------------------------

void parse_io(const value_ref& v, policy& out) {
  v.expect_object({"backend", "interfaces", "mode", "ipip"});
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
  if (io.interfaces.empty() && (io.backend == io_backend::tun || io.backend == io_backend::af_packet)) {
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
json io_json(const policy& p) {
  const auto& io = p.io;
  json ipip{{"encap", io.ipip.encap}, {"decap", io.ipip.decap}};
  if (io.ipip.local) ipip["local"] = format_ipv4(io.ipip.local);
  if (io.ipip.remote) ipip["remote"] = format_ipv4(io.ipip.remote);
  json interfaces = json::array();
  for (const auto& itf : io.interfaces) {
    json i{{"name", itf.name}, {"promiscuous", itf.promiscuous}};
    if (itf.kind) i["kind"] = to_string(*itf.kind);
    if (itf.next_hop) i["next_hop"] = format_ipv4(itf.next_hop);
    interfaces.push_back(i);
  }
  return {{"backend", to_string(io.backend)}, {"interfaces", interfaces},
          {"mode", to_string(io.mode)}, {"ipip", ipip}};
}
void io_text(const policy& p, std::string& out) {
  const auto& io = p.io;
  std::string s = std::string("backend ") + to_string(io.backend) + ", interfaces " +
                  (io.interfaces.empty() ? std::string("none") : join(interface_names(io))) + ", mode " +
                  to_string(io.mode);
  auto addr = [](std::uint32_t a) { return a ? format_ipv4(a) : std::string("any"); };
  if (io.ipip.encap) s += "; ipip encap " + addr(io.ipip.local) + " -> " + addr(io.ipip.remote);
  if (io.ipip.decap) s += "; ipip decap at " + addr(io.ipip.local);
  line(out, "io", s);
}

// profiles -------------------------------------------------------------------------------------

void parse_profiles(const value_ref& v, policy& out) {
  std::size_t n = v.expect_array();
  for (std::size_t i = 0; i < n; ++i) {
    auto item = v.at(i);
    item.expect_object({"name", "action", "spoof", "three_way_handshake", "priority",
                        "disposition", "mss", "compress", "encrypt"});
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
    if (auto x = item.find("encrypt")) p.encrypt = x->as_bool();
    out.profiles.push_back(std::move(p));
  }
}
json profiles_json(const policy& p) {
  json j = json::array();
  for (const auto& x : p.profiles) {
    j.push_back({{"name", x.name}, {"action", to_string(x.action)}, {"spoof", x.spoof},
                 {"three_way_handshake", x.three_way_handshake}, {"priority", x.priority},
                 {"disposition", to_string(x.disposition)}, {"mss", x.mss},
                 {"compress", x.compress}, {"encrypt", x.encrypt}});
  }
  return j;
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
json rules_json(const policy& p) { return detail::rule_list_to_json(p.rules); }
void rules_text(const policy& p, std::string& out) { rules_lines(p.rules, "rules", out); }

void parse_pep(const value_ref& v, policy& out) {
  v.expect_object({"rules"});
  pep_section pep;
  pep.rules = detail::parse_rule_list(v.get("rules"), out.profiles);
  out.pep = std::move(pep);
}
json pep_json(const policy& p) { return {{"rules", detail::rule_list_to_json(p.pep->rules)}}; }
void pep_text(const policy& p, std::string& out) { rules_lines(p.pep->rules, "pep rules", out); }

// cluster --------------------------------------------------------------------------------------

constexpr const char* cluster_mode_names[] = {"nat", "dsr"};
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
    item.expect_object({"port", "backends"});
    cluster_service svc;
    svc.port = static_cast<std::uint16_t>(item.get("port").as_uint(1, 65535));
    for (const auto& other : c.services)
      if (other.port == svc.port) item.get("port").fail("port " + std::to_string(svc.port) + " is already a service");
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
json cluster_json(const policy& p) {
  const auto& c = *p.cluster;
  json services = json::array();
  for (const auto& svc : c.services) {
    json backends = json::array();
    for (const auto& b : svc.backends) backends.push_back({{"address", format_ipv4(b.address)}, {"port", b.port}});
    services.push_back({{"port", svc.port}, {"backends", backends}});
  }
  json j{{"ip", format_ipv4(c.ip)}, {"traffic", to_string(c.traffic)},
         {"outside", c.outside}, {"inside", c.inside},
         {"mode", to_string(c.mode)}, {"hash", to_string(c.hash)}, {"services", services}};
  if (!c.mac.empty()) j["mac"] = c.mac;
  if (c.inside_ip) j["inside_ip"] = format_ipv4(c.inside_ip);
  if (c.router) j["router"] = format_ipv4(c.router);
  return j;
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
    line(out, "", "port " + std::to_string(svc.port) + " -> " + join(pool));
  }
}

bool always(const policy&) { return true; }

}  // namespace

const char* to_string(cluster_mode m) noexcept { return cluster_mode_names[static_cast<std::size_t>(m)]; }
const char* to_string(work_unit_hash_name h) noexcept { return hash_names[static_cast<std::size_t>(h)]; }
const char* to_string(traffic_mode m) noexcept { return traffic_names[static_cast<std::size_t>(m)]; }

bool operator==(const cluster_backend& x, const cluster_backend& y) noexcept {
  return x.address == y.address && x.port == y.port;
}
bool operator==(const cluster_service& x, const cluster_service& y) noexcept {
  return x.port == y.port && x.backends == y.backends;
}
bool operator==(const cluster_section& x, const cluster_section& y) noexcept {
  return x.ip == y.ip && x.inside_ip == y.inside_ip && x.mac == y.mac && x.outside == y.outside &&
         x.inside == y.inside && x.router == y.router && x.mode == y.mode &&
         x.traffic == y.traffic && x.hash == y.hash &&
         x.services == y.services;
}

namespace detail {

const std::vector<section_entry>& sections() {
  static const std::vector<section_entry> table = {
      {"identity", true, parse_identity, always, identity_json, identity_text,
       [](const policy& x, const policy& y) { return x.identity == y.identity; }},
      {"roles", true, parse_roles, always, roles_json, roles_text,
       [](const policy& x, const policy& y) { return x.roles == y.roles; }},
      {"console", false, parse_console, always, console_json, console_text,
       [](const policy& x, const policy& y) { return x.console == y.console; }},
      {"peers", false, parse_peers, always, peers_json, peers_text,
       [](const policy& x, const policy& y) { return x.peers == y.peers; }},
      {"timers", false, parse_timers, always, timers_json, timers_text,
       [](const policy& x, const policy& y) { return x.timers == y.timers; }},
      {"group", false, parse_group, always, group_json, group_text,
       [](const policy& x, const policy& y) { return x.group == y.group; }},
      {"io", false, parse_io, always, io_json, io_text,
       [](const policy& x, const policy& y) { return x.io == y.io; }},
      {"profiles", false, parse_profiles, always, profiles_json, profiles_text,
       [](const policy& x, const policy& y) { return x.profiles == y.profiles; }},
      {"rules", false, parse_rules, always, rules_json, rules_text,
       [](const policy& x, const policy& y) { return x.rules == y.rules; }},
      {"pep", false, parse_pep, [](const policy& p) { return p.pep.has_value(); }, pep_json,
       pep_text, [](const policy& x, const policy& y) { return x.pep == y.pep; }},
      {"cluster", false, parse_cluster, [](const policy& p) { return p.cluster.has_value(); },
       cluster_json, cluster_text,
       [](const policy& x, const policy& y) { return x.cluster == y.cluster; }},
      {"slr", false, parse_slr, [](const policy& p) { return p.slr.has_value(); }, slr_json,
       slr_text, [](const policy& x, const policy& y) { return x.slr == y.slr; }},
      {"shaping", false, parse_shaping, [](const policy& p) { return p.shaping.has_value(); },
       shaping_json, shaping_text,
       [](const policy& x, const policy& y) { return x.shaping == y.shaping; }},
  };
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
