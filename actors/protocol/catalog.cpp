#include "actors/protocol/catalog.hpp"

#include <caf/actor_system_config.hpp>

#include "actors/protocol/group.hpp"
#include "actors/protocol/node.hpp"
#include "actors/protocol/replica.hpp"
#include "actors/protocol/rim.hpp"
#include "actors/protocol/slr.hpp"

namespace baton::protocol {
namespace {

struct entry {
  message_info info;
  void (*add)(caf::actor_system_config&, const std::string&);
};

template <class T>
entry row(const char* name, const char* purpose) {
  return {{name, purpose},
          [](caf::actor_system_config& cfg, const std::string& n) { cfg.add_message_type<T>(n); }};
}

const std::vector<entry>& table() {
  using namespace baton::group;
  static const std::vector<entry> rows = {
    row<hello>("hello", "first message on a node-to-node link: name, address, roles, console"),
    row<join_request>("join_request", "ask the master to join, with certificate identity and claimed units"),
    row<join_reply>("join_reply", "OK to join, NAK with reason, or NAK operation in progress"),
    row<exit_request>("exit_request", "leave the group and join again"),
    row<master_offer>("master_offer", "a node without a master offers itself"),
    row<other_master_exists>("other_master_exists", "a master answers an offer or wins a tie-break"),
    row<member_entry>("member_entry", "one member in a master keepalive"),
    row<std::vector<member_entry>>("member_list", "the member list in a master keepalive"),
    row<master_keepalive>("master_keepalive", "members, adaptive keepalive interval, work assignments"),
    row<client_keepalive>("client_keepalive", "monotonic sequence number and load"),
    row<unit_assignment>("unit_assignment", "one work unit's owner and backup"),
    row<std::vector<unit_assignment>>("unit_assignment_list", "assignments in a work_assign"),
    row<work_assign>("work_assign", "the master assigns work units"),
    row<work_assign_ack>("work_assign_ack", "assignment acknowledged: it takes effect"),
    row<work_deassign>("work_deassign", "hand a unit's state to a target member, then give it up"),
    row<work_deassign_done>("work_deassign_done", "the target holds the handed-over state"),
    row<state_portion>("state_portion", "one numbered state portion: initial delta, essential delta or checkpoint"),
    row<std::vector<state_portion>>("state_portion_list", "portions in order, in a state_delta or hand-over"),
    row<state_delta>("state_delta", "a unit's state portions to its backup, new ones and unacknowledged ones"),
    row<state_ack>("state_ack", "the backup holds a unit's portions up to a sequence"),
    row<state_handover>("state_handover", "a unit's checkpoint and deltas, moving on purpose"),
    row<slr_hello>("slr_hello", "a host agent or SLR introduces itself to the SLR one level up"),
    row<slr_subnet_load>("slr_subnet_load", "one virtual subnet and its load index"),
    row<std::vector<slr_subnet_load>>("slr_subnet_load_list", "the virtual subnets in a state update"),
    row<slr_state>("slr_state", "periodic state: virtual subnets with load (host) or aggregate M (SLR)"),
    row<slr_flow>("slr_flow", "a flow classifier: client address and port, virtual address and port"),
    row<tunnel_object>("tunnel_object", "shortcut: the host a flow was routed to, passed upstream"),
    row<whohas>("whohas", "limited-scope query to neighbour SLRs for an ongoing flow's tunnel"),
    row<ihave>("ihave", "answer to whohas: the flow's tunnel termination point"),
    row<replica_report>("replica_report", "a replica host's periodic state and load to its server gateway"),
    row<rim_hello>("rim_hello", "a rim host introduces itself and its rim actor to another"),
    row<rim_flow>("rim_flow", "a flow: client address and port, the owning rim host's address and port"),
    row<net::tcp_snapshot>("rim_tcp_state", "a frozen TCP socket: sequence numbers, queues, options, windows"),
    row<rim_take>("rim_take", "hand-off: take this live connection, its socket state and content position"),
    row<rim_taken>("rim_taken", "hand-off answer: taken by the sender, or refused with the reason"),
    row<rim_holder>("rim_holder", "to a flow's owner: forward its packets to this rim host now"),
    row<rim_relay>("rim_relay", "masquerade: pass a flow's segments on to the next masquerader, or send them"),
    row<rim_flow_report>("rim_flow_report", "a flow's TCP_INFO as its sending rim host sees it"),
    row<rim_report>("rim_report", "to the rim's master: a host's flows, ICMP errors and load, each interval"),
    row<rim_command>("rim_command", "the management object's decision: masquerade, funnel, hand off, or direct"),
  };
  return rows;
}

}  // namespace

void register_messages(caf::actor_system_config& cfg) {
  for (auto& e : table()) e.add(cfg, e.info.name);
}

const std::vector<message_info>& message_catalog() {
  static const std::vector<message_info> infos = [] {
    std::vector<message_info> out;
    for (auto& e : table()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

}  // namespace baton::protocol
