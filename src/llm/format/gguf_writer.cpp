// GGUF v3 writer. Layout (little-endian):
//   "GGUF", version u32, tensor_count u64, kv_count u64,
//   kv_count × (key string, value type u32, value),
//   tensor_count × (name string, n_dims u32, dims u64[n_dims], ggml type u32, offset u64),
//   zero padding to the alignment, then each tensor's data followed by zero padding to the
//   alignment. A string is a u64 byte length and the bytes (no terminator); an array is its
//   element type u32, its count u64 and the items (items may be arrays themselves).
// The padding after every tensor, the last one included, matches llama.cpp and gguf-py, so a
// file they wrote, read and written back, is byte-identical (tests/gguf checks this on every GGUF
// in the shared test data).
#include <fcntl.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "base/error.h"
#include "llm/format/gguf.h"

namespace vigil::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
// ggml limits: GGML_MAX_DIMS dimensions, names shorter than GGML_MAX_NAME (64, with the NUL).
constexpr size_t kMaxDims = 4;
constexpr size_t kMaxTensorName = 63;
// Zero bytes used for padding; alignments larger than this are padded in several writes.
constexpr size_t kZeroBlock = 4096;

// Receives the serialized bytes in order: a file descriptor or a string.
using Sink = std::function<void(const char* data, size_t size)>;

void put_raw(const Sink& sink, const void* p, size_t n) {
  sink(static_cast<const char*>(p), n);
}
void put_u32(const Sink& sink, uint32_t v) {
  put_raw(sink, &v, sizeof v);
}
void put_u64(const Sink& sink, uint64_t v) {
  put_raw(sink, &v, sizeof v);
}
void put_string(const Sink& sink, std::string_view s) {
  put_u64(sink, s.size());
  put_raw(sink, s.data(), s.size());
}

void put_zeros(const Sink& sink, uint64_t n) {
  static const char kZeros[kZeroBlock] = {};
  while (n > 0) {
    const size_t chunk = n < kZeroBlock ? static_cast<size_t>(n) : kZeroBlock;
    sink(kZeros, chunk);
    n -= chunk;
  }
}

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Writes the value's payload (not its type tag).
void put_value(const Sink& sink, const Value& v) {
  switch (v.type) {
    case ValueType::UINT8:
    case ValueType::BOOL: {
      const auto b = static_cast<uint8_t>(v.type == ValueType::BOOL ? (v.u != 0) : v.u);
      put_raw(sink, &b, 1);
      return;
    }
    case ValueType::INT8: {
      const auto b = static_cast<int8_t>(v.i);
      put_raw(sink, &b, 1);
      return;
    }
    case ValueType::UINT16: {
      const auto x = static_cast<uint16_t>(v.u);
      put_raw(sink, &x, sizeof x);
      return;
    }
    case ValueType::INT16: {
      const auto x = static_cast<int16_t>(v.i);
      put_raw(sink, &x, sizeof x);
      return;
    }
    case ValueType::UINT32:
      put_u32(sink, static_cast<uint32_t>(v.u));
      return;
    case ValueType::INT32: {
      const auto x = static_cast<int32_t>(v.i);
      put_raw(sink, &x, sizeof x);
      return;
    }
    case ValueType::FLOAT32: {
      const auto x = static_cast<float>(v.f);
      put_raw(sink, &x, sizeof x);
      return;
    }
    case ValueType::UINT64:
      put_u64(sink, v.u);
      return;
    case ValueType::INT64:
      put_raw(sink, &v.i, sizeof v.i);
      return;
    case ValueType::FLOAT64:
      put_raw(sink, &v.f, sizeof v.f);
      return;
    case ValueType::STRING:
      put_string(sink, v.s);
      return;
    case ValueType::ARRAY:
      put_u32(sink, static_cast<uint32_t>(v.array_type));
      put_u64(sink, v.array.size());
      for (const Value& item : v.array) put_value(sink, item);
      return;
  }
}

bool known_value_type(ValueType type) {
  return static_cast<uint32_t>(type) <= static_cast<uint32_t>(ValueType::FLOAT64);
}

