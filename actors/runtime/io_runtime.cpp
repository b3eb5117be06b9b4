#include "actors/runtime/io_runtime.hpp"

#include <netinet/in.h>

#include <cstdio>
#include <stdexcept>

#include "actors/runtime/cpu_affinity.hpp"
#include "net/classify/classify_stage.hpp"
#include "net/io/af_packet_port.hpp"
#include "net/io/af_xdp_port.hpp"
#include "net/io/neighbor.hpp"
#include "net/io/raw_ipv4_port.hpp"
#include "net/io/tun_port.hpp"
#include "net/sched/shaper_stage.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::node {
namespace {

net::af_packet_config af_packet_config_of(const policy::io_interface& itf) {
  net::af_packet_config cfg;
  cfg.interface = itf.name;
  cfg.promiscuous = itf.promiscuous;
  if (itf.next_hop != 0) {
    auto mac = net::resolve_neighbor(itf.name, itf.next_hop, std::chrono::seconds(3));
    if (!mac)
      throw std::runtime_error("cannot resolve next hop " + policy::format_ipv4(itf.next_hop) + " on " +
                               itf.name + " (no ARP answer)");
    cfg.next_hop = *mac;
  }
  return cfg;
}

std::unique_ptr<net::packet_port> open_port(net::buffer_pool& pool,
                                            const policy::io_interface& itf,
                                            policy::io_backend backend) {
  switch (itf.kind.value_or(backend)) {
    case policy::io_backend::af_packet:
      return std::make_unique<net::af_packet_port>(pool, af_packet_config_of(itf));
    case policy::io_backend::af_xdp: {
      // The next hop is resolved first: once the XDP program takes the link's frames, the
      // kernel's own ARP on it gets no answers.
      const net::af_packet_config packet = af_packet_config_of(itf);
      net::af_xdp_config xdp;
      xdp.interface = itf.name;
      xdp.promiscuous = itf.promiscuous;
      xdp.next_hop = packet.next_hop;
      auto opened = net::open_af_xdp_or_packet(pool, xdp, packet);
      if (!opened.fallback_reason.empty())
        std::fprintf(stderr, "baton io: %s; using AF_PACKET\n", opened.fallback_reason.c_str());
      return std::move(opened.port);
    }
    case policy::io_backend::tun: {
      net::tun_port_config cfg;
      cfg.name = itf.name;
      return std::make_unique<net::tun_port>(pool, cfg);
    }
    case policy::io_backend::raw: {
      net::raw_ipv4_config cfg;
      cfg.name = itf.name;
      cfg.bind_interface = itf.name;
      return std::make_unique<net::raw_ipv4_port>(cfg);
    }
    case policy::io_backend::memory:
      break;
  }
  throw std::runtime_error("interface " + itf.name + ": the memory backend has no devices");
}

/// The policy's shaping section as the shaper takes it.
net::shaping_config shaping_config_of(const policy::shaping_section& s) {
  net::shaping_config c;
  c.interface = s.interface;
  c.rate_mbit = s.rate_mbit;
  c.burst_kbyte = s.burst_kbyte;
  c.default_share = s.default_share;
  for (const auto& k : s.classes) {
    const std::uint32_t mask = k.source.length == 0 ? 0 : ~std::uint32_t{0} << (32 - k.source.length);
    c.classes.push_back({k.name, {k.source.prefix & mask, mask}, k.share});
  }
  return c;
}

net::pass_through_table routes_for(const policy::io_section& io) {
  // Port ids follow the order of the policy's interfaces: 0 and 1. Traffic from the first goes out
  // the second, wrapped when ipip.encap; traffic from the second comes back unwrapped when
  // ipip.decap.
  net::pass_through_table table;
  net::ipip_tunnel tunnel;
  tunnel.src = io.ipip.local;
  tunnel.dst = io.ipip.remote;
  table.route(0, 1, io.ipip.encap ? net::tunnel_action::encapsulate : net::tunnel_action::none,
              tunnel);
  table.route(1, 0, io.ipip.decap ? net::tunnel_action::decapsulate : net::tunnel_action::none);
  return table;
}

}  // namespace

