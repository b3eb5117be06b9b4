// Per-chunk zstd compression for the PEP's backbone. See compressor.hpp.

#include "net/pep/compressor.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <new>
#include <vector>

namespace baton::net {

struct chunk_compressor::contexts {
  ZSTD_CCtx* c = nullptr;
  ZSTD_DCtx* d = nullptr;
  std::vector<unsigned char> out;  // one frame at a time
};

const char* to_string(decompress_status s) noexcept {
  constexpr const char* names[] = {"ok", "corrupt", "size_mismatch"};
  return names[static_cast<std::uint8_t>(s)];
}

chunk_compressor::chunk_compressor(std::size_t max_chunk, int level)
    : z_(new contexts), max_chunk_(max_chunk), level_(level) {
  z_->c = ZSTD_createCCtx();
  z_->d = ZSTD_createDCtx();
  if (!z_->c || !z_->d) {
    ZSTD_freeCCtx(z_->c);
    ZSTD_freeDCtx(z_->d);
    delete z_;
    throw std::bad_alloc();
  }
  // Sized once for the largest chunk: compress() never grows it. The frame carries its content
  // size (zstd's default), which decompress() checks against the message's.
  z_->out.resize(ZSTD_compressBound(max_chunk));
  ZSTD_CCtx_setParameter(z_->c, ZSTD_c_compressionLevel, level_);
  ZSTD_CCtx_setParameter(z_->c, ZSTD_c_checksumFlag, 0);  // TLS already authenticates every byte
}

chunk_compressor::~chunk_compressor() {
  ZSTD_freeCCtx(z_->c);
  ZSTD_freeDCtx(z_->d);
  delete z_;
}

byte_view chunk_compressor::compress(const void* data, std::size_t n) noexcept {
  if (n == 0 || n > max_chunk_) return {};
  // Output capped below the input's size: zstd stops early (an error) on data that would not
  // shrink enough, instead of finishing a frame we would throw away.
  const std::size_t cap = n - n / compress_gate::min_saving_div;
  const std::size_t r = ZSTD_compress2(z_->c, z_->out.data(), cap, data, n);
  if (ZSTD_isError(r)) {
    ZSTD_CCtx_reset(z_->c, ZSTD_reset_session_only);  // the next chunk starts clean
    return {};
  }
  if (!compress_gate::worth(n, r)) return {};
  return {z_->out.data(), r};
}

decompress_status chunk_compressor::decompress(const void* frame, std::size_t frame_size, unsigned char* out,
                                               std::size_t expected) noexcept {
  const unsigned long long declared = ZSTD_getFrameContentSize(frame, frame_size);
  if (declared == ZSTD_CONTENTSIZE_ERROR) return decompress_status::corrupt;
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != expected) return decompress_status::size_mismatch;
  // The capacity is exactly what the message said: a frame claiming more fails here, it does not
  // write further.
  const std::size_t r = ZSTD_decompressDCtx(z_->d, out, expected, frame, frame_size);
  if (ZSTD_isError(r)) {
    ZSTD_DCtx_reset(z_->d, ZSTD_reset_session_only);
    return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? decompress_status::size_mismatch
                                                                : decompress_status::corrupt;
  }
  return r == expected ? decompress_status::ok : decompress_status::size_mismatch;
}

}  // namespace baton::net
