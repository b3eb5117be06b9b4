#include "actors/protocol/group.hpp"

namespace baton::group {

namespace {
// Indexed by the variant alternative; kept in the order of `message`.
constexpr const char* names[] = {
    "join_request",   "join_reply",         "exit_request",    "master_offer",
    "other_master_exists", "master_keepalive", "client_keepalive", "work_assign",
    "work_assign_ack", "work_deassign",     "work_deassign_done", "state_delta",
    "state_ack",       "state_handover"};
static_assert(sizeof(names) / sizeof(names[0]) == std::variant_size_v<message>);
}  // namespace

const char* message_name(const message& m) noexcept {
  return m.valueless_by_exception() ? "valueless" : names[m.index()];
}

}  // namespace baton::group
