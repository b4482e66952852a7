// GGUF reader. Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata
// count, metadata key/value pairs, tensor infos, padding to general.alignment, tensor data.
// Every read goes through Cursor, which checks the remaining length first; every count is checked
// against the bytes left before anything is reserved.
#include "llm/format/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/error.h"

namespace vigil::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are rejected
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// Minimum encoded size of one value of `type`, used to bound counts before reserving.
uint64_t min_value_bytes(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING:  // u64 length
      return 8;
    case ValueType::ARRAY:  // u32 type + u64 count
      return 12;
  }
  return 1;
}

bool known_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::FLOAT64);
}

class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <typename T>
  T read(std::string_view field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view field) {
    const auto len = read<uint64_t>(field);
    if (len > remaining()) {
      fail("{}: {}: string length {} exceeds the {} bytes left in the file (offset {})", name_,
           field, len, remaining(), pos_);
    }
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return s;
  }

 private:
  void need(uint64_t n, std::string_view field) const {
    if (n > remaining()) {
      fail("{}: {}: file truncated (need {} bytes at offset {}, file is {} bytes)", name_, field, n,
           pos_, bytes_.size());
    }
  }
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

Value read_value(Cursor& cur, ValueType type, const std::string& name, const std::string& key,
                 int depth) {
  Value v;
  v.type = type;
  switch (type) {
    case ValueType::UINT8:
      v.u = cur.read<uint8_t>(key);
      break;
    case ValueType::INT8:
      v.i = cur.read<int8_t>(key);
      break;
    case ValueType::UINT16:
      v.u = cur.read<uint16_t>(key);
      break;
    case ValueType::INT16:
      v.i = cur.read<int16_t>(key);
      break;
    case ValueType::UINT32:
      v.u = cur.read<uint32_t>(key);
      break;
    case ValueType::INT32:
      v.i = cur.read<int32_t>(key);
      break;
    case ValueType::FLOAT32:
      v.f = cur.read<float>(key);
      break;
    case ValueType::BOOL: {
      const auto b = cur.read<uint8_t>(key);
      if (b > 1) fail("{}: metadata key '{}': bool value {} (expected 0 or 1)", name, key, b);
      v.u = b;
      break;
    }
    case ValueType::STRING:
      v.s = cur.read_string(key);
      break;
    case ValueType::UINT64:
      v.u = cur.read<uint64_t>(key);
      break;
    case ValueType::INT64:
      v.i = cur.read<int64_t>(key);
      break;
    case ValueType::FLOAT64:
      v.f = cur.read<double>(key);
      break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) {
        fail("{}: metadata key '{}': arrays nested deeper than {}", name, key, kMaxArrayDepth);
      }
      const auto elem = cur.read<uint32_t>(key);
      if (!known_value_type(elem)) {
        fail("{}: metadata key '{}': unknown array element type {} (expected 0..12)", name, key,
             elem);
      }
      v.array_type = static_cast<ValueType>(elem);
      const auto count = cur.read<uint64_t>(key);
      const uint64_t min_bytes = min_value_bytes(v.array_type);
      if (count > cur.remaining() / min_bytes) {
        fail("{}: metadata key '{}': array of {} {} cannot fit in the {} bytes left", name, key,
             count, value_type_name(v.array_type), cur.remaining());
      }
      v.array.reserve(static_cast<size_t>(count));
      for (uint64_t k = 0; k < count; ++k) {
        v.array.push_back(read_value(cur, v.array_type, name, key, depth + 1));
      }
      break;
    }
  }
  return v;
}

uint64_t checked_mul(uint64_t a, uint64_t b, const std::string& name, const std::string& what) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    fail("{}: {}: size overflows 64 bits", name, what);
  }
  return a * b;
}

}  // namespace

