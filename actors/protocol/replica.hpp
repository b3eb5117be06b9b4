#pragma once
// Replica selection messages (document 002): what a replica host tells its server gateway(s).
// Every message that crosses a node is declared in actors/protocol/ (and only here).
//
// The link is TLS with mutual certificates (caf-openssl): the replica dials the server gateway's
// report port; a node without a certificate from the CA never gets to send a report.

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

#include "actors/protocol/wire.hpp"

namespace baton::protocol {

/// Periodic load report from a replica host to a server gateway (document 002: "if the replica
/// is busy ... the replica drops the start packet"; the server gateway sends none to a replica
/// reported busy, or silent past its dead time).
struct replica_report {
  std::string name;            // the replica's policy identity (its certificate's subject)
  std::uint32_t address = 0;   // the replica's address, host order: as the server gateway lists it
  std::string state;           // "active", "busy" or "dead" (a host going down on purpose)
  std::uint64_t connections = 0;  // connections it answers for now
  std::uint64_t sequence = 0;  // increases per report; an older one arriving late is ignored
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_report& x) {
  return f(caf::meta::type_name("replica_report"), bytes_field(x.name), x.address, bytes_field(x.state), x.connections, x.sequence);
}

}  // namespace baton::protocol
