#include "base/async_reader.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <vector>

#include "base/error.h"
#include "base/log.h"

namespace vigil {

AsyncFileReader::AsyncFileReader(const std::string& path, bool direct, unsigned queue_depth,
                                 size_t chunk_bytes)
    : path_(path), queue_depth_(std::max(1u, queue_depth)), chunk_bytes_(chunk_bytes) {
  if (chunk_bytes_ == 0 || chunk_bytes_ % kAlignment != 0) {
    fail("{}: read chunk {} bytes is not a multiple of {}", path, chunk_bytes_, kAlignment);
  }
  if (direct) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    direct_ = fd_ >= 0;
  }
  if (fd_ < 0) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
    if (direct) spdlog::info("{}: O_DIRECT refused, using buffered reads", path);
  }
  auto* ring = new io_uring;
  const int rc = io_uring_queue_init(queue_depth_, ring, 0);
  if (rc == 0) {
    ring_ = ring;
  } else {
    delete ring;
    spdlog::info("{}: io_uring unavailable ({}), using pread", path, std::strerror(-rc));
  }
}

AsyncFileReader::~AsyncFileReader() {
  if (ring_ != nullptr) {
    io_uring_queue_exit(ring_);
    delete ring_;
  }
  if (fd_ >= 0) ::close(fd_);
}

uint64_t AsyncFileReader::file_size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("{}: cannot stat: {}", path_, std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

void AsyncFileReader::read(uint64_t offset, uint64_t length, uint8_t* dst) {
  if (length == 0) return;
  if (direct_ && (offset % kAlignment != 0 || reinterpret_cast<uintptr_t>(dst) % kAlignment != 0)) {
    fail("{}: unaligned direct read at offset {} (internal error)", path_, offset);
  }
  if (ring_ != nullptr) {
    read_uring(offset, length, dst);
  } else {
    read_pread(offset, length, dst);
  }
}

void AsyncFileReader::read_pread(uint64_t offset, uint64_t length, uint8_t* dst) {
  const uint64_t padded = direct_ ? (length + kAlignment - 1) / kAlignment * kAlignment : length;
  uint64_t done = 0;
  while (done < length) {
    uint64_t want = std::min<uint64_t>(chunk_bytes_, padded - done);
    if (fault_hook_) want = fault_hook_(offset + done, want);
    const ssize_t n = ::pread(fd_, dst + done, want, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("{}: read of {} bytes at offset {} failed: {}", path_, want, offset + done, std::strerror(errno));
    }
    if (n == 0) {
      fail("{}: short read at offset {}: wanted {} more bytes, file ends (truncated after load?)",
           path_, offset + done, length - done);
    }
    done += static_cast<uint64_t>(n);
  }
}

void AsyncFileReader::read_uring(uint64_t offset, uint64_t length, uint8_t* dst) {
  // O_DIRECT needs aligned lengths: read the padded range; only the first `length` bytes must
  // arrive (the file may end inside the last block).
  const uint64_t padded = direct_ ? (length + kAlignment - 1) / kAlignment * kAlignment : length;
  // Up to queue_depth chunks in flight, each tracked in a fixed slot (no allocation per read);
  // a short completion (possible on signals) is re-queued for the rest of its chunk.
  struct Chunk {
    uint64_t off = 0;  // within the request
    uint64_t len = 0;
  };
  uint64_t next = 0;          // next unread byte of the request
  Chunk requeued;             // remainder of a short completion, read before `next`
  Chunk slots[64];
  bool busy[64] = {};
  const unsigned depth = std::min(queue_depth_, 64u);
  unsigned in_flight = 0;
  std::string error;
  auto submit_some = [&] {
    for (unsigned s = 0; s < depth && error.empty(); ++s) {
      if (busy[s]) continue;
      Chunk c;
      if (requeued.len > 0) {
        c = requeued;
        requeued = {};
      } else if (next < padded) {
        c = {next, std::min<uint64_t>(chunk_bytes_, padded - next)};
        next += c.len;
      } else {
        break;
      }
      if (fault_hook_) {
        try {
          c.len = fault_hook_(offset + c.off, c.len);
        } catch (const std::exception& e) {
          error = e.what();
          break;
        }
      }
      io_uring_sqe* sqe = io_uring_get_sqe(ring_);
      io_uring_prep_read(sqe, fd_, dst + c.off, static_cast<unsigned>(c.len), offset + c.off);
      io_uring_sqe_set_data64(sqe, s);
      slots[s] = c;
      busy[s] = true;
      ++in_flight;
    }
    if (in_flight > 0) io_uring_submit(ring_);
  };
  submit_some();
  while (in_flight > 0) {
    io_uring_cqe* cqe = nullptr;
    const int rc = io_uring_wait_cqe(ring_, &cqe);
    if (rc == -EINTR) continue;
    if (rc < 0) fail("{}: io_uring wait failed: {}", path_, std::strerror(-rc));
    const auto s = static_cast<unsigned>(io_uring_cqe_get_data64(cqe));
    const int res = cqe->res;
    io_uring_cqe_seen(ring_, cqe);
    --in_flight;
    busy[s] = false;
    const Chunk c = slots[s];
    if (res < 0) {
      if (error.empty()) {
        error = fmt::format("{}: read of {} bytes at offset {} failed: {}", path_, c.len,
                            offset + c.off, std::strerror(-res));
      }
    } else if (res == 0) {
      if (error.empty() && c.off < length) {
        error = fmt::format("{}: short read at offset {}: wanted {} more bytes, file ends "
                            "(truncated after load?)", path_, offset + c.off, c.len);
      }
    } else if (static_cast<uint64_t>(res) < c.len && c.off + static_cast<uint64_t>(res) < length) {
      requeued = {c.off + static_cast<uint64_t>(res), c.len - static_cast<uint64_t>(res)};
    }
    if (error.empty()) submit_some();
  }
  if (!error.empty()) throw Error(error);
}

AlignedBuffer::AlignedBuffer(size_t bytes) : size_(bytes) {
  const size_t rounded = (bytes + AsyncFileReader::kAlignment - 1) / AsyncFileReader::kAlignment *
                         AsyncFileReader::kAlignment;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(AsyncFileReader::kAlignment, std::max<size_t>(rounded, AsyncFileReader::kAlignment)));
  if (data_ == nullptr) throw std::bad_alloc();
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    std::free(data_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void drop_page_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  ::fdatasync(fd);
  const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) fail("{}: posix_fadvise(DONTNEED) failed: {}", path, std::strerror(rc));
}

namespace {
uint64_t status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t klen = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, klen, key) == 0) return std::strtoull(line.c_str() + klen, nullptr, 10) * 1024;
  }
  return 0;
}
}  // namespace

uint64_t peak_rss_bytes() { return status_kb("VmHWM:"); }
uint64_t current_rss_bytes() { return status_kb("VmRSS:"); }

}  // namespace vigil
