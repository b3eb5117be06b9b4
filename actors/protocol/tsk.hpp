#pragma once
// Document 003's TSK messages (Tables A-D) as they cross the backbone between two PEP endpoints,
// declared once here with their wire form. The backbone (BPK) is one TLS stream per peer pair
// (actors/pep/backbone.hpp): it keeps messages in order and whole, so each message travels as a
// 2-byte big-endian length followed by the message itself.
//
// Message (Table A):  type (1) | version (2 bits) flags (2 bits: PUSH, header) seq (4 bits) |
//                     destination CID (2) | source CID (2) | [TCP connection header (12)] |
//                     parameters or data
// TCP connection header (Table D): destination IP (4) | source IP (4) | destination port (2) |
// source port (2), all "as seen by the sender": source = the host local to the sender.
//
// Plain C++ and header-only: the PEP's stream engine (not an actor) encodes and decodes them; no
// allocation beyond the caller's output buffer.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace baton::protocol::tsk {

/// Table B's message types, then the ones this implementation adds in the range Table B leaves
/// "reserved for future use".
enum class message_type : std::uint8_t {
  td = 0,   // TCP data
  ud = 1,   // urgent data (urgent pointer + data)
  cr = 2,   // connection request: a SYN arrived for a spoofed connection
  ce = 3,   // connection established: the far host answered the SYN (carries its MSS)
  ct = 4,   // connection terminated, with a reason (Table C)
  nr = 5,   // no resources: the connection is refused for a reason (Table C)
  tp = 6,   // termination pending: a FIN arrived from the sender's host
  tpp = 7,  // TSK peer parameters ([137]): the sender's TID and CCB limit, sent when a backbone opens
  ka = 8,   // backbone keepalive with an echo of the peer's clock (RTT), every keepalive interval
  wa = 9,   // window advance: the receiver drained this many bytes of one connection to its host
  rtd = 10, // redundant TCP data: a copy of TD data with its offset in the connection's byte
            // stream, sent on a second backbone to the same peer for the start of a transfer, so
            // one lost segment on the WAN does not stall a short transfer for a round trip
  ctd = 11, // compressed TCP data ([84]'s data compression kernel, per connection): a TD whose
            // data is one zstd frame; the receiver restores it and treats it as that TD
  rs = 12,  // resume (document 003's PSK): the connection continues on the backbone this arrives
            // on (its path failed, or a preferred one returned); carries the bytes the sender has
            // received of the connection and the credit it has granted in total, so the peer
            // sends again what was lost with the old backbone. Sent only to a peer whose TPP
            // says it reads RS, for a connection whose CR said it may move
};
inline constexpr std::uint8_t max_message_type = 12;

inline const char* to_string(message_type t) noexcept {
  constexpr const char* names[] = {"TD", "UD", "CR", "CE", "CT", "NR", "TP", "TPP", "KA", "WA", "RTD", "CTD", "RS"};
  const auto i = static_cast<std::uint8_t>(t);
  return i <= max_message_type ? names[i] : "?";
}

/// Table C's reason codes, unique across message types ([132]), then ours.
enum class reason : std::uint8_t {
  none = 0,
  rst_from_host = 1,         // CT: a RST arrived from the sender's local host
  no_response = 2,           // CT: the sender's local host stopped answering (or never answered a SYN)
  simultaneous_startup = 3,  // CT: both ends started the connection over different backbones
  previous_incarnation = 4,  // CT: the previous incarnation of this connection has not ended
  no_cid = 5,                // NR: no CCB (connection id) free
  refused_by_host = 6,       // CT: the far host answered the SYN with a RST
  unreachable = 7,           // CT: no route to the far host (ICMP unreachable)
  backbone_lost = 8,         // local: the backbone carrying the connection went down
  shutdown = 9,              // CT: the sender is stopping
  not_owner = 10,            // NR on the backbone itself (no connection header): the sender is one
                             // member of a PEP group (a hub site) and another member serves the
                             // receiver's work unit; the body carries that member's address
                             // (not_owner_params) and the sender closes the backbone
};
inline constexpr std::uint8_t max_reason = 10;

