// The "slr" and "shaping" sections of the node policy (document 001). Schema in slr_section.hpp.

#include "policy/slr_section.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <tuple>

#include "policy/fields.hpp"
#include "policy/rules.hpp"

namespace baton::policy {

namespace {

constexpr const char* level_names[] = {"network", "system", "site", "host"};
constexpr const char* selection_names[] = {"spread", "lowest"};
constexpr const char* function_names[] = {"weighted_sum", "least_load", "lowest_cost"};
constexpr const char* aggregate_names[] = {"min", "mean", "weighted_mean"};
constexpr const char* source_names[] = {"connections", "cpu", "command", "static"};

}  // namespace

const char* to_string(slr_level x) noexcept { return level_names[static_cast<std::size_t>(x)]; }
const char* to_string(slr_selection x) noexcept { return selection_names[static_cast<std::size_t>(x)]; }
const char* to_string(slr_function_kind x) noexcept { return function_names[static_cast<std::size_t>(x)]; }
const char* to_string(slr_aggregate x) noexcept { return aggregate_names[static_cast<std::size_t>(x)]; }
const char* to_string(load_source x) noexcept { return source_names[static_cast<std::size_t>(x)]; }

std::string to_string(const virtual_subnet& s) {
  return format_ipv4(s.prefix) + '/' + std::to_string(s.length);
}
bool operator<(const virtual_subnet& x, const virtual_subnet& y) noexcept {
  return std::tie(x.prefix, x.length) < std::tie(y.prefix, y.length);
}

// --- field lists: equality and JSON come from these (policy/fields.hpp) ------------------------

namespace {

using detail::field;
using detail::ipv4;
using detail::json;

// "HH-HH" for [from, to).
std::string format_hours(std::uint8_t from, std::uint8_t to) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02u-%02u", unsigned{from}, unsigned{to});
  return buf;
}
json hours_json(std::tuple<const std::uint8_t&, const std::uint8_t&> hours) {
  return format_hours(std::get<0>(hours), std::get<1>(hours));
}
// route_costs: an object keyed by next hop.
json route_costs_json(const std::vector<slr_route_cost>& costs) {
  json out = json::object();
  for (const auto& c : costs) out[format_ipv4(c.next_hop)] = c.cost;
  return out;
}

}  // namespace

auto fields(const virtual_subnet& x) { return std::make_tuple(field("prefix", x.prefix), field("length", x.length)); }
auto fields(const slr_function& x) {
  bool weighted = x.kind == slr_function_kind::weighted_sum;  // the weights apply to it only
  return std::make_tuple(field("kind", x.kind), field("load_weight", x.load_weight).when(weighted),
                         field("cost_weight", x.cost_weight).when(weighted));
}
auto fields(const slr_time_rule& x) {
  return std::make_tuple(field("hours", std::tie(x.from_hour, x.to_hour), hours_json), field("subnet", x.subnet),
                         field("function", x.function));
}
auto fields(const slr_upper& x) {
  return std::make_tuple(field("name", x.name), field("address", x.address, ipv4), field("port", x.port));
}
auto fields(const slr_route_cost& x) {
  return std::make_tuple(field("next_hop", x.next_hop, ipv4), field("cost", x.cost));
}
auto fields(const slr_load& x) {
  return std::make_tuple(field("source", x.source),
                         field("command", x.command).when(x.source == load_source::command),
                         field("command_timeout_ms", x.command_timeout_ms).when(x.source == load_source::command),
                         field("value", x.value).when(x.source == load_source::fixed));
}
auto fields(const slr_hot_spare& x) {
  return std::make_tuple(field("address", x.address, ipv4), field("mac", x.mac).when(!x.mac.empty()));
}
auto fields(const slr_section& x) {
  return std::make_tuple(
      field("level", x.level), field("virtual_subnets", x.virtual_subnets),
      field("tunnel_address", x.tunnel_address, ipv4), field("port", x.port), field("upper", x.upper),
      field("neighbors", x.neighbors), field("update_interval_ms", x.update_interval_ms),
      field("expiry_ms", x.expiry_ms), field("selection", x.selection), field("epsilon", x.epsilon),
      field("function", x.function), field("time_of_day", x.time_of_day), field("aggregate", x.aggregate),
      field("aggregate_cost", x.aggregate_cost), field("route_costs", x.route_costs, route_costs_json),
      field("shortcuts", x.shortcuts), field("flow_capacity", x.flow_capacity), field("load", x.load),
      field("progress_timeout_ms", x.progress_timeout_ms), field("hot_spare", x.hot_spare));
}
auto fields(const shaping_class& x) {
  return std::make_tuple(field("name", x.name), field("source", x.source), field("share", x.share));
}
auto fields(const shaping_section& x) {
  return std::make_tuple(field("interface", x.interface), field("rate_mbit", x.rate_mbit),
                         field("burst_kbyte", x.burst_kbyte), field("classes", x.classes),
                         field("default_share", x.default_share));
}

