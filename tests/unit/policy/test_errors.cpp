// Malformed policies: each is refused with the JSON pointer of the offending value and why.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/policy.hpp"

using namespace baton::policy;

namespace {

// A valid node; rows add or replace top-level members with `doc(...)`.
std::string doc(const std::string& extra, const std::string& roles = R"(["pep"])") {
  return R"({"identity": {"name": "n1", "address": "10.0.0.1"}, "roles": )" + roles +
         R"(, "profiles": [{"name": "p"}, {"name": "q"}])" + (extra.empty() ? "" : ", " + extra) + "}";
}
// A rule list whose first rule has `criteria`, then a default.
std::string rule_with(const std::string& criteria) {
  return doc(R"("rules": [{"name": "r", )" + criteria +
             R"(, "profile": "p"}, {"name": "d", "default": true, "profile": "q"}])");
}
const char* id = R"("identity": {"name": "n1", "address": "10.0.0.1"})";

struct bad_row {
  const char* name;
  std::string text;
  const char* pointer;
  const char* reason;  // a substring of the reason
};

}  // namespace

TEST_CASE("the issue's example error, word for word") {
  std::string text = doc(R"("pep": {"rules": [
      {"name": "a", "port": 1, "profile": "p"},
      {"name": "b", "port": 2, "profile": "p"},
      {"name": "c", "port": 3, "profile": "p"},
      {"name": "d", "dst": "10.1.1.0/33", "profile": "p"},
      {"name": "e", "default": true, "profile": "q"}]})");
  try {
    load_policy_text(text);
    FAIL("loaded");
  } catch (const policy_error& e) {
    CHECK(std::string(e.what()) == R"(/pep/rules/3/dst: "10.1.1.0/33" is not an IPv4 prefix)");
    CHECK(e.pointer() == "/pep/rules/3/dst");
    CHECK(e.reason() == R"("10.1.1.0/33" is not an IPv4 prefix)");
  }
}

