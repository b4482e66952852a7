// Files: read-only memory maps, whole-file reads, and atomic writes (temp file + fsync + rename,
// so a crash or a full disk never leaves a partial file under the final name).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vigil {

// How MappedFile holds a file's bytes.
enum class FileImage {
  // A read-only mapping of the file: pages come from the page cache on first touch and can be
  // evicted under memory pressure. Opening costs nothing.
  kMap,
  // A private copy in anonymous memory (transparent huge pages where the kernel allows), read
  // once at open. Costs the file's size in RAM and a read; in return every later access hits
  // plain anonymous memory. Measured on the project's VM: resident decode 1.5-1.8x faster than
  // from the file mapping (docs/PERFORMANCE.md), since touching page-cache pages there is slow.
  kCopy,
};

// A read-only, private image of a whole file (see FileImage). Move-only; unmaps on destruction.
// An empty file maps to an empty span (mmap of length 0 is not allowed).
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path, FileImage image = FileImage::kMap);
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
  size_t size_ = 0;          // bytes of the file
  size_t mapped_bytes_ = 0;  // bytes of the mapping (kCopy rounds up to whole huge pages)
};

// Reads a whole file; throws vigil::Error naming the path on failure.
std::string read_file(const std::string& path);

// Writes `data` to `path` atomically: `path`.tmp.<pid>, fsync, rename.
void write_file_atomic(const std::string& path, std::string_view data);

bool file_exists(const std::string& path);

}  // namespace vigil
