// The TSK messages' wire form (actors/protocol/tsk.hpp): every type round-trips, and a broken
// stream is named, never read past its end.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/protocol/tsk.hpp"

namespace tsk = baton::protocol::tsk;
using bytes = std::vector<unsigned char>;

namespace {

tsk::header make(tsk::message_type t, bool with_connection) {
  tsk::header h;
  h.type = t;
  h.push = true;
  h.seq = 9;
  h.dst_cid = 0x1234;
  h.src_cid = 0x0042;
  h.has_connection = with_connection;
  h.connection = {0x0a020002, 0x0a010002, 8080, 40000};
  return h;
}

tsk::message decode_one(const bytes& b) {
  tsk::message m;
  std::size_t used = 0;
  REQUIRE(tsk::decode(b.data(), b.size(), m, used) == tsk::decode_status::ok);
  CHECK(used == b.size());
  return m;
}

}  // namespace

TEST_CASE("TSK messages round-trip with their parameters") {
  SUBCASE("CR with the connection header") {
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::cr, true), tsk::cr_params{1460, 2, 1, 4 << 20}));
    auto m = decode_one(b);
    CHECK(m.h.type == tsk::message_type::cr);
    CHECK(m.h.push);
    CHECK(m.h.seq == 9);
    CHECK(m.h.dst_cid == 0x1234);
    CHECK(m.h.src_cid == 0x0042);
    REQUIRE(m.h.has_connection);
    CHECK(m.h.connection == make(tsk::message_type::cr, true).connection);
    auto cr = tsk::read_cr(m);
    CHECK(cr.mss == 1460);
    CHECK(cr.priority == 2);
    CHECK(cr.flags == 1);
    CHECK(cr.window == 4u << 20);
  }
  SUBCASE("CE") {
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::ce, false), tsk::ce_params{1448, 65536}));
    auto ce = tsk::read_ce(decode_one(b));
    CHECK(ce.mss == 1448);
    CHECK(ce.window == 65536);
  }
  SUBCASE("CT and NR carry Table C's reasons") {
    for (auto r : {tsk::reason::rst_from_host, tsk::reason::no_response, tsk::reason::previous_incarnation,
                   tsk::reason::refused_by_host}) {
      bytes b;
      REQUIRE(tsk::append(b, make(tsk::message_type::ct, true), r));
      CHECK(tsk::read_reason(decode_one(b)) == r);
    }
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::nr, true), tsk::reason::no_cid));
    CHECK(tsk::read_reason(decode_one(b)) == tsk::reason::no_cid);
  }
  SUBCASE("NR not_owner (a hub group member refuses a backbone) names the owner") {
    struct row {
      const char* what;
      std::uint32_t owner;
    };
    for (const row& x : {row{"an owner", 0xc0a83c0cu}, row{"none known yet", 0u}}) {
      CAPTURE(x.what);
      bytes b;
      REQUIRE(tsk::append(b, make(tsk::message_type::nr, false), tsk::not_owner_params{x.owner}));
      const auto m = decode_one(b);
      CHECK(tsk::read_reason(m) == tsk::reason::not_owner);
      CHECK(tsk::read_not_owner(m).owner == x.owner);
      CHECK(std::string(tsk::to_string(tsk::reason::not_owner)) == "not_owner");
    }
    bytes b;  // a plain NR (one byte) reads as no owner
    REQUIRE(tsk::append(b, make(tsk::message_type::nr, false), tsk::reason::not_owner));
    CHECK(tsk::read_not_owner(decode_one(b)).owner == 0);
  }
  SUBCASE("TPP, KA and WA") {
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::tpp, false), tsk::tpp_params{3, 4096}));
    auto t = tsk::read_tpp(decode_one(b));
    CHECK(t.tid == 3);
    CHECK(t.max_ccbs == 4096);
    b.clear();
    REQUIRE(tsk::append(b, make(tsk::message_type::ka, false), tsk::ka_params{0x0102030405060708ull, 77}));
    auto k = tsk::read_ka(decode_one(b));
    CHECK(k.sent_us == 0x0102030405060708ull);
    CHECK(k.echo_us == 77);
    b.clear();
    REQUIRE(tsk::append_window(b, make(tsk::message_type::wa, false), 1u << 20));
    CHECK(tsk::read_window(decode_one(b)) == 1u << 20);
  }
  SUBCASE("RS carries the bytes received and the credit granted (64 bits each)") {
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::rs, true), tsk::rs_params{(1ull << 33) + 5, 4194304 + 77}));
    auto m = decode_one(b);
    CHECK(m.h.type == tsk::message_type::rs);
    CHECK(m.h.has_connection);
    const auto r = tsk::read_rs(m);
    CHECK(r.received == (1ull << 33) + 5);
    CHECK(r.granted == 4194304 + 77);
    CHECK(std::string(tsk::to_string(tsk::message_type::rs)) == "RS");
  }
  SUBCASE("TPP's features: a peer reads CTD and RS; a 6-byte TPP (an older peer) reads neither") {
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::tpp, false),
                        tsk::tpp_params{3, 4096, static_cast<std::uint8_t>(tsk::tpp_reads_ctd | tsk::tpp_reads_rs)}));
    const auto t = tsk::read_tpp(decode_one(b));
    CHECK((t.features & tsk::tpp_reads_rs) != 0);
    CHECK((t.features & tsk::tpp_reads_ctd) != 0);
    CHECK(tsk::cr_movable != tsk::cr_compress);
    CHECK(tsk::cr_movable != tsk::cr_copy);
  }
  SUBCASE("RTD carries a copy of data with its offset in the stream") {
    bytes b;
    REQUIRE(tsk::append_redundant(b, make(tsk::message_type::rtd, false), 123456789012ull, "abc", 3));
    auto m = decode_one(b);
    CHECK(m.h.type == tsk::message_type::rtd);
    CHECK(tsk::read_offset(m) == 123456789012ull);
    CHECK(std::string(reinterpret_cast<const char*>(m.body + 8), m.body_size - 8) == "abc");
  }
  SUBCASE("TD carries its data unchanged, up to the frame's limit") {
    std::string data(tsk::max_data, 'x');
    data[0] = 'a';
    data.back() = 'z';
    bytes b;
    REQUIRE(tsk::append(b, make(tsk::message_type::td, true), data.data(), data.size()));
    auto m = decode_one(b);
    CHECK(std::string(reinterpret_cast<const char*>(m.body), m.body_size) == data);
    bytes too_big;
    CHECK_FALSE(tsk::append(too_big, make(tsk::message_type::td, true), data.data(), data.size() + 3));
    CHECK(too_big.empty());
  }
}

