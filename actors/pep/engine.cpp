// The PEP endpoint's stream engine. See engine.hpp; the message flow follows document 003's
// Figures 4A/4B (establishment) and 28-33 (termination).

#include "actors/pep/engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "actors/runtime/cpu_affinity.hpp"
#include "actors/runtime/event_log.hpp"
#include "net/packet/tcp_reset.hpp"
#include "net/pep/compressor.hpp"
#include "net/pep/interception.hpp"
#include "net/sched/priority_queues.hpp"
#include "policy/rules.hpp"

namespace baton::pep {

namespace {

using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using tls_stream = asio::ssl::stream<tcp::socket>;
namespace tsk = protocol::tsk;

constexpr std::size_t read_chunk = 32 * 1024;       // one read from a host, one TD (or a few)
constexpr std::size_t high_water = 1u << 20;         // a priority's backlog in user space: its hosts pause
constexpr std::size_t low_water = 256u << 10;        // ... and resume below this
constexpr std::size_t top_priority = net::priority_queues::top;  // backbone messages (TPP, KA, WA)
constexpr std::size_t min_unsent = 4096;             // TCP_NOTSENT_LOWAT floor: a few segments
constexpr std::size_t unbounded_batch = 256u << 10;  // unsent_ms 0: large writes, the kernel queues
constexpr auto unsent_retune = std::chrono::milliseconds(100);  // pacing rate re-read this often
constexpr double pacing_share = 0.97;  // of a path's TCP payload rate the backbone is paced at
constexpr std::uint32_t max_unsent_boost = 16;  // the unsent bound grows at most to unsent_ms * 16 ...
constexpr auto unsent_boost_hold = std::chrono::seconds(10);  // ... and halves after this without a dry spell
constexpr std::size_t backbone_read_buffer = 256u << 10;
constexpr std::uint32_t route_table = 7401;
constexpr auto unspoofed_memory = std::chrono::seconds(10);  // [189]'s "unspoofed" timer
constexpr std::size_t detached = ~std::size_t{0};  // a CCB's backbone while every path is down (held)

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch()).count());
}

std::string ip(std::uint32_t a) { return policy::format_ipv4(a); }

/// A connection as the local side sees it: the host on our LAN, the far host.
struct conn_key {
  std::uint32_t host_ip, remote_ip;
  std::uint16_t host_port, remote_port;
  bool operator<(const conn_key& o) const noexcept {
    return std::tie(host_ip, remote_ip, host_port, remote_port) <
           std::tie(o.host_ip, o.remote_ip, o.host_port, o.remote_port);
  }
};
conn_key key_of(const tsk::connection_header& c) { return {c.src_ip, c.dst_ip, c.src_port, c.dst_port}; }

enum class ccb_state : std::uint8_t {
  syn_held,         // initiator, handshake not spoofed: the host's SYN waits for CE
  awaiting_accept,  // initiator: the SYN was let through to the listener, the accept is coming
  connecting,       // responder: connecting to the local host for the peer's CR
  open,             // data both ways
};
const char* to_string(ccb_state s) {
  constexpr const char* names[] = {"syn_held", "awaiting_accept", "connecting", "open"};
  return names[static_cast<int>(s)];
}

enum class bb_state : std::uint8_t { dialling, handshake, up, down };
const char* to_string(bb_state s) {
  constexpr const char* names[] = {"dialling", "handshake", "up", "down"};
  return names[static_cast<int>(s)];
}

using chunk = std::shared_ptr<std::vector<unsigned char>>;

/// The kernel's tcp_info past what glibc's header declares (linux/tcp.h cannot be included with
/// netinet/tcp.h, which Asio includes): the fields up to the bytes sent, in the kernel's order.
struct kernel_tcp_info {
  tcp_info base;  // glibc's part, up to tcpi_total_retrans
  std::uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  std::uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  std::uint64_t delivery_rate;
  std::uint64_t busy_time, rwnd_limited, sndbuf_limited;
  std::uint32_t delivered, delivered_ce;
  std::uint64_t bytes_sent, bytes_retrans;  // Linux 4.19+
};

/// Document 003's connection control block.
struct ccb {
  std::uint32_t generation = 0;
  bool used = false;
  ccb_state state = ccb_state::open;
  std::uint16_t cid = 0, peer_cid = tsk::unknown_cid;
  std::size_t backbone = 0;     // `detached`: held while no path to its peer is up
  std::string peer;             // its PEP peer (the same over every backbone it moves to)
  tsk::connection_header conn;  // as this side sees it: src = the local host
  bool initiator = false;
  std::string profile;
  bool three_way_spoofed = false;
  std::uint16_t mss = 0;         // initiator: the host's SYN MSS (sent in CR); responder: the CR's
  std::uint16_t advertised_mss = 0;  // initiator: the MSS the host was given
  std::uint32_t syn_id = 0, syn_seq = 0;
  bool pass_when_refused = true;  // the profile's disposition
  std::unique_ptr<tcp::socket> sock;
  std::unique_ptr<asio::steady_timer> timer;
  bool ce = false;  // initiator: CE received; responder: connected and CE sent
  bool local_fin = false, peer_fin = false, shut_sent = false;
  bool reading = false, writing = false, parked = false;
  std::deque<chunk> to_host;
  std::size_t to_host_bytes = 0;
  std::uint64_t sent = 0, send_limit = 0;
  std::uint64_t delivered_unreported = 0;
  std::uint64_t rx_primary = 0;    // TD bytes received in order (their offsets are implicit)
  std::uint64_t rx_accepted = 0;   // bytes accepted toward the host, from TD or RTD
  std::uint64_t bytes_from_host = 0, bytes_to_host = 0;
  std::uint8_t seq_out = 0;
  bool encrypt = false;            // the profile's: never passed in clear
  bool compress = false;           // data toward the peer goes as CTD when it pays
  net::compress_gate gate;
  std::uint64_t compress_in = 0, compress_out = 0;
  std::uint8_t priority = 0;  // its profile's (initiator) or the CR's (responder): every message
                              // of the connection waits in this priority's backbone queue
  // Document 003's PSK: a movable connection keeps what it sent until the peer acknowledges it,
  // so it can continue on another backbone (RS) when its path fails or a preferred one returns.
  bool movable = false;
  std::deque<chunk> kept;          // bytes sent, from offset kept_from, not yet acknowledged
  std::uint64_t kept_from = 0;
  std::uint64_t kept_bytes = 0;
  std::uint64_t peer_window0 = 0;  // the window the peer granted first (CR or CE): send_limit
                                   // minus it is what the peer delivered to its host
  std::uint64_t granted = 0;       // credit granted to the peer in total (window + WAs)
  bool resuming = false;           // RS sent on its new backbone, the peer's not yet received:
                                   // nothing of the connection's data is sent meanwhile
  std::vector<std::string> paths;  // initiator: its profile's path preference
  std::uint32_t moves = 0;
};

struct backbone {
  std::uint32_t generation = 0;
  bool used = false;
  std::string peer;
  std::string path;                 // the peer's path it runs on ("" when the peer lists none)
  std::uint32_t local = 0;          // the dial's source address (0: any)
  std::uint32_t address = 0;
  std::uint16_t port = 0;
  bool dialled = false;
  // Carries the top priority's connections only (pep.top_backbone; document 003 keys a backbone by
  // peer and priority): the dialler's choice, learnt by the side that accepted it from the TPP.
  bool top = false;
  bb_state state = bb_state::down;
  std::unique_ptr<tls_stream> stream;
  net::priority_queues queues;           // document 003's PK: messages waiting for the stream
  std::vector<unsigned char> writing_buf;  // the batch being written (reused)
  std::size_t batch = unbounded_batch;     // bytes per write: half the socket's unsent bound
  std::uint32_t unsent_limit = 0;          // TCP_NOTSENT_LOWAT set on the socket (0: none)
  std::uint64_t pacing_rate = 0;           // the kernel's, bytes/s, when unsent_limit was set
  steady::time_point unsent_tuned;
  std::unique_ptr<asio::steady_timer> pace;  // the next batch, when the socket's unsent drains
  bool pacing = false;
  std::uint64_t max_pacing = 0;            // SO_MAX_PACING_RATE set from the path's rate, bytes/s (0: none)
  // The socket ran dry while data waited in user space (the pump woke too late): the kernel then
  // marks its rate samples app-limited, and BBR, which leaves STARTUP only on rounds that are not,
  // stays there (pacing at 2.89 times its estimate, a window of 2.89 BDP) and fills the link's
  // queue. Each dry spell doubles the bound (boost), which halves again after a quiet while.
  bool waited = false;                     // the pump is waiting for the unsent bytes to drain
  std::uint32_t boost = 1;                 // the bound is unsent_ms * boost
  std::uint32_t mss = 1448;                // the socket's, for the dry check
  std::uint64_t dry = 0;                   // dry spells since the backbone came up
  steady::time_point boosted;              // the last dry spell or halving
  bool writing = false, reading = false;
  std::vector<unsigned char> in;
  std::size_t in_len = 0;
  std::unique_ptr<asio::steady_timer> timer;
  steady::time_point last_heard;
  std::uint64_t peer_clock = 0;       // the last KA sent_us from the peer
  steady::time_point peer_clock_at;   // when it arrived
  double ka_rtt_ms = 0;
  std::uint16_t peer_tid = 0;
  std::uint32_t peer_max_ccbs = 65534;
  bool peer_reads_ctd = false;        // its TPP said so: our CRs may ask for compression
  bool peer_reads_rs = false;         // its TPP said so: connections may move (RS)
  std::uint64_t moved_in = 0, moved_out = 0;  // connections moved onto / off it since it came up
  std::string tls;                    // negotiated version and cipher
  std::uint64_t bytes_in = 0, bytes_out = 0, messages_in = 0, messages_out = 0;
  // (cid, generation) waiting for room in their priority's queue
  std::array<std::deque<std::pair<std::uint16_t, std::uint32_t>>, net::priority_queues::levels> parked;
  std::uint32_t connections = 0;
  // Hub PEP groups (pep.group): an accepted backbone refused here (NR not_owner sent; closed when
  // the branch closes it, or after refuse_linger). A dialled one to a peer that lists members:
  // which member it goes to, how many dials in a row found no owner, and whether an NR named the
  // next one to try.
  bool refusing = false;
  std::size_t member = 0;
  std::uint32_t tries = 0;
  bool redirected = false;
};

constexpr auto refuse_linger = std::chrono::seconds(2);

/// Where a peer's backbone may be dialled: its address, then its group members (pep_peer::members).
std::vector<std::uint32_t> candidates(const policy::pep_peer& p) {
  std::vector<std::uint32_t> out{p.address};
  for (auto a : p.members)
    if (a != p.address) out.push_back(a);
  return out;
}

template <std::size_t N>
std::vector<std::pair<std::string, std::uint64_t>> by_reason(const std::array<std::uint64_t, N>& a) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (std::size_t i = 0; i < N; ++i)
    if (a[i]) out.emplace_back(tsk::to_string(static_cast<tsk::reason>(i)), a[i]);
  return out;
}

}  // namespace

