#include "net/gateway/gateway_config.hpp"

namespace baton::net {

const char* to_string(gateway_mode m) noexcept {
  return m == gateway_mode::nat ? "nat" : "direct_server_return";
}

const gateway_service* gateway_config::find_service(std::uint8_t protocol,
                                                    port_host port) const noexcept {
  for (const auto& s : services)
    if (s.port == port && s.protocol == protocol) return &s;
  return nullptr;
}

bool gateway_config::find_backend(std::uint8_t protocol, ipv4_host addr, port_host port,
                                  std::size_t& service, std::size_t& backend) const noexcept {
  for (std::size_t i = 0; i < services.size(); ++i) {
    const auto& s = services[i];
    if (s.protocol != protocol) continue;
    for (std::size_t b = 0; b < s.backends.size(); ++b)
      if (s.backends[b].addr == addr && s.backends[b].port == port) {
        service = i;
        backend = b;
        return true;
      }
  }
  return false;
}

const char* gateway_config::validate() const noexcept {
  if (cluster_ip == 0) return "cluster_ip is not set";
  if (services.size() > max_services) return "more than 16 services";
  if ((mode == gateway_mode::direct_server_return || source_nat) && member_addr == 0)
    return "member_addr is needed for direct server return and source NAT";
  for (std::size_t i = 0; i < services.size(); ++i) {
    const auto& s = services[i];
    if (s.protocol != 6 && s.protocol != 17) return "a service's protocol must be 6 or 17";
    if (s.backends.size() > max_backends_per_service) return "more than 64 backends in a service";
    for (std::size_t j = i + 1; j < services.size(); ++j)
      if (services[j].protocol == s.protocol && services[j].port == s.port)
        return "two services on one protocol and port";
    // A reply is mapped back to its service by its source endpoint, so one endpoint may serve
    // only one service of a protocol (NAT mode; DSR replies never pass us).
    if (mode == gateway_mode::nat)
      for (const auto& b : s.backends) {
        std::size_t si = 0, bi = 0;
        if (find_backend(s.protocol, b.addr, b.port, si, bi) && si != i)
          return "a backend endpoint serves two services";
      }
  }
  return "";
}

std::uint64_t rendezvous_weight(const flow_key& client_key, ipv4_host addr,
                                port_host port) noexcept {
  // A fixed seed, never drawn at run time: every member must compute the same weights.
  constexpr std::uint64_t seed = 0x4261746f6e475721ULL;  // "BatonGW!"
  const std::uint64_t k = hash(client_key, seed);
  const std::uint64_t b = mix64((std::uint64_t{addr} << 16 | port) + 0x9e3779b97f4a7c15ULL);
  return mix64(k ^ b);
}

backend_choice select_backend(const gateway_service& service,
                              const flow_key& client_key) noexcept {
  backend_choice c;
  std::uint64_t best_any = 0, best_healthy = 0;
  bool any = false;
  std::size_t any_index = 0;
  for (std::size_t i = 0; i < service.backends.size(); ++i) {
    const auto& b = service.backends[i];
    const std::uint64_t w = rendezvous_weight(client_key, b.addr, b.port);
    if (!any || w > best_any) {
      best_any = w;
      any_index = i;
      any = true;
    }
    if (b.healthy && (!c.found || w > best_healthy)) {
      best_healthy = w;
      c.index = i;
      c.found = true;
    }
  }
  c.skipped_unhealthy = any && !service.backends[any_index].healthy;
  return c;
}

}  // namespace baton::net
