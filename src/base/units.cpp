#include "base/units.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "base/error.h"

namespace vigil {

uint64_t parse_size(std::string_view text, std::string_view what) {
  std::string s(text);
  size_t pos = 0;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.'))
    ++pos;
  if (pos == 0)
    fail_usage("{}: '{}' is not a size (expected e.g. 1G, 768M, 4096)", what, printable(text));
  const double number = std::strtod(s.substr(0, pos).c_str(), nullptr);
  std::string suffix;
  for (size_t i = pos; i < s.size(); ++i)
    suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  double mult = 1;
  if (suffix.empty() || suffix == "b")
    mult = 1;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    mult = 1024.0;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    mult = 1024.0 * 1024;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    fail_usage("{}: unknown size suffix in '{}' (expected K, M, G or T)", what, printable(text));
  const double bytes = number * mult;
  if (!std::isfinite(bytes) || bytes > 1.8e19)
    fail_usage("{}: '{}' is too large", what, printable(text));
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.2f} {}", v, units[u]);
}

std::string format_local_time(double unix_time, const char* format) {
  const auto t = static_cast<std::time_t>(unix_time);
  std::tm local{};
  localtime_r(&t, &local);
  char text[64];
  const size_t n = std::strftime(text, sizeof text, format, &local);
  return std::string(text, n);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace vigil