using detail::equal_fields;
bool operator==(const virtual_subnet& x, const virtual_subnet& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_function& x, const slr_function& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_time_rule& x, const slr_time_rule& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_upper& x, const slr_upper& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_route_cost& x, const slr_route_cost& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_load& x, const slr_load& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_hot_spare& x, const slr_hot_spare& y) noexcept { return equal_fields(x, y); }
bool operator==(const slr_section& x, const slr_section& y) noexcept { return equal_fields(x, y); }
bool operator==(const shaping_class& x, const shaping_class& y) noexcept { return equal_fields(x, y); }
bool operator==(const shaping_section& x, const shaping_section& y) noexcept { return equal_fields(x, y); }

namespace detail {

namespace {


// A finite JSON number (integer or not) in [lo, hi]; booleans and strings are type errors.
double as_number(const value_ref& v, double lo, double hi) {
  const json& j = v.value();
  if (!j.is_number()) v.fail("expected a number, got " + describe(j));
  double x = j.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) {
    char range[64];
    std::snprintf(range, sizeof range, "%g..%g", lo, hi);
    v.fail(describe(j) + " is out of range " + range);
  }
  return x;
}

std::string format_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

std::string as_mac(const value_ref& v) {
  std::string mac = v.as_string();
  bool ok = mac.size() == 17;
  for (std::size_t i = 0; ok && i < 17; ++i)
    ok = (i % 3 == 2) ? mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(mac[i])) != 0;
  if (!ok) v.fail(describe(v.value()) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
  return mac;
}

// "HH-HH": local hours [from, to), 1 or 2 digits each; from 0..23, to 1..24, from != to.
void parse_hours(const value_ref& v, slr_time_rule& r) {
  std::string s = v.as_string();
  auto bad = [&](const std::string& why) {
    v.fail(describe(v.value()) + " is not an hour range (\"HH-HH\", e.g. \"08-18\"): " + why);
  };
  std::size_t dash = s.find('-');
  if (dash == std::string::npos) bad("no '-'");
  auto hour = [&](const std::string& part) {
    if (part.empty() || part.size() > 2 || part.find_first_not_of("0123456789") != std::string::npos)
      bad("\"" + part + "\" is not an hour");
    return std::stoi(part);
  };
  int from = hour(s.substr(0, dash));
  int to = hour(s.substr(dash + 1));
  if (from > 23) bad("the first hour must be 0..23");
  if (to < 1 || to > 24) bad("the second hour must be 1..24");
  if (from == to) bad("an empty range (use \"00-24\" for all day)");
  r.from_hour = static_cast<std::uint8_t>(from);
  r.to_hour = static_cast<std::uint8_t>(to);
}

slr_function parse_function(const value_ref& v) {
  v.expect_object({"kind", "load_weight", "cost_weight"});
  slr_function f;
  f.kind = static_cast<slr_function_kind>(one_of(v.get("kind"), function_names, "a cost function"));
  auto lw = v.find("load_weight");
  auto cw = v.find("cost_weight");
  if (f.kind != slr_function_kind::weighted_sum) {
    // The weights would silently do nothing: say so instead.
    if (lw) lw->fail(std::string("load_weight applies to weighted_sum only, not ") + to_string(f.kind));
    if (cw) cw->fail(std::string("cost_weight applies to weighted_sum only, not ") + to_string(f.kind));
    return f;
  }
  if (lw) f.load_weight = as_number(*lw, 0, 1e9);
  if (cw) f.cost_weight = as_number(*cw, 0, 1e9);
  if (f.load_weight == 0 && f.cost_weight == 0)
    v.fail("load_weight and cost_weight are both 0: every cost would be 0");
  return f;
}

std::string function_text(const slr_function& f) {
  switch (f.kind) {
    case slr_function_kind::least_load: return "least_load (m = s)";
    case slr_function_kind::lowest_cost: return "lowest_cost (m = r)";
    case slr_function_kind::weighted_sum: break;
  }
  return "weighted_sum (m = " + format_number(f.load_weight) + " s + " + format_number(f.cost_weight) + " r)";
}

// A list of {"name", "address", "port"} (port default 4792, default_slr_port); names and address:port unique.
std::vector<slr_upper> parse_links(const value_ref& list, const std::string& what) {
  std::vector<slr_upper> out;
  std::size_t n = list.expect_array();
  for (std::size_t i = 0; i < n; ++i) {
    auto item = list.at(i);
    item.expect_object({"name", "address", "port"});
    slr_upper u;
    auto name = item.get("name");
    u.name = name.as_name();
    u.address = item.get("address").as_ipv4();
    if (auto port = item.find("port")) u.port = static_cast<std::uint16_t>(port->as_uint(1, 65535));
    for (std::size_t j = 0; j < out.size(); ++j) {
      if (out[j].name == u.name)
        name.fail("duplicate " + what + " \"" + u.name + "\" (" + std::to_string(j) + " has it)");
      if (out[j].address == u.address && out[j].port == u.port)
        item.fail("duplicate " + what + " address " + format_ipv4(u.address) + ":" + std::to_string(u.port) +
                  " (" + std::to_string(j) + " has it)");
    }
    out.push_back(std::move(u));
  }
  return out;
}

std::string links_text(const std::vector<slr_upper>& links) {
  std::string out;
  for (const auto& u : links)
    out += (out.empty() ? "" : ", ") + u.name + " " + format_ipv4(u.address) + ":" + std::to_string(u.port);
  return out.empty() ? "none" : out;
}

void line(std::string& out, const std::string& label, const std::string& text) {
  constexpr std::size_t label_width = 11;  // the column sections.cpp uses
  out += label;
  out.append(label_width > label.size() ? label_width - label.size() : 1, ' ');
  out += text;
  out += '\n';
}

}  // namespace