inline const char* to_string(reason r) noexcept {
  constexpr const char* names[] = {"none",         "rst_from_host", "no_response", "simultaneous_startup",
                                   "previous_incarnation", "no_cid", "refused_by_host", "unreachable",
                                   "backbone_lost", "shutdown", "not_owner"};
  const auto i = static_cast<std::uint8_t>(r);
  return i <= max_reason ? names[i] : "?";
}

inline constexpr std::uint8_t version = 1;
/// The destination CID of a message sent before the peer's CID is known ([138]); never a CID.
inline constexpr std::uint16_t unknown_cid = 0xFFFF;
inline constexpr std::size_t length_size = 2;    // the BPK frame's length prefix
inline constexpr std::size_t header_size = 6;    // type, version/flags/seq, destination and source CID
inline constexpr std::size_t connection_header_size = 12;
/// The largest message (the length prefix's range); TD data is sent in pieces that fit.
inline constexpr std::size_t max_message = 65535;
inline constexpr std::size_t max_data = max_message - header_size - connection_header_size - 2;

/// Table D: a TCP connection as the sender sees it (addresses and ports in host order).
struct connection_header {
  std::uint32_t dst_ip = 0;    // the host not local to the sender
  std::uint32_t src_ip = 0;    // the host local to the sender
  std::uint16_t dst_port = 0;
  std::uint16_t src_port = 0;
  /// The same connection as the receiver sees it.
  connection_header mirrored() const noexcept { return {src_ip, dst_ip, src_port, dst_port}; }
};
inline bool operator==(const connection_header& a, const connection_header& b) noexcept {
  return a.dst_ip == b.dst_ip && a.src_ip == b.src_ip && a.dst_port == b.dst_port && a.src_port == b.src_port;
}

/// Table A without the data: what precedes a message's parameters.
struct header {
  message_type type = message_type::td;
  bool push = false;
  std::uint8_t seq = 0;  // 4 bits: per connection, +1 per message (a check: the backbone keeps order)
  std::uint16_t dst_cid = unknown_cid;
  std::uint16_t src_cid = unknown_cid;
  bool has_connection = false;
  connection_header connection;
};

// Parameters, per type (big-endian on the wire):
/// CR: what the peer needs to open its side ([101]): the initiating host's MSS, the profile's
/// priority, whether the sender spoofed the three-way handshake, and the flow-control window the
/// sender grants for data toward its host.
struct cr_params {
  std::uint16_t mss = 0;
  std::uint8_t priority = 0;
  std::uint8_t flags = 0;  // cr_three_way_spoofed, cr_copy
  std::uint32_t window = 0;
};
inline constexpr std::uint8_t cr_three_way_spoofed = 1;  // the sender answered its host's SYN itself
inline constexpr std::uint8_t cr_copy = 2;  // sent on a second backbone (redundant_kbyte): may arrive late
/// The initiator's profile says compress: both directions of the connection may send CTD. Set only
/// when the peer's TPP said it reads CTD, so a peer without it never receives one.
inline constexpr std::uint8_t cr_compress = 4;
/// The initiator keeps what it sends until the peer acknowledges it and may move the connection to
/// another backbone (RS). Set only when the peer's TPP said it reads RS; the responder then keeps
/// its sent data too.
inline constexpr std::uint8_t cr_movable = 8;
/// CE: the MSS the far host sent in its SYN-ACK ([104]) and the window the sender grants.
struct ce_params {
  std::uint16_t mss = 0;
  std::uint32_t window = 0;
};
/// TPP: the sender's TID for this backbone and how many CCBs it can give the peer ([98]), then
/// what it can read beyond Table B (a byte a peer without it neither sends nor reads: a 6-byte
/// TPP means no features).
struct tpp_params {
  std::uint16_t tid = 0;
  std::uint32_t max_ccbs = 0;
  std::uint8_t features = 0;  // tpp_reads_ctd, tpp_reads_rs, tpp_top
};
inline constexpr std::uint8_t tpp_reads_ctd = 1;
inline constexpr std::uint8_t tpp_reads_rs = 2;
/// This backbone carries the top priority's connections (document 003: a backbone per peer and
/// priority). The dialler says so; the side that accepted it learns it here.
inline constexpr std::uint8_t tpp_top = 4;
/// RS: the connection's bytes the sender has received from the peer, in order (the peer sends
/// again from there), and the total credit the sender has granted (initial window plus every WA,
/// including what no WA carried yet: the peer's send limit, as WAs lost with the old backbone do
/// not arrive).
struct rs_params {
  std::uint64_t received = 0;
  std::uint64_t granted = 0;
};
/// NR not_owner (a backbone refused by a PEP group member): the member that owns the receiver's
/// work unit now, its IPv4 address (host order; 0: none known yet, e.g. while the group elects).
struct not_owner_params {
  std::uint32_t owner = 0;
};
/// KA: the sender's clock (microseconds, any origin) and the last clock value it received.
struct ka_params {
  std::uint64_t sent_us = 0;
  std::uint64_t echo_us = 0;
};

