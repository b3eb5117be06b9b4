#include "actors/console/console_policy.hpp"

#include <stdexcept>

#include "actors/console/console_auth.hpp"

namespace baton::console {

void apply_console_policy(const policy::policy& p, std::vector<std::string> open_paths,
                          server_options& options) {
  if (policy::console_tls(p))
    options.tls = tls_options{p.identity.certificate, p.identity.key,
                              policy::console_client_certificates(p) ? p.identity.ca : ""};
  if (options.tls) {
    try {
      check_tls_files(*options.tls);
    } catch (const std::exception& e) {
      throw policy::policy_error("/identity", std::string("the console's ") + e.what());
    }
  }
  options.auth.required = policy::console_auth_required(p);
  options.auth.open_paths = std::move(open_paths);
  if (p.console_auth && !p.console_auth->token_file.empty()) {
    try {
      options.auth.token = read_token_file(p.console_auth->token_file);
    } catch (const std::exception& e) {
      throw policy::policy_error("/console_auth/token_file", e.what());
    }
  }
}

client_options peer_console_client(const policy::policy& p, const std::string& console) {
  client_options o;
  auto host = split_host_port(console).first;
  if (host.rfind("127.", 0) == 0 || host == "localhost") return o;
  o.ca = p.identity.ca;
  o.certificate = p.identity.certificate;
  o.key = p.identity.key;
  return o;
}

}  // namespace baton::console
