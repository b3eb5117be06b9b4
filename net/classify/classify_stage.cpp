#include "net/classify/classify_stage.hpp"

#include "policy/policy.hpp"

namespace baton::net {

std::unique_ptr<const classify_table> classify_table::from(const policy::policy& p) {
  auto t = std::make_unique<classify_table>();
  t->rules = p.rules;
  for (auto& profile : p.profiles) t->drops.push_back(profile.action == policy::profile_action::drop);
  return t;
}

classify_stage::classify_stage(const net::reader_epoch& epoch,
                               std::unique_ptr<const classify_table> initial)
    : table_(epoch, std::move(initial)) {}

net::verdict classify_stage::process(net::packet_context& ctx) noexcept {
  const classify_table* t = table_.read();
  if (t == nullptr || t->rules.empty()) return net::verdict::next();
  auto profile = t->rules.match_profile(ctx.fields);
  if (profile < t->drops.size() && t->drops[profile])
    return net::verdict::drop(net::drop_reason::policy);
  return net::verdict::next();
}

}  // namespace baton::net
