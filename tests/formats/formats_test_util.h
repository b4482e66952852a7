// Helpers for the safetensors / config.json tests: building safetensors images, a scratch folder
// and error-message assertions.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"

namespace vigil::formats_testing {

inline std::span<const uint8_t> as_span(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

inline std::string le64(uint64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

// A safetensors image: 8-byte length, the header text as given, then the data.
inline std::string safetensors_text_image(std::string_view header, std::string_view data) {
  return le64(header.size()) + std::string(header) + std::string(data);
}
// The same with the header given as JSON (a distinct name: a std::string would silently convert
// to a JSON string value).
inline std::string safetensors_image(const nlohmann::json& header, std::string_view data) {
  return safetensors_text_image(header.dump(), data);
}

// Runs `fn`, expecting a vigil::Error whose message contains every needle.
inline void expect_error(const std::function<void()>& fn,
                         std::initializer_list<std::string_view> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    for (auto n : needles) {
      EXPECT_NE(message.find(n), std::string::npos) << "'" << n << "' not in: " << message;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-vigil exception: " << e.what();
  }
}

// A scratch folder removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("vigil_formats_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace vigil::formats_testing
