// The PEP's compression (document 003 [84]): the CTD message's wire form (actors/protocol/tsk.hpp),
// the per-chunk compressor and the skip logic (net/pep/compressor.hpp).

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "actors/protocol/tsk.hpp"
#include "net/pep/compressor.hpp"

namespace tsk = baton::protocol::tsk;
using baton::net::chunk_compressor;
using baton::net::compress_gate;
using baton::net::decompress_status;
using bytes = std::vector<unsigned char>;

namespace {

/// Log-like text, as the lab's compressible file.
bytes log_text(std::size_t n) {
  bytes out;
  std::uint32_t i = 0;
  while (out.size() < n) {
    const std::string line = "2026-12-03T11:00:" + std::to_string(10 + i % 50) + "Z host-" + std::to_string(i % 7) +
                             " batond[" + std::to_string(1000 + i % 13) + "]: pep_backbone_up peer=hub seq=" +
                             std::to_string(i) + "\n";
    out.insert(out.end(), line.begin(), line.end());
    ++i;
  }
  out.resize(n);
  return out;
}

bytes random_bytes(std::size_t n, std::uint32_t seed = 7) {
  std::mt19937 g(seed);
  bytes out(n);
  for (auto& b : out) b = static_cast<unsigned char>(g());
  return out;
}

tsk::header td_header() {
  tsk::header h;
  h.type = tsk::message_type::ctd;
  h.push = true;
  h.seq = 5;
  h.dst_cid = 17;
  h.src_cid = 4;
  return h;
}

}  // namespace

TEST_CASE("CTD round-trips: the original size, then the frame") {
  const bytes frame = {0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3};
  bytes b;
  REQUIRE(tsk::append_compressed(b, td_header(), 32768, frame.data(), frame.size()));
  tsk::message m;
  std::size_t used = 0;
  REQUIRE(tsk::decode(b.data(), b.size(), m, used) == tsk::decode_status::ok);
  CHECK(used == b.size());
  CHECK(m.h.type == tsk::message_type::ctd);
  CHECK(m.h.push);
  CHECK(m.h.dst_cid == 17);
  const auto v = tsk::read_compressed(m);
  CHECK(v.original == 32768);
  CHECK(bytes(v.frame, v.frame + v.frame_size) == frame);
  CHECK(std::string(tsk::to_string(tsk::message_type::ctd)) == "CTD");
}

TEST_CASE("CTD sizes the stream cannot hold are refused, when sent and when received") {
  const unsigned char f = 0;
  bytes b;
  CHECK_FALSE(tsk::append_compressed(b, td_header(), 0, &f, 1));
  CHECK_FALSE(tsk::append_compressed(b, td_header(), tsk::max_data + 1, &f, 1));
  CHECK(b.empty());
  struct row {
    const char* what;
    bytes frame;
    tsk::decode_status expected;
  };
  // type 11 = CTD, version 1 (0x40); length counts the 6-byte header and the body.
  const row rows[] = {
    {"size and one byte of frame", {0x00, 0x09, 0x0b, 0x40, 0, 1, 0, 2, 0x00, 0x10, 0xaa}, tsk::decode_status::ok},
    {"no frame", {0x00, 0x08, 0x0b, 0x40, 0, 1, 0, 2, 0x00, 0x10}, tsk::decode_status::bad_parameters},
    {"no size", {0x00, 0x07, 0x0b, 0x40, 0, 1, 0, 2, 0x00}, tsk::decode_status::bad_parameters},
    {"restores nothing", {0x00, 0x09, 0x0b, 0x40, 0, 1, 0, 2, 0x00, 0x00, 0xaa}, tsk::decode_status::bad_parameters},
    {"restores more than a TD holds", {0x00, 0x09, 0x0b, 0x40, 0, 1, 0, 2, 0xff, 0xff, 0xaa},
     tsk::decode_status::bad_parameters},
    {"the type after RS is unknown", {0x00, 0x06, 0x0d, 0x40, 0, 1, 0, 2}, tsk::decode_status::bad_type},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    tsk::message m;
    std::size_t used = 0;
    CHECK(tsk::decode(r.frame.data(), r.frame.size(), m, used) == r.expected);
  }
}

TEST_CASE("TPP says whether the sender reads CTD; a TPP without the byte means it does not") {
  bytes b;
  tsk::header h;
  h.type = tsk::message_type::tpp;
  REQUIRE(tsk::append(b, h, tsk::tpp_params{2, 100, tsk::tpp_reads_ctd}));
  tsk::message m;
  std::size_t used = 0;
  REQUIRE(tsk::decode(b.data(), b.size(), m, used) == tsk::decode_status::ok);
  CHECK(tsk::read_tpp(m).features == tsk::tpp_reads_ctd);
  // An older peer's 6-byte TPP.
  const bytes old = {0x00, 0x0c, 0x07, 0x40, 0xff, 0xff, 0, 1, 0, 2, 0, 0, 0x10, 0x00};
  REQUIRE(tsk::decode(old.data(), old.size(), m, used) == tsk::decode_status::ok);
  CHECK(tsk::read_tpp(m).max_ccbs == 4096);
  CHECK(tsk::read_tpp(m).features == 0);
}

