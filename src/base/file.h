// Files: read-only memory maps, whole-file reads, and atomic writes (temp file + fsync + rename,
// so a crash or a full disk never leaves a partial file under the final name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil {

// A read-only, private mapping of a whole file. Move-only; unmaps on destruction.
// An empty file maps to an empty span (mmap of length 0 is not allowed).
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  void reset();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole file; throws vigil::Error naming the path on failure.
std::string read_file(const std::string& path);

// Writes `data` to `path` atomically: `path`.tmp.<pid>, fsync, rename.
void write_file_atomic(const std::string& path, std::string_view data);

bool file_exists(const std::string& path);

}  // namespace vigil
