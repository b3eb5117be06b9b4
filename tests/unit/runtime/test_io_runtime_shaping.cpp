// io_runtime with a "shaping" section: the shaped interface must be one of the io interfaces,
// refused (naming the JSON pointer) before any port is opened, so no root is needed here. The
// shaper itself is tested in tests/unit/sched and, with real peers, in tests/lab/test_shaping.

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "actors/runtime/io_runtime.hpp"
#include "policy/policy.hpp"

using namespace baton;

TEST_CASE("io_runtime refuses a shaping interface that is not one of its io interfaces") {
  struct row {
    const char* name;
    const char* io;
    const char* shaped;
  };
  const std::vector<row> rows = {
      {"af_packet pass-through, another device",
       R"({"backend": "af_packet", "interfaces": [{"name": "eth0"}, {"name": "eth1"}]})", "eth9"},
      {"af_xdp pass-through, another device",
       R"({"backend": "af_xdp", "interfaces": [{"name": "eth0"}, {"name": "eth1"}]})", "eth9"},
      {"memory backend without devices", R"({"backend": "memory"})", "eth0"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    std::string text = R"({"identity": {"name": "t", "address": "10.0.0.9"}, "roles": ["passthrough"],
      "io": )";
    text += r.io;
    text += R"(, "shaping": {"interface": ")";
    text += r.shaped;
    text += R"(", "rate_mbit": 20, "classes": [{"name": "x", "source": "10.10.2.10/32", "share": 20}]}})";
    const auto p = policy::load_policy_text(text, "test");
    REQUIRE(p.shaping.has_value());
    std::string error;
    try {
      node::io_runtime io;
      io.build_pass_through(p);
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
    CAPTURE(error);
    CHECK(error.find("/shaping/interface") != std::string::npos);
    CHECK(error.find(r.shaped) != std::string::npos);
  }
}
