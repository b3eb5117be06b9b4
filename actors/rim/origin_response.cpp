// An origin's response through libhttp-parser. See origin_response.hpp.

#include "actors/rim/origin_response.hpp"

#include <http_parser.h>

#include <cstring>

namespace baton::rim {

struct origin_response::impl {
  explicit impl(std::size_t max) : max_body(max) {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    http_parser_settings_init(&settings);
    settings.on_header_field = [](http_parser* p, const char* at, std::size_t n) {
      auto& d = *static_cast<impl*>(p->data);
      // A header name may arrive in pieces; a new name starts after a value.
      if (d.in_value) {
        d.field.clear();
        d.in_value = false;
      }
      d.field.append(at, n);
      return 0;
    };
    settings.on_header_value = [](http_parser* p, const char* at, std::size_t n) {
      auto& d = *static_cast<impl*>(p->data);
      if (!d.in_value) {
        d.in_value = true;
        d.is_content_range = strcasecmp(d.field.c_str(), "content-range") == 0;
        if (d.is_content_range) {
          if (d.seen_content_range) return d.refuse("the response has two Content-Range headers");
          d.seen_content_range = true;
        }
      }
      if (d.is_content_range) d.content_range.append(at, n);
      return 0;
    };
    settings.on_headers_complete = [](http_parser* p) {
      auto& d = *static_cast<impl*>(p->data);
      if ((p->flags & F_CONTENTLENGTH) && p->content_length > d.max_body)
        return d.refuse("the response's Content-Length " + std::to_string(p->content_length) +
                        " exceeds the chunk asked for (" + std::to_string(d.max_body) + ")");
      d.head_done = true;
      if (p->flags & F_CONTENTLENGTH) d.body.reserve(p->content_length);  // one allocation for the chunk
      return 0;
    };
    settings.on_body = [](http_parser* p, const char* at, std::size_t n) {
      auto& d = *static_cast<impl*>(p->data);
      if (d.body.size() + n > d.max_body)
        return d.refuse("the response's body exceeds the chunk asked for (" + std::to_string(d.max_body) + ")");
      d.body.append(at, n);
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      static_cast<impl*>(p->data)->done = true;
      http_parser_pause(p, 1);  // what follows is no concern of ours (we asked for Connection: close)
      return 0;
    };
  }

  int refuse(std::string why) {
    error = std::move(why);
    return 1;  // stops the parser: HPE_CB_*
  }

  void parser_failed() {
    if (error.empty())
      error = std::string("the response is malformed: ") +
              http_errno_description(HTTP_PARSER_ERRNO(&parser));
  }

  http_parser parser{};
  http_parser_settings settings{};
  std::size_t max_body;
  std::string field, content_range, body, error;
  bool in_value = false, is_content_range = false, seen_content_range = false, head_done = false, done = false;

  /// Whether the parser stopped on an error (a pause after the message is none).
  bool failed() const {
    const auto e = HTTP_PARSER_ERRNO(&parser);
    return e != HPE_OK && !(e == HPE_PAUSED && done);
  }
  std::string cut_short() const {
    return head_done ? "the origin closed the connection before the response's end"
                     : "the origin closed the connection before a complete response head";
  }
};

origin_response::origin_response(std::size_t max_body) : impl_(std::make_unique<impl>(max_body)) {}
origin_response::~origin_response() = default;

bool origin_response::feed(const char* data, std::size_t n) {
  auto& d = *impl_;
  if (!d.error.empty()) return false;
  if (d.done || n == 0) return true;
  // Fewer bytes used without an error: the message ended (done) and the rest is ignored.
  http_parser_execute(&d.parser, &d.settings, data, n);
  if (d.failed()) {
    d.parser_failed();
    return false;
  }
  return true;
}

bool origin_response::finish() {
  auto& d = *impl_;
  if (!d.error.empty() || d.done) return d.done && d.error.empty();
  // Zero bytes tell the parser the connection ended: a close-framed body completes, a short one fails.
  http_parser_execute(&d.parser, &d.settings, nullptr, 0);
  if (HTTP_PARSER_ERRNO(&d.parser) == HPE_INVALID_EOF_STATE || (!d.failed() && !d.done)) {
    d.error = d.cut_short();
    return false;
  }
  if (d.failed()) {
    d.parser_failed();
    return false;
  }
  return true;
}

bool origin_response::complete() const { return impl_->done && impl_->error.empty(); }
int origin_response::status() const { return static_cast<int>(impl_->parser.status_code); }
const std::string& origin_response::content_range() const { return impl_->content_range; }
const std::string& origin_response::error() const { return impl_->error; }
std::string& origin_response::body() { return impl_->body; }

}  // namespace baton::rim
