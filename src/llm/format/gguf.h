// GGUF (v2, v3) reader over mmap and a streaming writer.
//
// Reader: GgufFile::open() maps the file and validates everything before use — magic, version,
// every count against the bytes that remain, every string length, value types, tensor types,
// shapes (no overflow, row length a multiple of the block size), offsets (aligned, inside the
// file, not overlapping). A corrupt file throws vigil::Error with one line naming the file and the
// field; nothing is allocated with a size taken from the file before it has been checked against
// the file's length.
//
// Writer: GgufWriter collects metadata and tensor infos, writes the header, then the tensor data
// in order (streamed through a callback, so quantize can run tensor by tensor in bounded memory),
// to a temp file that is fsynced and renamed into place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "llm/quant/types.h"

namespace vigil::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
std::string_view value_type_name(ValueType type);

// One metadata value. Scalars are widened into `u`/`i`/`f`; arrays hold their element type and
// items (which may themselves be arrays).
struct Value {
  ValueType type = ValueType::UINT8;
  uint64_t u = 0;                           // UINT8/16/32/64, BOOL (0/1)
  int64_t i = 0;                            // INT8/16/32/64
  double f = 0;                             // FLOAT32/64
  std::string s;                            // STRING
  ValueType array_type = ValueType::UINT8;  // ARRAY: element type
  std::vector<Value> array;                 // ARRAY: items

  static Value of_u32(uint32_t v);
  static Value of_i32(int32_t v);
  static Value of_u64(uint64_t v);
  static Value of_f32(float v);
  static Value of_bool(bool v);
  static Value of_string(std::string v);
  static Value of_strings(const std::vector<std::string>& v);
  static Value of_f32s(const std::vector<float>& v);
  static Value of_i32s(const std::vector<int32_t>& v);

  bool is_integer() const;
  // Integer value of any integer/bool type; throws if not an integer or out of range.
  int64_t as_int() const;
  double as_float() const;  // any numeric type
  // Short human form for `vigil inspect` (arrays abbreviated).
  std::string to_display(size_t max_items = 8) const;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the row length (fastest varying)
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;            // bytes from the start of the data section
  uint64_t size_bytes = 0;        // bytes of data
  const uint8_t* data = nullptr;  // into the mapping (nullptr when parsed without data)

  uint64_t n_values() const;
  uint64_t file_offset(uint64_t data_section_offset) const { return data_section_offset + offset; }
};

class GgufFile {
 public:
  // Maps and parses `path`. Throws vigil::Error("<path>: <field>: <problem>") on any defect.
  // `image`: map the file, or copy it into memory (see FileImage in base/file.h).
  static GgufFile open(const std::string& path, FileImage image = FileImage::kMap);
  // Parses an in-memory image (fuzzing, tests). `bytes` must outlive the result.
  static GgufFile parse(std::span<const uint8_t> bytes, const std::string& name);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section
  uint64_t file_size() const { return bytes_.size(); }
  const std::string& path() const { return name_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Typed getters: throw "<path>: metadata key 'k': missing" / "expected T, found U".
  const Value& get(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::optional<std::string> get_string_opt(std::string_view key) const;
  std::optional<int64_t> get_int_opt(std::string_view key) const;
  std::optional<double> get_float_opt(std::string_view key) const;
  std::optional<bool> get_bool_opt(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming the tensor

  // general.architecture, e.g. "llama".
  std::string architecture() const { return get_string("general.architecture"); }

 private:
  std::shared_ptr<MappedFile> file_;  // null when parsed from memory
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes GGUF v3. Usage: set metadata, add tensor infos (in the order their data will be
// written), then write(path, producer) where producer(i, out) appends exactly the i-th tensor's
// size_bytes to `out`. Offsets and padding follow general.alignment (default 32).
class GgufWriter {
 public:
  void set(std::string key, Value value);  // replaces an existing key, keeps its position
  void remove(std::string_view key);
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape);
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }

  using TensorProducer = std::function<void(size_t index, std::string& out)>;
  void write(const std::string& path, const TensorProducer& producer) const;
  // Whole file in memory (tests, small files).
  std::string to_bytes(const TensorProducer& producer) const;

 private:
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
};

}  // namespace vigil::gguf