virtual_subnet as_virtual_subnet(const value_ref& v) {
  std::string s = v.as_string();
  auto p = parse_prefix(s);
  if (!p) v.fail(describe(v.value()) + " is not an IPv4 prefix");
  virtual_subnet out{p->address, static_cast<std::uint8_t>(prefix_length(p->mask))};
  if (p->host_bits)
    v.fail(describe(v.value()) + " has host bits set outside the mask (the network is " +
           to_string(out) + ")");
  return out;
}

// slr ------------------------------------------------------------------------------------------

void parse_slr(const value_ref& v, policy& out) {
  v.expect_object({"level", "virtual_subnets", "tunnel_address", "port", "upper", "neighbors", "update_interval_ms",
                   "expiry_ms", "selection", "epsilon", "function", "time_of_day", "aggregate",
                   "aggregate_cost", "route_costs", "shortcuts", "flow_capacity", "load",
                   "progress_timeout_ms", "hot_spare"});
  slr_section s;
  auto level = v.get("level");
  s.level = static_cast<slr_level>(one_of(level, level_names, "an SLR level"));
  // The level says which role runs the section; a mismatch would leave it unused.
  if (s.level == slr_level::host && !out.has_role(role::host_agent))
    level.fail("level \"host\" is the host agent: the node needs the role \"host_agent\"");
  if (s.level != slr_level::host && !out.has_role(role::slr))
    level.fail(std::string("level \"") + to_string(s.level) + "\" needs the role \"slr\"");

  if (auto list = v.find("virtual_subnets")) {
    std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      virtual_subnet net = as_virtual_subnet(item);
      for (const auto& x : s.virtual_subnets)
        if (x == net) item.fail("duplicate virtual subnet " + to_string(net));
      s.virtual_subnets.push_back(net);
    }
  }
  if (s.level == slr_level::host && s.virtual_subnets.empty()) {
    auto at = v.find("virtual_subnets");
    (at ? *at : v).fail(at ? "a host agent serves at least one virtual subnet"
                           : "missing required key \"virtual_subnets\" (a host agent serves at least one)");
  }

  s.tunnel_address = out.identity.address;
  if (auto t = v.find("tunnel_address")) s.tunnel_address = t->as_ipv4();

  if (auto x = v.find("port")) s.port = static_cast<std::uint16_t>(x->as_uint(1, 65535));
  if (auto list = v.find("upper")) s.upper = parse_links(*list, "upper SLR");
  if (auto list = v.find("neighbors")) s.neighbors = parse_links(*list, "neighbor SLR");

  if (auto x = v.find("update_interval_ms"))
    s.update_interval_ms = static_cast<std::uint32_t>(x->as_uint(1, 3600000));
  s.expiry_ms = 3 * s.update_interval_ms;
  if (auto x = v.find("expiry_ms")) {
    s.expiry_ms = static_cast<std::uint32_t>(x->as_uint(1, 3u * 3600000u));
    // Expiring a state before its successor can arrive would empty the table between updates.
    if (s.expiry_ms <= s.update_interval_ms)
      x->fail("expiry_ms " + std::to_string(s.expiry_ms) + " must be longer than update_interval_ms " +
              std::to_string(s.update_interval_ms));
  }

  if (auto x = v.find("selection"))
    s.selection = static_cast<slr_selection>(one_of(*x, selection_names, "a selection mode"));
  if (auto x = v.find("epsilon")) {
    s.epsilon = as_number(*x, 0, 1e9);
    if (s.epsilon <= 0) x->fail("epsilon must be above 0 (it keeps 1 / (epsilon + m) finite)");
  }
  if (auto x = v.find("function")) s.function = parse_function(*x);

  if (auto list = v.find("time_of_day")) {
    std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"hours", "subnet", "function"});
      slr_time_rule r;
      parse_hours(item.get("hours"), r);
      if (auto sub = item.find("subnet")) r.subnet = as_virtual_subnet(*sub);
      r.function = parse_function(item.get("function"));
      s.time_of_day.push_back(r);
    }
  }

  if (auto x = v.find("aggregate"))
    s.aggregate = static_cast<slr_aggregate>(one_of(*x, aggregate_names, "an aggregation function"));
  if (auto x = v.find("aggregate_cost")) s.aggregate_cost = as_number(*x, 0, 1e9);

  if (auto costs = v.find("route_costs")) {
    if (!costs->value().is_object()) costs->fail("expected an object, got " + describe(costs->value()));
    for (auto it = costs->value().begin(); it != costs->value().end(); ++it) {
      value_ref item(it.value(), costs->pointer() + '/' + escape_pointer_token(it.key()));
      auto address = parse_ipv4(it.key());
      if (!address) item.fail("\"" + it.key() + "\" is not an IPv4 address (route_costs keys are next hops)");
      s.route_costs.push_back({*address, as_number(item, 0, 1e9)});
    }
  }

  if (auto x = v.find("shortcuts")) s.shortcuts = x->as_bool();
  if (auto x = v.find("flow_capacity"))
    s.flow_capacity = static_cast<std::uint32_t>(x->as_uint(1, 1u << 24));

  if (auto l = v.find("load")) {
    l->expect_object({"source", "command", "command_timeout_ms", "value"});
    auto& load = s.load;
    load.source = static_cast<load_source>(one_of(l->get("source"), source_names, "a load source"));
    auto command = l->find("command");
    auto timeout = l->find("command_timeout_ms");
    auto value = l->find("value");
    if (load.source == load_source::command) {
      auto c = l->get("command");
      load.command = c.as_string();
      if (load.command.find_first_not_of(" \t") == std::string::npos) c.fail("an empty command");
      if (timeout) load.command_timeout_ms = static_cast<std::uint32_t>(timeout->as_uint(1, 600000));
    } else {
      if (command) command->fail("command applies to the source \"command\" only");
      if (timeout) timeout->fail("command_timeout_ms applies to the source \"command\" only");
    }
    if (load.source == load_source::fixed) load.value = as_number(l->get("value"), -1e12, 1e12);
    else if (value) value->fail("value applies to the source \"static\" only");
  }

  if (auto x = v.find("progress_timeout_ms"))
    s.progress_timeout_ms = static_cast<std::uint32_t>(x->as_uint(1, 3600000));

  if (auto h = v.find("hot_spare")) {
    h->expect_object({"address", "mac"});
    slr_hot_spare spare;
    spare.address = h->get("address").as_ipv4();
    if (auto m = h->find("mac")) spare.mac = as_mac(*m);
    s.hot_spare = spare;
  }
  out.slr = std::move(s);
}