void io_runtime::build_pass_through(const policy::policy& p) {
  const auto& io = p.io;
  // The shaped link must be one of ours; checked before anything is opened.
  if (p.shaping) {
    bool found = false;
    for (auto& itf : io.interfaces) found = found || itf.name == p.shaping->interface;
    if (!found)
      throw std::runtime_error("/shaping/interface: " + p.shaping->interface +
                               " is not one of the /io/interfaces");
  }
  if (io.backend == policy::io_backend::memory && io.interfaces.empty()) return;
  if (io.interfaces.size() != 2)
    throw std::runtime_error("pass-through needs exactly two interfaces, the policy names " +
                             std::to_string(io.interfaces.size()));
  begin(p);
  net::packet_port* shaped_port = nullptr;  // owned by loop_ from add_port on
  for (auto& itf : io.interfaces) {
    auto& port = add_io_port(itf, io.backend);
    if (p.shaping && itf.name == p.shaping->interface) shaped_port = &port;
  }
  auto stage = std::make_unique<net::pass_through_stage>(loop_->epoch(), routes_for(io));
  pass_through_ = stage.get();
  if (!shaped_port) {
    add_any_stage(std::move(stage));
    return;
  }
  // The shaper runs pass-through first and queues what it forwards to the shaped port; the rest
  // keeps pass-through's verdict. pass_through_ stays valid: the shaper owns the stage.
  std::unique_ptr<net::shaper_stage> shaper;
  try {
    shaper = std::make_unique<net::shaper_stage>(loop_->epoch(), *pool_, *shaped_port,
                                                 shaping_config_of(*p.shaping), net::steady_clock_ns(),
                                                 std::move(stage));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("/shaping: ") + e.what());
  }
  shaper_ = shaper.get();
  shaping_ = std::make_unique<policy::shaping_section>(*p.shaping);
  add_any_stage(std::move(shaper));
}

io_runtime::~io_runtime() { stop(); }

void io_runtime::begin(const policy::policy& p) {
  if (loop_) return;
  pool_ = std::make_unique<net::buffer_pool>(net::buffer_pool_config{});
  net::packet_loop_config cfg;
  cfg.clamp_tunnelled_mss = p.io.clamp_mss;
  loop_ = std::make_unique<net::packet_loop>(*pool_, cfg);
  classify_ = &add_stage(std::make_unique<net::classify_stage>(loop_->epoch(), net::classify_table::from(p)));
}

void io_runtime::add_any_stage(std::unique_ptr<net::stage> s) {
  stages_.push_back(s.get());
  loop_->add_stage(std::move(s));
}

net::port_id io_runtime::add_port(std::unique_ptr<net::packet_port> port, const std::string& name) {
  auto id = loop_->add_port(std::move(port));
  port_names_.push_back(name);
  return id;
}

net::packet_port& io_runtime::add_io_port(const policy::io_interface& itf,
                                          policy::io_backend backend) {
  std::unique_ptr<net::packet_port> port;
  try {
    port = open_port(*pool_, itf, backend);
  } catch (const std::exception& e) {
    throw std::runtime_error("io: cannot open " + itf.name + ": " + e.what());
  }
  auto& kept = *port;  // the loop owns it from here on
  add_port(std::move(port), itf.name);
  return kept;
}

namespace {

/// The raw IP-in-IP port of the SLR hierarchy: receives the tunnels that end here (an open raw
/// protocol-4 socket also keeps the kernel, which has no ipip module, from answering them with
/// ICMP protocol-unreachable) and sends the tunnels this node makes, through the kernel's routing.
std::unique_ptr<net::packet_port> open_tunnel_port(net::buffer_pool& pool) {
  net::raw_ipv4_config cfg;
  cfg.name = "ipip";
  cfg.receive_protocol = IPPROTO_IPIP;
  cfg.mtu = 1500;
  try {
    return std::make_unique<net::raw_ipv4_port>(pool, cfg);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot open the raw IP-in-IP socket: ") + e.what());
  }
}

}  // namespace

net::port_id io_runtime::add_tunnel_port() { return add_port(open_tunnel_port(*pool_), "ipip"); }

void io_runtime::run_on_loop(std::function<void()> command) {
  if (loop_) loop_->run_on_loop(std::move(command));
  else command();
}

void io_runtime::post(std::function<void()> command) {
  if (loop_) {
    loop_->post(std::move(command));
    return;
  }
  try {
    command();
  } catch (...) {
    // No loop, no counter: a command that throws here had nothing to act on.
  }
}

void io_runtime::start() {
  // The loop carries traffic: it may run on any CPU, not only the control plane's.
  if (loop_ && !loop_->running()) start_data_path_thread([&] { loop_->start(); });
}

std::size_t io_runtime::run_once(std::chrono::milliseconds wait) {
  return loop_ ? loop_->run_once(wait) : 0;
}

void io_runtime::stop() noexcept {
  if (loop_) loop_->stop();
}

std::vector<std::string> io_runtime::pass_through_ports(const policy::policy& p) {
  std::vector<std::string> names;
  if (p.io.backend == policy::io_backend::memory && p.io.interfaces.empty()) return names;
  for (auto& itf : p.io.interfaces) names.push_back(itf.name);
  return names;
}