namespace wire {

inline void put16(unsigned char* p, std::uint16_t v) noexcept {
  p[0] = static_cast<unsigned char>(v >> 8);
  p[1] = static_cast<unsigned char>(v);
}
inline void put32(unsigned char* p, std::uint32_t v) noexcept {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}
inline void put64(unsigned char* p, std::uint64_t v) noexcept {
  put32(p, static_cast<std::uint32_t>(v >> 32));
  put32(p + 4, static_cast<std::uint32_t>(v));
}
inline std::uint16_t get16(const unsigned char* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t get32(const unsigned char* p) noexcept {
  return (std::uint32_t{get16(p)} << 16) | get16(p + 2);
}
inline std::uint64_t get64(const unsigned char* p) noexcept {
  return (std::uint64_t{get32(p)} << 32) | get32(p + 4);
}

}  // namespace wire

/// RTD: `n` bytes of data at `offset` of the connection's byte stream.
template <class Buffer>
bool append_redundant(Buffer& out, const header& h, std::uint64_t offset, const void* data, std::size_t n);

/// Bytes `h` takes on the wire (length prefix excluded).
inline std::size_t header_bytes(const header& h) noexcept {
  return header_size + (h.has_connection ? connection_header_size : 0);
}

/// Appends one framed message (length prefix, header, then `body_size` bytes of `body`) to `out`
/// (any container of char / unsigned char with resize()). Returns false when the message does not
/// fit a frame (nothing appended).
template <class Buffer>
bool append(Buffer& out, const header& h, const void* body, std::size_t body_size) {
  const std::size_t n = header_bytes(h) + body_size;
  if (n > max_message) return false;
  const std::size_t at = out.size();
  out.resize(at + length_size + n);
  auto* p = reinterpret_cast<unsigned char*>(&out[at]);
  wire::put16(p, static_cast<std::uint16_t>(n));
  p += length_size;
  p[0] = static_cast<unsigned char>(h.type);
  p[1] = static_cast<unsigned char>((version << 6) | (h.push ? 0x20 : 0) | (h.has_connection ? 0x10 : 0) |
                                    (h.seq & 0x0f));
  wire::put16(p + 2, h.dst_cid);
  wire::put16(p + 4, h.src_cid);
  p += header_size;
  if (h.has_connection) {
    wire::put32(p, h.connection.dst_ip);
    wire::put32(p + 4, h.connection.src_ip);
    wire::put16(p + 8, h.connection.dst_port);
    wire::put16(p + 10, h.connection.src_port);
    p += connection_header_size;
  }
  if (body_size && body) std::memcpy(p, body, body_size);
  return true;
}

template <class Buffer>
bool append(Buffer& out, const header& h, const cr_params& c) {
  unsigned char b[8];
  wire::put16(b, c.mss);
  b[2] = c.priority;
  b[3] = c.flags;
  wire::put32(b + 4, c.window);
  return append(out, h, b, sizeof b);
}
template <class Buffer>
bool append(Buffer& out, const header& h, const ce_params& c) {
  unsigned char b[6];
  wire::put16(b, c.mss);
  wire::put32(b + 2, c.window);
  return append(out, h, b, sizeof b);
}
template <class Buffer>
bool append(Buffer& out, const header& h, reason r) {
  const unsigned char b = static_cast<unsigned char>(r);
  return append(out, h, &b, 1);
}
template <class Buffer>
bool append(Buffer& out, const header& h, const not_owner_params& n) {
  unsigned char b[5];
  b[0] = static_cast<unsigned char>(reason::not_owner);
  wire::put32(b + 1, n.owner);
  return append(out, h, b, sizeof b);
}
template <class Buffer>
bool append(Buffer& out, const header& h, const tpp_params& t) {
  unsigned char b[7];
  wire::put16(b, t.tid);
  wire::put32(b + 2, t.max_ccbs);
  b[6] = t.features;
  return append(out, h, b, sizeof b);
}
template <class Buffer>
bool append(Buffer& out, const header& h, const ka_params& k) {
  unsigned char b[16];
  wire::put64(b, k.sent_us);
  wire::put64(b + 8, k.echo_us);
  return append(out, h, b, sizeof b);
}
template <class Buffer>
bool append(Buffer& out, const header& h, const rs_params& r) {
  unsigned char b[16];
  wire::put64(b, r.received);
  wire::put64(b + 8, r.granted);
  return append(out, h, b, sizeof b);
}
/// WA: `bytes` the receiver delivered to its host (the sender may send that much more).
template <class Buffer>
bool append_window(Buffer& out, const header& h, std::uint32_t bytes) {
  unsigned char b[4];
  wire::put32(b, bytes);
  return append(out, h, b, sizeof b);
}

template <class Buffer>
bool append_redundant(Buffer& out, const header& h, std::uint64_t offset, const void* data, std::size_t n) {
  // The offset and the data are one body: build it in place after the header.
  const std::size_t at = out.size();
  if (!append(out, h, nullptr, 8 + n)) return false;
  auto* p = reinterpret_cast<unsigned char*>(&out[at]) + length_size + header_bytes(h);
  wire::put64(p, offset);
  if (n) std::memcpy(p + 8, data, n);
  return true;
}

/// CTD: one zstd frame (`frame_size` bytes) that restores `original` bytes of the connection's
/// stream; `original` is what the flow-control window and the stream offsets count.
inline constexpr std::size_t ctd_prefix = 2;  // the original size, before the frame
template <class Buffer>
bool append_compressed(Buffer& out, const header& h, std::size_t original, const void* frame,
                       std::size_t frame_size) {
  if (original == 0 || original > max_data) return false;
  const std::size_t at = out.size();
  if (!append(out, h, nullptr, ctd_prefix + frame_size)) return false;
  auto* p = reinterpret_cast<unsigned char*>(&out[at]) + length_size + header_bytes(h);
  wire::put16(p, static_cast<std::uint16_t>(original));
  if (frame_size) std::memcpy(p + ctd_prefix, frame, frame_size);
  return true;
}

/// One message cut out of the stream: its header and a view of its parameters or data.
struct message {
  header h;
  const unsigned char* body = nullptr;
  std::size_t body_size = 0;
};

enum class decode_status : std::uint8_t {
  ok,
  need_more,      // the frame is not complete yet: read more
  bad_length,     // a frame shorter than a header
  bad_version,
  bad_type,
  bad_parameters, // the body is too short for the type's parameters
};
inline const char* to_string(decode_status s) noexcept {
  constexpr const char* names[] = {"ok", "need_more", "bad_length", "bad_version", "bad_type", "bad_parameters"};
  return names[static_cast<std::uint8_t>(s)];
}

/// The body size each type needs at least.
inline std::size_t min_body(message_type t) noexcept {
  switch (t) {
    case message_type::cr: return 8;
    case message_type::ce: return 6;
    case message_type::ct:
    case message_type::nr: return 1;
    case message_type::tpp: return 6;
    case message_type::ka: return 16;
    case message_type::wa: return 4;
    case message_type::ud: return 2;
    case message_type::rtd: return 8;
    case message_type::ctd: return ctd_prefix + 1;  // the size and at least a byte of frame
    case message_type::rs: return 16;
    default: return 0;
  }
}

/// Decodes the frame at the start of [p, p + n). On ok, `used` is the frame's size (prefix
/// included) and `m` views into the input. A stream that yields anything but ok or need_more is
/// broken: the caller drops the backbone (a TLS stream cannot resynchronise).
inline decode_status decode(const unsigned char* p, std::size_t n, message& m, std::size_t& used) noexcept {
  if (n < length_size) return decode_status::need_more;
  const std::size_t len = wire::get16(p);
  if (len < header_size) return decode_status::bad_length;
  if (n < length_size + len) return decode_status::need_more;
  const unsigned char* q = p + length_size;
  if ((q[1] >> 6) != version) return decode_status::bad_version;
  if (q[0] > max_message_type) return decode_status::bad_type;
  m.h.type = static_cast<message_type>(q[0]);
  m.h.push = (q[1] & 0x20) != 0;
  m.h.has_connection = (q[1] & 0x10) != 0;
  m.h.seq = q[1] & 0x0f;
  m.h.dst_cid = wire::get16(q + 2);
  m.h.src_cid = wire::get16(q + 4);
  std::size_t at = header_size;
  if (m.h.has_connection) {
    if (len < header_size + connection_header_size) return decode_status::bad_length;
    m.h.connection.dst_ip = wire::get32(q + at);
    m.h.connection.src_ip = wire::get32(q + at + 4);
    m.h.connection.dst_port = wire::get16(q + at + 8);
    m.h.connection.src_port = wire::get16(q + at + 10);
    at += connection_header_size;
  }
  m.body = q + at;
  m.body_size = len - at;
  if (m.body_size < min_body(m.h.type)) return decode_status::bad_parameters;
  if (m.h.type == message_type::ctd) {
    // A restored size the stream cannot hold is a broken peer, before any decompression.
    const std::size_t original = wire::get16(m.body);
    if (original == 0 || original > max_data) return decode_status::bad_parameters;
  }
  used = length_size + len;
  return decode_status::ok;
}

inline cr_params read_cr(const message& m) noexcept {
  return {wire::get16(m.body), m.body[2], m.body[3], wire::get32(m.body + 4)};
}
inline ce_params read_ce(const message& m) noexcept { return {wire::get16(m.body), wire::get32(m.body + 2)}; }
inline reason read_reason(const message& m) noexcept {
  return m.body[0] <= max_reason ? static_cast<reason>(m.body[0]) : reason::none;
}
/// NR not_owner's owner (0 when the body carries none).
inline not_owner_params read_not_owner(const message& m) noexcept {
  return {m.body_size >= 5 ? wire::get32(m.body + 1) : 0u};
}
inline tpp_params read_tpp(const message& m) noexcept {
  return {wire::get16(m.body), wire::get32(m.body + 2), m.body_size > 6 ? m.body[6] : std::uint8_t{0}};
}
inline ka_params read_ka(const message& m) noexcept { return {wire::get64(m.body), wire::get64(m.body + 8)}; }
inline std::uint32_t read_window(const message& m) noexcept { return wire::get32(m.body); }
inline rs_params read_rs(const message& m) noexcept { return {wire::get64(m.body), wire::get64(m.body + 8)}; }
/// RTD: the offset of its data in the connection's byte stream (the data follows it).
inline std::uint64_t read_offset(const message& m) noexcept { return wire::get64(m.body); }
/// CTD: the size the frame restores (decode() checked it is 1..max_data) and the frame.
struct compressed_view {
  std::size_t original = 0;
  const unsigned char* frame = nullptr;
  std::size_t frame_size = 0;
};
inline compressed_view read_compressed(const message& m) noexcept {
  return {wire::get16(m.body), m.body + ctd_prefix, m.body_size - ctd_prefix};
}

}  // namespace baton::protocol::tsk