TEST_CASE("a stream of messages is cut at frame boundaries, however it arrives") {
  bytes stream;
  tsk::append(stream, make(tsk::message_type::cr, true), tsk::cr_params{1460, 0, 1, 1000});
  tsk::append(stream, make(tsk::message_type::td, false), "hello", 5);
  tsk::append(stream, make(tsk::message_type::tp, false), nullptr, 0);
  // Fed a byte at a time, as a TLS record boundary might cut it.
  std::vector<tsk::message_type> seen;
  bytes buffer;
  for (unsigned char c : stream) {
    buffer.push_back(c);
    tsk::message m;
    std::size_t used = 0;
    auto st = tsk::decode(buffer.data(), buffer.size(), m, used);
    if (st == tsk::decode_status::need_more) continue;
    REQUIRE(st == tsk::decode_status::ok);
    seen.push_back(m.h.type);
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<long>(used));
  }
  CHECK(seen == std::vector<tsk::message_type>{tsk::message_type::cr, tsk::message_type::td, tsk::message_type::tp});
  CHECK(buffer.empty());
}

TEST_CASE("broken frames are named") {
  struct row {
    const char* what;
    bytes frame;
    tsk::decode_status expected;
  };
  const row rows[] = {
    {"shorter than a header", {0x00, 0x03, 0x00, 0x40, 0x00}, tsk::decode_status::bad_length},
    {"wrong version", {0x00, 0x06, 0x00, 0x80, 0, 0, 0, 0}, tsk::decode_status::bad_version},
    {"unknown type", {0x00, 0x06, 0x63, 0x40, 0, 0, 0, 0}, tsk::decode_status::bad_type},
    {"CR without its parameters", {0x00, 0x06, 0x02, 0x40, 0, 0, 0, 0}, tsk::decode_status::bad_parameters},
    {"RTD without its offset", {0x00, 0x08, 0x0a, 0x40, 0, 0, 0, 0, 1, 2}, tsk::decode_status::bad_parameters},
    {"RS without its counts", {0x00, 0x0e, 0x0c, 0x40, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, tsk::decode_status::bad_parameters},
    {"connection flag without the header", {0x00, 0x08, 0x00, 0x50, 0, 0, 0, 0, 1, 2}, tsk::decode_status::bad_length},
    {"length past the bytes", {0x00, 0x40, 0x00, 0x40, 0, 0}, tsk::decode_status::need_more},
    {"one byte", {0x00}, tsk::decode_status::need_more},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    tsk::message m;
    std::size_t used = 0;
    CHECK(tsk::decode(r.frame.data(), r.frame.size(), m, used) == r.expected);
  }
}

TEST_CASE("the connection header mirrors for the receiver") {
  tsk::connection_header c{1, 2, 3, 4};
  auto m = c.mirrored();
  CHECK(m.dst_ip == 2);
  CHECK(m.src_ip == 1);
  CHECK(m.dst_port == 4);
  CHECK(m.src_port == 3);
  CHECK(m.mirrored() == c);
}
