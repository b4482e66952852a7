#include "base/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/error.h"

namespace vigil {

namespace {

// Reads [0, size) of fd into dst; fails naming the path on an error or a file that shrank.
void read_exactly(int fd, uint8_t* dst, size_t size, const std::string& path) {
  constexpr size_t kChunk = 64u << 20;  // bytes per pread: large reads, bounded kernel work
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::pread(fd, dst + done, std::min(kChunk, size - done), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("{}: read failed at byte {}: {}", path, done, std::strerror(errno));
    if (n == 0)
      fail("{}: file ended at byte {} while reading {} bytes (truncated?)", path, done, size);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

MappedFile::MappedFile(const std::string& path, FileImage image) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0 && image == FileImage::kCopy) {
    constexpr size_t kHugePage = 2u << 20;
    mapped_bytes_ = (size_ + kHugePage - 1) / kHugePage * kHugePage;
    void* p =
        ::mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      mapped_bytes_ = 0;
      fail("{}: cannot allocate {} bytes to load it: {}", path, size_, std::strerror(err));
    }
    // Advice only: fewer page faults and TLB misses where transparent huge pages are enabled.
    ::madvise(p, mapped_bytes_, MADV_HUGEPAGE);
    data_ = static_cast<const uint8_t*>(p);
    try {
      read_exactly(fd, static_cast<uint8_t*>(p), size_, path);
    } catch (...) {
      ::close(fd);
      reset();
      throw;
    }
    ::mprotect(p, mapped_bytes_, PROT_READ);  // an image, like the mapping: writes are bugs
  } else if (size_ > 0) {
    mapped_bytes_ = size_;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("{}: cannot mmap {} bytes: {}", path, size_, std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  reset();
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(other.data_),
      size_(other.size_),
      mapped_bytes_(other.mapped_bytes_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.mapped_bytes_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    mapped_bytes_ = other.mapped_bytes_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.mapped_bytes_ = 0;
  }
  return *this;
}

void MappedFile::reset() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
  data_ = nullptr;
  size_ = 0;
  mapped_bytes_ = 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{}: read error", path);
  return ss.str();
}

void write_file_atomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot create: {}", tmp, std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail("{}: write failed after {} of {} bytes: {}", tmp, done, data.size(), std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: fsync/close failed: {}", tmp, std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename from {}: {}", path, tmp, std::strerror(err));
  }
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace vigil
