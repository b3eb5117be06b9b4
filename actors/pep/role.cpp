// Document 003's row of the role table: the PEP endpoint. Its data path is not the packet loop:
// the kernel routes and, by the interception rules, hands spoofed connections to the engine's
// transparent listener (net/pep/interception.hpp); the engine (engine.hpp) moves their bytes
// over the backbones. The actor (pep_actor.hpp) starts and stops it.

#include "actors/pep/role.hpp"

#include "actors/pep/pep_actor.hpp"
#include "policy/policy.hpp"

namespace baton::pep {
namespace {

bool is_pep(const policy::policy& p) { return p.pep && p.has_role(policy::role::pep); }

/// Nothing on the packet loop: a PEP endpoint forwards with the kernel, and spoofed TCP reaches
/// the engine through the kernel's TCP.
void build_pep(node::io_runtime&, const policy::policy&) {}

std::vector<std::string> no_ports(const policy::policy&) { return {}; }

node::spawned_role spawn_pep(const node::role_context& ctx) {
  node::spawned_role r;
  auto actor = spawn_pep_actor(ctx.sys, ctx.events, *ctx.policy);
  r.actors.push_back({"pep",
                      "PEP endpoint: spoofs TCP by the rules, multiplexes it over TLS backbones to its "
                      "peers as TSK messages (document 003)",
                      actor, ctx.policy->pep->backbone_port});
  // A hub group member (pep.group) works on the node's group units: a branch peer is served by
  // the member owning its unit (engine.hpp, branch_unit).
  if (ctx.policy->pep->group) r.unit_worker = actor;
  return r;
}

}  // namespace

const node::role_row pep_row{
  "pep", "PEP endpoint (document 003): selective TCP spoofing, backbones between PEP peers",
  false, "pep", is_pep, build_pep, no_ports, spawn_pep, /*section_required=*/true};

}  // namespace baton::pep