json slr_json(const policy& p) { return write_json(*p.slr); }

void slr_text(const policy& p, std::string& out) {
  const auto& s = *p.slr;
  std::string subnets;
  for (const auto& n : s.virtual_subnets) subnets += (subnets.empty() ? "" : ", ") + to_string(n);
  line(out, "slr", std::string("level ") + to_string(s.level) + ", tunnel " + format_ipv4(s.tunnel_address) +
                       ", listens on " + std::to_string(s.port) +
                       ", virtual subnets " + (subnets.empty() ? "learned from below" : subnets));
  line(out, "", "upper " + links_text(s.upper) + "; neighbors " + links_text(s.neighbors) + "; update every " +
                    std::to_string(s.update_interval_ms) + " ms, expiry " + std::to_string(s.expiry_ms) + " ms");
  line(out, "", "F " + function_text(s.function) + ", selection " + to_string(s.selection) +
                    (s.selection == slr_selection::spread ? " (epsilon " + format_number(s.epsilon) + ")" : "") +
                    ", G " + to_string(s.aggregate) + " + " + format_number(s.aggregate_cost));
  for (const auto& r : s.time_of_day)
    line(out, "", "hours " + format_hours(r.from_hour, r.to_hour) + (r.subnet ? " for " + to_string(*r.subnet) : "") + ": F " +
                      function_text(r.function));
  for (const auto& c : s.route_costs)
    line(out, "", "route cost " + format_ipv4(c.next_hop) + " = " + format_number(c.cost));
  std::string load = std::string("load ") + to_string(s.load.source);
  if (s.load.source == load_source::command)
    load += " \"" + s.load.command + "\" (timeout " + std::to_string(s.load.command_timeout_ms) + " ms)";
  if (s.load.source == load_source::fixed) load += " " + format_number(s.load.value);
  line(out, "", load + "; progress timeout " + std::to_string(s.progress_timeout_ms) + " ms; shortcuts " +
                    (s.shortcuts ? "on" : "off") + "; flow capacity " + std::to_string(s.flow_capacity));
  if (s.hot_spare)
    line(out, "", "hot spare " + format_ipv4(s.hot_spare->address) +
                      (s.hot_spare->mac.empty() ? "" : " mac " + s.hot_spare->mac));
}

