#pragma once
// Service level routing messages (document 001): what a host agent or SLR says to the SLR one
// level up, and what SLRs of one level say to each other. Every message that crosses a node is
// declared in actors/protocol/ (and only here).
//
// The links are TLS links (caf-openssl): the certificate check of document 001's "hello protocol,
// which includes a certificate sent by the physical host site for authentication" is the TLS
// handshake itself; a node without a certificate from the CA never gets as far as a hello.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/protocol/wire.hpp"

namespace baton::protocol {

/// First message from a lower node (host agent or SLR) to an upper SLR: who it is and where
/// tunnels to it terminate. The upper answers nothing; it starts taking the node's state.
struct slr_hello {
  std::string name;                // the sender's policy identity (its certificate's subject)
  std::string level;               // "host", "site", "system" or "network"
  std::uint32_t tunnel_address = 0;  // outer destination of tunnels to the sender, host order
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slr_hello& x) {
  return f(caf::meta::type_name("slr_hello"), bytes_field(x.name), bytes_field(x.level), x.tunnel_address);
}

/// One virtual subnet and its load index as the sender sees it ("192.200.*.* with load index
/// 0.30"). For a host it is the host's own load; for an SLR the aggregate M_k = G(...).
struct slr_subnet_load {
  std::uint32_t prefix = 0;  // host order
  std::uint8_t length = 0;
  double load = 0.0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slr_subnet_load& x) {
  return f(caf::meta::type_name("slr_subnet_load"), x.prefix, x.length, finite_field(x.load));
}

/// The periodic state update a lower node sends up ("at regular time intervals, the host site
/// sends state information that includes a set of virtual host addresses ... and loading
/// information for every address").
struct slr_state {
  std::string name;
  std::uint32_t tunnel_address = 0;
  std::uint64_t sequence = 0;  // increases per update; an older one arriving late is ignored
  std::vector<slr_subnet_load> subnets;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slr_state& x) {
  return f(caf::meta::type_name("slr_state"), bytes_field(x.name), x.tunnel_address, x.sequence, x.subnets);
}

/// A flow classifier: the client side and the virtual host side of a connection.
struct slr_flow {
  std::uint32_t client = 0;           // host order
  std::uint16_t client_port = 0;
  std::uint32_t virtual_address = 0;  // host order
  std::uint16_t virtual_port = 0;
  std::uint8_t protocol = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slr_flow& x) {
  return f(caf::meta::type_name("slr_flow"), x.client, x.client_port, x.virtual_address,
           x.virtual_port, x.protocol);
}

/// The shortcut: "the site-specific SLR cluster must also transmit the selected host server
/// address to the upstream ... SLR" — document 001's tunnel object, whose "only information field
/// is the IP-address of the tunnel termination point", with the flow classifier it belongs to.
/// Each SLR that receives one pins the flow to the host and passes it on to the SLR the flow came
/// from, so the most upstream SLR tunnels the flow's later packets straight to the host.
struct tunnel_object {
  slr_flow flow;
  std::uint32_t host = 0;  // tunnel termination point: the selected host server
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tunnel_object& x) {
  return f(caf::meta::type_name("tunnel_object"), x.flow, x.host);
}

/// Document 001's limited-scope "WHOHAS" query: an SLR that sees a packet of an ongoing flow it
/// has no state for asks its neighbour SLRs for the flow's tunnel.
struct whohas {
  slr_flow flow;
  std::string asker;     // name of the asking SLR (for logs)
  std::uint8_t hops = 1;  // scope: how many more times the query may be passed on
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, whohas& x) {
  return f(caf::meta::type_name("whohas"), x.flow, bytes_field(x.asker), x.hops);
}

/// The answer to a WHOHAS from an SLR that knows the flow: where its tunnel goes.
struct ihave {
  slr_flow flow;
  std::uint32_t next_hop = 0;
  std::string from;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ihave& x) {
  return f(caf::meta::type_name("ihave"), x.flow, x.next_hop, bytes_field(x.from));
}

}  // namespace baton::protocol