GgufFile GgufFile::open(const std::string& path, FileImage image) {
  auto mapped = std::make_shared<MappedFile>(path, image);
  GgufFile f = parse(mapped->bytes(), path);
  f.file_ = std::move(mapped);
  return f;
}

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
  GgufFile f;
  f.bytes_ = bytes;
  f.name_ = name;
  Cursor cur(bytes, f.name_);

  if (bytes.size() < 4) fail("{}: not a GGUF file (only {} bytes)", name, bytes.size());
  const auto magic = cur.read<uint32_t>("magic");
  if (magic != kMagic) {
    fail("{}: not a GGUF file (magic \"{}\", expected \"GGUF\")", name,
         printable(std::string_view(reinterpret_cast<const char*>(bytes.data()), 4)));
  }
  f.version_ = cur.read<uint32_t>("version");
  if (f.version_ != 2 && f.version_ != 3) {
    if (f.version_ == 0x02000000 || f.version_ == 0x03000000) {
      fail("{}: version: big-endian GGUF is not supported", name);
    }
    fail("{}: version: unsupported GGUF version {} (expected 2 or 3)", name, f.version_);
  }
  const auto n_tensors = cur.read<uint64_t>("tensor_count");
  const auto n_kv = cur.read<uint64_t>("metadata_kv_count");
  // Each metadata pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset).
  if (n_kv > cur.remaining() / 13) {
    fail("{}: metadata_kv_count: {} pairs cannot fit in a {}-byte file", name, n_kv, bytes.size());
  }
  if (n_tensors > cur.remaining() / 32) {
    fail("{}: tensor_count: {} tensors cannot fit in a {}-byte file", name, n_tensors,
         bytes.size());
  }

  f.metadata_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string field = fmt::format("metadata pair {}", k);
    std::string key = cur.read_string(field + " key");
    if (!valid_utf8(key)) {
      fail("{}: {}: key \"{}\" is not valid UTF-8", name, field, printable(key));
    }
    if (key.empty()) fail("{}: {}: empty key", name, field);
    if (f.metadata_index_.count(key) != 0) {
      fail("{}: metadata key '{}': duplicate key", name, printable(key));
    }
    const auto type = cur.read<uint32_t>(key);
    if (!known_value_type(type)) {
      fail("{}: metadata key '{}': unknown value type {} (expected 0..12)", name, printable(key),
           type);
    }
    Value v = read_value(cur, static_cast<ValueType>(type), name, key, 0);
    f.metadata_index_.emplace(key, f.metadata_.size());
    f.metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = f.find("general.alignment")) {
    if (!a->is_integer() || a->as_int() <= 0 || a->as_int() > (1 << 30) ||
        (a->as_int() & (a->as_int() - 1)) != 0) {
      fail("{}: metadata key 'general.alignment': {} (expected a power of two)", name,
           a->to_display());
    }
    f.alignment_ = static_cast<uint64_t>(a->as_int());
  }

  f.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    TensorInfo info;
    info.name = cur.read_string(fmt::format("tensor {} name", t));
    const std::string field = fmt::format("tensor '{}'", printable(info.name));
    if (info.name.empty() || !valid_utf8(info.name)) {
      fail("{}: tensor {}: name \"{}\" is empty or not valid UTF-8", name, t, printable(info.name));
    }
    if (f.tensor_index_.count(info.name) != 0) fail("{}: {}: duplicate tensor name", name, field);
    const auto n_dims = cur.read<uint32_t>(field);
    if (n_dims == 0 || n_dims > kMaxDims) {
      fail("{}: {}: {} dimensions (expected 1..{})", name, field, n_dims, kMaxDims);
    }
    uint64_t n_values = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = cur.read<uint64_t>(field);
      if (dim == 0 || dim > (uint64_t{1} << 62)) {
        fail("{}: {}: dimension {} is {} (expected 1..2^62)", name, field, d, dim);
      }
      info.shape.push_back(dim);
      n_values = checked_mul(n_values, dim, name, field);
      if (n_values > (uint64_t{1} << 62)) fail("{}: {}: element count overflows", name, field);
    }
    const auto type_id = cur.read<uint32_t>(field);
    const auto traits = ggml_type_traits(type_id);
    if (!traits) fail("{}: {}: unknown tensor type id {}", name, field, type_id);
    info.type = traits->type;
    if (info.shape[0] % traits->block_values != 0) {
      fail("{}: {}: row length {} is not a multiple of the {} block size {}", name, field,
           info.shape[0], traits->name, traits->block_values);
    }
    info.size_bytes =
        checked_mul(n_values / traits->block_values, traits->block_bytes, name, field);
    info.offset = cur.read<uint64_t>(field);
    if (info.offset % f.alignment_ != 0) {
      fail("{}: {}: data offset {} is not a multiple of the alignment {}", name, field, info.offset,
           f.alignment_);
    }
    f.tensor_index_.emplace(info.name, f.tensors_.size());
    f.tensors_.push_back(std::move(info));
  }

  const uint64_t header_end = cur.pos();
  f.data_offset_ = (header_end + f.alignment_ - 1) / f.alignment_ * f.alignment_;
  if (!f.tensors_.empty()) {
    if (f.data_offset_ > bytes.size()) {
      fail("{}: data section: starts at offset {}, past the end of the {}-byte file", name,
           f.data_offset_, bytes.size());
    }
    const uint64_t data_bytes = bytes.size() - f.data_offset_;
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(f.tensors_.size());
    for (auto& info : f.tensors_) {
      if (info.offset > data_bytes || info.size_bytes > data_bytes - info.offset) {
        fail(
            "{}: tensor '{}': data [{}, {}) lies past the end of the data section ({} bytes; "
            "file truncated?)",
            name, printable(info.name), info.offset, info.offset + info.size_bytes, data_bytes);
      }
      info.data = bytes.data() + f.data_offset_ + info.offset;
      by_offset.push_back(&info);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
      const TensorInfo* prev = by_offset[k - 1];
      if (prev->offset + prev->size_bytes > by_offset[k]->offset) {
        fail("{}: tensor '{}': data at offset {} overlaps tensor '{}' [{}, {})", name,
             printable(by_offset[k]->name), by_offset[k]->offset, printable(prev->name),
             prev->offset, prev->offset + prev->size_bytes);
      }
    }
  }
  return f;
}