TEST_CASE("chunks compress when it pays, and restore to the same bytes") {
  chunk_compressor z(32768);
  struct row {
    const char* what;
    bytes data;
    bool compressed;
  };
  const row rows[] = {
    {"32 KiB of log text", log_text(32768), true},
    {"a short log line run", log_text(600), true},
    {"32 KiB of random bytes", random_bytes(32768), false},
    {"1 KiB of random bytes", random_bytes(1024, 9), false},
    {"zeros", bytes(20000, 0), true},
  };
  bytes back(32768);
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto f = z.compress(r.data.data(), r.data.size());
    CHECK(f.empty() == !r.compressed);
    if (f.empty()) continue;
    CHECK(compress_gate::worth(r.data.size(), f.size));
    const bytes frame(f.data, f.data + f.size);  // the view lives until the next call
    REQUIRE(z.decompress(frame.data(), frame.size(), back.data(), r.data.size()) == decompress_status::ok);
    CHECK(bytes(back.begin(), back.begin() + static_cast<long>(r.data.size())) == r.data);
  }
  // Text compresses well (the lab asks for under 50% on the WAN).
  const auto text = log_text(32768);
  CHECK(z.compress(text.data(), text.size()).size < text.size() / 4);
  CHECK(z.compress(text.data(), 40000).empty());  // past max_chunk: not taken
}

TEST_CASE("a frame that is not what the message says is refused, never written past") {
  chunk_compressor z(32768);
  const auto text = log_text(8000);
  const auto f = z.compress(text.data(), text.size());
  REQUIRE_FALSE(f.empty());
  const bytes good(f.data, f.data + f.size);
  struct row {
    const char* what;
    bytes frame;
    std::size_t expected;
    decompress_status status;
  };
  bytes flipped = good;
  flipped[flipped.size() / 2] ^= 0x5a;
  bytes bad_magic = good;
  bad_magic[0] ^= 0xff;
  const row rows[] = {
    {"good", good, 8000, decompress_status::ok},
    {"claims more than the message", good, 4000, decompress_status::size_mismatch},
    {"claims less than the message", good, 9000, decompress_status::size_mismatch},
    {"not a zstd frame", bad_magic, 8000, decompress_status::corrupt},
    {"truncated", bytes(good.begin(), good.begin() + static_cast<long>(good.size() / 2)), 8000,
     decompress_status::corrupt},
    {"one byte", bytes{0x28}, 8000, decompress_status::corrupt},
    {"garbage", random_bytes(300), 8000, decompress_status::corrupt},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    // A guard after the output: nothing may land there.
    bytes out(r.expected + 64, 0xee);
    const auto st = z.decompress(r.frame.data(), r.frame.size(), out.data(), r.expected);
    CHECK(st == r.status);
    for (std::size_t i = r.expected; i < out.size(); ++i) REQUIRE(out[i] == 0xee);
  }
  // A damaged middle is either caught or restores other bytes: TLS is what guarantees integrity;
  // here it must at least not crash or overrun.
  bytes out(8000 + 64, 0xee);
  (void)z.decompress(flipped.data(), flipped.size(), out.data(), 8000);
  for (std::size_t i = 8000; i < out.size(); ++i) REQUIRE(out[i] == 0xee);
  // After errors the contexts still work.
  bytes back(8000);
  CHECK(z.decompress(good.data(), good.size(), back.data(), 8000) == decompress_status::ok);
  CHECK(back == text);
}

TEST_CASE("the gate stops trying after incompressible chunks and probes rarely") {
  struct row {
    const char* what;
    std::string results;    // per chunk: 'y' compressed, 'n' not worth it (only read when tried)
    std::string tried;      // expected: 'T' tried, '-' skipped
    unsigned pauses;        // report() said a pause started
  };
  auto run = [](const std::string& results, unsigned& pauses) {
    compress_gate g;
    std::string tried;
    pauses = 0;
    for (char r : results) {
      if (!g.should_try(32768)) {
        tried += '-';
        continue;
      }
      tried += 'T';
      if (g.report(r == 'y')) ++pauses;
    }
    return tried;
  };
  const std::string p1(compress_gate::first_pause, '-');
  const std::string p2(2 * compress_gate::first_pause, '-');
  const row rows[] = {
    {"compressible: every chunk tried", std::string(100, 'y'), std::string(100, 'T'), 0},
    {"three misses are not a run", "nnnyn", "TTTTT", 0},
    {"four misses in a row: a pause", std::string(6, 'n'), "TTTT--", 1},
    {"after the pause one probe; it fails: a longer pause",
     std::string(4 + compress_gate::first_pause + 1 + 2 * compress_gate::first_pause + 1, 'n'),
     "TTTT" + p1 + "T" + p2 + "T", 3},
    {"a probe that compresses: back to every chunk, and a run again before the next pause",
     std::string(4 + compress_gate::first_pause, 'n') + "y" + "nnnn" + "n",
     "TTTT" + p1 + "T" + "TTTT" + "-", 2},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    unsigned pauses = 0;
    CHECK(run(r.results, pauses) == r.tried);
    CHECK(pauses == r.pauses);
  }
  SUBCASE("the pause grows to a bound") {
    compress_gate g;
    unsigned longest = 0, run_len = 0;
    for (int i = 0; i < 200000; ++i) {
      if (!g.should_try(32768)) {
        ++run_len;
        continue;
      }
      longest = std::max(longest, run_len);
      run_len = 0;
      g.report(false);
    }
    CHECK(longest == compress_gate::max_pause);
  }
  SUBCASE("small chunks are never tried and do not count") {
    compress_gate g;
    CHECK_FALSE(g.should_try(compress_gate::min_chunk - 1));
    CHECK(g.should_try(compress_gate::min_chunk));
  }
  SUBCASE("worth: at least 1/32 saved") {
    CHECK(compress_gate::worth(32768, 31743));
    CHECK_FALSE(compress_gate::worth(32768, 31744));
    CHECK_FALSE(compress_gate::worth(1000, 1000));
  }
}