// Checks that a value can be written as it claims: known types, integers in the range of their
// type, array items all of the array's element type.
void check_value(const Value& v, std::string_view key) {
  if (!known_value_type(v.type)) {
    fail("GGUF writer: metadata key '{}': unknown value type {}", key,
         static_cast<uint32_t>(v.type));
  }
  auto check_range = [&](bool ok) {
    if (!ok) {
      fail("GGUF writer: metadata key '{}': value out of range for {}", key,
           value_type_name(v.type));
    }
  };
  switch (v.type) {
    case ValueType::UINT8:
      check_range(v.u <= std::numeric_limits<uint8_t>::max());
      break;
    case ValueType::UINT16:
      check_range(v.u <= std::numeric_limits<uint16_t>::max());
      break;
    case ValueType::UINT32:
      check_range(v.u <= std::numeric_limits<uint32_t>::max());
      break;
    case ValueType::BOOL:
      check_range(v.u <= 1);
      break;
    case ValueType::INT8:
      check_range(v.i >= std::numeric_limits<int8_t>::min() &&
                  v.i <= std::numeric_limits<int8_t>::max());
      break;
    case ValueType::INT16:
      check_range(v.i >= std::numeric_limits<int16_t>::min() &&
                  v.i <= std::numeric_limits<int16_t>::max());
      break;
    case ValueType::INT32:
      check_range(v.i >= std::numeric_limits<int32_t>::min() &&
                  v.i <= std::numeric_limits<int32_t>::max());
      break;
    case ValueType::ARRAY:
      if (!known_value_type(v.array_type)) {
        fail("GGUF writer: metadata key '{}': unknown array element type {}", key,
             static_cast<uint32_t>(v.array_type));
      }
      for (size_t k = 0; k < v.array.size(); ++k) {
        if (v.array[k].type != v.array_type) {
          fail("GGUF writer: metadata key '{}': array item {} is {}, the array holds {}", key, k,
               value_type_name(v.array[k].type), value_type_name(v.array_type));
        }
        check_value(v.array[k], key);
      }
      break;
    default:
      break;
  }
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// A temp file beside the destination that is removed unless commit() renamed it into place.
class TempFile {
 public:
  explicit TempFile(const std::string& final_path)
      : final_path_(final_path), path_(final_path + ".tmp." + std::to_string(::getpid())) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("{}: cannot create: {}", path_, std::strerror(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const char* data, size_t size) {
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("{}: write failed after {} bytes of the file: {}", path_, written_ + done,
             std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
    written_ += size;
  }

  // fsync, close, rename over the final path, then fsync the folder so the rename is durable.
  void commit() {
    if (::fsync(fd_) != 0) fail("{}: fsync failed: {}", path_, std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("{}: close failed: {}", path_, std::strerror(errno));
    if (::rename(path_.c_str(), final_path_.c_str()) != 0) {
      fail("{}: cannot rename from {}: {}", final_path_, path_, std::strerror(errno));
    }
    committed_ = true;
    const size_t slash = final_path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : final_path_.substr(0, slash + 1);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);  // best effort: some file systems refuse fsync on folders
      ::close(dir_fd);
    }
  }

 private:
  std::string final_path_;
  std::string path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

uint64_t alignment_of(const std::vector<std::pair<std::string, Value>>& metadata) {
  for (const auto& [key, value] : metadata) {
    if (key == kAlignmentKey) return value.u;
  }
  return kDefaultAlignment;
}

// Lays the tensors out one after the other, each starting on an aligned offset.
void assign_offsets(std::vector<TensorInfo>& tensors, uint64_t alignment) {
  uint64_t next = 0;
  for (auto& t : tensors) {
    t.offset = next;
    next = align_up(t.offset + t.size_bytes, alignment);
  }
}

// Serializes the whole file into `sink`; `where` names the destination in errors.
void serialize(const std::vector<std::pair<std::string, Value>>& metadata,
               const std::vector<TensorInfo>& tensors, const GgufWriter::TensorProducer& producer,
               const std::string& where, const Sink& sink) {
  const uint64_t alignment = alignment_of(metadata);
  // The header (a vocabulary is hundreds of thousands of small fields) is assembled in memory
  // and handed to the sink in one piece; tensor data goes straight through.
  std::string header;
  const Sink to_header = [&](const char* data, size_t size) { header.append(data, size); };
  put_raw(to_header, "GGUF", 4);
  put_u32(to_header, kVersion);
  put_u64(to_header, tensors.size());
  put_u64(to_header, metadata.size());
  for (const auto& [key, value] : metadata) {
    put_string(to_header, key);
    put_u32(to_header, static_cast<uint32_t>(value.type));
    put_value(to_header, value);
  }
  for (const auto& t : tensors) {
    put_string(to_header, t.name);
    put_u32(to_header, static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) put_u64(to_header, d);
    put_u32(to_header, static_cast<uint32_t>(t.type));
    put_u64(to_header, t.offset);
  }
  // The data section starts aligned. A file without tensors has no data section, and llama.cpp
  // writes no padding then (its vocabulary files end right after the metadata).
  if (!tensors.empty()) put_zeros(to_header, align_up(header.size(), alignment) - header.size());
  sink(header.data(), header.size());

  uint64_t position = 0;  // bytes of the data section written so far
  const Sink counting = [&](const char* data, size_t size) {
    sink(data, size);
    position += size;
  };
  std::string chunk;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    // Offsets were laid out by assign_offsets; the data written so far must end exactly there.
    if (position != t.offset) {
      fail("{}: tensor '{}': internal layout error (data at {}, offset {})", where, t.name,
           position, t.offset);
    }
    chunk.clear();
    producer(i, chunk);
    if (chunk.size() != t.size_bytes) {
      fail("{}: tensor '{}' (#{}, {} {}): producer gave {} bytes, expected {}", where, t.name, i,
           ggml_type_name(t.type), fmt::join(t.shape, "x"), chunk.size(), t.size_bytes);
    }
    counting(chunk.data(), chunk.size());
    put_zeros(counting, align_up(t.size_bytes, alignment) - t.size_bytes);
  }
}

}  // namespace

void GgufWriter::set(std::string key, Value value) {
  if (key.empty()) fail("GGUF writer: empty metadata key");
  if (!valid_utf8(key)) fail("GGUF writer: metadata key '{}' is not valid UTF-8", printable(key));
  check_value(value, key);
  const bool is_alignment = key == kAlignmentKey;
  if (is_alignment) {
    if (value.type != ValueType::UINT32) {
      fail("GGUF writer: metadata key '{}': expected uint32, found {}", key,
           value_type_name(value.type));
    }
    if (value.u == 0 || (value.u & (value.u - 1)) != 0) {
      fail("GGUF writer: metadata key '{}': {} is not a power of two", key, value.u);
    }
  }
  bool replaced = false;
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      replaced = true;
      break;
    }
  }
  if (!replaced) metadata_.emplace_back(std::move(key), std::move(value));
  if (is_alignment) assign_offsets(tensors_, alignment_of(metadata_));
}

