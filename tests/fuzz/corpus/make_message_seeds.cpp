// Writes the seed inputs of fuzz_group_messages and fuzz_slr_messages (valid messages as CAF
// encodes them, in the targets' record layout). Not part of the build; from the repository:
//   clang++ -std=c++17 -I. tests/fuzz/corpus/make_message_seeds.cpp -lcaf_core -o /tmp/seeds \
//     && (cd tests/fuzz/corpus && /tmp/seeds)
#include <caf/binary_serializer.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "actors/protocol/group.hpp"
#include "actors/protocol/slr.hpp"

namespace {

struct writer {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  template <class T>
  writer& put(T x) {
    if (sink(x)) throw std::runtime_error("encode");
    return *this;
  }
  writer& byte(std::uint8_t b) { return put(b); }
  void save(const std::string& path) { std::ofstream(path, std::ios::binary).write(buf.data(), buf.size()); }
};

}  // namespace

int main() {
  using namespace baton::group;
  using namespace baton::protocol;
  // Group: phase byte; then records [from][type][message][wait].
  {
    writer w;  // a joining node admitted, then kept alive by its master
    join_reply ok{join_result::ok, "", 1};
    master_keepalive k;
    k.sequence = 2;
    k.members = {{0x0a000002, "m2", 0}, {0x0a000001, "m1", 0}};
    k.table_version = 1;
    k.owners = std::vector<node_id>(8, 0x0a000001);
    k.backups = std::vector<node_id>(8, 0x0a000002);
    work_assign a{1, {{0, 0x0a000001, 0x0a000002}, {1, 0x0a000001, 0x0a000002}}};
    w.byte(0).byte(0).byte(1).put(ok).byte(10).byte(0).byte(5).put(k).byte(10).byte(0).byte(7).put(a).byte(50);
    w.save("fuzz_group_messages/join_keepalive_assign");
  }
  {
    writer w;  // a master hears a join, keepalives, an ack and a de-assign done
    join_request j{"m2", 0, {3}, {1}, {}};
    client_keepalive c{1, 7};
    work_assign_ack ack{{0, 1, 2}};
    work_deassign_done d{2, 0x0a000003};
    w.byte(1).byte(0).byte(0).put(j).byte(10).byte(0).byte(6).put(c).byte(100).byte(0).byte(8).put(ack).byte(10)
        .byte(1).byte(10).put(d).byte(10).byte(1).byte(3).put(master_offer{2}).byte(0);
    w.save("fuzz_group_messages/master_join_ack");
  }
  {
    writer w;  // a client as backup: deltas, a hand-over, a de-assign, an exit
    std::vector<std::uint8_t> blob = {'C', 0, 0, 0, 0, 0, 0, 0, 1, 198, 51, 100, 7, 10, 50, 1, 10, 0x9c, 0x40,
                                      0, 80, 6, 10, 20, 0, 1, 0};
    state_delta d{1, 5, {{1, portion_kind::checkpoint, blob}, {2, portion_kind::essential, {1, 2, 3}}}};
    state_handover h{2, 9, {{1, portion_kind::initial, blob}}};
    w.byte(2).byte(0).byte(11).put(d).byte(5).byte(0).byte(13).put(h).byte(5).byte(0).byte(12)
        .put(state_ack{1, 5, 2}).byte(5).byte(0).byte(9).put(work_deassign{1, 0x0a000003}).byte(5)
        .byte(0).byte(4).put(other_master_exists{3}).byte(5).byte(0).byte(2).put(exit_request{"bye"}).byte(255);
    w.save("fuzz_group_messages/backup_deltas_handover");
  }
  // SLR: config byte; then records [type][message]; type 7 recomputes.
  {
    writer w;
    slr_flow f{0xc6336407, 40000, 0x0a32010a, 80, 6};
    w.byte(0x2a).byte(0).put(slr_hello{"site1", "site", 0x0a140001});
    w.byte(1).put(slr_state{"site1", 0x0a140001, 1, {{0x0a320000, 16, 0.3}, {0x0a320100, 24, 0.5}}});
    w.byte(1).put(slr_state{"site2", 0x0a140002, 1, {{0x0a320000, 16, 0.1}}});
    w.byte(7).byte(2).put(f).byte(3).put(tunnel_object{f, 0x0a140002}).byte(4).put(whohas{f, "n2", 1});
    w.byte(5).put(ihave{slr_flow{1, 2, 0x0a320001, 4, 17}, 0x0a140001, "n3"}).byte(7);
    std::vector<std::uint8_t> blob = {'D', 0, 0, 0, 1, 0, 0, 0, 0, 198, 51, 100, 7, 10, 50, 1, 10, 0x9c, 0x40, 0, 80, 6};
    w.byte(6).put(blob).byte(7);
    w.save("fuzz_slr_messages/states_flows_recompute");
  }
  return 0;
}