struct engine::impl {
  policy::policy pol;
  policy::pep_section sec;
  node::event_log& events;
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls};
  std::unique_ptr<net::syn_queue> queue;
  std::unique_ptr<asio::posix::stream_descriptor> queue_fd;
  std::unique_ptr<tcp::acceptor> listener;
  std::unique_ptr<tcp::acceptor> backbone_listener;
  int raw_fd = -1;  // refusals: RSTs on behalf of the far host
  std::vector<std::unique_ptr<ccb>> ccbs;  // by CID
  // Freed CIDs are reused last (FIFO): a copy still on its way over the second backbone for an
  // ended connection must not find a new connection under the same CID.
  std::deque<std::uint16_t> free_cids;
  std::map<conn_key, std::uint16_t> by_key;
  std::map<std::pair<std::string, std::uint16_t>, std::uint16_t> by_peer_cid;  // (peer, peer CID)
  std::map<conn_key, steady::time_point> unspoofed;  // refused by the peer: a retry passes unspoofed
  // Responder CCBs that ended lately, by (peer, the peer's CID): a CR copy from the second
  // backbone that arrives after its connection ended must not open it again.
  std::map<std::pair<std::string, std::uint16_t>, steady::time_point> ended;
  std::vector<std::unique_ptr<backbone>> backbones;
  // (peer, path, top) -> the backbone we dial for it
  std::map<std::tuple<std::string, std::string, bool>, std::size_t> dialled;
  pep_counters c;
  std::array<std::uint64_t, tsk::max_reason + 1> ct_sent{}, ct_received{}, nr_sent{}, nr_received{};
  std::thread thread;
  std::array<unsigned char, read_chunk> scratch{};  // every host read lands here (one thread)
  // One compressor for every connection (the engine has one thread) and one buffer CTDs are
  // restored into before they join the host's queue: nothing is allocated per chunk for either.
  net::chunk_compressor zip{read_chunk};
  std::vector<unsigned char> inflated = std::vector<unsigned char>(tsk::max_data);
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work;
  bool started = false;
  bool removing = false;  // apply(): a removed peer's backbones close, their connections reset
  // Hub PEP group (pep.group): the group's state, and each branch seen here.
  group_state grp;
  struct branch_record {
    std::uint32_t unit = 0;
    std::uint64_t accepted = 0, refused = 0, dropped = 0;
  };
  std::map<std::string, branch_record> branches;
  net::interception_config icfg;

  impl(const policy::policy& p, node::event_log& e) : pol(p), sec(*p.pep), events(e) {}

  // --- logging -------------------------------------------------------------------------------
  void log(node::severity s, std::string name, std::vector<std::pair<std::string, std::string>> f = {}) {
    events.add(s, std::move(name), std::move(f));
  }

  // --- TLS -----------------------------------------------------------------------------------
  void setup_tls() {
    if (pol.identity.certificate.empty() || pol.identity.key.empty() || pol.identity.ca.empty()) {
      if (!sec.peers.empty())
        throw std::runtime_error("pep: backbones need /identity/certificate, key and ca");
      return;
    }
    // Every backbone byte crosses the WAN; TLS 1.3 only: its suites are all AEAD with forward
    // secrecy, and its handshake encrypts the certificates. A peer offering less is refused.
    if (SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_3_VERSION) != 1)
      throw std::runtime_error("pep: this OpenSSL cannot require TLS 1.3 for backbones");
    asio::error_code ec;
    tls.use_certificate_chain_file(pol.identity.certificate, ec);
    if (ec) throw std::runtime_error("pep: certificate " + pol.identity.certificate + ": " + ec.message());
    tls.use_private_key_file(pol.identity.key, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("pep: key " + pol.identity.key + ": " + ec.message());
    tls.load_verify_file(pol.identity.ca, ec);
    if (ec) throw std::runtime_error("pep: CA " + pol.identity.ca + ": " + ec.message());
    tls.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }

  // --- start and stop --------------------------------------------------------------------------
  void start() {
    setup_tls();
    icfg.lan = sec.lan;
    icfg.queue = sec.queue;
    icfg.listen_port = sec.listen_port;
    icfg.route_table = route_table;
    ccbs.resize(sec.max_connections);
    for (std::size_t i = 0; i < ccbs.size(); ++i) free_cids.push_back(static_cast<std::uint16_t>(i));
    try {
      open_listener();
      open_backbone_listener();
      raw_fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
      if (raw_fd < 0) throw std::runtime_error(std::string("pep: raw socket for refusals: ") + std::strerror(errno));
      queue = std::make_unique<net::syn_queue>(sec.queue, [this](const net::queued_syn& s) { on_syn(s); });
      queue_fd = std::make_unique<asio::posix::stream_descriptor>(io, ::dup(queue->fd()));
      net::install_interception(icfg);
    } catch (...) {
      net::remove_interception(icfg);
      throw;
    }
    keep_backbones_warm();
    wait_queue();
    accept_next();
    accept_backbone();
    // A hub group member does not dial its branches: each branch dials the group, and the member
    // that owns its unit serves it (listed branches give names and prefixes).
    if (!sec.group)
      for (const auto& p : sec.peers) dial_all(p);
    work = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(io.get_executor());
    started = true;
    log(node::severity::info, "pep_started",
        {{"lan", sec.lan}, {"listener", std::to_string(sec.listen_port)},
         {"backbone_port", std::to_string(sec.backbone_port)}, {"peers", std::to_string(sec.peers.size())}});
    // The relay carries traffic: any CPU, not only the control plane's.
    node::start_data_path_thread([this] { thread = std::thread([this] { io.run(); }); });
  }

  /// RFC 2861's congestion window validation (Linux: net.ipv4.tcp_slow_start_after_idle) shrinks
  /// a backbone's window while only keepalives flow, so the next burst needs extra round trips
  /// (600 ms each here): a 100 KB fetch took 2 RTTs instead of 1. The backbone is the PEP's
  /// reason to exist, so the node's setting is turned off, and said so.
  void keep_backbones_warm() {
    const char* path = "/proc/sys/net/ipv4/tcp_slow_start_after_idle";
    std::FILE* f = std::fopen(path, "r");
    int value = -1;
    if (f) {
      if (std::fscanf(f, "%d", &value) != 1) value = -1;
      std::fclose(f);
    }
    if (value != 1) return;
    f = std::fopen(path, "w");
    const bool ok = f && std::fputs("0\n", f) >= 0;
    if (f) std::fclose(f);
    log(ok ? node::severity::info : node::severity::warning, "pep_sysctl",
        {{"name", "net.ipv4.tcp_slow_start_after_idle"}, {"was", "1"}, {"now", ok ? "0" : "1 (not writable)"},
         {"why", "an idle backbone would lose its congestion window between bursts"}});
  }

  void open_listener() {
    listener = std::make_unique<tcp::acceptor>(io);
    listener->open(tcp::v4());
    int one = 1;
    ::setsockopt(listener->native_handle(), SOL_IP, IP_TRANSPARENT, &one, sizeof one);
    listener->set_option(tcp::acceptor::reuse_address(true));
    asio::error_code ec;
    listener->bind(tcp::endpoint(asio::ip::address_v4::any(), sec.listen_port), ec);
    if (ec) throw std::runtime_error("pep: listener port " + std::to_string(sec.listen_port) + ": " + ec.message());
    listener->listen(4096);
  }

  void open_backbone_listener() {
    backbone_listener = std::make_unique<tcp::acceptor>(io);
    backbone_listener->open(tcp::v4());
    backbone_listener->set_option(tcp::acceptor::reuse_address(true));
    tune_backbone_socket(backbone_listener->native_handle());  // accepted sockets inherit it
    asio::error_code ec;
    backbone_listener->bind(tcp::endpoint(asio::ip::address_v4::any(), sec.backbone_port), ec);
    if (ec)
      throw std::runtime_error("pep: backbone port " + std::to_string(sec.backbone_port) + ": " + ec.message());
    backbone_listener->listen(64);
  }

  void stop() {
    for (auto& cp : ccbs)
      if (cp && cp->used) {
        if (cp->state == ccb_state::syn_held) {
          if (cp->encrypt) refuse_held(*cp);
          else queue->accept(cp->syn_id, net::pep_mark_pass);
        } else if (cp->peer_cid != tsk::unknown_cid || cp->initiator) send_ct(*cp, tsk::reason::shutdown);
        reset_host(*cp);
        free_ccb(*cp);
      }
    for (auto& b : backbones)
      if (b && b->used && b->stream) {
        asio::error_code ec;
        b->stream->lowest_layer().close(ec);
      }
    if (listener) listener->close();
    if (backbone_listener) backbone_listener->close();
    if (queue_fd) queue_fd->close();
    work.reset();
    io.stop();
  }

  // --- SYN verdicts (document 003 [98]) --------------------------------------------------------
  void wait_queue() {
    queue_fd->async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
      if (ec) return;
      queue->drain();
      wait_queue();
    });
  }

  /// A SYN of an encrypt profile that no backbone can carry: refused (RST), never passed.
  void refuse_unencrypted(const net::queued_syn& s) {
    ++c.syns_refused_unencrypted;
    refuse(s.id, s.fields.src, s.fields.dst, s.fields.src_port, s.fields.dst_port, s.seq);
  }

  /// A SYN the profile would spoof but cannot be: passed unspoofed or refused, as it says.
  void not_spoofable(const net::queued_syn& s, bool pass) {
    ++c.syns_not_spoofable;
    if (pass) queue->accept(s.id, net::pep_mark_pass);
    else refuse(s.id, s.fields.src, s.fields.dst, s.fields.src_port, s.fields.dst_port, s.seq);
  }

  void on_syn(const net::queued_syn& s) {
    const auto& pr = pol.profiles[sec.rules.match_profile(s.fields)];
    if (pr.action == policy::profile_action::drop) {
      ++c.syns_refused;
      queue->drop(s.id);
      return;
    }
    const policy::pep_peer* peer = pr.spoof ? sec.peer_for(s.fields.dst) : nullptr;
    const conn_key key{s.fields.src, s.fields.dst, s.fields.src_port, s.fields.dst_port};
    if (!peer) {
      if (pr.encrypt) return refuse_unencrypted(s);  // no backbone toward it: it would cross in clear
      ++c.syns_unspoofed;
      queue->accept(s.id, net::pep_mark_pass);
      return;
    }
    if (auto u = unspoofed.find(key); u != unspoofed.end()) {
      if (steady::now() < u->second) {
        if (pr.encrypt) return refuse_unencrypted(s);
        ++c.syns_unspoofed;
        queue->accept(s.id, net::pep_mark_pass);
        return;
      }
      unspoofed.erase(u);
    }
    if (auto it = by_key.find(key); it != by_key.end()) {
      auto& old = *ccbs[it->second];
      if (old.state == ccb_state::syn_held) ++c.syns_held_retransmitted;
      else ++c.syns_previous_incarnation;
      queue->drop(s.id);
      return;
    }
    // "forward" passes a connection that cannot be spoofed in clear: never one that says encrypt.
    const bool pass = pr.disposition == policy::profile_disposition::forward && !pr.encrypt;
    backbone* b = choose(*peer, pr.paths, nullptr, wants_top(pr.priority));
    if (!b || free_cids.empty() || b->connections >= b->peer_max_ccbs) {
      if (pr.encrypt) ++c.syns_refused_unencrypted;
      return not_spoofable(s, pass);
    }
    auto& x = alloc_ccb();
    x.state = pr.three_way_handshake ? ccb_state::awaiting_accept : ccb_state::syn_held;
    x.backbone = index_of(*b);
    x.peer = b->peer;
    x.conn = {s.fields.dst, s.fields.src, s.fields.dst_port, s.fields.src_port};
    x.initiator = true;
    x.profile = pr.name;
    x.three_way_spoofed = pr.three_way_handshake;
    x.mss = s.mss;
    x.syn_id = s.id;
    x.syn_seq = s.seq;
    x.pass_when_refused = pass;
    x.encrypt = pr.encrypt;
    // Both directions compress when the profile says so and the peer reads CTD (its TPP).
    x.compress = pr.compress && b->peer_reads_ctd;
    x.priority = pr.priority;
    // The peer's window is not known before CE; both ends run the same policy default.
    x.send_limit = window();
    x.granted = window();  // the CR's
    x.paths = pr.paths;
    // Movable when there is another path to move to and the peer reads RS.
    x.movable = b->peer_reads_rs && peer->paths.size() > 1;
    by_key[key] = x.cid;
    ++b->connections;
    ++c.syns_spoofed;
    tsk::header h = header(x, tsk::message_type::cr);
    h.has_connection = true;
    h.connection = x.conn;
    tsk::cr_params cr{x.mss, pr.priority,
                      static_cast<std::uint8_t>((pr.three_way_handshake ? tsk::cr_three_way_spoofed : 0) |
                                                (x.compress ? tsk::cr_compress : 0) |
                                                (x.movable ? tsk::cr_movable : 0)),
                      static_cast<std::uint32_t>(window())};
    send(*b, x.priority, h, cr);
    if (backbone* copy = redundant_bytes() ? second_backbone(x) : nullptr) {
      tsk::cr_params marked = cr;
      marked.flags |= tsk::cr_copy;
      send(*copy, x.priority, h, marked);
    }
    if (pr.three_way_handshake) {
      // Figure 4A: the host is answered at once, with the profile's MSS (else the kernel's).
      x.advertised_mss = pr.mss;
      let_syn_through(x, pr.mss);
    } else {
      // Figure 4B: the SYN waits for CE. A far side that never answers is the peer's to report
      // (CT no_response after its connect timeout); this guard covers a peer that says nothing.
      arm_timer(x, std::chrono::milliseconds(sec.connect_timeout_ms + sec.backbone_timeout_ms),
                [this](ccb& y) {
                  if (y.state != ccb_state::syn_held) return;
                  ++ct_sent[static_cast<int>(tsk::reason::no_response)];
                  send_ct(y, tsk::reason::no_response);
                  refuse_held(y);
                  free_ccb(y);
                });
    }
  }

  /// Lets the held SYN reach the listener; the SYN-ACK carries `mss` when non-zero (the
  /// listener's TCP_MAXSEG is read when the kernel answers, inside the verdict call).
  void let_syn_through(ccb& x, std::uint16_t mss) {
    const int fd = listener->native_handle();
    if (mss) {
      int v = mss;
      ::setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v);
    }
    queue->accept(x.syn_id, net::pep_mark_spoof);
    if (mss) {
      int zero = 0;
      ::setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &zero, sizeof zero);
    }
    x.state = ccb_state::awaiting_accept;
  }

  /// Answers a SYN on behalf of the far host with RST+ACK (connection refused) and drops it.
  void refuse(std::uint32_t syn_id, std::uint32_t host, std::uint32_t remote, std::uint16_t host_port,
              std::uint16_t remote_port, std::uint32_t seq) {
    queue->drop(syn_id);
    std::uint8_t pkt[net::tcp_reset_size];
    net::tcp_reset_fields f{remote, host, remote_port, host_port, 0, true, seq + 1};
    net::write_tcp_reset(net::bytes_span(pkt, sizeof pkt), f);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(host);
    ::sendto(raw_fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ++c.refusals_sent;
  }
  void refuse_held(ccb& x) {
    refuse(x.syn_id, x.conn.src_ip, x.conn.dst_ip, x.conn.src_port, x.conn.dst_port, x.syn_seq);
  }

  // --- the transparent listener ----------------------------------------------------------------
  void accept_next() {
    listener->async_accept([this](const asio::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) on_accept(std::move(s));
      accept_next();
    });
  }

  void on_accept(tcp::socket s) {
    ++c.accepts;
    asio::error_code ec;
    const auto local = s.local_endpoint(ec);   // the far host the client meant (tproxy keeps it)
    const auto remote = s.remote_endpoint(ec);
    if (ec) return;
    const conn_key key{remote.address().to_v4().to_uint(), local.address().to_v4().to_uint(), remote.port(),
                       local.port()};
    auto it = by_key.find(key);
    if (it == by_key.end() || ccbs[it->second]->state != ccb_state::awaiting_accept) {
      ++c.accepts_orphan;
      reset_socket(s);
      return;
    }
    auto& x = *ccbs[it->second];
    x.sock = std::make_unique<tcp::socket>(std::move(s));
    asio::error_code nb;
    x.sock->non_blocking(true, nb);
    tune_host_socket(x.sock->native_handle());
    x.state = ccb_state::open;
    read_host(x);
    write_host(x);
  }

  void tune_host_socket(int fd) {
    unsigned timeout = sec.user_timeout_ms;
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
    // Urgent data stays in the stream (the kernel would otherwise keep the urgent byte out of
    // band, and it would be lost on the way); its urgency is not carried (no UD messages).
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
  }

  static void reset_socket(tcp::socket& s) {
    asio::error_code ec;
    s.set_option(asio::socket_base::linger(true, 0), ec);
    s.close(ec);
  }

  // --- CCBs ------------------------------------------------------------------------------------
  std::uint64_t window() const { return std::uint64_t{sec.window_kbyte} * 1024; }

  ccb& alloc_ccb() {
    const std::uint16_t cid = free_cids.front();
    free_cids.pop_front();
    if (!ccbs[cid]) ccbs[cid] = std::make_unique<ccb>();
    auto& x = *ccbs[cid];
    const auto gen = x.generation + 1;
    x = ccb{};
    x.generation = gen;
    x.used = true;
    x.cid = cid;
    ++c.connections;
    return x;
  }

  void free_ccb(ccb& x) {
    if (!x.used) return;
    if (x.timer) x.timer->cancel();
    if (x.sock) {
      asio::error_code ec;
      x.sock->close(ec);
    }
    by_key.erase(key_of(x.conn));
    if (x.peer_cid != tsk::unknown_cid) {
      by_peer_cid.erase({peer_of(x), x.peer_cid});
      if (!x.initiator && redundant_bytes()) {
        const auto now = steady::now();
        if (ended.size() > 4 * ccbs.size())  // bounded: forget what is past the horizon
          for (auto it = ended.begin(); it != ended.end();) it = it->second < now ? ended.erase(it) : std::next(it);
        ended[{peer_of(x), x.peer_cid}] = now + std::chrono::seconds(30);
      }
    }
    if (x.backbone < backbones.size() && backbones[x.backbone] && backbones[x.backbone]->connections)
      --backbones[x.backbone]->connections;
    x.used = false;
    ++x.generation;
    x.to_host.clear();
    x.kept.clear();
    x.sock.reset();
    free_cids.push_back(x.cid);
    --c.connections;
  }

  /// A handler's check that its CCB is still the incarnation it was started for.
  ccb* live(std::uint16_t cid, std::uint32_t gen) {
    if (cid >= ccbs.size() || !ccbs[cid]) return nullptr;
    auto* x = ccbs[cid].get();
    return x->used && x->generation == gen ? x : nullptr;
  }

  template <class F>
  void arm_timer(ccb& x, std::chrono::milliseconds after, F f) {
    if (!x.timer) x.timer = std::make_unique<asio::steady_timer>(io);
    x.timer->expires_after(after);
    x.timer->async_wait([this, cid = x.cid, gen = x.generation, f](const asio::error_code& ec) mutable {
      if (ec) return;
      if (auto* y = live(cid, gen)) f(*y);
    });
  }

  /// Toward the local host: RST (a held SYN is refused instead).
  void reset_host(ccb& x) {
    if (x.state == ccb_state::syn_held) {
      refuse_held(x);
      return;
    }
    if (x.sock) {
      reset_socket(*x.sock);
      ++c.resets_to_host;
    }
  }

  tsk::header header(ccb& x, tsk::message_type t) {
    tsk::header h;
    h.type = t;
    h.dst_cid = x.peer_cid;
    h.src_cid = x.cid;
    h.seq = x.seq_out++ & 0x0f;
    return h;
  }

  void send_ct(ccb& x, tsk::reason r) {
    backbone* b = backbone_of(x);
    if (!b) return;
    tsk::header h = header(x, tsk::message_type::ct);
    h.has_connection = true;
    h.connection = x.conn;
    ++ct_sent[static_cast<int>(r)];
    send(*b, x.priority, h, r);
  }

  /// The host side failed (RST, timeout): CT to the peer, free the CCB.
  void host_failed(ccb& x, const asio::error_code& ec) {
    const tsk::reason r = ec == asio::error::timed_out ? tsk::reason::no_response : tsk::reason::rst_from_host;
    send_ct(x, r);
    if (x.sock) reset_socket(*x.sock);
    free_ccb(x);
  }

  /// Reads from the host while the peer's window and the backbone's backlog allow ([197]).
  /// `resumed`: its turn came in resume_parked().
  void read_host(ccb& x, bool resumed = false) {
    if (x.reading || x.local_fin || !x.sock || x.state != ccb_state::open || x.resuming) return;
    backbone* b = backbone_of(x);
    if (!b) return;
    if (x.sent >= x.send_limit) return;  // resumed by WA
    // Behind connections of its priority already parked, whatever the backlog: else one that
    // comes back on its own (a WA) while the backlog is between the marks takes every turn, and
    // the parked ones, waiting for the low mark, never get one (a second transfer at the same
    // priority starved for a whole bulk transfer in the benchmark).
    if (b->queues.queued(x.priority) >= high_water || (!resumed && !b->parked[x.priority].empty())) {
      if (!x.parked) {
        x.parked = true;
        b->parked[x.priority].emplace_back(x.cid, x.generation);
      }
      return;
    }
    // Wait for data, then read it into the engine's one scratch buffer and frame it at once: a
    // connection holds no read buffer of its own (1000 idle connections cost no 32 KiB each).
    x.reading = true;
    x.sock->async_wait(tcp::socket::wait_read, [this, cid = x.cid, gen = x.generation](const asio::error_code& ec) {
      ccb* y = live(cid, gen);
      if (!y) return;
      y->reading = false;
      if (ec) return host_failed(*y, ec);
      if (y->resuming) return;  // moved meanwhile: read again once the peer's RS came
      if (y->local_fin || y->sent >= y->send_limit) return read_host(*y);
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(read_chunk, y->send_limit - y->sent));
      asio::error_code rec;
      const std::size_t got = y->sock->read_some(asio::buffer(scratch.data(), n), rec);
      if (rec == asio::error::would_block || rec == asio::error::try_again) return read_host(*y);
      if (rec == asio::error::eof) return host_fin(*y);
      if (rec) return host_failed(*y, rec);
      from_host(*y, scratch.data(), got);
      read_host(*y);
    });
  }

  void from_host(ccb& x, const unsigned char* data, std::size_t n) {
    backbone* b = backbone_of(x);
    if (!b) return;
    x.sent += n;
    x.bytes_from_host += n;
    c.bytes_from_hosts += n;
    if (x.movable) {
      x.kept.push_back(std::make_shared<std::vector<unsigned char>>(data, data + n));
      x.kept_bytes += n;
    }
    const std::uint64_t first = x.sent - n;  // the offset of these bytes in the stream
    backbone* copy = first < redundant_bytes() ? second_backbone(x) : nullptr;
    std::size_t at = 0;
    // TDs no larger than a batch: a message is the scheduler's unit, so a top-priority message
    // waits behind at most one of them.
    const std::size_t max_piece = std::min(tsk::max_data, std::max<std::size_t>(b->batch, 1024));
    while (at < n) {
      const std::size_t piece = std::min(n - at, max_piece);
      tsk::header h = header(x, tsk::message_type::td);
      h.push = at + piece == n;
      if (!x.compress || !send_compressed(x, *b, h, data + at, piece)) send_raw(*b, x.priority, h, data + at, piece);
      if (copy && first + at < redundant_bytes()) {
        tsk::header r = h;
        r.type = tsk::message_type::rtd;
        emit(*copy, x.priority, [&](auto& out) { tsk::append_redundant(out, r, first + at, data + at, piece); });
        ++c.redundant_sent;
      }
      at += piece;
    }
  }

  /// Sends [data, data + n) as one CTD when the gate lets it try and it saves enough; false: the
  /// caller sends it as TD (counted here as skipped). RTD copies stay uncompressed (rare, short).
  bool send_compressed(ccb& x, backbone& b, tsk::header h, const unsigned char* data, std::size_t n) {
    x.compress_in += n;
    c.compress_bytes_in += n;
    if (x.gate.should_try(n)) {
      const auto frame = zip.compress(data, n);
      if (x.gate.report(!frame.empty())) ++c.compress_paused;
      if (!frame.empty()) {
        h.type = tsk::message_type::ctd;
        emit(b, x.priority, [&](auto& out) { tsk::append_compressed(out, h, n, frame.data, frame.size); });
        const std::size_t sent = tsk::ctd_prefix + frame.size;
        x.compress_out += sent;
        c.compress_bytes_out += sent;
        ++c.compress_chunks;
        return true;
      }
    }
    x.compress_out += n;
    c.compress_bytes_out += n;
    ++c.compress_chunks_skipped;
    return false;
  }

  /// FIN from the host (Figure 28): TP to the peer; what the peer still sends is delivered.
  void host_fin(ccb& x) {
    x.local_fin = true;
    // While resuming, the TP follows the data sent again (on_rs).
    if (backbone* b = x.resuming ? nullptr : backbone_of(x))
      send_raw(*b, x.priority, header(x, tsk::message_type::tp), nullptr, 0);
    maybe_finish(x);
  }

  void write_host(ccb& x) {
    if (x.writing || !x.sock || x.state != ccb_state::open) return;
    if (x.initiator && !x.ce) return;  // [103]: nothing from the peer before CE
    if (x.to_host.empty()) {
      if (x.peer_fin && !x.shut_sent) {
        asio::error_code ec;
        x.sock->shutdown(tcp::socket::shutdown_send, ec);
        x.shut_sent = true;
        maybe_finish(x);
      }
      return;
    }
    x.writing = true;
    chunk data = x.to_host.front();
    asio::async_write(*x.sock, asio::buffer(*data),
                      [this, cid = x.cid, gen = x.generation, data](const asio::error_code& ec, std::size_t n) {
                        ccb* y = live(cid, gen);
                        if (!y) return;
                        y->writing = false;
                        if (ec) return host_failed(*y, ec);
                        y->to_host.pop_front();
                        y->to_host_bytes -= n;
                        y->bytes_to_host += n;
                        c.bytes_to_hosts += n;
                        y->delivered_unreported += n;
                        // Credit back to the sender: in quarters of the window, or at once when
                        // the queue ran dry (a short exchange must not wait for a quarter).
                        if (y->delivered_unreported >= window() / 4 || y->to_host.empty()) {
                          if (backbone* b = backbone_of(*y)) {
                            const tsk::header h = header(*y, tsk::message_type::wa);
                            const auto credit = static_cast<std::uint32_t>(y->delivered_unreported);
                            y->granted += credit;
                            // Credit is not ordered with the connection's data (it is for the
                            // other direction): top, so a sender never waits behind bulk for it.
                            emit(*b, top_priority, [&](auto& out) { tsk::append_window(out, h, credit); });
                          }
                          y->delivered_unreported = 0;
                        }
                        write_host(*y);
                      });
  }

  void maybe_finish(ccb& x) {
    // A movable connection ends once the peer has everything it sent (delivered, by its WAs), so
    // data and TP lost with a failing path can still be sent again.
    if (x.movable && (x.resuming || x.send_limit - std::min(x.send_limit, x.peer_window0) < x.sent)) return;
    if (x.local_fin && x.peer_fin && x.shut_sent && !x.writing) {
      ++c.closed_normally;
      free_ccb(x);  // the kernel finishes the close (and its TIME-WAIT) on its own
    }
  }

  // --- responder side: a peer's CR -------------------------------------------------------------
  void on_cr(backbone& b, const tsk::message& m) {
    const auto cr = tsk::read_cr(m);
    const tsk::connection_header conn = m.h.connection.mirrored();
    const conn_key key = key_of(conn);
    tsk::header reply;
    reply.dst_cid = m.h.src_cid;
    reply.src_cid = tsk::unknown_cid;
    reply.has_connection = true;
    reply.connection = conn;
    if (!m.h.has_connection) return discard();
    if (auto it = by_key.find(key); it != by_key.end()) {
      const auto& y = *ccbs[it->second];
      if (!y.initiator && y.peer_cid == m.h.src_cid && peer_of(y) == b.peer) {
        ++c.redundant_duplicates;  // the copy of a CR already taken from the other backbone
        return;
      }
      // [212]: the previous incarnation of this connection has not ended here yet.
      reply.type = tsk::message_type::ct;
      ++ct_sent[static_cast<int>(tsk::reason::previous_incarnation)];
      send(b, cr.priority, reply, tsk::reason::previous_incarnation);
      return;
    }
    // A primary CR is never late (the connection's TP follows it on the same backbone); a copy
    // may be, after its connection ended.
    if (auto e = ended.find({b.peer, m.h.src_cid}); e != ended.end() && (cr.flags & tsk::cr_copy)) {
      if (steady::now() < e->second) {
        ++c.redundant_duplicates;  // a late copy of the CR of a connection that already ended
        return;
      }
      ended.erase(e);
    }
    if (free_cids.empty()) {
      reply.type = tsk::message_type::nr;
      ++nr_sent[static_cast<int>(tsk::reason::no_cid)];
      send(b, cr.priority, reply, tsk::reason::no_cid);
      return;
    }
    auto& x = alloc_ccb();
    x.state = ccb_state::connecting;
    x.backbone = index_of(b);
    x.peer = b.peer;
    x.conn = conn;
    x.initiator = false;
    x.peer_cid = m.h.src_cid;
    x.three_way_spoofed = (cr.flags & tsk::cr_three_way_spoofed) != 0;
    x.compress = (cr.flags & tsk::cr_compress) != 0;  // the initiator's profile decides both ways
    x.mss = cr.mss;
    x.send_limit = cr.window;
    x.peer_window0 = cr.window;
    x.granted = window();  // the CE's
    x.movable = (cr.flags & tsk::cr_movable) != 0;
    x.priority = static_cast<std::uint8_t>(std::min<std::size_t>(cr.priority, top_priority));
    x.profile = "(peer's)";
    by_key[key] = x.cid;
    by_peer_cid[{b.peer, x.peer_cid}] = x.cid;
    ++b.connections;
    ++c.connects;
    // [104]: the SYN to the local host carries the initiating host's MSS.
    x.sock = std::make_unique<tcp::socket>(io);
    asio::error_code ec;
    x.sock->open(tcp::v4(), ec);
    if (!ec && cr.mss >= 88) {
      int v = cr.mss;
      ::setsockopt(x.sock->native_handle(), IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v);
    }
    tune_host_socket(x.sock->native_handle());
    arm_timer(x, std::chrono::milliseconds(sec.connect_timeout_ms), [this](ccb& y) {
      if (y.state != ccb_state::connecting) return;
      ++c.connects_failed;
      send_ct(y, tsk::reason::no_response);
      free_ccb(y);
    });
    x.sock->async_connect(tcp::endpoint(asio::ip::address_v4(conn.src_ip), conn.src_port),
                          [this, cid = x.cid, gen = x.generation](const asio::error_code& e) {
                            ccb* y = live(cid, gen);
                            if (!y || y->state != ccb_state::connecting) return;
                            if (e) {
                              ++c.connects_failed;
                              send_ct(*y, e == asio::error::connection_refused ? tsk::reason::refused_by_host
                                          : e == asio::error::timed_out          ? tsk::reason::no_response
                                                                                 : tsk::reason::unreachable);
                              free_ccb(*y);
                              return;
                            }
                            connected(*y);
                          });
  }

  void connected(ccb& x) {
    if (x.timer) x.timer->cancel();
    asio::error_code nb;
    x.sock->non_blocking(true, nb);
    x.state = ccb_state::open;
    x.ce = true;
    // [104]: CE carries the MSS the host answered with (what the kernel now sends with).
    tcp_info ti{};
    socklen_t len = sizeof ti;
    ::getsockopt(x.sock->native_handle(), IPPROTO_TCP, TCP_INFO, &ti, &len);
    backbone* b = backbone_of(x);
    if (!b) return;
    tsk::header h = header(x, tsk::message_type::ce);
    h.has_connection = true;
    h.connection = x.conn;
    const tsk::ce_params ce{static_cast<std::uint16_t>(ti.tcpi_snd_mss), static_cast<std::uint32_t>(window())};
    send(*b, x.priority, h, ce);
    if (backbone* copy = redundant_bytes() ? second_backbone(x) : nullptr) send(*copy, x.priority, h, ce);
    read_host(x);
    write_host(x);
  }

  // --- initiator side: the peer's answers ------------------------------------------------------
  void on_ce(backbone& b, ccb& x, const tsk::message& m) {
    if (!x.initiator || x.ce) return discard();
    const auto ce = tsk::read_ce(m);
    x.ce = true;
    x.peer_cid = m.h.src_cid;
    by_peer_cid[{b.peer, x.peer_cid}] = x.cid;
    // The window counts from the connection's first byte, including what was sent before CE.
    x.send_limit = ce.window;
    x.peer_window0 = ce.window;
    if (x.state == ccb_state::syn_held) {
      if (x.timer) x.timer->cancel();
      // Figure 4B and [182]: the SYN-ACK carries the far side's MSS, capped by the profile's.
      std::uint16_t mss = ce.mss;
      if (const auto* pr = pol.find_profile(x.profile); pr && pr->mss && pr->mss < mss) mss = pr->mss;
      x.advertised_mss = mss;
      let_syn_through(x, mss);
    } else if (x.advertised_mss && ce.mss && ce.mss < x.advertised_mss) {
      // [247]: the far host takes smaller segments than the local host was told; the kernel's
      // socket toward it segments accordingly, so this is only counted.
      ++c.mss_mismatch;
    }
    read_host(x);
    write_host(x);
  }

  void on_ct(ccb& x, const tsk::message& m) {
    const auto r = tsk::read_reason(m);
    ++ct_received[static_cast<int>(r)];
    if (x.state == ccb_state::syn_held) {
      refuse_held(x);
    } else {
      if (x.sock) {
        reset_socket(*x.sock);
        ++c.resets_to_host;
      }
    }
    free_ccb(x);
  }

  void on_nr(ccb& x, const tsk::message& m) {
    ++nr_received[static_cast<int>(tsk::read_reason(m))];
    // [189]: the connection comes up unspoofed on the host's next attempt.
    if (x.state == ccb_state::syn_held) {
      if (x.encrypt) {
        ++c.syns_refused_unencrypted;
        refuse_held(x);
      } else {
        queue->accept(x.syn_id, net::pep_mark_pass);
      }
    } else {
      unspoofed[key_of(x.conn)] = steady::now() + unspoofed_memory;  // on_syn refuses encrypt ones
      if (x.sock) reset_socket(*x.sock);
      ++c.resets_to_host;
    }
    free_ccb(x);
  }

  /// Data at `offset` of the stream from the peer (TD: the next bytes of the first backbone; RTD:
  /// a copy from the second). What was already accepted from the other copy is dropped.
  void on_data(ccb& x, std::uint64_t offset, const unsigned char* data, std::size_t n, bool copy) {
    if (x.local_fin && x.peer_fin) return discard();
    if (n == 0) return;
    if (offset + n <= x.rx_accepted || offset > x.rx_accepted) {
      // Already taken from the other backbone. (A copy past a gap cannot come from in-order
      // streams; the first backbone would fill it anyway.)
      ++c.redundant_duplicates;
      return;
    }
    const std::size_t skip = static_cast<std::size_t>(x.rx_accepted - offset);
    if (copy) ++c.redundant_used;
    x.to_host.push_back(std::make_shared<std::vector<unsigned char>>(data + skip, data + n));
    x.to_host_bytes += n - skip;
    x.rx_accepted = offset + n;
    write_host(x);
  }

  void on_td(ccb& x, const tsk::message& m) {
    const std::uint64_t offset = x.rx_primary;
    x.rx_primary += m.body_size;
    on_data(x, offset, m.body, m.body_size, false);
  }

  /// CTD: restored into the engine's one buffer, then the same as the TD it stands for. A frame
  /// that does not restore its stated size is a broken peer: the backbone is dropped, as for a
  /// malformed frame.
  void on_ctd(backbone& b, ccb& x, const tsk::message& m) {
    const auto v = tsk::read_compressed(m);
    const auto st = zip.decompress(v.frame, v.frame_size, inflated.data(), v.original);
    if (st != net::decompress_status::ok) {
      ++c.malformed_compressed;
      ++c.malformed_frames;
      return lose(b, std::string("malformed CTD: ") + net::to_string(st));
    }
    c.decompressed_bytes += v.original;
    const std::uint64_t offset = x.rx_primary;
    x.rx_primary += v.original;
    on_data(x, offset, inflated.data(), v.original, false);
  }

  void on_tp(ccb& x) {
    x.peer_fin = true;
    write_host(x);
  }

  void on_wa(ccb& x, const tsk::message& m) {
    x.send_limit += tsk::read_window(m);
    if (x.movable) {
      trim_kept(x, x.send_limit - x.peer_window0);
      if (x.local_fin && x.peer_fin) return maybe_finish(x);
    }
    read_host(x);
  }

  // --- path selection and moves (document 003's PSK) -------------------------------------------
  /// Drops kept bytes below `acked` (whole chunks; a partly acknowledged one stays).
  void trim_kept(ccb& x, std::uint64_t acked) {
    while (!x.kept.empty() && x.kept_from + x.kept.front()->size() <= acked) {
      x.kept_from += x.kept.front()->size();
      x.kept_bytes -= x.kept.front()->size();
      x.kept.pop_front();
    }
  }

  /// Where `path` of `peer` ranks: (cost, position listed); a backbone on no listed path last.
  std::pair<std::uint64_t, std::size_t> rank(const policy::pep_peer& peer, const std::string& path) const {
    for (std::size_t i = 0; i < peer.paths.size(); ++i)
      if (peer.paths[i].name == path) return {peer.paths[i].cost, i};
    return {~std::uint64_t{0}, peer.paths.size()};
  }

  const policy::pep_peer* peer_named(const std::string& name) const {
    for (const auto& p : sec.peers)
      if (p.peer == name) return &p;
    return nullptr;
  }

  /// The backbone a connection to `peer` takes ([90]): the first path of `prefs` that is up; with
  /// no preference, the cheapest path up (ties: the order listed). On one path, the backbone we
  /// dialled before one the peer dialled. A backbone silent for half the backbone timeout comes
  /// after every other (its path is probably failing: when one backbone of a path is found dead,
  /// the other end's dial on the same path is not chosen). On the path chosen, a backbone of the
  /// connection's own kind (`top`: the top priority's, pep.top_backbone) before one of the other
  /// kind, which carries it only while its own is not up. nullptr: none (a connection whose
  /// paths are all down is not carried, [90]).
  backbone* choose(const policy::pep_peer& peer, const std::vector<std::string>& prefs, const backbone* exclude,
                   bool top) const {
    backbone* best = nullptr;
    std::tuple<int, std::size_t, std::uint64_t, std::size_t, int, int> best_key{};
    const auto now = steady::now();
    const auto quiet = std::chrono::milliseconds(sec.backbone_timeout_ms / 2);
    for (const auto& bp : backbones) {
      backbone* b = bp.get();
      if (!b || b == exclude || !b->used || b->state != bb_state::up || b->refusing || b->peer != peer.peer) continue;
      std::size_t pref = 0;
      if (!prefs.empty()) {
        pref = prefs.size();
        for (std::size_t i = 0; i < prefs.size(); ++i)
          if (prefs[i] == b->path) pref = i;
        if (pref == prefs.size()) continue;  // not a path the profile allows
      }
      const auto [cost, listed] = rank(peer, b->path);
      const std::tuple<int, std::size_t, std::uint64_t, std::size_t, int, int> key{
          now - b->last_heard > quiet ? 1 : 0, pref, cost, listed, b->top == top ? 0 : 1, b->dialled ? 0 : 1};
      if (!best || key < best_key) {
        best = b;
        best_key = key;
      }
    }
    return best;
  }

  /// Whether a connection of `priority` rides the top priority's own backbones (pep.top_backbone).
  bool wants_top(std::size_t priority) const { return sec.top_backbone && priority >= top_priority; }

  /// Whether a connection can continue on another backbone: both ends keep its data, and it is
  /// established (a CR or CE lost with the old backbone cannot be re-sent: those are reset).
  static bool can_move(const ccb& x) {
    return x.movable && x.used && x.state == ccb_state::open && x.ce && x.peer_cid != tsk::unknown_cid;
  }

  /// Moves `x` onto `nb` and tells the peer where it stands (RS); its data waits for the peer's RS.
  void attach(ccb& x, backbone& nb) {
    if (x.backbone < backbones.size() && backbones[x.backbone]) {
      auto& old = *backbones[x.backbone];
      if (old.connections) --old.connections;
      ++old.moved_out;
    }
    if (x.backbone == detached && x.timer) x.timer->cancel();  // the hold ends
    x.backbone = index_of(nb);
    ++nb.connections;
    ++nb.moved_in;
    x.parked = false;  // a place in the old backbone's queue no longer counts
    x.resuming = true;
    ++x.moves;
    ++c.connections_moved;
    send_rs(x, nb);
  }

  /// RS: what we received in order (the peer sends again from there; anything of the old
  /// backbone's arriving later is discarded) and the credit granted in total.
  void send_rs(ccb& x, backbone& b) {
    x.granted += x.delivered_unreported;
    x.delivered_unreported = 0;
    x.rx_primary = x.rx_accepted;
    tsk::header h = header(x, tsk::message_type::rs);
    h.has_connection = true;
    h.connection = x.conn;
    // Top: it must precede the data sent again, which goes at the connection's priority.
    send(b, top_priority, h, tsk::rs_params{x.rx_accepted, x.granted});
  }

  /// The peer's RS: the connection continues on `b`. Initiator's choice stands when both moved.
  void on_rs(backbone& b, ccb& x, const tsk::message& m) {
    if (!can_move(x)) return discard();
    ++c.resumes_received;
    const bool here = index_of(b) == x.backbone;
    if (!here) {
      // The initiator already moved it elsewhere: the responder follows the initiator's RS.
      if (x.initiator && x.resuming) return discard();
      attach(x, b);
    } else if (!x.resuming) {
      send_rs(x, b);  // it moved here after us: it needs our RS to send again
    }
    x.resuming = false;
    const auto rs = tsk::read_rs(m);
    x.send_limit = std::max(x.send_limit, rs.granted);
    const std::uint64_t from = std::min(rs.received, x.sent);
    trim_kept(x, std::max(from, x.send_limit - std::min(x.send_limit, x.peer_window0)));
    // Sent again: what the peer did not receive, from what we kept (as TD: never compressed).
    if (from < x.kept_from) {
      // Cannot happen with a peer that follows the protocol (it acknowledged those bytes).
      log(node::severity::warning, "pep_resume_gap",
          {{"cid", std::to_string(x.cid)}, {"peer_has", std::to_string(from)}, {"kept_from", std::to_string(x.kept_from)}});
      send_ct(x, tsk::reason::backbone_lost);
      reset_host(x);
      free_ccb(x);
      return;
    }
    std::uint64_t at = x.kept_from;
    const std::size_t max_piece = std::min(tsk::max_data, std::max<std::size_t>(b.batch, 1024));
    for (const auto& ch : x.kept) {
      const std::uint64_t end = at + ch->size();
      std::uint64_t off = std::max(at, from);
      while (off < end) {
        const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(end - off, max_piece));
        tsk::header h = header(x, tsk::message_type::td);
        h.push = off + piece == end;
        send_raw(b, x.priority, h, ch->data() + (off - at), piece);
        c.bytes_resent += piece;
        off += piece;
      }
      at = end;
    }
    if (x.local_fin) send_raw(b, x.priority, header(x, tsk::message_type::tp), nullptr, 0);
    log(node::severity::info, "pep_connection_moved",
        {{"cid", std::to_string(x.cid)}, {"peer", b.peer}, {"path", b.path},
         {"resent", std::to_string(x.sent - from)}, {"received", std::to_string(x.rx_accepted)}});
    read_host(x);
    write_host(x);
    if (x.local_fin && x.peer_fin) maybe_finish(x);
  }

  /// No path to the peer is up: the connection waits (its host is acknowledged by the kernel up to
  /// its socket buffers) for one to come up, at most user_timeout_ms, then it is reset.
  void hold(ccb& x, backbone& old) {
    if (old.connections) --old.connections;
    ++old.moved_out;
    x.backbone = detached;
    x.parked = false;
    x.resuming = false;
    ++c.connections_held;
    arm_timer(x, std::chrono::milliseconds(sec.user_timeout_ms), [this](ccb& y) {
      if (y.backbone != detached) return;
      ++c.held_expired;
      reset_host(y);
      free_ccb(y);
    });
  }

  /// A backbone (and its TPP) came up: movable connections to its peer whose policy prefers its
  /// path over the one they are on move to it ("revert"). The initiator decides; the peer follows.
  void revert_to(backbone& b) {
    if (b.peer_reads_rs) {
      // Connections held while every path to the peer was down continue on the best one now up.
      policy::pep_peer unlisted;
      unlisted.peer = b.peer;
      const policy::pep_peer* listed = peer_named(b.peer);
      for (auto& cp : ccbs)
        if (cp && cp->used && cp->backbone == detached && cp->peer == b.peer)
          if (backbone* nb = choose(listed ? *listed : unlisted, cp->paths, nullptr, wants_top(cp->priority)))
            attach(*cp, *nb);
    }
    const policy::pep_peer* peer = peer_named(b.peer);
    if (!peer || !peer->revert || !b.peer_reads_rs) return;
    for (auto& cp : ccbs) {
      if (!cp || !cp->used || !cp->initiator || !can_move(*cp) || cp->resuming) continue;
      auto& x = *cp;
      if (peer_of(x) != b.peer || x.backbone == index_of(b)) continue;
      if (choose(*peer, x.paths, nullptr, wants_top(x.priority)) != &b) continue;
      const backbone* cur = x.backbone < backbones.size() ? backbones[x.backbone].get() : nullptr;
      if (cur && cur->path == b.path) continue;  // the same path (the other end's dial)
      ++c.connections_reverted;
      attach(x, b);
    }
  }

  // --- backbones -------------------------------------------------------------------------------
  std::size_t index_of(const backbone& b) const {
    for (std::size_t i = 0; i < backbones.size(); ++i)
      if (backbones[i].get() == &b) return i;
    return backbones.size();
  }

  const std::string& peer_of(const ccb& x) const { return x.peer; }

  /// Another backbone up to the same peer as the CCB's, for copies; nullptr when there is none.
  backbone* second_backbone(ccb& x) {
    backbone* first = backbone_of(x);
    if (!first) return nullptr;
    for (auto& b : backbones)
      if (b && b.get() != first && b->used && b->state == bb_state::up && b->peer == first->peer && b->top == first->top)
        return b.get();
    return nullptr;
  }

  std::uint64_t redundant_bytes() const { return std::uint64_t{sec.redundant_kbyte} * 1024; }

  backbone* backbone_of(ccb& x) {
    if (x.backbone >= backbones.size()) return nullptr;
    auto* b = backbones[x.backbone].get();
    return b && b->used && b->state == bb_state::up ? b : nullptr;
  }

  backbone& new_backbone() {
    for (auto& b : backbones)
      if (b && !b->used && !b->stream) {
        const auto gen = b->generation + 1;
        *b = backbone{};
        b->generation = gen;
        b->used = true;
        return *b;
      }
    backbones.push_back(std::make_unique<backbone>());
    backbones.back()->used = true;
    return *backbones.back();
  }

  void tune_backbone_socket(int fd) {
    const std::string& cc = sec.congestion;
    ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc.data(), static_cast<socklen_t>(cc.size()));
    int size = static_cast<int>(sec.buffer_kbyte) * 1024;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // we batch: the queue is the batch
  }

  /// One backbone per path of the peer (document 003's PSK), or one to its address; with
  /// pep.top_backbone, a second one on each for the top priority.
  void dial_all(const policy::pep_peer& p) {
    if (p.paths.empty()) return dial_path(p.peer, "");
    for (const auto& path : p.paths) dial_path(p.peer, path.name);
  }

  /// The backbones of one path: the shared one, and the top priority's with pep.top_backbone.
  void dial_path(const std::string& peer_name, const std::string& path_name) {
    dial(peer_name, path_name, false);
    if (sec.top_backbone) dial(peer_name, path_name, true);
  }

  void dial(const std::string& peer_name, const std::string& path_name, bool top) {
    const policy::pep_peer* p = peer_named(peer_name);
    if (!p) return;
    const policy::pep_path* path = nullptr;
    for (const auto& x : p->paths)
      if (x.name == path_name) path = &x;
    if (!path_name.empty() && !path) return;  // the path is gone from the policy
    std::size_t i;
    const auto key = std::make_tuple(peer_name, path_name, top);
    if (auto it = dialled.find(key); it != dialled.end()) {
      i = it->second;
    } else {
      auto& nb = new_backbone();
      i = index_of(nb);
      dialled[key] = i;
    }
    auto& b = *backbones[i];
    b.used = true;
    b.peer = p->peer;
    b.path = path_name;
    b.top = top;
    if (!path && !p->members.empty()) {
      const auto list = candidates(*p);
      if (b.member >= list.size()) b.member = 0;
      b.address = list[b.member];
    } else {
      b.address = path ? path->address : p->address;
    }
    b.local = path ? path->local : 0;
    b.port = p->port;
    b.dialled = true;
    b.state = bb_state::dialling;
    b.stream = std::make_unique<tls_stream>(io, tls);
    auto& sock = b.stream->lowest_layer();
    asio::error_code ec;
    sock.open(tcp::v4(), ec);
    tune_backbone_socket(sock.native_handle());
    if (b.local) {
      // The path's source address: the kernel routes by it (and the peer knows the path by it).
      int one = 1;
      ::setsockopt(sock.native_handle(), SOL_IP, IP_FREEBIND, &one, sizeof one);
      sock.bind(tcp::endpoint(asio::ip::address_v4(b.local), 0), ec);
      if (ec) {
        log(node::severity::warning, "pep_backbone_bind",
            {{"peer", b.peer}, {"path", b.path}, {"local", ip(b.local)}, {"reason", ec.message()}});
        ec.clear();
      }
    }
    const auto gen = b.generation;
    sock.async_connect(tcp::endpoint(asio::ip::address_v4(b.address), b.port),
                       [this, i, gen](const asio::error_code& e) {
                         auto& bb = *backbones[i];
                         if (bb.generation != gen || bb.state != bb_state::dialling) return;
                         if (e) {
                           ++c.backbone_dial_failures;
                           return redial_later(bb, e.message());
                         }
                         handshake(bb, asio::ssl::stream_base::client);
                       });
    // A SYN lost on a dead path is sent again by the kernel only at 1, 3, 7, 15 s..., so a path
    // that returns would be found up at the next of those (2.6-4.1 s in lab.pep_paths). A dial
    // not connected within redial_ms starts again at once with a fresh SYN instead; never sooner
    // than the kernel's first SYN retransmission (1 s) or three round trips last seen on this
    // backbone (a long path must get its SYN-ACK back before the next try).
    if (!b.timer) b.timer = std::make_unique<asio::steady_timer>(io);
    const double attempt_ms = std::max({static_cast<double>(sec.redial_ms), 1000.0, 3 * b.ka_rtt_ms});
    b.timer->expires_after(std::chrono::milliseconds(static_cast<std::int64_t>(attempt_ms)));
    b.timer->async_wait([this, i, gen](const asio::error_code& e) {
      auto& bb = *backbones[i];
      if (e || bb.generation != gen || bb.state != bb_state::dialling) return;
      ++c.dial_timeouts;
      redial_later(bb, "not connected within redial_ms", true);
    });
  }

  /// Closes `b` and dials it again after redial_ms, or `at_once` (a dial that timed out has
  /// already waited).
  void redial_later(backbone& b, const std::string& why, bool at_once = false) {
    b.state = bb_state::down;
    if (b.stream) {
      asio::error_code ec;
      b.stream->lowest_layer().close(ec);
    }
    const auto gen = ++b.generation;
    const std::string peer = b.peer, path = b.path;
    const bool top = b.top;
    if (!b.timer) b.timer = std::make_unique<asio::steady_timer>(io);
    auto delay = std::chrono::milliseconds(at_once ? 0 : sec.redial_ms);
    // A peer that is a hub PEP group: the next member (or the one an NR not_owner named) at once,
    // until a whole round found no owner; then again after redial_ms.
    const policy::pep_peer* p = peer_named(peer);
    if (p && path.empty() && !p->members.empty()) {
      const std::size_t n = candidates(*p).size();
      if (!b.redirected) b.member = (b.member + 1) % n;
      b.redirected = false;
      ++c.group_member_switches;
      if (++b.tries < n) delay = std::chrono::milliseconds(0);
      else b.tries = 0;
    }
    b.timer->expires_after(delay);
    b.timer->async_wait([this, i = index_of(b), gen, peer, path, top](const asio::error_code& ec) {
      if (ec || backbones[i]->generation != gen) return;
      backbones[i]->stream.reset();
      dial(peer, path, top);
    });
    (void)why;
  }

  void accept_backbone() {
    backbone_listener->async_accept([this](const asio::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto& b = new_backbone();
        asio::error_code e2;
        const auto remote = s.remote_endpoint(e2);
        b.address = e2 ? 0 : remote.address().to_v4().to_uint();
        b.port = e2 ? 0 : remote.port();
        b.peer = ip(b.address);
        b.path.clear();
        const auto local = s.local_endpoint(e2);
        const std::uint32_t local_address = e2 ? 0 : local.address().to_v4().to_uint();
        // The peer, and its path, by the address it dialled from (and the one it dialled).
        for (const auto& p : sec.peers) {
          if (p.address == b.address && b.path.empty()) b.peer = p.peer;
          for (const auto& path : p.paths)
            if (path.address == b.address && (!path.local || path.local == local_address)) {
              b.peer = p.peer;
              b.path = path.name;
            }
        }
        b.dialled = false;
        b.stream = std::make_unique<tls_stream>(std::move(s), tls);
        handshake(b, asio::ssl::stream_base::server);
      }
      accept_backbone();
    });
  }

  void handshake(backbone& b, asio::ssl::stream_base::handshake_type side) {
    b.state = bb_state::handshake;
    const auto i = index_of(b);
    const auto gen = b.generation;
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(5));
    timer->async_wait([this, i, gen](const asio::error_code& ec) {
      if (ec) return;
      auto& bb = *backbones[i];
      if (bb.generation == gen && bb.state == bb_state::handshake) {
        asio::error_code e;
        bb.stream->lowest_layer().close(e);  // the handshake's handler reports it
      }
    });
    b.stream->async_handshake(side, [this, i, gen, timer](const asio::error_code& ec) {
      timer->cancel();
      auto& bb = *backbones[i];
      if (bb.generation != gen) return;
      if (ec) {
        ++c.tls_refused;
        log(node::severity::warning, "pep_backbone_refused",
            {{"peer", bb.peer}, {"address", policy::format_endpoint(bb.address, bb.port)}, {"reason", ec.message()}});
        if (bb.dialled) return redial_later(bb, ec.message());
        retire(bb);
        return;
      }
      up(bb);
    });
  }

  void retire(backbone& b) {
    b.state = bb_state::down;
    if (b.stream) {
      asio::error_code ec;
      b.stream->lowest_layer().close(ec);
    }
    ++b.generation;
    b.used = false;
    // The stream object stays until its handlers have run (they check the generation); the slot is
    // reused only when a new one is needed and then replaced.
    asio::post(io, [this, i = index_of(b)] {
      auto& bb = *backbones[i];
      if (!bb.used) bb.stream.reset();
    });
  }

  void up(backbone& b) {
    // The context's minimum already refuses older versions at the handshake; a backbone is never
    // used below TLS 1.3 whatever the library did.
    SSL* negotiated = b.stream->native_handle();
    if (!negotiated || SSL_version(negotiated) < TLS1_3_VERSION) {
      ++c.tls_refused;
      log(node::severity::warning, "pep_backbone_refused",
          {{"peer", b.peer}, {"address", policy::format_endpoint(b.address, b.port)},
           {"reason", std::string("not TLS 1.3: ") + (negotiated ? SSL_get_version(negotiated) : "no session")}});
      if (b.dialled) return redial_later(b, "not TLS 1.3");
      return retire(b);
    }
    b.tls = std::string(SSL_get_version(negotiated)) + " " + SSL_get_cipher_name(negotiated);
    b.state = bb_state::up;
    // Accepted sockets do not inherit TCP_NODELAY from the listener: without it Nagle holds the
    // last partial segment of every burst for a round trip (600 ms here).
    int one = 1;
    ::setsockopt(b.stream->lowest_layer().native_handle(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    b.last_heard = steady::now();
    b.in.assign(backbone_read_buffer, 0);
    b.in_len = 0;
    b.queues.clear();
    b.queues.set_weights(sec.priority_weights);
    b.unsent_limit = 0;
    b.batch = unbounded_batch;
    b.unsent_tuned = {};
    b.pacing = false;
    if (b.pace) b.pace->cancel();
    b.max_pacing = 0;
    b.waited = false;
    b.boost = 1;
    b.dry = 0;
    tune_unsent(b);
    b.writing = b.reading = false;
    b.peer_max_ccbs = 65534;
    b.peer_reads_ctd = false;
    b.peer_reads_rs = false;
    b.moved_in = b.moved_out = 0;
    if (SSL* ssl = b.stream->native_handle()) {
      if (X509* cert = SSL_get_peer_certificate(ssl)) {
        char cn[128] = {0};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn - 1);
        if (!b.dialled && b.peer == ip(b.address) && cn[0]) b.peer = cn;
        X509_free(cert);
      }
    }
    b.refusing = false;
    if (sec.group && !b.dialled) {
      // A hub group member serves a branch only while it owns the branch's work unit.
      const std::uint32_t unit = branch_unit(b.peer, units());
      auto& rec = branches[b.peer];
      rec.unit = unit;
      if (!owns(unit)) return refuse(b, rec, unit);
      ++rec.accepted;
    }
    pace_backbone(b);
    ++c.backbones_opened;
    ++c.backbones_up;
    log(node::severity::info, "pep_backbone_up",
        {{"peer", b.peer}, {"path", b.path}, {"address", policy::format_endpoint(b.address, b.port)}, {"dialled", b.dialled ? "yes" : "no"},
         {"top", b.top ? "yes" : "no"}, {"congestion", sec.congestion}, {"tls", b.tls}});
    tsk::header h;
    h.type = tsk::message_type::tpp;
    h.src_cid = static_cast<std::uint16_t>(index_of(b) + 1);
    send(b, top_priority, h, tsk::tpp_params{h.src_cid, static_cast<std::uint32_t>(sec.max_connections),
                                             static_cast<std::uint8_t>(tsk::tpp_reads_ctd | tsk::tpp_reads_rs |
                                                                       (b.top ? tsk::tpp_top : 0))});
    read_backbone(b);
    keepalive(b);
  }

  // --- hub PEP groups (pep.group) ----------------------------------------------------------------
  std::uint32_t units() const {
    return grp.owned.empty() ? std::max<std::uint32_t>(pol.timers.work_units, 1)
                             : static_cast<std::uint32_t>(grp.owned.size());
  }
  bool owns(std::uint32_t unit) const { return unit < grp.owned.size() && grp.owned[unit]; }
  std::uint32_t owner_of(std::uint32_t unit) const { return unit < grp.owners.size() ? grp.owners[unit] : 0; }

  /// The branch's unit is another member's: NR not_owner naming it, then the backbone closes (the
  /// branch closes it on the NR; refuse_linger bounds the wait). Never counted as a backbone up.
  void refuse(backbone& b, branch_record& rec, std::uint32_t unit) {
    const std::uint32_t owner = owner_of(unit) == grp.self ? 0 : owner_of(unit);
    ++c.group_refused;
    ++rec.refused;
    ++nr_sent[static_cast<int>(tsk::reason::not_owner)];
    // Called as the backbone comes up, its buffers and queues just reset: it stays up so the NR
    // is written (choose() never takes a refusing backbone), and its one message is not held by
    // the unsent bound.
    b.refusing = true;
    b.batch = unbounded_batch;
    b.unsent_limit = 0;
    log(node::severity::info, "pep_group_refused",
        {{"branch", b.peer}, {"unit", std::to_string(unit)}, {"owner", owner ? ip(owner) : "-"},
         {"address", policy::format_endpoint(b.address, b.port)}});
    tsk::header h;
    h.type = tsk::message_type::nr;
    h.src_cid = static_cast<std::uint16_t>(index_of(b) + 1);
    send(b, top_priority, h, tsk::not_owner_params{owner});
    read_backbone(b);  // the branch's close ends it
    if (!b.timer) b.timer = std::make_unique<asio::steady_timer>(io);
    b.timer->expires_after(refuse_linger);
    b.timer->async_wait([this, i = index_of(b), gen = b.generation](const asio::error_code& ec) {
      auto& bb = *backbones[i];
      if (ec || bb.generation != gen || !bb.refusing) return;
      bb.refusing = false;
      retire(bb);
    });
  }

  /// A branch told us another member owns its unit: close and dial that one (if the peer lists
  /// it), else the next member.
  void on_not_owner(backbone& b, const tsk::message& m) {
    ++c.group_redirects;
    ++nr_received[static_cast<int>(tsk::reason::not_owner)];
    const std::uint32_t owner = tsk::read_not_owner(m).owner;
    const policy::pep_peer* p = peer_named(b.peer);
    if (b.dialled && p && !p->members.empty() && owner) {
      const auto list = candidates(*p);
      for (std::size_t k = 0; k < list.size(); ++k)
        if (list[k] == owner && k != b.member) {
          b.member = k;
          b.redirected = true;
        }
    }
    log(node::severity::info, "pep_group_redirect",
        {{"peer", b.peer}, {"refused_by", policy::format_endpoint(b.address, b.port)},
         {"owner", owner ? ip(owner) : "-"}});
    lose(b, "refused by a hub group member (not the owner of our work unit; owner " +
                (owner ? ip(owner) : std::string("not known yet")) + ")");
  }

  void set_group(group_state g) {
    grp = std::move(g);
    if (!sec.group) return;
    // Branches whose unit left this member: their backbones close (the branch redials the owner).
    for (auto& bp : backbones) {
      if (!bp || !bp->used || bp->dialled || bp->refusing || bp->state != bb_state::up) continue;
      backbone& b = *bp;
      const std::uint32_t unit = branch_unit(b.peer, units());
      if (owns(unit)) continue;
      ++c.group_dropped;
      ++branches[b.peer].dropped;
      const std::uint32_t owner = owner_of(unit);
      log(node::severity::warning, "pep_group_unit_left",
          {{"branch", b.peer}, {"unit", std::to_string(unit)}, {"owner", owner ? ip(owner) : "-"}});
      lose(b, "work unit " + std::to_string(unit) + " left this member (owner " + (owner ? ip(owner) : "-") + ")");
    }
  }

  std::vector<std::pair<std::uint32_t, std::uint64_t>> unit_connections() const {
    std::map<std::uint32_t, std::uint64_t> by_unit;
    if (!sec.group) return {};
    for (const auto& cp : ccbs)
      if (cp && cp->used) ++by_unit[branch_unit(cp->peer, units())];
    return {by_unit.begin(), by_unit.end()};
  }

  void keepalive(backbone& b) {
    if (!b.timer) b.timer = std::make_unique<asio::steady_timer>(io);
    b.timer->expires_after(std::chrono::milliseconds(sec.keepalive_ms));
    b.timer->async_wait([this, i = index_of(b), gen = b.generation](const asio::error_code& ec) {
      if (ec) return;
      auto& bb = *backbones[i];
      if (bb.generation != gen || bb.state != bb_state::up) return;
      if (steady::now() - bb.last_heard > std::chrono::milliseconds(sec.backbone_timeout_ms))
        return lose(bb, "keepalive silence for " + std::to_string(sec.backbone_timeout_ms) + " ms");
      tsk::header h;
      h.type = tsk::message_type::ka;
      h.dst_cid = bb.peer_tid ? bb.peer_tid : tsk::unknown_cid;
      h.src_cid = static_cast<std::uint16_t>(i + 1);
      // The echo is the peer's clock advanced by how long we held it: the peer subtracts it from
      // its own clock and gets the round trip, whatever our clock says.
      std::uint64_t echo = 0;
      if (bb.peer_clock)
        echo = bb.peer_clock + static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                             steady::now() - bb.peer_clock_at)
                                                             .count());
      send(bb, top_priority, h, tsk::ka_params{now_us(), echo});
      keepalive(bb);
    });
  }

  /// The backbone is gone: every connection on it is reset toward its host (the peer does the
  /// same on its side); a dialled one is dialled again.
  void lose(backbone& b, const std::string& why) {
    if (b.state != bb_state::up) return;
    if (b.refusing) {  // a refused branch closed it (pep.group): it carried nothing
      b.refusing = false;
      return retire(b);
    }
    ++c.backbones_lost;
    --c.backbones_up;
    const std::size_t i = index_of(b);
    std::uint32_t reset = 0, moved = 0, held = 0;
    // Document 003's PSK: established movable connections continue on the next path up (their
    // preference, else the cheapest), without a reset; the rest are reset as before.
    b.state = bb_state::down;  // not a candidate, and messages sent to it now go nowhere
    // A peer this end does not list (a hub that only accepts) moves to its other backbones.
    policy::pep_peer unlisted;
    unlisted.peer = b.peer;
    const policy::pep_peer* listed = peer_named(b.peer);
    const policy::pep_peer& peer = listed ? *listed : unlisted;
    for (auto& cp : ccbs)
      if (cp && cp->used && cp->backbone == i && can_move(*cp) && !removing) {
        if (backbone* next = choose(peer, cp->paths, &b, wants_top(cp->priority))) {
          attach(*cp, *next);
          ++moved;
        } else {
          hold(*cp, b);
          ++held;
        }
      }
    for (auto& cp : ccbs)
      if (cp && cp->used && cp->backbone == i) {
        if (cp->state == ccb_state::syn_held) {
          if (cp->pass_when_refused) queue->accept(cp->syn_id, net::pep_mark_pass);
          else refuse_held(*cp);
        } else if (cp->sock) {
          reset_socket(*cp->sock);
          ++c.resets_to_host;
        }
        free_ccb(*cp);
        ++reset;
      }
    for (auto& p : b.parked) p.clear();
    b.queues.clear();
    b.connections = 0;
    b.tls.clear();
    log(node::severity::warning, "pep_backbone_lost",
        {{"peer", b.peer}, {"path", b.path}, {"reason", why}, {"connections_reset", std::to_string(reset)},
         {"connections_moved", std::to_string(moved)}, {"connections_held", std::to_string(held)}});
    if (b.dialled) redial_later(b, why);
    else retire(b);
  }

  /// Every TSK message leaves through here: `append(out)` writes it into the queue of
  /// `priority` on the backbone (document 003's PK), then the counters and a pump.
  template <class Append>
  void emit(backbone& b, std::size_t priority, Append append) {
    b.queues.push(priority, append);
    ++b.messages_out;
    ++c.messages_out;
    pump(b);
  }
  template <class Params>
  void send(backbone& b, std::size_t priority, const tsk::header& h, const Params& p) {
    emit(b, priority, [&](auto& out) { tsk::append(out, h, p); });
  }
  void send_raw(backbone& b, std::size_t priority, const tsk::header& h, const void* data, std::size_t n) {
    emit(b, priority, [&](auto& out) { tsk::append(out, h, data, n); });
  }

  /// The link rate of the backbone's path (its own rate_mbit, else its peer's); 0: not given.
  std::uint32_t link_rate_mbit(const backbone& b) const {
    const policy::pep_peer* p = peer_named(b.peer);
    if (!p) return 0;
    for (const auto& x : p->paths)
      if (x.name == b.path && x.rate_mbit) return x.rate_mbit;
    return p->rate_mbit;
  }

  /// Paces the backbone below its path's link rate (SO_MAX_PACING_RATE caps the congestion
  /// control's own pacing rate). Unpaced, BBR keeps a standing queue in the link's buffer (31 ms
  /// median on a 10 Mbit/s emulated link, tests/bench/pep_priority_bench.py) where priorities
  /// cannot reach; paced below the link the backlog stays in the PEP's priority queues instead. The kernel paces TCP payload: a 1514-byte frame carries 1448
  /// bytes of it, and pacing_share of that leaves the link's queue empty.
  void pace_backbone(backbone& b) {
    if (!b.stream) return;
    const std::uint32_t mbit = link_rate_mbit(b);
    const std::uint64_t rate =
      mbit ? static_cast<std::uint64_t>(mbit * 1e6 / 8 * 1448 / 1514 * pacing_share) : 0;
    if (rate == b.max_pacing) return;
    std::uint64_t value = rate ? rate : ~std::uint64_t{0};  // ~0: no cap
    if (::setsockopt(b.stream->lowest_layer().native_handle(), SOL_SOCKET, SO_MAX_PACING_RATE, &value,
                     sizeof value) != 0)
      return;
    b.max_pacing = rate;
    b.unsent_tuned = {};  // the pacing rate changes: the unsent bound follows it
  }

  /// Bounds the bytes the backbone's socket holds unsent to unsent_ms at its pacing rate
  /// (TCP_NOTSENT_LOWAT: the socket is writable, and takes more, only below it). Without the
  /// bound the kernel's send buffer (buffer_kbyte) is one FIFO in front of every priority; with
  /// it the backlog stays in the per-priority queues, and a top-priority message waits for at
  /// most about this much. A batch is half of it, written when less than half is unsent.
  void tune_unsent(backbone& b) {
    if (!sec.unsent_ms || !b.stream) {
      b.batch = unbounded_batch;
      if (b.unsent_limit && b.stream) {
        int off = 0;  // back to the kernel's default (net.ipv4.tcp_notsent_lowat)
        ::setsockopt(b.stream->lowest_layer().native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &off, sizeof off);
      }
      b.unsent_limit = 0;
      return;
    }
    const auto now = steady::now();
    if (b.unsent_limit && now - b.unsent_tuned < unsent_retune) return;
    b.unsent_tuned = now;
    if (b.boost > 1 && now - b.boosted > unsent_boost_hold) {
      b.boost /= 2;
      b.boosted = now;
    }
    const int fd = b.stream->lowest_layer().native_handle();
    kernel_tcp_info ti{};
    socklen_t len = sizeof ti;
    std::uint64_t rate = 0;  // bytes per second
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && len >= offsetof(kernel_tcp_info, max_pacing_rate))
      rate = ti.pacing_rate;
    if (rate == ~std::uint64_t{0}) rate = 0;  // no pacing rate known yet
    if (len >= offsetof(kernel_tcp_info, pacing_rate) && ti.base.tcpi_snd_mss) b.mss = ti.base.tcpi_snd_mss;
    const auto limit = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(
      rate * sec.unsent_ms * b.boost / 1000, min_unsent, std::uint64_t{sec.buffer_kbyte} * 1024));
    if (limit == b.unsent_limit) return;
    b.unsent_limit = limit;
    b.pacing_rate = rate;
    b.batch = limit / 2;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &limit, sizeof limit);
  }

  void pump(backbone& b) {
    if (b.writing || b.pacing || b.state != bb_state::up || b.queues.empty()) return;
    if (b.unsent_limit && !unsent_low(b)) return;
    b.writing_buf.clear();
    if (b.queues.take(b.writing_buf, b.batch) < 0) return;
    b.writing = true;
    asio::async_write(*b.stream, asio::buffer(b.writing_buf),
                      [this, i = index_of(b), gen = b.generation](const asio::error_code& ec, std::size_t n) {
                        auto& bb = *backbones[i];
                        if (bb.generation != gen) return;
                        bb.writing = false;
                        if (ec) return lose(bb, "write: " + ec.message());
                        bb.bytes_out += n;
                        tune_unsent(bb);
                        pump(bb);
                        resume_parked(bb);
                      });
  }

  /// Whether the socket's unsent bytes are below half the bound, so a batch (half the bound) keeps
  /// them within it. TCP_NOTSENT_LOWAT alone does not: the kernel checks it only when a write
  /// needs a new buffer, and appends to the last unsent one (up to 64 KiB, the GSO size) freely.
  /// Otherwise a timer runs the pump again when the kernel should have sent the excess at its
  /// pacing rate (the socket's writability would need SOCK_NOSPACE set, which only a refused
  /// write does).
  bool unsent_low(backbone& b) {
    int unsent = 0;
    if (::ioctl(b.stream->lowest_layer().native_handle(), SIOCOUTQNSD, &unsent) != 0) return true;
    if (b.waited && static_cast<std::uint32_t>(unsent) < b.mss) {
      // Dry: data waited here while the kernel had less than a segment to send. Unless the path's
      // rate caps the pacing (then BBR's estimate cannot fill the link's queue, and the bound
      // stays as small as asked), the bound doubles.
      ++b.dry;
      ++c.unsent_dry;
      if (!b.max_pacing && b.boost < max_unsent_boost) {
        b.boost *= 2;
        b.boosted = steady::now();
        b.unsent_tuned = {};
        tune_unsent(b);
      }
    }
    b.waited = false;
    const std::uint64_t half = b.unsent_limit / 2;
    if (static_cast<std::uint64_t>(unsent) < half) return true;
    const std::uint64_t rate = std::max<std::uint64_t>(b.pacing_rate, 125000);  // >= 1 Mbit/s
    const auto wait = std::chrono::microseconds(
      std::clamp<std::uint64_t>((static_cast<std::uint64_t>(unsent) - half) * 1000000 / rate + 1, 200, 20000));
    if (!b.pace) b.pace = std::make_unique<asio::steady_timer>(io);
    b.pacing = true;
    b.waited = true;
    b.pace->expires_after(wait);
    b.pace->async_wait([this, i = index_of(b), gen = b.generation](const asio::error_code& ec) {
      auto& bb = *backbones[i];
      if (ec || bb.generation != gen) return;
      bb.pacing = false;
      pump(bb);
    });
    return false;
  }

  void resume_parked(backbone& b) {
    for (std::size_t p = 0; p < b.parked.size(); ++p) {
      if (b.queues.queued(p) >= low_water) continue;
      auto& parked = b.parked[p];
      while (!parked.empty() && b.queues.queued(p) < high_water) {
        auto [cid, gen] = parked.front();
        parked.pop_front();
        if (ccb* x = live(cid, gen)) {
          x->parked = false;
          read_host(*x, true);
        }
      }
    }
  }

  void read_backbone(backbone& b) {
    if (b.reading || b.state != bb_state::up) return;
    b.reading = true;
    b.stream->async_read_some(
      asio::buffer(b.in.data() + b.in_len, b.in.size() - b.in_len),
      [this, i = index_of(b), gen = b.generation](const asio::error_code& ec, std::size_t n) {
        auto& bb = *backbones[i];
        if (bb.generation != gen) return;
        bb.reading = false;
        if (ec) return lose(bb, ec == asio::error::eof ? "closed by the peer" : "read: " + ec.message());
        bb.bytes_in += n;
        bb.in_len += n;
        bb.last_heard = steady::now();
        std::size_t at = 0;
        while (bb.state == bb_state::up && bb.generation == gen) {
          tsk::message m;
          std::size_t used = 0;
          const auto st = tsk::decode(bb.in.data() + at, bb.in_len - at, m, used);
          if (st == tsk::decode_status::need_more) break;
          if (st != tsk::decode_status::ok) {
            ++c.malformed_frames;
            return lose(bb, std::string("malformed TSK frame: ") + tsk::to_string(st));
          }
          at += used;
          ++bb.messages_in;
          ++c.messages_in;
          dispatch(bb, m);
        }
        if (bb.generation != gen || bb.state != bb_state::up) return;
        if (at) {
          std::memmove(bb.in.data(), bb.in.data() + at, bb.in_len - at);
          bb.in_len -= at;
        }
        read_backbone(bb);
      });
  }

  void discard() { ++c.messages_discarded; }

  /// The CCB a connection message is for ([139]): by our CID, else by the peer's CID on this
  /// backbone (before the peer learned ours).
  ccb* find(backbone& b, const tsk::message& m) {
    if (m.h.dst_cid != tsk::unknown_cid) {
      if (m.h.dst_cid >= ccbs.size() || !ccbs[m.h.dst_cid]) return nullptr;
      auto* x = ccbs[m.h.dst_cid].get();
      // Any backbone to the CCB's peer: the second one carries copies (RTD, CE).
      if (!x->used || peer_of(*x) != b.peer) return nullptr;
      if (x->peer_cid != tsk::unknown_cid && x->peer_cid != m.h.src_cid) return nullptr;
      return x;
    }
    auto it = by_peer_cid.find({b.peer, m.h.src_cid});
    return it == by_peer_cid.end() ? nullptr : ccbs[it->second].get();
  }

  void dispatch(backbone& b, const tsk::message& m) {
    using t = tsk::message_type;
    if (b.refusing) return discard();  // refused here (pep.group): nothing it sends counts
    if (m.h.type == t::nr && !m.h.has_connection && m.h.dst_cid == tsk::unknown_cid &&
        tsk::read_reason(m) == tsk::reason::not_owner)
      return on_not_owner(b, m);
    switch (m.h.type) {
      case t::tpp: {
        const auto p = tsk::read_tpp(m);
        b.tries = 0;  // a hub group member serves us: the next loss starts a new round
        b.peer_tid = p.tid;
        b.peer_max_ccbs = p.max_ccbs;
        b.peer_reads_ctd = (p.features & tsk::tpp_reads_ctd) != 0;
        b.peer_reads_rs = (p.features & tsk::tpp_reads_rs) != 0;
        if (!b.dialled) b.top = (p.features & tsk::tpp_top) != 0;  // the dialler's choice
        revert_to(b);
        return;
      }
      case t::ka: {
        const auto k = tsk::read_ka(m);
        b.peer_clock = k.sent_us;
        b.peer_clock_at = steady::now();
        if (k.echo_us && k.echo_us <= now_us()) b.ka_rtt_ms = static_cast<double>(now_us() - k.echo_us) / 1000.0;
        return;
      }
      case t::cr: return on_cr(b, m);
      default: break;
    }
    ccb* x = find(b, m);
    if (!x && m.h.type == t::rs && m.h.has_connection) {
      // The peer continues a connection that ended here (our TP was lost with its path, after the
      // peer had acknowledged all our data): end it there, or it would wait for our RS forever.
      tsk::header reply;
      reply.type = t::ct;
      reply.dst_cid = m.h.src_cid;
      reply.src_cid = m.h.dst_cid;  // the CID the peer knew it by: its CCB checks it
      reply.has_connection = true;
      reply.connection = m.h.connection.mirrored();
      ++ct_sent[static_cast<int>(tsk::reason::backbone_lost)];
      send(b, top_priority, reply, tsk::reason::backbone_lost);
      return discard();
    }
    if (!x) return discard();
    // A moved connection's stream continues on its new backbone only: what the old one still
    // delivers of it is discarded (the RS exchange sends it again). Copies (RTD, CE) and the
    // ending of the connection (CT, NR) count from any backbone to the peer.
    if (x->movable && index_of(b) != x->backbone &&
        (m.h.type == t::td || m.h.type == t::ctd || m.h.type == t::ud || m.h.type == t::tp || m.h.type == t::wa)) {
      ++c.moved_discarded;
      return;
    }
    switch (m.h.type) {
      case t::ce: return on_ce(b, *x, m);
      case t::ct: return on_ct(*x, m);
      case t::nr: return on_nr(*x, m);
      case t::td: return on_td(*x, m);
      case t::ctd: return on_ctd(b, *x, m);
      case t::ud: {
        // Urgent data is delivered in line (the urgent pointer is not re-created).
        const std::uint64_t offset = x->rx_primary;
        x->rx_primary += m.body_size - 2;
        return on_data(*x, offset, m.body + 2, m.body_size - 2, false);
      }
      case t::tp: return on_tp(*x);
      case t::rtd:
        // Copies count only once the peer's CID is known and theirs matches it (find() checked):
        // an ended connection's late copy never lands in a new one.
        if (x->peer_cid == tsk::unknown_cid) return discard();
        return on_data(*x, tsk::read_offset(m), m.body + 8, m.body_size - 8, true);
      case t::wa: return on_wa(*x, m);
      case t::rs: return on_rs(b, *x, m);
      default: return discard();
    }
  }

  // --- the console -----------------------------------------------------------------------------
  pep_snapshot snapshot(std::size_t limit) const {
    pep_snapshot s;
    s.counters = c;
    if (queue) s.queue = queue->counters();
    for (std::size_t i = 0; i < backbones.size(); ++i) {
      const auto& bp = backbones[i];
      if (!bp || (!bp->used && !bp->dialled)) continue;
      const auto& b = *bp;
      backbone_status x;
      x.peer = b.peer;
      x.path = b.path;
      x.moved_in = b.moved_in;
      x.moved_out = b.moved_out;
      x.address = policy::format_endpoint(b.address, b.port);
      x.state = b.refusing ? "refused" : to_string(b.state);
      x.dialled = b.dialled;
      x.top = b.top;
      x.keepalive_rtt_ms = b.ka_rtt_ms;
      x.bytes_in = b.bytes_in;
      x.bytes_out = b.bytes_out;
      x.messages_in = b.messages_in;
      x.messages_out = b.messages_out;
      x.queued = b.queues.queued_total() + b.writing_buf.size();
      x.unsent_limit = b.unsent_limit;
      x.pacing_limit_bps = b.max_pacing * 8;
      x.unsent_boost = b.boost;
      x.unsent_dry = b.dry;
      std::uint64_t sent_total = 0;
      for (std::size_t p = 0; p < net::priority_queues::levels; ++p) sent_total += b.queues.stats(p).sent_bytes;
      for (std::size_t p = 0; p < net::priority_queues::levels; ++p) {
        const auto st = b.queues.stats(p);
        priority_status ps;
        ps.priority = static_cast<std::uint8_t>(p);
        ps.weight = p < top_priority ? b.queues.weights()[p] : 0;
        ps.queued_bytes = st.queued_bytes;
        ps.queued_messages = st.queued_messages;
        ps.sent_bytes = st.sent_bytes;
        ps.sent_messages = st.sent_messages;
        ps.share = sent_total ? static_cast<double>(st.sent_bytes) / static_cast<double>(sent_total) : 0;
        x.priorities.push_back(ps);
      }
      x.connections = b.connections;
      x.peer_max_ccbs = b.peer_max_ccbs;
      x.tls = b.tls;
      if (b.state == bb_state::up && b.stream) {
        const int fd = const_cast<tls_stream&>(*b.stream).lowest_layer().native_handle();
        kernel_tcp_info ti{};
        socklen_t len = sizeof ti;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
          x.tcp_rtt_ms = ti.base.tcpi_rtt / 1000.0;
          if (len >= offsetof(kernel_tcp_info, busy_time)) {
            x.delivery_rate_bps = ti.delivery_rate * 8;
            x.tcp_min_rtt_ms = ti.min_rtt / 1000.0;
            x.unsent = ti.notsent_bytes;
          }
          if (len >= offsetof(kernel_tcp_info, max_pacing_rate) && ti.pacing_rate != ~std::uint64_t{0})
            x.pacing_rate_bps = ti.pacing_rate * 8;
          x.retransmissions = ti.base.tcpi_total_retrans;
          if (len >= offsetof(kernel_tcp_info, busy_time)) x.wire_bytes_in = ti.bytes_received;
          // Sent, retransmissions included: what the WAN carried, counted when it left (acked
          // bytes would lag a round trip behind the data a host already received).
          if (len >= sizeof ti) x.wire_bytes_out = ti.bytes_sent;
        }
        char cc[16] = {0};
        socklen_t cl = sizeof cc - 1;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &cl) == 0) x.congestion = cc;
      }
      s.backbones.push_back(std::move(x));
    }
    // Paths: each listed path of each peer, from the backbones on it.
    for (const auto& p : sec.peers) {
      const auto* cheapest = choose(p, {}, nullptr, false);
      for (const auto& path : p.paths) {
        path_status ps;
        ps.peer = p.peer;
        ps.path = path.name;
        ps.local = path.local ? ip(path.local) : "*";
        ps.address = ip(path.address);
        ps.rate_mbit = path.rate_mbit;
        ps.cost = path.cost;
        ps.preferred = cheapest && cheapest->path == path.name;
        for (const auto& bs : s.backbones) {
          if (bs.peer != p.peer || bs.path != path.name) continue;
          ps.bytes_in += bs.bytes_in;
          ps.bytes_out += bs.bytes_out;
          ps.moved_in += bs.moved_in;
          ps.moved_out += bs.moved_out;
          if (bs.state != "up") continue;
          ps.up = true;
          ++ps.backbones_up;
          ps.connections += bs.connections;
          if (ps.rtt_ms == 0 || (bs.tcp_rtt_ms > 0 && bs.tcp_rtt_ms < ps.rtt_ms)) ps.rtt_ms = bs.tcp_rtt_ms;
        }
        s.paths.push_back(std::move(ps));
      }
    }
    for (const auto& cp : ccbs) {
      if (!cp || !cp->used) continue;
      ++s.connections_total;
      if (s.connections.size() >= limit) continue;
      const auto& x = *cp;
      connection_status y;
      y.cid = x.cid;
      y.peer_cid = x.peer_cid;
      y.host_ip = x.conn.src_ip;
      y.host_port = x.conn.src_port;
      y.remote_ip = x.conn.dst_ip;
      y.remote_port = x.conn.dst_port;
      y.peer = x.peer;
      y.profile = x.profile;
      y.state = x.local_fin || x.peer_fin ? (x.local_fin && x.peer_fin ? "closing" : x.local_fin ? "host_fin" : "peer_fin")
                                          : to_string(x.state);
      y.initiator = x.initiator;
      y.three_way_spoofed = x.three_way_spoofed;
      y.mss = x.initiator ? x.advertised_mss : x.mss;
      y.bytes_from_host = x.bytes_from_host;
      y.bytes_to_host = x.bytes_to_host;
      y.queued_to_host = x.to_host_bytes;
      y.send_window = x.send_limit > x.sent ? x.send_limit - x.sent : 0;
      y.compress = x.compress;
      y.compress_paused = x.gate.paused();
      y.compress_in = x.compress_in;
      y.compress_out = x.compress_out;
      y.path = x.backbone == detached ? "(held: no path up)"
               : x.backbone < backbones.size() && backbones[x.backbone] ? backbones[x.backbone]->path : "";
      y.movable = x.movable;
      y.kept = x.kept_bytes;
      y.moves = x.moves;
      s.connections.push_back(std::move(y));
    }
    s.group = sec.group;
    if (sec.group) {
      s.group_self = grp.self ? ip(grp.self) : "-";
      s.group_master = grp.master ? ip(grp.master) : "-";
      for (auto o : grp.owned) s.units_owned += o;
      for (const auto& [name, rec] : branches) {
        group_branch_status g;
        g.branch = name;
        g.unit = branch_unit(name, units());
        const std::uint32_t owner = owner_of(g.unit);
        g.owner = owner ? ip(owner) : "-";
        g.here = owns(g.unit);
        g.backbone = "-";
        for (const auto& bp : backbones)
          if (bp && bp->used && !bp->dialled && !bp->refusing && bp->state == bb_state::up && bp->peer == name)
            g.backbone = "up";
        g.accepted = rec.accepted;
        g.refused = rec.refused;
        g.dropped = rec.dropped;
        s.group_branches.push_back(std::move(g));
      }
    }
    s.ct_sent = by_reason(ct_sent);
    s.ct_received = by_reason(ct_received);
    s.nr_sent = by_reason(nr_sent);
    s.nr_received = by_reason(nr_received);
    return s;
  }

  std::string apply(const policy::policy& p) {
    if (!p.pep) return "the pep section is gone: the running PEP keeps its own until a restart";
    std::string changed;
    const auto old_peers = sec.peers;
    pol = p;
    const auto& n = *p.pep;
    if (!(n.rules == sec.rules)) changed += "rules ";
    // What the running sockets and rules were built with stays until a restart.
    auto keep = sec;
    sec = n;
    sec.lan = keep.lan;
    sec.listen_port = keep.listen_port;
    sec.backbone_port = keep.backbone_port;
    sec.queue = keep.queue;
    sec.max_connections = keep.max_connections;
    if (sec.group != keep.group) changed += "group(needs a restart) ";
    sec.group = keep.group;  // the node's unit worker is chosen at start
    if (sec.top_backbone != keep.top_backbone) changed += "top_backbone(needs a restart) ";
    sec.top_backbone = keep.top_backbone;  // which backbones are dialled is decided at start
    if (sec.priority_weights != keep.priority_weights) changed += "priority_weights ";
    for (auto& b : backbones)
      if (b && b->used) {
        b->queues.set_weights(sec.priority_weights);
        b->unsent_tuned = {};  // unsent_ms may have changed: tuned again now
        if (b->state == bb_state::up) {
          pace_backbone(*b);  // the path's rate may have changed
          tune_unsent(*b);
        }
      }
    for (const auto& np : sec.peers) {
      bool known = false;
      for (const auto& op : old_peers) known = known || op.peer == np.peer;
      if (!known) {
        changed += "peer+" + np.peer + " ";
        if (!sec.group) dial_all(np);
      }
    }
    // Paths added to a peer that stays are dialled; a path removed keeps its backbone until a
    // restart (its connections stay where they are).
    for (const auto& np : sec.peers)
      for (const auto& path : np.paths)
        if (!dialled.count({np.peer, path.name, false})) {
          bool known = false;
          for (const auto& op : old_peers) known = known || op.peer == np.peer;
          if (!known) continue;  // dialled above with the new peer
          changed += "path+" + np.peer + "/" + path.name + " ";
          if (!sec.group) dial_path(np.peer, path.name);
        }
    for (const auto& op : old_peers) {
      bool kept = false;
      for (const auto& np : sec.peers) kept = kept || op.peer == np.peer;
      if (kept) continue;
      changed += "peer-" + op.peer + " ";
      for (auto it = dialled.begin(); it != dialled.end();) {
        if (std::get<0>(it->first) != op.peer) {
          ++it;
          continue;
        }
        auto& b = *backbones[it->second];
        it = dialled.erase(it);
        if (b.state == bb_state::up) {
          b.dialled = false;  // not dialled again
          removing = true;
          lose(b, "peer removed from the policy");
          removing = false;
        } else {
          ++b.generation;
          b.state = bb_state::down;
          b.used = false;
        }
      }
    }
    return "applied: new connections follow " + (changed.empty() ? std::string("the same rules") : changed);
  }
};