TEST_CASE("malformed policies are refused with pointer and reason") {
  const std::vector<bad_row> rows = {
      // the document and its sections
      {"root is not an object", "[1, 2]", "", "a policy is a JSON object, got an array"},
      {"missing identity", R"({"roles": ["pep"]})", "", R"(missing required key "identity")"},
      {"missing roles", std::string("{") + id + "}", "", R"(missing required key "roles")"},
      {"unknown top-level key", doc(R"("rulez": [])"), "/rulez", "unknown key"},
      {"unknown key with a slash is escaped", doc(R"("a/b~c": 1)"), "/a~1b~0c", "unknown key"},
      {"key given twice", R"({"identity": {"name": "a", "name": "b", "address": "10.0.0.1"}, "roles": ["pep"]})",
       "/identity/name", "duplicate key"},
      {"key given twice inside an array",
       doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": 1}, {"name": "y", "port": 1, "port": 2}])"),
       "/peers/1/port", "duplicate key"},
      // cluster
      {"cluster without ip", doc(R"("cluster": {"mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "inside_ip": "10.1.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster", R"(missing required key "ip")"},
      {"cluster multicast mac", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "01:00:5e:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/mac", "is a multicast MAC; the unicast_mac traffic mode needs a unicast one"},
      {"cluster multicast mode with a unicast mac", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "traffic": "multicast_mac", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/mac", "is a unicast MAC; the multicast_mac traffic mode needs a multicast one"},
      {"cluster unknown traffic mode", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "traffic": "broadcast", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/traffic", "is not a traffic mode"},
      {"cluster bad mac", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/mac", "is not a MAC address"},
      {"cluster nat without inside_ip", doc(R"("cluster": {"ip": "10.0.0.100", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster", R"(missing required key "inside_ip")"},
      {"cluster same interface twice", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth0", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/inside", "is also the outside interface"},
      {"cluster service without backends", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": []}]})"),
       "/cluster/services/0/backends", "at least one backend"},
      {"cluster duplicate service port", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}, {"port": 80, "backends": [{"address": "10.1.0.3", "port": 8080}]}]})"),
       "/cluster/services/1/port", "already a service"},
      {"cluster unknown service protocol", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"protocol": "sctp", "port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/services/0/protocol", "not a service protocol (tcp, udp)"},
      {"cluster duplicate udp service port", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"protocol": "udp", "port": 53, "backends": [{"address": "10.1.0.2", "port": 53}]}, {"port": 53, "backends": [{"address": "10.1.0.2", "port": 53}]}, {"protocol": "udp", "port": 53, "backends": [{"address": "10.1.0.3", "port": 53}]}]})"),
       "/cluster/services/2/port", "udp port 53 is already a service"},
      {"cluster backend port 0", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 0}]}]})"),
       "/cluster/services/0/backends/0/port", "out of range"},
      {"cluster unknown mode", doc(R"("cluster": {"ip": "10.0.0.100", "inside_ip": "10.1.0.1", "mac": "02:ba:70:00:00:01", "outside": "eth0", "inside": "eth1", "router": "10.0.0.1", "mode": "bridge", "services": [{"port": 80, "backends": [{"address": "10.1.0.2", "port": 8080}]}]})"),
       "/cluster/mode", "is not a cluster mode"},
      // identity
      {"identity unknown key", R"({"identity": {"nmae": "a", "name": "a", "address": "10.0.0.1"}, "roles": ["pep"]})",
       "/identity/nmae", "unknown key (expected one of: name, address, port, certificate, key, ca)"},
      {"identity name wrong type", R"({"identity": {"name": 5, "address": "10.0.0.1"}, "roles": ["pep"]})",
       "/identity/name", "expected a string, got 5"},
      {"identity name with a space", R"({"identity": {"name": "my node", "address": "10.0.0.1"}, "roles": ["pep"]})",
       "/identity/name", R"("my node" is not a name)"},
      {"identity address bad", R"({"identity": {"name": "a", "address": "10.0.0.256"}, "roles": ["pep"]})",
       "/identity/address", R"("10.0.0.256" is not an IPv4 address)"},
      {"identity address leading zero", R"({"identity": {"name": "a", "address": "10.0.0.01"}, "roles": ["pep"]})",
       "/identity/address", "is not an IPv4 address"},
      {"identity missing address", R"({"identity": {"name": "a"}, "roles": ["pep"]})", "/identity",
       R"(missing required key "address")"},
      {"certificate without key",
       R"({"identity": {"name": "a", "address": "10.0.0.1", "certificate": "a.pem"}, "roles": ["pep"]})",
       "/identity", R"(missing required key "key")"},
      // roles
      {"no roles", doc("", "[]"), "/roles", "at least one role"},
      {"unknown role", doc("", R"(["pep", "pepp"])"), "/roles/1", R"("pepp" is not a role)"},
      {"duplicate role", doc("", R"(["pep", "cluster", "pep"])"), "/roles/2", R"(duplicate role "pep")"},
      {"roles not a list", doc("", R"("pep")"), "/roles", "expected an array"},
      // console
      {"console host name", doc(R"("console": "localhost:9000")"), "/console", "is not an IPv4 host:port"},
      {"console port too big", doc(R"("console": "127.0.0.1:70000")"), "/console", "is not an IPv4 host:port"},
      {"console without port", doc(R"("console": "127.0.0.1")"), "/console", "is not an IPv4 host:port"},
      // peers
      {"peer port 0", doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": 0}])"), "/peers/0/port",
       "0 is out of range 1..65535"},
      {"peer port as string", doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": "7000"}])"),
       "/peers/0/port", R"(expected an integer, got "7000")"},
      {"peer missing address", doc(R"("peers": [{"name": "x", "port": 7000}])"), "/peers/0",
       R"(missing required key "address")"},
      {"duplicate peer name",
       doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": 1}, {"name": "x", "address": "10.0.0.3", "port": 1}])"),
       "/peers/1/name", R"(duplicate peer name "x" (peer 0 has it))"},
      {"duplicate peer address",
       doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": 1}, {"name": "y", "address": "10.0.0.2", "port": 1}])"),
       "/peers/1", "duplicate peer address 10.0.0.2:1"},
      {"peer is this node", doc(R"("peers": [{"name": "n1", "address": "10.0.0.2", "port": 1}])"), "/peers/0/name",
       "this node's own name"},
      {"peer console host name",
       doc(R"("peers": [{"name": "x", "address": "10.0.0.2", "port": 1, "console": "x:9000"}])"),
       "/peers/0/console", "is not an IPv4 host:port"},
      // timers
      {"watchdog 0 ms", doc(R"("timers": {"master_watchdog_ms": 0})"), "/timers/master_watchdog_ms",
       "0 is out of range 1..600000"},
      {"timers unknown key", doc(R"("timers": {"watchdog": 200})"), "/timers/watchdog", "unknown key"},
      {"work units as string", doc(R"("timers": {"work_units": "1024"})"), "/timers/work_units",
       "expected an integer"},
      {"work units fractional", doc(R"("timers": {"work_units": 10.5})"), "/timers/work_units",
       "expected an integer, got 10.5"},
      {"k negative", doc(R"("timers": {"k": -1})"), "/timers/k", "-1 is out of range"},
      // group
      {"group peer undefined", doc(R"("group": {"peers": ["ghost"]})"), "/group/peers/0", R"(undefined peer "ghost")"},
      {"group broadcast not a bool", doc(R"("group": {"discovery_broadcast": "yes"})"),
       "/group/discovery_broadcast", R"(expected true or false, got "yes")"},
      {"group quorum zero", doc(R"("group": {"quorum": 0})"), "/group/quorum", "0 is out of range"},
      {"backup take-over not a bool", doc(R"("group": {"backup_takeover": "off"})"),
       "/group/backup_takeover", R"(expected true or false, got "off")"},
      {"successor take-over not a bool", doc(R"("group": {"successor_takeover": 1})"),
       "/group/successor_takeover", "expected true or false"},
      // io
      {"unknown backend", doc(R"("io": {"backend": "dpdk"})"), "/io/backend", R"("dpdk" is not an I/O backend)"},
      {"af_packet without interfaces", doc(R"("io": {"backend": "af_packet"})"), "/io",
       R"(backend "af_packet" needs at least one interface)"},
      {"af_xdp without interfaces", doc(R"("io": {"backend": "af_xdp"})"), "/io",
       R"(backend "af_xdp" needs at least one interface)"},
      {"unknown interface kind", doc(R"("io": {"backend": "af_xdp", "interfaces": [{"name": "eth0", "kind": "xdp"}]})"),
       "/io/interfaces/0/kind", R"("xdp" is not an I/O backend)"},
      {"tun with empty interfaces", doc(R"("io": {"backend": "tun", "interfaces": []})"), "/io/interfaces",
       "needs at least one interface"},
      {"interface name too long", doc(R"("io": {"backend": "raw", "interfaces": ["a-very-long-interface0"]})"),
       "/io/interfaces/0", "is not an interface name"},
      {"unknown mode", doc(R"("io": {"mode": "router"})"), "/io/mode", R"("router" is not an I/O mode)"},
      {"encap without remote", doc(R"("io": {"ipip": {"encap": true, "local": "10.0.0.1"}})"), "/io/ipip",
       R"(missing required key "remote")"},
      {"clamp not a boolean", doc(R"("io": {"clamp_mss": 1440})"), "/io/clamp_mss", "expected true or false"},
      {"tunnel endpoint bad", doc(R"("io": {"ipip": {"decap": true, "local": "10.0.0"}})"), "/io/ipip/local",
       "is not an IPv4 address"},
      // profiles
      {"duplicate profile", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"name": "p"}, {"name": "p"}]})",
       "/profiles/1/name", R"(duplicate profile name "p")"},
      {"priority 4", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"name": "p", "priority": 4}]})",
       "/profiles/0/priority", "4 is out of range 0..3"},
      {"mss too small", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"name": "p", "mss": 40}]})",
       "/profiles/0/mss", "40 is below the minimum MSS 88"},
      {"unknown action", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"name": "p", "action": "reject"}]})",
       "/profiles/0/action", R"("reject" is not an action (forward, drop))"},
      {"profile unknown key", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"name": "p", "spoofing": true}]})",
       "/profiles/0/spoofing", "unknown key"},
      {"profile without name", R"({)" + std::string(id) + R"(, "roles": ["pep"], "profiles": [{"spoof": true}]})",
       "/profiles/0", R"(missing required key "name")"},
      // rule lists
      {"rules not a list", doc(R"("rules": {"name": "r"})"), "/rules", "expected an array, got an object"},
      {"rule not an object", doc(R"("rules": ["port 80"])"), "/rules/0", R"(expected an object, got "port 80")"},
      {"undefined profile", doc(R"("rules": [{"name": "r", "port": 1, "profile": "nope"}, {"default": true, "profile": "p"}])"),
       "/rules/0/profile", R"(undefined profile "nope")"},
      {"rule without profile", doc(R"("rules": [{"name": "r", "port": 1}, {"default": true, "profile": "p"}])"),
       "/rules/0", R"(missing required key "profile")"},
      {"no default rule", doc(R"("rules": [{"name": "r", "port": 1, "profile": "p"}])"), "/rules", "no default rule"},
      {"default not last", doc(R"("rules": [{"default": true, "profile": "p"}, {"name": "r", "port": 1, "profile": "p"}])"),
       "/rules/0/default", "the default rule must be the last rule"},
      {"default with criteria", doc(R"("rules": [{"default": true, "port": 80, "profile": "p"}])"), "/rules/0/port",
       "the default rule takes no criteria"},
      {"rule without criteria", doc(R"("rules": [{"name": "r", "profile": "p"}, {"default": true, "profile": "p"}])"),
       "/rules/0", "a rule needs at least one criterion"},
      {"rule without name", doc(R"("rules": [{"port": 1, "profile": "p"}, {"default": true, "profile": "p"}])"),
       "/rules/0", R"(missing required key "name")"},
      {"duplicate rule name",
       doc(R"("rules": [{"name": "r", "port": 1, "profile": "p"}, {"name": "r", "port": 2, "profile": "p"}, {"default": true, "profile": "p"}])"),
       "/rules/1/name", R"(duplicate rule name "r" (rule 0 has it))"},
      {"rule unknown key", rule_with(R"("ports": 80)"), "/rules/0/ports", "unknown key"},
      // criteria
      {"prefix length 33", rule_with(R"("dst": "10.1.1.0/33")"), "/rules/0/dst", R"("10.1.1.0/33" is not an IPv4 prefix)"},
      {"prefix without length", rule_with(R"("src": "10.1.1.0/")"), "/rules/0/src", "is not an IPv4 prefix"},
      {"prefix is not an address", rule_with(R"("src": "ten.one/8")"), "/rules/0/src", "is not an IPv4 prefix"},
      {"prefix with host bits", rule_with(R"("src": "10.1.1.1/16")"), "/rules/0/src",
       "host bits set outside the mask (the network is 10.1.0.0/16)"},
      {"prefix as number", rule_with(R"("dst": 167772160)"), "/rules/0/dst", "expected a string"},
      {"unknown protocol", rule_with(R"("protocol": "sctp")"), "/rules/0/protocol", R"("sctp" is not a protocol)"},
      {"protocol 256", rule_with(R"("protocol": 256)"), "/rules/0/protocol", "256 is out of range 0..255"},
      {"protocol as bool", rule_with(R"("protocol": true)"), "/rules/0/protocol", "true is not a protocol"},
      {"port -1", rule_with(R"("port": -1)"), "/rules/0/port", "-1 is out of range 0..65535"},
      {"port 65536", rule_with(R"("port": 65536)"), "/rules/0/port", "65536 is out of range 0..65535"},
      {"port fractional", rule_with(R"("dst_port": 80.5)"), "/rules/0/dst_port", "expected an integer, got 80.5"},
      {"src_port as string", rule_with(R"("src_port": "http")"), "/rules/0/src_port", "expected an integer"},
      {"unknown tcp option", rule_with(R"("tcp_options": ["mss", "md5"])"), "/rules/0/tcp_options/1",
       R"("md5" is not a TCP option)"},
      {"tcp option kind 63", rule_with(R"("tcp_options": [63])"), "/rules/0/tcp_options/0", "63 is out of range 0..62"},
      {"no tcp options", rule_with(R"("tcp_options": [])"), "/rules/0/tcp_options", "an empty list of TCP options"},
      {"tcp options not a list", rule_with(R"("tcp_options": "mss")"), "/rules/0/tcp_options", "expected an array"},
      {"dscp 64", rule_with(R"("dscp": 64)"), "/rules/0/dscp", "64 is out of range 0..63"},
      {"dscp value outside mask", rule_with(R"("dscp": {"value": 46, "mask": 56})"), "/rules/0/dscp/value",
       "46 has bits outside the mask 56"},
      {"dscp object unknown key", rule_with(R"("dscp": {"value": 46, "msk": 63})"), "/rules/0/dscp/msk", "unknown key"},
      {"dscp object without value", rule_with(R"("dscp": {"mask": 56})"), "/rules/0/dscp", R"(missing required key "value")"},
      {"any empty", rule_with(R"("any": [])"), "/rules/0/any", "expected a non-empty array"},
      {"all item not an object", rule_with(R"("all": [{"port": 1}, 80])"), "/rules/0/all/1", "expected an object, got 80"},
      {"name inside a criteria object", rule_with(R"("all": [{"name": "x", "port": 1}, {"port": 2}])"), "/rules/0/all/0/name",
       "unknown key"},
      {"empty criteria object", rule_with(R"("any": [{}, {"port": 2}])"), "/rules/0/any/0", "an empty criteria object"},
      {"error deep in a tree", rule_with(R"("any": [{"port": 1}, {"all": [{"dst": "10.0.0.0/8"}, {"any": [{"dscp": 99}, {"port": 3}]}]}])"),
       "/rules/0/any/1/all/1/any/0/dscp", "99 is out of range 0..63"},
      {"nesting too deep",
       rule_with(R"("any": [{"any": [{"any": [{"any": [{"any": [{"any": [{"any": [{"any": [{"any": [{"port": 1}]}]}]}]}]}]}]}]}])"),
       "/rules/0/any/0/any/0/any/0/any/0/any/0/any/0/any/0/any/0/any", "nesting deeper than 8 levels"},
      // a role section reusing the rule-list parser
      {"pep unknown key", doc(R"("pep": {"rules": [], "default": "p"})"), "/pep/default", "unknown key"},
      {"pep without rules", doc(R"("pep": {})"), "/pep", R"(missing required key "rules")"},
      {"pep undefined profile", doc(R"("pep": {"rules": [{"default": true, "profile": "spoofed"}]})"),
       "/pep/rules/0/profile", R"(undefined profile "spoofed")"},
  };
  CHECK(rows.size() >= 30);
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    CAPTURE(row.text);
    bool refused = false;
    try {
      load_policy_text(row.text);
    } catch (const policy_error& e) {
      refused = true;
      CHECK(e.pointer() == row.pointer);
      CHECK_MESSAGE(e.reason().find(row.reason) != std::string::npos, e.reason());
      std::string expected_what = e.pointer().empty() ? e.reason() : e.pointer() + ": " + e.reason();
      CHECK(std::string(e.what()) == expected_what);
    }
    CHECK_MESSAGE(refused, "the policy was accepted");
  }
}

