#include "server/static_files.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "server/web_assets.h"

namespace vigil::server {
namespace fs = std::filesystem;

std::string_view content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".json") || ends(".webmanifest")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".wav")) return "audio/wav";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

std::optional<Asset> embedded_asset(std::string_view url_path) {
  if (url_path.empty() || url_path == "/") url_path = "/index.html";
  for (size_t i = 0; i < embedded::kFileCount; ++i) {
    const embedded::File& f = embedded::kFiles[i];
    if (url_path == f.path) {
      return Asset{std::string_view(reinterpret_cast<const char*>(f.data), f.size),
                   content_type_for(f.path)};
    }
  }
  return std::nullopt;
}

size_t embedded_asset_count() {
  return embedded::kFileCount;
}

namespace {

// `inner` lies under `outer` (both canonical): outer itself or outer + "/" + ...
bool is_within(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin(), i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

}  // namespace

bool file_is_under(const std::string& root, const std::string& path) {
  if (root.empty() || path.empty()) return false;
  std::error_code ec;
  const fs::path croot = fs::canonical(root, ec);
  if (ec) return false;
  const fs::path cpath = fs::canonical(path, ec);
  if (ec) return false;
  if (!fs::is_regular_file(cpath, ec) || ec) return false;
  return cpath != croot && is_within(croot, cpath);
}

std::optional<std::string> resolve_under_root(const std::string& root, std::string_view url_path) {
  if (url_path.empty() || url_path == "/") url_path = "/index.html";
  // Segments are checked one by one: no "..", no backslash (Windows-style separators), no NUL.
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= url_path.size()) {
    size_t end = url_path.find('/', start);
    if (end == std::string_view::npos) end = url_path.size();
    const std::string_view seg = url_path.substr(start, end - start);
    if (seg == "..") return std::nullopt;
    if (seg.find('\\') != std::string_view::npos || seg.find('\0') != std::string_view::npos) {
      return std::nullopt;
    }
    if (!seg.empty() && seg != ".") parts.push_back(seg);
    start = end + 1;
  }
  if (parts.empty()) return std::nullopt;
  fs::path p(root);
  for (auto seg : parts) p /= fs::path(std::string(seg));
  // Symlinks are followed, and the target must still be inside the root.
  if (!file_is_under(root, p.string())) return std::nullopt;
  std::error_code ec;
  return fs::canonical(p, ec).string();
}

}  // namespace vigil::server