// shaping --------------------------------------------------------------------------------------

void parse_shaping(const value_ref& v, policy& out) {
  v.expect_object({"interface", "rate_mbit", "burst_kbyte", "classes", "default_share"});
  shaping_section s;
  auto itf = v.get("interface");
  s.interface = itf.as_string();
  bool ok = !s.interface.empty() && s.interface.size() <= 15;
  for (char c : s.interface) ok = ok && c != '/' && c > ' ' && c != 0x7f;
  if (!ok) itf.fail(describe(itf.value()) + " is not an interface name");
  auto rate = v.get("rate_mbit");
  s.rate_mbit = as_number(rate, 0, 1e6);
  if (s.rate_mbit <= 0) rate.fail("rate_mbit must be above 0");
  if (auto x = v.find("burst_kbyte")) s.burst_kbyte = static_cast<std::uint32_t>(x->as_uint(1, 1u << 20));
  if (auto list = v.find("classes")) {
    std::size_t n = list->expect_array();
    for (std::size_t i = 0; i < n; ++i) {
      auto item = list->at(i);
      item.expect_object({"name", "source", "share"});
      shaping_class c;
      auto name = item.get("name");
      c.name = name.as_name();
      auto source = item.get("source");
      c.source = as_virtual_subnet(source);
      c.share = static_cast<std::uint32_t>(item.get("share").as_uint(1, 1000000));
      for (std::size_t j = 0; j < s.classes.size(); ++j) {
        if (s.classes[j].name == c.name)
          name.fail("duplicate class name \"" + c.name + "\" (class " + std::to_string(j) + " has it)");
        if (s.classes[j].source == c.source)
          source.fail("duplicate class source " + to_string(c.source) + " (class " + std::to_string(j) + " has it)");
      }
      s.classes.push_back(std::move(c));
    }
  }
  if (auto x = v.find("default_share")) s.default_share = static_cast<std::uint32_t>(x->as_uint(1, 1000000));
  out.shaping = std::move(s);
}

json shaping_json(const policy& p) { return write_json(*p.shaping); }

void shaping_text(const policy& p, std::string& out) {
  const auto& s = *p.shaping;
  line(out, "shaping", s.interface + " " + format_number(s.rate_mbit) + " Mbit/s, burst " +
                           std::to_string(s.burst_kbyte) + " KB, default share " + std::to_string(s.default_share));
  for (const auto& c : s.classes)
    line(out, "", c.name + ": " + to_string(c.source) + " share " + std::to_string(c.share));
}

}  // namespace detail

}  // namespace baton::policy
