// Errors. Every failure the user can cause (bad file, bad flag, bad config) is reported as a
// vigil::Error whose message is one line naming the file/field/value and what was expected.
// The CLI prints it on stderr and exits with 1.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace vigil {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Usage errors (bad command-line values) exit with 2 instead of 1.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail_usage(fmt::format_string<Args...> format, Args&&... args) {
  throw UsageError(fmt::format(format, std::forward<Args>(args)...));
}

// Renders a byte string for an error message: printable ASCII kept, the rest \xNN, at most
// `max_chars` characters (so a corrupt 2 GB "string" never floods the terminal).
std::string printable(std::string_view bytes, size_t max_chars = 64);

}  // namespace vigil
