#include "actors/group/election.hpp"

#include <algorithm>

namespace baton::group {

const char* phase_name(phase p) noexcept {
  switch (p) {
    case phase::idle: return "idle";
    case phase::joining: return "joining";
    case phase::offering: return "offering";
    case phase::member: return "member";
    case phase::master: return "master";
    case phase::refused: return "refused";
  }
  return "unknown";
}

bool wins_tie_break(contender me, contender other) noexcept {
  if (me.members != other.members) return me.members > other.members;
  return me.address < other.address;
}

election::election(time_ms join_timeout, time_ms offer_timeout, time_ms retry_interval) noexcept
    : join_timeout_(join_timeout), offer_timeout_(offer_timeout), retry_interval_(retry_interval) {}

election_action election::start(time_ms now, time_ms link_wait) noexcept {
  phase_ = phase::joining;
  waiting_links_ = link_wait > time_ms{0};
  deadline_ = now + link_wait + join_timeout_;
  last_join_sent_ = now;
  join_sent_ = true;
  return election_action::send_join;
}

election_action election::links_up(time_ms now) noexcept {
  if (!waiting_links_ || phase_ != phase::joining) return election_action::none;
  waiting_links_ = false;
  // Figure 6's listen (603-613) starts now: a master's keepalive or "OK to join" within the join
  // timeout makes this node a member instead of a contender.
  deadline_ = std::min(deadline_, now + join_timeout_);
  if (join_sent_ && last_join_sent_ == now) return election_action::none;
  last_join_sent_ = now;
  join_sent_ = true;
  return election_action::send_join;
}

election_action election::on_tick(time_ms now) noexcept {
  switch (phase_) {
    case phase::joining:
      if (now >= deadline_) {
        waiting_links_ = false;
        // Figure 6, 613 -> 615: no "OK to join", offer to become the master.
        phase_ = phase::offering;
        deadline_ = now + offer_timeout_;
        return election_action::send_offer;
      }
      return election_action::none;
    case phase::offering:
      if (now >= deadline_) {
        phase_ = phase::master;  // Figure 6, 619 -> 623
        return election_action::become_master;
      }
      return election_action::none;
    case phase::refused:
      if (now >= deadline_) return start(now);
      return election_action::none;
    default:
      return election_action::none;
  }
}

election_action election::on_objection(time_ms now) noexcept {
  if (phase_ != phase::joining && phase_ != phase::offering) return election_action::none;
  phase_ = phase::joining;
  waiting_links_ = false;  // a master answered: its link is up, the join goes to it
  deadline_ = now + join_timeout_;
  // Masters are heard at keepalive rate; one join request per join timeout is enough.
  if (join_sent_ && now - last_join_sent_ < join_timeout_) return election_action::none;
  last_join_sent_ = now;
  join_sent_ = true;
  return election_action::send_join;
}

void election::on_in_progress(time_ms now, time_ms wait) noexcept {
  if (phase_ != phase::joining && phase_ != phase::offering) return;
  phase_ = phase::joining;
  waiting_links_ = false;
  if (deadline_ < now + wait) deadline_ = now + wait;
}

bool election::on_joined() noexcept {
  if (phase_ != phase::joining && phase_ != phase::offering) return false;
  phase_ = phase::member;
  waiting_links_ = false;
  return true;
}

bool election::on_refused(time_ms now) noexcept {
  if (phase_ != phase::joining && phase_ != phase::offering) return false;
  phase_ = phase::refused;
  deadline_ = now + retry_interval_;
  return true;
}

}  // namespace baton::group