engine::engine(const policy::policy& p, node::event_log& events) {
  if (!p.pep) throw std::runtime_error("pep: the policy has no pep section");
  if (p.pep->lan.empty())
    throw std::runtime_error("/pep/lan: missing: the interface toward the local hosts, whose SYNs the rules decide");
  impl_ = std::make_unique<impl>(p, events);
}

engine::~engine() { stop(); }

void engine::start() { impl_->start(); }

void engine::stop() noexcept {
  if (!impl_ || !impl_->started) return;
  impl_->started = false;
  asio::post(impl_->io, [this] { impl_->stop(); });
  if (impl_->thread.joinable()) impl_->thread.join();
  net::remove_interception(impl_->icfg);
  if (impl_->raw_fd >= 0) ::close(impl_->raw_fd);
  impl_->raw_fd = -1;
}

void engine::post(std::function<void()> work) { asio::post(impl_->io, std::move(work)); }

pep_snapshot engine::snapshot(std::size_t limit) const { return impl_->snapshot(limit); }

std::string engine::apply(const policy::policy& p) { return impl_->apply(p); }

void engine::set_group(group_state g) { impl_->set_group(std::move(g)); }

std::vector<std::pair<std::uint32_t, std::uint64_t>> engine::unit_connections() const {
  return impl_->unit_connections();
}

}  // namespace baton::pep
