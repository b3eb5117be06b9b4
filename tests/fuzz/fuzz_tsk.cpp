// libFuzzer target: a PEP backbone's byte stream as the engine reads it (actors/protocol/tsk.hpp),
// with every CTD restored by the engine's compressor (net/pep/compressor.hpp). A peer holds a
// valid certificate but may be broken or hostile: decoding never reads past the input, a decoded
// message's view stays inside its frame, and a CTD never writes past the size it states.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "actors/protocol/tsk.hpp"
#include "net/pep/compressor.hpp"

namespace tsk = baton::protocol::tsk;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static baton::net::chunk_compressor zip(32 * 1024);
  static std::vector<unsigned char> out(tsk::max_data + 64);
  std::size_t at = 0;
  while (at < size) {
    tsk::message m;
    std::size_t used = 0;
    const auto st = tsk::decode(data + at, size - at, m, used);
    if (st == tsk::decode_status::need_more) break;
    if (st != tsk::decode_status::ok) return 0;  // the engine drops the backbone here
    if (used < tsk::length_size + tsk::header_size || used > size - at) __builtin_trap();
    if (m.body < data + at || m.body + m.body_size != data + at + used) __builtin_trap();
    if (m.h.type == tsk::message_type::ctd) {
      const auto v = tsk::read_compressed(m);
      if (v.original == 0 || v.original > tsk::max_data) __builtin_trap();
      for (std::size_t i = v.original; i < out.size(); ++i) out[i] = 0xee;
      const auto r = zip.decompress(v.frame, v.frame_size, out.data(), v.original);
      for (std::size_t i = v.original; i < out.size(); ++i)
        if (out[i] != 0xee) __builtin_trap();
      // What compresses restores to itself.
      if (r == baton::net::decompress_status::ok && v.original <= 32 * 1024) {
        const std::vector<unsigned char> restored(out.begin(), out.begin() + static_cast<long>(v.original));
        const auto f = zip.compress(restored.data(), restored.size());
        if (!f.empty()) {
          const std::vector<unsigned char> frame(f.data, f.data + f.size);
          if (zip.decompress(frame.data(), frame.size(), out.data(), restored.size()) !=
                  baton::net::decompress_status::ok ||
              !std::equal(restored.begin(), restored.end(), out.begin()))
            __builtin_trap();
        }
      }
    }
    at += used;
  }
  return 0;
}
