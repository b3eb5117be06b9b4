#pragma once
// The web console's files (actors/console/web/), embedded in the binary at build time
// (web/embed.cmake writes web_assets.cpp from them): batond serves them from its console address,
// so an operator installs one file and the page needs nothing from the network.

#include <string_view>
#include <vector>

namespace baton::console {

struct web_asset {
  std::string_view path;          // URL path, e.g. "/console.js"; index.html is also served as "/"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes, static storage
};

/// Every embedded file, in the order the build listed them. Never throws.
const std::vector<web_asset>& web_assets() noexcept;

}  // namespace baton::console
