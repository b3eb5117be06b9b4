#pragma once
// Document 003's data compression kernel ([84]), per TCP connection before multiplexing: each
// chunk read from a host becomes one independent zstd frame (a CTD message), so the receiver keeps
// no state per connection and a lost backbone loses no dictionary. Data that does not compress is
// sent as it is, and a connection whose data keeps not compressing stops trying for a while
// (compress_gate), so random or already-compressed data costs neither bytes nor much CPU.
//
// Plain C++ over Debian's libzstd; no allocation per chunk: one compression and one
// decompression context and one output buffer per chunk_compressor (the PEP engine has one, on
// its one thread).

#include <cstddef>
#include <cstdint>

namespace baton::net {

/// The skip logic, one per connection (a few bytes): whether the next chunk is worth trying, from
/// how the last ones did.
class compress_gate {
 public:
  /// A chunk is "incompressible" when its frame would save less than 1/32 (3%) of it.
  static constexpr std::size_t min_saving_div = 32;
  /// This many incompressible chunks in a row and the connection stops trying ...
  static constexpr std::uint8_t give_up_after = 4;
  /// ... for this many chunks (32 KiB each: 2 MiB), doubled each time a probe fails again, up to
  /// max_pause; a chunk that compresses puts the connection back to trying every chunk.
  static constexpr std::uint32_t first_pause = 64;
  static constexpr std::uint32_t max_pause = 4096;
  /// Chunks smaller than this are sent as they are (a frame's header would eat the gain).
  static constexpr std::size_t min_chunk = 128;

  /// True when `original` bytes compressed to `compressed` are worth a CTD.
  static constexpr bool worth(std::size_t original, std::size_t compressed) noexcept {
    return compressed < original - original / min_saving_div;
  }

  /// Called once per chunk of `n` bytes: true means try to compress it (then report()).
  bool should_try(std::size_t n) noexcept {
    if (n < min_chunk) return false;
    if (skip_left_) {
      --skip_left_;
      return false;
    }
    return true;
  }
  /// After a try: whether it was worth it. Returns true when this result starts a pause (for the
  /// counters).
  bool report(bool worth_it) noexcept {
    if (worth_it) {
      misses_ = 0;
      pause_ = first_pause;
      probing_ = false;
      return false;
    }
    // A run of misses starts the first pause; after a pause one failed probe starts the next.
    if (probing_ || ++misses_ >= give_up_after) {
      skip_left_ = pause_;
      pause_ = pause_ * 2 > max_pause ? max_pause : pause_ * 2;
      misses_ = 0;
      probing_ = true;
      return true;
    }
    return false;
  }
  /// Whether the connection is in a pause (the console shows it).
  bool paused() const noexcept { return skip_left_ > 0; }

 private:
  std::uint32_t skip_left_ = 0;
  std::uint32_t pause_ = first_pause;
  std::uint8_t misses_ = 0;
  bool probing_ = false;  // paused before and not compressed since: one miss pauses again
};

/// A view of bytes the compressor owns (valid until its next call).
struct byte_view {
  const unsigned char* data = nullptr;
  std::size_t size = 0;
  bool empty() const noexcept { return size == 0; }
};

enum class decompress_status : std::uint8_t {
  ok,
  corrupt,        // not a zstd frame, or damaged
  size_mismatch,  // a frame that restores more or fewer bytes than the message said
};
const char* to_string(decompress_status s) noexcept;

class chunk_compressor {
 public:
  /// `max_chunk`: the largest input compress() takes and the largest output decompress() gives.
  /// Throws std::bad_alloc when zstd cannot get its contexts.
  explicit chunk_compressor(std::size_t max_chunk, int level = 3);
  ~chunk_compressor();
  chunk_compressor(const chunk_compressor&) = delete;
  chunk_compressor& operator=(const chunk_compressor&) = delete;

  /// One zstd frame of [data, data + n) when it is worth it (compress_gate::worth), else an empty
  /// view (nothing to send compressed: send the data as it is). n must be at most max_chunk.
  byte_view compress(const void* data, std::size_t n) noexcept;
  /// Restores `frame` into [out, out + expected): ok only when it is exactly `expected` bytes.
  /// Never writes past out + expected, whatever the frame says.
  decompress_status decompress(const void* frame, std::size_t frame_size, unsigned char* out,
                               std::size_t expected) noexcept;

 private:
  struct contexts;
  contexts* z_;
  std::size_t max_chunk_;
  int level_;
};

}  // namespace baton::net
