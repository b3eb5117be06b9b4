#include "actors/daemon/roles.hpp"

#include <cstring>

#include "actors/cluster/role.hpp"
#include "actors/pep/role.hpp"
#include "actors/replica/role.hpp"
#include "actors/rim/role.hpp"
#include "actors/slr/role.hpp"
#include "policy/policy.hpp"
#include "policy/policy_error.hpp"

namespace baton::node {

const std::vector<const role_row*>& role_table() {
  static const std::vector<const role_row*> rows{
    &cluster::role_row,
    &slr::slr_row,
    &slr::host_agent_row,
    &replica::client_gateway_row,
    &replica::server_gateway_row,
    &replica::replica_row,
    &pep::pep_row,
    &rim::rim_row,
  };
  return rows;
}

std::vector<const role_row*> selected_roles(const policy::policy& p) {
  std::vector<const role_row*> out;
  for (auto* row : role_table())
    if (row->selected(p)) out.push_back(row);
  return out;
}

namespace {

/// The default data path (io_runtime::build_pass_through) is not a row but always runs.
constexpr const char* default_path = "passthrough";

std::string runnable_names() {
  std::string names = default_path;
  for (auto* row : role_table()) names += std::string(", ") + row->name;
  return names;
}

}  // namespace

void check_roles_runnable(const policy::policy& p) {
  for (std::size_t i = 0; i < p.roles.size(); ++i) {
    const char* name = policy::to_string(p.roles[i]);
    bool known = std::strcmp(name, default_path) == 0;
    bool selected = true;
    for (auto* row : role_table())
      if (std::strcmp(name, row->name) == 0) {
        known = true;
        selected = !row->section_required || row->selected(p);
      }
    if (!known)
      throw policy::policy_error("/roles/" + std::to_string(i),
                                 "\"" + std::string(name) + "\" is not a role this batond runs "
                                 "(it runs: " + runnable_names() + ")");
    // A role whose row needs its section, named without it, would start idle: refuse it.
    if (!selected) {
      std::string section;
      for (auto* row : role_table())
        if (std::strcmp(name, row->name) == 0) section = row->section;
      throw policy::policy_error("/roles/" + std::to_string(i),
                                 "\"" + std::string(name) + "\" needs the /" + section +
                                     " section that selects it");
    }
  }
}

std::string describe_roles() {
  std::string out = "Roles this batond runs (policy /roles):\n";
  out += "  passthrough  forwarding between the io section's two interfaces (the default data path)\n";
  for (auto* row : role_table()) {
    std::string name = row->name;
    name.resize(std::max<std::size_t>(name.size(), 11), ' ');
    out += "  " + name + "  " + row->summary + "\n";
  }
  return out;
}

}  // namespace baton::node
