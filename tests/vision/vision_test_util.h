// Helpers shared by the vision tests: scratch folders, the sample video, Debian's python3.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace vigil::vision::testing {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ =
        std::filesystem::temp_directory_path() /
        ("vigil-vision-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// data/vtest.avi from scripts/fetch-sample-video, or "" when it is not there.
inline std::string sample_video() {
  const std::string path = std::string(VIGIL_SOURCE_DIR) + "/data/vtest.avi";
  return std::filesystem::exists(path) ? path : std::string();
}

#define VIGIL_NEED_SAMPLE_VIDEO(var)                                                    \
  const std::string var = ::vigil::vision::testing::sample_video();                     \
  if (var.empty()) {                                                                    \
    GTEST_SKIP() << "data/vtest.avi is missing: run scripts/fetch-sample-video (needs " \
                    "apt access to Debian's opencv-doc package)";                       \
  }

// Debian's python3 with the python3-onnx package ("" when the onnx module is not there). The
// Debian interpreter is preferred: a python3 earlier on PATH (pyenv, venv) lacks Debian's modules.
inline std::string python_with_onnx() {
  for (const char* python : {"/usr/bin/python3", "python3"}) {
    const std::string probe = std::string(python) + " -c 'import onnx' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return "";
}

}  // namespace vigil::vision::testing
