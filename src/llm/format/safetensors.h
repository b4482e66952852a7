// safetensors reader over mmap, and Hugging Face checkpoints of one or several shards.
//
// File layout: an 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps each tensor name to {"dtype": "BF16", "shape": [rows, cols], "data_offsets":
// [begin, end]} (byte offsets relative to the data section, end exclusive); the optional key
// "__metadata__" maps strings to strings. Shapes are in PyTorch order: the last dimension is
// the row length (the reverse of ggml's order).
//
// SafetensorsFile::open() validates everything before use: the header length against the file
// size, the JSON (nesting depth bounded, no duplicate names), every dtype, shape and offset pair,
// size == product(shape) × dtype size without overflow, data inside the file, no two tensors
// overlapping (they need not be sorted). Defects throw vigil::Error with one line naming the file,
// the tensor and the field.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "llm/quant/types.h"

namespace vigil::safetensors {

enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2 };

std::string_view dtype_name(Dtype dtype);  // as in the file: "BF16", "F8_E4M3", ...
std::optional<Dtype> dtype_from_name(std::string_view name);
uint32_t dtype_size(Dtype dtype);  // bytes per value

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<uint64_t> shape;    // PyTorch order: shape.back() is the row length
  uint64_t begin = 0;             // bytes from the start of the data section
  uint64_t end = 0;               // exclusive
  const uint8_t* data = nullptr;  // into the mapping (or the parsed buffer)

  uint64_t size_bytes() const { return end - begin; }
  uint64_t n_values() const;  // product of the shape (1 for a scalar)
  uint64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  uint64_t n_rows() const;  // n_values / row_length (0 if the tensor is empty)
};

// The ggml type a weight tensor of `t`'s dtype is read as (F32, F16, BF16). Throws vigil::Error
// naming `file`, the tensor and its dtype for any other dtype.
GgmlType weight_type(const TensorInfo& t, const std::string& file);

class SafetensorsFile {
 public:
  // Maps and parses `path`. Throws vigil::Error("<path>: <field>: <problem>") on any defect.
  static SafetensorsFile open(const std::string& path, FileImage image = FileImage::kMap);
  // Parses an in-memory image (fuzzing, tests). `bytes` must outlive the result.
  static SafetensorsFile parse(std::span<const uint8_t> bytes, const std::string& name);

  const std::string& path() const { return name_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t header_size() const { return header_size_; }      // bytes of JSON
  uint64_t data_offset() const { return 8 + header_size_; }  // file offset of the data section
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Tensors in data order (ascending begin offset, then name).
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming the file and tensor

 private:
  std::shared_ptr<MappedFile> file_;  // null when parsed from memory
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint64_t header_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A Hugging Face checkpoint: a folder with `model.safetensors`, or with
// `model.safetensors.index.json` ({"weight_map": {tensor name: shard file name}}) and the shards
// it names. open() also accepts the path of a single .safetensors file or of the index. Every
// shard is opened and validated; each tensor must be in the shard the index names, and every
// tensor of a shard must be listed (a stale index is an error, not a silent miss).
class SafetensorsModel {
 public:
  static SafetensorsModel open(const std::string& path, FileImage image = FileImage::kMap);

  const std::string& dir() const { return dir_; }  // folder holding the files
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // All tensors, shard by shard, in data order within a shard.
  std::vector<const TensorInfo*> tensors() const;
  const TensorInfo* find(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws naming the folder and tensor
  // The shard file that holds `name` (for messages).
  const std::string& shard_path(std::string_view name) const;
  uint64_t total_bytes() const;  // tensor data bytes over all shards

 private:
  std::string dir_;
  std::vector<SafetensorsFile> shards_;
  // name -> (shard index, tensor index within the shard)
  std::map<std::string, std::pair<size_t, size_t>, std::less<>> index_;
};

// Conversion for the engine. F32, F16 and BF16 convert exactly; other dtypes throw naming the
// tensor and its dtype.
float f16_to_f32(uint16_t bits);
float bf16_to_f32(uint16_t bits);
// Converts `out.size()` values starting at value `first` (row-major order) to float.
void to_f32(const TensorInfo& tensor, uint64_t first, std::span<float> out);
// Converts row `row` (out.size() must equal tensor.row_length()).
void row_to_f32(const TensorInfo& tensor, uint64_t row, std::span<float> out);
// The whole tensor as floats.
std::vector<float> to_f32(const TensorInfo& tensor);

}  // namespace vigil::safetensors