void io_runtime::apply(const policy::policy& p, const std::vector<std::string>& ports) {
  if (classify_) classify_->publish(net::classify_table::from(p));
  if (ports != port_names_) throw std::runtime_error("io interfaces changed: needs a restart");
  if (!pass_through_) return;  // a role's data path: its own actors apply its sections
  // The shaper wraps pass-through and holds its port from the start: it cannot come or go.
  if (bool(shaper_) != p.shaping.has_value())
    throw std::runtime_error(shaper_ ? "shaping: removing the section needs a restart"
                                     : "shaping: adding the section needs a restart");
  if (shaper_ && p.shaping->interface != shaping_->interface)
    throw std::runtime_error("shaping: moving it from " + shaping_->interface + " to " +
                             p.shaping->interface + " needs a restart");
  pass_through_->publish(routes_for(p.io));
  if (shaper_ && !(*p.shaping == *shaping_)) {
    try {
      shaper_->publish(shaping_config_of(*p.shaping));
    } catch (const std::length_error& e) {
      throw std::runtime_error(std::string("shaping: ") + e.what() + " (needs a restart)");
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("shaping: ") + e.what());
    }
    *shaping_ = *p.shaping;
  }
}

net::loop_snapshot io_runtime::snapshot() const {
  return loop_ ? loop_->snapshot() : net::loop_snapshot{};
}

role_status io_runtime::status() const {
  const auto s = snapshot();
  role_status st;
  st.fact("active", scalar(active()));
  st.group("", s);
  counter_family drops{"drops", "datagrams the loop dropped, by reason", net::counter_kind::counter,
                       "reason", {}};
  for (std::size_t i = 0; i < net::drop_reason_count; ++i)
    drops.values.emplace_back(net::to_string(static_cast<net::drop_reason>(i)), s.drops[i]);
  st.families.push_back(std::move(drops));
  counter_family malformed{"malformed", "malformed datagrams dropped, by parse status",
                           net::counter_kind::counter, "status", {}};
  for (std::size_t i = 0; i < net::parse_status_count; ++i)
    if (i != static_cast<std::size_t>(net::parse_status::ok))
      malformed.values.emplace_back(net::to_string(static_cast<net::parse_status>(i)), s.malformed[i]);
  st.families.push_back(std::move(malformed));

  status_table stages{"stages", "stage", {{"name", column_kind::key, ""}}, {}};
  stages.counter_columns<net::stage_stats>();
  for (const auto& x : s.stages) {
    status_row row{{scalar(x.name)}, {}};
    append_counters(row, x);
    stages.rows.push_back(std::move(row));
  }
  st.tables.push_back(std::move(stages));
  status_table ports{"ports", "port",
                     {{"name", column_kind::key, ""},
                      {"mtu", column_kind::fact, ""},
                      {"backend", column_kind::fact, "the socket or device in use (af_xdp, af_packet, tun, raw)"},
                      {"fallback", column_kind::fact, "why the backend differs from the policy's (AF_XDP refused)"}},
                     {}};
  ports.counter_columns<net::port_stats>();
  for (const auto& p : s.ports) {
    status_row row{{scalar(p.name), scalar(p.mtu), scalar(p.backend), scalar(p.fallback_reason)}, {}};
    append_counters(row, p.stats);
    ports.rows.push_back(std::move(row));
  }
  st.tables.push_back(std::move(ports));

  if (shaper_) {
    // The shaper's and sfq's counters are plain structs in net/sched (not yet counter lists).
    const auto sh = shaper_->stats();
    st.fact("shaping.interface", scalar(sh.interface));
    st.fact("shaping.rate_bytes_per_s", scalar(sh.rate_bytes_per_s));
    st.fact("shaping.burst_bytes", scalar(sh.burst_bytes));
    st.fact("shaping.oversize", scalar(sh.oversize));
    st.fact("shaping.tx_errors", scalar(sh.tx_errors));
    status_table classes{"shaping.classes", "class",
                         {{"name", column_kind::key, ""},
                          {"share", column_kind::fact, ""},
                          {"enqueued", column_kind::counter, "packets the class accepted"},
                          {"enqueued_bytes", column_kind::counter, "bytes the class accepted"},
                          {"sent", column_kind::counter, "packets the shaper sent"},
                          {"sent_bytes", column_kind::counter, "bytes the shaper sent"},
                          {"dropped", column_kind::counter, "packets dropped: queue full"},
                          {"dropped_bytes", column_kind::counter, "bytes dropped: queue full"},
                          {"queued", column_kind::gauge, "packets waiting now"}},
                         {}};
    for (const auto& c : sh.classes)
      classes.rows.push_back({{scalar(c.name), scalar(c.share), scalar(c.counters.enqueued),
                               scalar(c.counters.enqueued_bytes), scalar(c.counters.sent),
                               scalar(c.counters.sent_bytes), scalar(c.counters.dropped),
                               scalar(c.counters.dropped_bytes), scalar(c.counters.queued())},
                              {}});
    st.tables.push_back(std::move(classes));
  }
  return st;
}

}  // namespace baton::node
