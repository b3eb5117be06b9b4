// Chunk planning, Content-Range, and the verdict on an origin's range answers
// (actors/rim/origin_range.hpp).

#include <doctest/doctest.h>

#include <string>
#include <optional>
#include <vector>

#include "actors/rim/origin_range.hpp"

using namespace baton::rim;

namespace {
constexpr std::uint32_t MiB = 1u << 20;
}

TEST_CASE("chunks: which a reader needs, and each one's bytes") {
  struct row {
    const char* what;
    std::uint64_t offset, size;
    std::uint32_t chunk, ahead;
    std::vector<std::uint64_t> wanted;
  };
  const row rows[] = {
    {"at 0: its chunk and two ahead", 0, 50'000'000, MiB, 2, {0, 1, 2}},
    {"mid-chunk: the chunk it is in", MiB + 5, 50'000'000, MiB, 2, {1, 2, 3}},
    {"a taker at 20 MB starts there, not at 0", 20'000'000, 50'000'000, MiB, 2, {19, 20, 21}},
    {"near the end: none past it", 50'000'000 - 1, 50'000'000, MiB, 2, {47}},
    {"an exact multiple has no empty last chunk", 2 * MiB - 1, 2 * MiB, MiB, 2, {1}},
    {"at the end: nothing", 50'000'000, 50'000'000, MiB, 2, {}},
    {"empty object: nothing", 0, 0, MiB, 2, {}},
    {"no readahead", 3 * MiB, 10 * MiB, MiB, 0, {3}},
  };
  for (const auto& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    CHECK(chunks_wanted(r.offset, r.size, r.chunk, r.ahead) == r.wanted);
  }
  CHECK(chunk_count(0, MiB) == 0);
  CHECK(chunk_count(1, MiB) == 1);
  CHECK(chunk_count(MiB, MiB) == 1);
  CHECK(chunk_count(MiB + 1, MiB) == 2);
  CHECK(chunk_range(0, MiB, std::nullopt) == byte_range{0, MiB - 1});
  CHECK(chunk_range(47, MiB, 50'000'000) == byte_range{47ull * MiB, 50'000'000 - 1});
  CHECK(chunk_range(3, MiB, 50'000'000) == byte_range{3ull * MiB, 4ull * MiB - 1});
  CHECK(range_value({1048576, 2097151}) == "bytes=1048576-2097151");
}

TEST_CASE("Content-Range values: parsed, or refused with the reason") {
  struct row {
    const char* what;
    const char* value;
    const char* why;  // "" when it parses
    bool satisfied;
    byte_range range;
    std::uint64_t total;
  };
  const row rows[] = {
    {"a range", "bytes 0-1023/50000", "", true, {0, 1023}, 50000},
    {"spaces around", "  bytes 10-19/20 ", "", true, {10, 19}, 20},
    {"unsatisfied", "bytes */0", "", false, {}, 0},
    {"unsatisfied with a size", "bytes */77", "", false, {}, 77},
    {"another unit", "items 0-1/2", "not in bytes", false, {}, 0},
    {"no dash", "bytes 0/10", "FIRST-", false, {}, 0},
    {"no last", "bytes 0-/10", "LAST", false, {}, 0},
    {"backwards", "bytes 9-3/10", "ends before", false, {}, 0},
    {"no total", "bytes 0-9", "/TOTAL", false, {}, 0},
    {"unknown total", "bytes 0-9/*", "size (/*)", false, {}, 0},
    {"past the end", "bytes 0-10/10", "past the object", false, {}, 0},
    {"trailing bytes", "bytes 0-9/10x", "after TOTAL", false, {}, 0},
    {"negative", "bytes -5-9/10", "FIRST-", false, {}, 0},
    {"huge", "bytes 0-9/99999999999999999999999", "no number", false, {}, 0},
    {"empty", "", "not in bytes", false, {}, 0},
  };
  for (const auto& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    content_range out;
    const std::string why = parse_content_range(r.value, out);
    if (std::string(r.why).empty()) {
      CHECK(why == "");
      CHECK(out.satisfied == r.satisfied);
      if (r.satisfied) CHECK(out.range == r.range);
      CHECK(out.total == r.total);
    } else {
      CHECK(why.find(r.why) != std::string::npos);
    }
  }
}

