// The host agent (document 001): the bottom of the SLR hierarchy, on each server. See
// slr_actor.hpp for the role's whole story.

#include <caf/all.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <map>
#include <tuple>

#include "actors/runtime/event_log.hpp"
#include "actors/runtime/io_runtime.hpp"
#include "actors/runtime/policy_ptr.hpp"
#include "actors/runtime/status_message.hpp"
#include "actors/protocol/atoms.hpp"
#include "actors/protocol/slr.hpp"
#include "actors/slr/links.hpp"
#include "actors/slr/load_index.hpp"
#include "actors/slr/slr_actor.hpp"
#include "actors/slr/sock_diag.hpp"
#include "net/io/raw_ipv4_port.hpp"
#include "net/packet/flow_advert.hpp"
#include "net/packet/mss_clamp.hpp"
#include "net/slr/mss_rules.hpp"
#include "policy/policy.hpp"
#include "policy/rules.hpp"

namespace baton::slr {
namespace {

using node::severity;
using clock_type = std::chrono::steady_clock;

/// Progress check timer (Figure 10's monitoring of the flows it serves).
using progress_atom = caf::atom_constant<caf::atom("progress")>;

/// A raw socket that sends the flow advertisements (IPv4 header included: the source is the
/// virtual address, which is on a local interface).
class advert_socket {
 public:
  advert_socket() : fd_(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW)) {
    if (fd_ < 0) throw std::system_error(errno, std::system_category(), "flow advertisement socket");
  }
  ~advert_socket() { ::close(fd_); }
  advert_socket(const advert_socket&) = delete;
  advert_socket& operator=(const advert_socket&) = delete;

