#pragma once
// Runs a system tool (nft, ip, iptables, sysctl) for the roles that set kernel rules up: no
// shell, so no quoting to get wrong; its output comes back for the error message.

#include <string>
#include <vector>

namespace baton::net {

/// Runs argv (no shell); returns the exit status (-1 when it could not run) and puts stderr and
/// stdout in `output`. `input`, when given, is its standard input.
int run_command(const std::vector<std::string>& argv, std::string& output, const std::string& input = {});

/// run_command for set-up steps that must succeed: throws std::runtime_error
/// "<who>: `<argv>` failed (<status>): <output>" when the tool exits non-zero or cannot run.
void run_or_throw(const std::vector<std::string>& argv, const std::string& who, const std::string& input = {});

}  // namespace baton::net
