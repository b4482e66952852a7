// Large sequential reads from one file, as fast as the storage allows: O_DIRECT (no page cache,
// so memory use is exactly our buffers) with a buffered fallback where the filesystem refuses it,
// and several reads in flight (io_uring, queue depth >= 4) with a pread fallback where io_uring
// is unavailable. Used by the layer streamer and by `vigil bench --disk`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

struct io_uring;

namespace vigil {

class AsyncFileReader {
 public:
  // Alignment of offsets, lengths and buffers for O_DIRECT (bytes).
  static constexpr size_t kAlignment = 4096;

  // `direct`: try O_DIRECT first. `queue_depth`: reads in flight. `chunk_bytes`: size of each read.
  AsyncFileReader(const std::string& path, bool direct = true, unsigned queue_depth = 8,
                  size_t chunk_bytes = 4u << 20);
  ~AsyncFileReader();
  AsyncFileReader(const AsyncFileReader&) = delete;
  AsyncFileReader& operator=(const AsyncFileReader&) = delete;

  // Reads exactly `length` bytes at `offset` into `dst`, splitting into chunk_bytes reads with up
  // to queue_depth in flight. With O_DIRECT, offset, length and dst must be kAlignment-aligned,
  // except that a read may end at the end of the file. Throws vigil::Error naming the file, the
  // offset and the cause on an I/O error or a short read (file truncated).
  void read(uint64_t offset, uint64_t length, uint8_t* dst);

  bool direct() const { return direct_; }
  bool uses_io_uring() const { return ring_ != nullptr; }
  unsigned queue_depth() const { return queue_depth_; }
  uint64_t file_size() const;  // current size (re-read: the file may change under us)
  const std::string& path() const { return path_; }

  // Tests: called before every chunk read with (offset, length); may throw to inject a fault,
  // or return a smaller length to simulate a short read.
  void set_fault_hook(std::function<uint64_t(uint64_t offset, uint64_t length)> hook) {
    fault_hook_ = std::move(hook);
  }

 private:
  void read_pread(uint64_t offset, uint64_t length, uint8_t* dst);
  void read_uring(uint64_t offset, uint64_t length, uint8_t* dst);

  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  unsigned queue_depth_;
  size_t chunk_bytes_;
  io_uring* ring_ = nullptr;
  std::function<uint64_t(uint64_t, uint64_t)> fault_hook_;
};

// Memory aligned for O_DIRECT, owned. Move-only.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t bytes);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the page cache of `path` (posix_fadvise DONTNEED), so the next read comes from storage.
void drop_page_cache(const std::string& path);

// Peak resident set size of this process (VmHWM), bytes.
uint64_t peak_rss_bytes();
// Current resident set size (VmRSS), bytes.
uint64_t current_rss_bytes();

}  // namespace vigil
