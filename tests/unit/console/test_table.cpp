// Terminal tables from the console's JSON answers.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/console/table.hpp"

using namespace baton::console;
using ordered_json = nlohmann::ordered_json;

TEST_CASE("render_table lays out each JSON shape as aligned text") {
  struct row {
    std::string name;
    const char* json;
    std::string expected;
  };
  const std::vector<row> rows{
      {"array of objects, numbers right-aligned",
       R"([{"name":"n1","units":512,"state":"master"},{"name":"n22","units":12,"state":"client"}])",
       "name  units  state\n"
       "----  -----  ------\n"
       "n1      512  master\n"
       "n22      12  client\n"},
      {"columns are the union of keys in first-seen order, missing and null as -",
       R"([{"a":1},{"b":"x","a":null},{"c":true}])",
       "a  b  c\n"
       "-  -  ----\n"
       "1  -  -\n"
       "-  x  -\n"
       "-  -  true\n"},
      {"object of objects: the key becomes the first column",
       R"({"n1":{"state":"master","units":3},"n2":{"state":"client","units":1021}})",
       "name  state   units\n"
       "----  ------  -----\n"
       "n1    master      3\n"
       "n2    client   1021\n"},
      {"array of scalars", R"(["a",2,null])",
       "value\n"
       "-----\n"
       "a\n"
       "2\n"
       "-\n"},
      {"record with a nested table",
       R"({"master":"n1","term":7,"members":[{"name":"n1","alive":true},{"name":"n2","alive":false}]})",
       "master  n1\n"
       "term    7\n"
       "\n"
       "members:\n"
       "name  alive\n"
       "----  -----\n"
       "n1    true\n"
       "n2    false\n"},
      {"record: nested non-tabular values as compact JSON",
       R"({"roles":["cluster","pep"],"limits":{"a":1},"none":[]})",
       "roles   [\"cluster\",\"pep\"]\n"
       "limits  {\"a\":1}\n"
       "none    []\n"},
      {"cells: nested values compact, control characters escaped",
       R"([{"event":"peer_refused","detail":"line1\nline2\tend","tags":["tls","cert"]}])",
       "event         detail             tags\n"
       "------------  -----------------  --------------\n"
       "peer_refused  line1\\nline2\\tend  [\"tls\",\"cert\"]\n"},
      {"UTF-8 width counts code points", R"([{"who":"Zoë","n":1},{"who":"Bob","n":22}])",
       "who  n\n"
       "---  --\n"
       "Zoë   1\n"
       "Bob  22\n"},
      {"mixed column is left-aligned", R"([{"v":1},{"v":"x"}])",
       "v\n"
       "-\n"
       "1\n"
       "x\n"},
      {"empty array", "[]", "(none)\n"},
      {"empty object", "{}", "(none)\n"},
      {"scalar string", R"("drained")", "drained\n"},
      {"scalar number", "3.5", "3.5\n"},
      {"only a table member has no leading blank line", R"({"units":[{"id":0,"owner":"n1"}]})",
       "units:\n"
       "id  owner\n"
       "--  -----\n"
       " 0  n1\n"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(render_table(ordered_json::parse(r.json)) == r.expected);
  }
}

TEST_CASE("long cells are cut to the configured width") {
  table_options options;
  options.max_cell_width = 10;
  auto text = render_table(ordered_json::parse(R"([{"k":"abcdefghijklmnop"}])"), options);
  CHECK(text == "k\n----------\nabcdefg...\n");
  options.key_header = "member";
  CHECK(render_table(ordered_json::parse(R"({"n1":{"x":1}})"), options) ==
        "member  x\n------  -\nn1      1\n");
}

TEST_CASE("no line ends in a space, whatever the data") {
  const char* inputs[] = {R"([{"a":"","b":""}])", R"([{"a":"x  ","b":1}])",
                          R"({"k":"", "t":[{"z":""}]})"};
  for (const char* in : inputs) {
    CAPTURE(in);
    auto text = render_table(ordered_json::parse(in));
    CHECK(text.find(" \n") == std::string::npos);
    CHECK(text.back() == '\n');
  }
}
