#pragma once
// The classify stage of the node's pipeline (DESIGN §3: parse -> classify -> role stage -> emit):
// each datagram is matched against the policy's rules (first match wins, the default catches the
// rest) and a rule whose profile says "drop" drops it as a policy drop. The rules are an immutable
// table the control plane replaces on reload; the loop reads it without locks. Plain C++ (no CAF),
// in the baton_datapath library rather than baton_net because it reads the policy library.

#include <cstdint>
#include <memory>
#include <vector>

#include "net/io/stage.hpp"
#include "net/io/table_slot.hpp"
#include "policy/rules.hpp"

namespace baton::policy {
struct policy;
}

namespace baton::net {

/// What the stage reads: the compiled rules and, per profile index, whether it drops.
struct classify_table {
  policy::rule_set rules;
  std::vector<bool> drops;  // by profile index
  /// Builds the table from a loaded policy (copies what it needs).
  static std::unique_ptr<const classify_table> from(const policy::policy& p);
};

class classify_stage final : public net::stage {
public:
  /// Reads its table through `epoch` (the loop's, which must outlive the stage).
  classify_stage(const net::reader_epoch& epoch, std::unique_ptr<const classify_table> initial);

  /// Control thread: replaces the rules; returns once no batch uses the old ones.
  void publish(std::unique_ptr<const classify_table> next) { table_.publish(std::move(next)); }

  const char* name() const noexcept override { return "classify"; }
  /// next() for traffic the rules let through (or when there are no rules); drop(policy) when the
  /// first matching rule's profile has action "drop".
  net::verdict process(net::packet_context& ctx) noexcept override;
  /// The rules apply to a TCP segment whose options do not walk too, when a later stage takes it
  /// (its option presence bits are those before the bad one).
  net::bad_tcp_options on_bad_tcp_options() const noexcept override { return net::bad_tcp_options::follow; }

private:
  net::table_slot<classify_table> table_;
};

}  // namespace baton::net