const Value* GgufFile::find(std::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const Value& GgufFile::get(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("{}: metadata key '{}': missing", name_, key);
  return *v;
}

namespace {
[[noreturn]] void wrong_type(const std::string& file, std::string_view key, std::string_view want,
                             const Value& v) {
  fail("{}: metadata key '{}': expected {}, found {}", file, key, want, value_type_name(v.type));
}
}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  const Value& v = get(key);
  if (v.type != ValueType::STRING) wrong_type(name_, key, "string", v);
  return v.s;
}

int64_t GgufFile::get_int(std::string_view key) const {
  const Value& v = get(key);
  if (!v.is_integer()) wrong_type(name_, key, "an integer", v);
  return v.as_int();
}

double GgufFile::get_float(std::string_view key) const {
  const Value& v = get(key);
  if (v.type == ValueType::STRING || v.type == ValueType::ARRAY)
    wrong_type(name_, key, "a number", v);
  return v.as_float();
}

bool GgufFile::get_bool(std::string_view key) const {
  const Value& v = get(key);
  if (v.type != ValueType::BOOL) wrong_type(name_, key, "bool", v);
  return v.u != 0;
}

std::optional<std::string> GgufFile::get_string_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_string(key);
}
std::optional<int64_t> GgufFile::get_int_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_int(key);
}
std::optional<double> GgufFile::get_float_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_float(key);
}
std::optional<bool> GgufFile::get_bool_opt(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_bool(key);
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const Value& v = get(key);
  if (v.type != ValueType::ARRAY || v.array_type != ValueType::STRING) {
    wrong_type(name_, key, "array of string", v);
  }
  std::vector<std::string> out;
  out.reserve(v.array.size());
  for (const auto& item : v.array) out.push_back(item.s);
  return out;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  const Value& v = get(key);
  if (v.type != ValueType::ARRAY || v.array_type == ValueType::STRING ||
      v.array_type == ValueType::ARRAY) {
    wrong_type(name_, key, "array of numbers", v);
  }
  std::vector<float> out;
  out.reserve(v.array.size());
  for (const auto& item : v.array) out.push_back(static_cast<float>(item.as_float()));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const Value& v = get(key);
  if (v.type != ValueType::ARRAY || !Value{.type = v.array_type}.is_integer()) {
    wrong_type(name_, key, "array of integers", v);
  }
  std::vector<int64_t> out;
  out.reserve(v.array.size());
  for (const auto& item : v.array) out.push_back(item.as_int());
  return out;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& GgufFile::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) fail("{}: tensor '{}': missing", name_, name);
  return *t;
}

uint64_t TensorInfo::n_values() const {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

}  // namespace vigil::gguf