void GgufWriter::remove(std::string_view key) {
  for (auto it = metadata_.begin(); it != metadata_.end(); ++it) {
    if (it->first == key) {
      metadata_.erase(it);
      if (key == kAlignmentKey) assign_offsets(tensors_, alignment_of(metadata_));
      return;
    }
  }
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape) {
  if (name.empty()) fail("GGUF writer: empty tensor name");
  if (name.size() > kMaxTensorName) {
    fail("GGUF writer: tensor name '{}' is {} bytes, the limit is {}", printable(name), name.size(),
         kMaxTensorName);
  }
  if (!valid_utf8(name)) fail("GGUF writer: tensor name '{}' is not valid UTF-8", printable(name));
  for (const auto& t : tensors_) {
    if (t.name == name) fail("GGUF writer: duplicate tensor name '{}'", name);
  }
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits) {
    fail("GGUF writer: tensor '{}': unknown ggml type id {}", name, static_cast<uint32_t>(type));
  }
  if (shape.empty() || shape.size() > kMaxDims) {
    fail("GGUF writer: tensor '{}': {} dimensions, expected 1 to {}", name, shape.size(), kMaxDims);
  }
  // Values and bytes must fit int64 (ggml's ne/nb are int64_t).
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t n_values = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) fail("GGUF writer: tensor '{}': dimension {} is 0", name, d);
    if (n_values > kLimit / shape[d]) {
      fail("GGUF writer: tensor '{}': shape {} overflows", name, fmt::join(shape, "x"));
    }
    n_values *= shape[d];
  }
  if (shape[0] % traits->block_values != 0) {
    fail("GGUF writer: tensor '{}': row length {} is not a multiple of the {} block size {}", name,
         shape[0], traits->name, traits->block_values);
  }
  const uint64_t blocks = n_values / traits->block_values;
  if (blocks > kLimit / traits->block_bytes) {
    fail("GGUF writer: tensor '{}': shape {} takes more than 2^63 bytes", name,
         fmt::join(shape, "x"));
  }

  TensorInfo info;
  info.name = std::move(name);
  info.type = type;
  info.shape = std::move(shape);
  info.size_bytes = blocks * traits->block_bytes;
  const uint64_t alignment = alignment_of(metadata_);
  if (!tensors_.empty()) {
    const TensorInfo& last = tensors_.back();
    // Both terms are below 2^63 and the alignment below 2^32, so this cannot wrap.
    info.offset = align_up(last.offset + last.size_bytes, alignment);
    if (info.offset > kLimit - info.size_bytes) {
      fail("GGUF writer: tensor '{}': the data section would exceed 2^63 bytes", info.name);
    }
  }
  tensors_.push_back(std::move(info));
}

void GgufWriter::write(const std::string& path, const TensorProducer& producer) const {
  TempFile out(path);
  serialize(metadata_, tensors_, producer, path,
            [&](const char* data, size_t size) { out.write(data, size); });
  out.commit();
}

std::string GgufWriter::to_bytes(const TensorProducer& producer) const {
  std::string out;
  serialize(metadata_, tensors_, producer, "<memory>",
            [&](const char* data, size_t size) { out.append(data, size); });
  return out;
}

}  // namespace vigil::gguf