TEST_CASE("an origin's answer to a range request: ok, 404 or failed, with the reason") {
  struct row {
    const char* what;
    byte_range asked;
    std::optional<std::uint64_t> known;
    int status;
    const char* content_range;
    std::uint64_t body;
    origin_verdict verdict;
    std::uint64_t total;
    const char* why;
    bool changed;
  };
  const row rows[] = {
    {"the chunk asked for", {0, MiB - 1}, std::nullopt, 206, "bytes 0-1048575/50000000", MiB, origin_verdict::ok,
     50'000'000, "", false},
    {"the last chunk, clipped", {47ull * MiB, 48ull * MiB - 1}, 50'000'000, 206, "bytes 49283072-49999999/50000000",
     50'000'000 - 47ull * MiB, origin_verdict::ok, 50'000'000, "", false},
    {"an object smaller than a chunk", {0, MiB - 1}, std::nullopt, 206, "bytes 0-99/100", 100, origin_verdict::ok, 100,
     "", false},
    {"an empty object", {0, MiB - 1}, std::nullopt, 416, "bytes */0", 0, origin_verdict::ok, 0, "", false},
    {"404", {0, MiB - 1}, std::nullopt, 404, "", 120, origin_verdict::not_found, 0, "no such object", false},
    {"Range ignored", {0, MiB - 1}, std::nullopt, 200, "", MiB, origin_verdict::failed, 0, "ignored the Range", false},
    {"a server error", {0, MiB - 1}, std::nullopt, 500, "", 0, origin_verdict::failed, 0, "answered 500", false},
    {"206 without Content-Range", {0, MiB - 1}, std::nullopt, 206, "", MiB, origin_verdict::failed, 0,
     "no Content-Range", false},
    {"malformed Content-Range", {0, MiB - 1}, std::nullopt, 206, "bytes 0-x/5", MiB, origin_verdict::failed, 0,
     "LAST", false},
    {"another range than asked", {MiB, 2 * MiB - 1}, std::nullopt, 206, "bytes 0-1048575/50000000", MiB,
     origin_verdict::failed, 0, "sent bytes 0-1048575 for 1048576-2097151", false},
    {"fewer bytes than asked", {0, MiB - 1}, std::nullopt, 206, "bytes 0-1000/50000000", 1001, origin_verdict::failed,
     0, "sent bytes 0-1000", false},
    {"body shorter than its Content-Range", {0, MiB - 1}, std::nullopt, 206, "bytes 0-1048575/50000000", MiB - 1,
     origin_verdict::failed, 0, "body has 1048575 bytes", false},
    {"the size changed", {MiB, 2 * MiB - 1}, 50'000'000, 206, "bytes 1048576-2097151/60000000", MiB,
     origin_verdict::failed, 0, "changed at the origin", true},
    {"416 past the end of a non-empty object", {MiB, 2 * MiB - 1}, std::nullopt, 416, "bytes */100", 0,
     origin_verdict::failed, 0, "not satisfiable", false},
    {"416 naming a range", {0, MiB - 1}, std::nullopt, 416, "bytes 0-1/100", 0, origin_verdict::failed, 0,
     "names a range", false},
  };
  for (const auto& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    const auto c = check_range_answer(r.asked, r.known, r.status, r.content_range, r.body);
    CHECK(c.verdict == r.verdict);
    CHECK(c.changed == r.changed);
    if (r.verdict == origin_verdict::ok) CHECK(c.total == r.total);
    CHECK(c.why.find(r.why) != std::string::npos);
  }
}

TEST_CASE("chunk owners: the same on every host, spread over the members") {
  // Pinned values: every rim host must compute the same owner (FNV-1a, not std::hash).
  const std::vector<std::size_t> pinned{2, 0, 0, 1, 0, 0, 2, 2};  // computed apart (python)
  std::vector<std::size_t> got;
  for (std::uint64_t i = 0; i < pinned.size(); ++i) got.push_back(chunk_owner("50M.bin", i, 3));
  CHECK(got == pinned);
  std::vector<int> per(3);
  for (std::uint64_t i = 0; i < 300; ++i) ++per[chunk_owner("50M.bin", i, 3)];
  for (int n : per) CHECK((n > 70 && n < 130));  // 100 each, give or take
  CHECK(chunk_owner("x", 7, 1) == 0);
  std::size_t differs = 0;
  for (std::uint64_t i = 0; i < 50; ++i) differs += chunk_owner("a.bin", i, 4) != chunk_owner("b.bin", i, 4);
  CHECK(differs > 20);  // the object's name counts, not only the index
  std::vector<int> per4(4);
  for (std::uint64_t i = 0; i < 400; ++i) ++per4[chunk_owner("again.bin", i, 4)];
  for (int n : per4) CHECK((n > 70 && n < 130));  // low bits mixed too
}

TEST_CASE("a client's Range header: one range served, anything else ignored") {
  struct row {
    const char* what;
    const char* value;
    bool parses;
    std::uint64_t first;
    std::optional<std::uint64_t> last;
  };
  const row rows[] = {
    {"a closed range", "bytes=0-1048575", true, 0, 1048575},
    {"an open range", "bytes=5000-", true, 5000, std::nullopt},
    {"spaces around", " bytes=1-2 ", true, 1, 2},
    {"a suffix range", "bytes=-500", false, 0, std::nullopt},
    {"a list", "bytes=0-1,5-6", false, 0, std::nullopt},
    {"backwards", "bytes=9-3", false, 0, std::nullopt},
    {"another unit", "items=0-1", false, 0, std::nullopt},
    {"absent", "", false, 0, std::nullopt},
  };
  for (const auto& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    auto got = parse_range_request(r.value);
    REQUIRE(got.has_value() == r.parses);
    if (!got) continue;
    CHECK(got->first == r.first);
    CHECK(got->last == r.last);
  }
  CHECK(resolve({5, 9}, 100) == byte_range{5, 9});
  CHECK(resolve({5, std::nullopt}, 100) == byte_range{5, 99});
  CHECK(resolve({5, 1000}, 100) == byte_range{5, 99});
  CHECK(!resolve({100, std::nullopt}, 100));
  CHECK(!resolve({0, std::nullopt}, 0));
}
