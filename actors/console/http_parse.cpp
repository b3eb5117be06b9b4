#include "actors/console/http_parse.hpp"

#include <cctype>

namespace baton::console {

namespace {

// RFC 9110 §5.6.2 tchar: the characters of a method or header name.
bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


head_verdict refuse(int status, std::string reason) {
  return head_verdict{status, std::move(reason)};
}

// Takes the next CRLF-terminated line off `rest`. False if there is no CRLF, or a CR or LF
// appears alone inside the line (a request smuggling vector if tolerated).
bool next_line(std::string_view& rest, std::string_view& line) {
  auto pos = rest.find("\r\n");
  if (pos == std::string_view::npos) return false;
  line = rest.substr(0, pos);
  rest.remove_prefix(pos + 2);
  return line.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;  // needs two hex digits after '%'
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out += decoded;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<field>> parse_query(std::string_view query) {
  std::vector<field> fields;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) return std::nullopt;
    fields.emplace_back(std::move(*key), std::move(*value));
  }
  return fields;
}

head_verdict parse_request_head(std::string_view head, std::size_t max_headers, http_request& out,
                                head_info& info) {
  info = head_info{};
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
  while (head.substr(0, 2) == "\r\n") head.remove_prefix(2);

  std::string_view line;
  if (!next_line(head, line)) return refuse(400, "request line is not terminated by CRLF");

  // request-line = method SP request-target SP HTTP-version
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos)
    return refuse(400, "request line is not 'METHOD TARGET HTTP/1.1'");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return refuse(400, "method is not a token");

  bool http10 = false;
  if (version == "HTTP/1.1") {
    http10 = false;
  } else if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
             std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
             std::isdigit(static_cast<unsigned char>(version[7]))) {
    return refuse(505, "HTTP version " + std::string(version.substr(5)) + " is not supported");
  } else {
    return refuse(400, "malformed HTTP version");
  }

  if (target.empty() || target.front() != '/')
    return refuse(400, "request target must be an absolute path starting with '/'");
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#')
      return refuse(400, "request target contains a character that must be percent-encoded");
  }
  auto qmark = target.find('?');
  auto path = percent_decode(target.substr(0, qmark), false);
  if (!path) return refuse(400, "bad percent escape in path");
  std::optional<std::vector<field>> query{std::in_place};
  if (qmark != std::string_view::npos) {
    query = parse_query(target.substr(qmark + 1));
    if (!query) return refuse(400, "bad percent escape in query");
  }

  out.method = std::string(method);
  out.target = std::string(target);
  out.path = std::move(*path);
  out.query = std::move(*query);
  out.headers.clear();

  bool have_length = false;
  bool have_host = false;
  bool saw_close = false, saw_keep_alive = false;
  while (true) {
    if (!next_line(head, line)) return refuse(400, "header line is not terminated by CRLF");
    if (line.empty()) break;  // the blank line ending the head
    if (line.front() == ' ' || line.front() == '\t')
      return refuse(400, "obsolete header line folding is not accepted");
    if (out.headers.size() >= max_headers) return refuse(431, "too many header fields");
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return refuse(400, "header line without ':'");
    std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return refuse(400, "header name is not a token");
    std::string_view value = trim(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f)
        return refuse(400, "control character in header value");
    }
    std::string lname = lower(name);

    if (lname == "content-length") {
      if (value.empty() || value.size() > 15) return refuse(400, "invalid Content-Length");
      std::size_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return refuse(400, "invalid Content-Length");
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      if (have_length && n != info.content_length)
        return refuse(400, "conflicting Content-Length headers");
      have_length = true;
      info.content_length = n;
    } else if (lname == "transfer-encoding") {
      return refuse(501, "Transfer-Encoding is not supported; send a Content-Length");
    } else if (lname == "host") {
      if (have_host) return refuse(400, "more than one Host header");
      have_host = true;
    } else if (lname == "connection") {
      // A comma-separated list of options; only close and keep-alive matter here.
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string opt = lower(trim(rest.substr(0, comma)));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (opt == "close")
          saw_close = true;
        else if (opt == "keep-alive")
          saw_keep_alive = true;
      }
    } else if (lname == "expect") {
      if (lower(value) != "100-continue")
        return refuse(417, "only 'Expect: 100-continue' is supported");
      info.expect_continue = !http10;
    }
    out.headers.emplace_back(std::move(lname), std::string(value));
  }
  if (!head.empty()) return refuse(400, "bytes after the end of the header block");
  if (!http10 && !have_host) return refuse(400, "HTTP/1.1 request without a Host header");
  // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless asked to keep it.
  info.keep_alive = !saw_close && (!http10 || saw_keep_alive);
  return head_verdict{};
}

}  // namespace baton::console