TEST_CASE("JSON syntax errors name the line and column") {
  struct row {
    const char* name;
    const char* text;
    const char* where;  // expected prefix of the reason
    const char* why;
  };
  const std::vector<row> rows = {
      {"missing value", "{\n  \"roles\": [\n}", "edge.json:3:1: ", "syntax error"},
      {"trailing comma", "{\"roles\": [\"pep\"],\n\n   }", "edge.json:3:4: ", "syntax error"},
      {"empty file", "", "edge.json: ", "empty, expected a JSON object"},
      {"blank file", " \n\t\n", "edge.json: ", "empty, expected a JSON object"},
      {"not JSON at all", "roles = pep", "edge.json:1:1: ", "syntax error"},
      // fuzz_policy: nlohmann reports a number too large for a double as out_of_range (406), not
      // as a parse_error, and it escaped load_policy_text.
      {"number too large for a double", "{\"roles\": [\"pep\"], \"timers\": {\"x\": 1e400}}", "edge.json: ",
       "number overflow parsing '1e400'"},
  };
  for (const auto& r : rows) {
    INFO(std::string(r.name));
    try {
      load_policy_text(r.text, "edge.json");
      FAIL("parsed");
    } catch (const policy_error& e) {
      CHECK(e.pointer().empty());
      CHECK_MESSAGE(e.reason().rfind(r.where, 0) == 0, e.reason());
      CHECK_MESSAGE(e.reason().find(r.why) != std::string::npos, e.reason());
    }
  }
}

TEST_CASE("unreadable files are refused clearly") {
  for (std::string path : {std::string("/nonexistent/baton/policy.json"), std::string(BATON_SOURCE_DIR)}) {
    CAPTURE(path);
    try {
      load_policy_file(path);
      FAIL("loaded");
    } catch (const policy_error& e) {
      CHECK(e.pointer().empty());
      CHECK(e.reason().rfind(path + ": cannot read: ", 0) == 0);
    }
  }
}