  /// Sends one advertisement; false (errno kept) when the kernel refused it.
  bool send(const net::flow_advert& a, std::uint16_t seq) {
    std::array<std::uint8_t, 256> buf{};
    const auto size = net::flow_advert_size();
    if (size > buf.size()) return false;
    if (net::build_flow_advert(net::bytes_span{buf.data(), size}, a, id_, seq) !=
        net::edit_status::ok)
      return false;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(a.client_address);
    return ::sendto(fd_, buf.data(), size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(size);
  }

 private:
  int fd_;
  std::uint16_t id_ = static_cast<std::uint16_t>(::getpid());
};

struct host_state {
  static inline const char* name = "host_agent";
  std::shared_ptr<node::io_runtime> io;
  node::event_log* events = nullptr;
  policy::slr_section cfg;
  std::string self_name;
  protocol::slr_hello hello;
  std::vector<outbound_link> uppers;
  std::unique_ptr<load_index> loads;
  std::vector<std::pair<subnet, double>> last_loads;
  std::string last_error;           // of the load index
  std::uint16_t mss_clamp = 0;      // the MSS SYN-ACKs from virtual addresses get; 0 = not clamped
  std::string last_progress_error;  // of the stalled-flow check
  std::unique_ptr<advert_socket> adverts;
  // When each stalled flow was last advertised: once per progress timeout per flow.
  std::map<std::tuple<std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t>, clock_type::time_point>
    advertised;
  std::uint64_t sequence = 0;
  host_agent_counters ctl;
  std::uint16_t advert_seq = 0;
};

using host_pointer = caf::stateful_actor<host_state>*;

std::vector<outbound_link>& uppers_of(host_pointer self) { return self->state.uppers; }

void report(host_pointer self) {
  auto& st = self->state;
  auto r = st.loads->measure();
  if (!r.error.empty()) {
    ++st.ctl.load_errors;
    if (r.error != st.last_error)
      st.events->add(severity::warning, "load_index_failed", {{"reason", r.error}});
  }
  st.last_error = r.error;
  if (r.loads.empty()) return;  // nothing measured yet: not advertised
  st.last_loads = r.loads;
  protocol::slr_state s;
  s.name = st.self_name;
  s.tunnel_address = st.cfg.tunnel_address;
  s.sequence = ++st.sequence;
  for (auto& [net, load] : r.loads) s.subnets.push_back({net.prefix, net.length, load});
  st.ctl.states_sent += send_to_linked(self, st.uppers, s);
}

/// Figure 10: a flow that gets no feedback from the client may have lost its state in the
/// network; advertise it with an augmented ping whose echo reply takes the client's path to the
/// SLR now receiving the flow.
void check_progress(host_pointer self) {
  auto& st = self->state;
  ++st.ctl.progress_checks;
  if (!st.adverts) return;
  const auto timeout = std::chrono::milliseconds(st.cfg.progress_timeout_ms);
  std::vector<stalled_flow> stalled;
  try {
    stalled = stalled_flows(st.cfg.virtual_subnets, timeout);
  } catch (const std::exception& e) {
    // Said once per distinct reason: the check runs four times per progress timeout.
    ++st.ctl.advert_errors;
    if (st.last_progress_error != e.what())
      st.events->add(severity::warning, "progress_check_failed", {{"reason", e.what()}});
    st.last_progress_error = e.what();
    return;
  }
  const auto now = clock_type::now();
  for (auto& f : stalled) {
    ++st.ctl.stalled_seen;
    auto& last = st.advertised[{f.remote_address, f.remote_port, f.local_address, f.local_port}];
    if (last != clock_type::time_point{} && now - last < timeout) continue;
    last = now;
    net::flow_advert a;
    a.client_address = f.remote_address;
    a.client_port = f.remote_port;
    a.virtual_address = f.local_address;
    a.virtual_port = f.local_port;
    a.protocol = IPPROTO_TCP;
    a.server_address = st.cfg.tunnel_address;
    a.server_port = f.local_port;  // direct server return: the service listens on the virtual port
    if (st.adverts->send(a, ++st.advert_seq)) {
      ++st.ctl.adverts_sent;
      st.events->add(severity::info, "flow_advertisement_sent",
                     {{"client", policy::format_ipv4(a.client_address) + ":" + std::to_string(a.client_port)},
                      {"virtual", policy::format_ipv4(a.virtual_address) + ":" + std::to_string(a.virtual_port)},
                      {"unacked", std::to_string(f.unacked)},
                      {"last_ack_ms", std::to_string(f.last_ack_recv_ms)}});
    } else {
      ++st.ctl.advert_errors;
    }
  }
  for (auto it = st.advertised.begin(); it != st.advertised.end();)
    it = now - it->second > 10 * timeout ? st.advertised.erase(it) : std::next(it);
}

caf::behavior host_impl(host_pointer self, std::shared_ptr<node::io_runtime> io,
                        node::event_log* events, policy::slr_section cfg, std::string name, bool clamp_mss) {
  auto& st = self->state;
  st.io = std::move(io);
  st.events = events;
  st.cfg = std::move(cfg);
  st.self_name = std::move(name);
  st.hello = {st.self_name, "host", st.cfg.tunnel_address};
  st.loads = std::make_unique<load_index>(st.cfg);
  for (auto& u : st.cfg.upper) st.uppers.push_back({u.name, u.address, u.port});
  try {
    st.adverts = std::make_unique<advert_socket>();
  } catch (const std::exception& e) {
    st.events->add(severity::error, "flow_advertisements_unavailable", {{"reason", e.what()}});
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    link_lost(self->state.uppers, dm.source, *self->state.events);
  });
  self->send(self, protocol::tick_atom::value);
  self->send(self, progress_atom::value);
  std::string subnets;
  for (auto& s : st.cfg.virtual_subnets) subnets += (subnets.empty() ? "" : " ") + policy::to_string(s);
  if (clamp_mss) {
    // The services' SYN-ACKs leave directly; the client's segments come back through tunnels.
    std::vector<std::string> sources;
    for (auto& s : st.cfg.virtual_subnets) sources.push_back(policy::to_string(s));
    const std::uint16_t mss = net::tunnelled_mss(net::raw_ipv4_config{}.mtu);
    try {
      net::install_mss_clamp(sources, mss);
      st.mss_clamp = mss;
      self->attach_functor([](const caf::error&) { net::remove_mss_clamp(); });
      st.events->add(severity::info, "syn_ack_mss_clamp", {{"mss", std::to_string(mss)}, {"sources", subnets}});
    } catch (const std::exception& e) {
      st.events->add(severity::error, "syn_ack_mss_clamp_failed", {{"reason", e.what()}});
    }
  }
  st.events->add(severity::info, "host_agent_started",
                 {{"virtual_subnets", subnets},
                  {"tunnel_address", policy::format_ipv4(st.cfg.tunnel_address)},
                  {"load", policy::to_string(st.cfg.load.source)}});
  return {
    [=](protocol::reload_atom, const node::policy_ptr&) -> std::string {
      return "slr section: takes effect when batond restarts";
    },
    [=](protocol::tick_atom) {
      auto& st = self->state;
      dial_due(self, uppers_of, st.hello, *st.events);
      report(self);
      self->delayed_send(self, std::chrono::milliseconds(st.cfg.update_interval_ms),
                         protocol::tick_atom::value);
    },
    [=](progress_atom) {
      check_progress(self);
      self->delayed_send(self, std::chrono::milliseconds(std::max<std::uint32_t>(
                                 50, self->state.cfg.progress_timeout_ms / 4)),
                         progress_atom::value);
    },
    [=](const protocol::slr_hello& h) {
      // An upper answering our hello.
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      if (!sender) return;
      if (auto* l = link_of(self->state.uppers, sender.address())) {
        l->tunnel_address = h.tunnel_address;
        l->level = h.level;
      }
    },
    [=](protocol::get_atom) {
      auto& st = self->state;
      node::role_status s;
      s.fact("level", node::scalar("host"))
        .fact("name", node::scalar(st.self_name))
        .fact("tunnel_address", node::scalar(policy::format_ipv4(st.cfg.tunnel_address)))
        .fact("load_error", node::scalar(st.last_error))
        .fact("syn_ack_mss", node::scalar(std::uint64_t{st.mss_clamp}))
        .fact("syn_acks_clamped", node::scalar(st.mss_clamp ? net::mss_clamped_count() : std::int64_t{-1}));
      s.tables.push_back(links_table("uppers", st.uppers, false));
      node::status_table loads{"loads", "subnet", {{"subnet", node::column_kind::key, ""},
                                                   {"load", node::column_kind::gauge,
                                                    "the load index last reported"}},
                               {}};
      for (auto& [net, load] : st.last_loads)
        loads.rows.push_back({{node::scalar(policy::to_string(net)), node::scalar(load)}, {}});
      s.tables.push_back(std::move(loads));
      s.group("control", st.ctl);
      return s;
    },
    [=](node::flows_atom, std::uint32_t) { return node::flow_list{"host_agent", {}, 0}; },
  };
}

}  // namespace

caf::actor spawn_host_agent(caf::actor_system& sys, std::shared_ptr<node::io_runtime> io,
                            node::event_log& events, const policy::policy& p) {
  // Detached: a load command may block for up to its timeout. The policy defaults
  // slr.tunnel_address to the identity's address.
  return sys.spawn<caf::detached>(host_impl, std::move(io), &events, *p.slr, p.identity.name, p.io.clamp_mss);
}

}  // namespace baton::slr
