#include "llm/format/safetensors.h"

#include <fmt/ranges.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"

namespace vigil::safetensors {
namespace {

using json = nlohmann::json;

struct DtypeEntry {
  Dtype dtype;
  std::string_view name;
  uint32_t size;
};

constexpr std::array<DtypeEntry, 12> kDtypes = {{
    {Dtype::F64, "F64", 8},
    {Dtype::F32, "F32", 4},
    {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2},
    {Dtype::I64, "I64", 8},
    {Dtype::I32, "I32", 4},
    {Dtype::I16, "I16", 2},
    {Dtype::I8, "I8", 1},
    {Dtype::U8, "U8", 1},
    {Dtype::BOOL, "BOOL", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1},
    {Dtype::F8_E5M2, "F8_E5M2", 1},
}};

// The reference implementation refuses headers above 100 MB; so do we, before parsing.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
// Root object (0) → tensor entry (1) → "shape"/"data_offsets" array (2) → numbers (3).
constexpr int kMaxJsonDepth = 3;
constexpr std::string_view kMetadataKey = "__metadata__";

const char* json_kind(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
      return "a negative integer";
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a fractional number";
    default:
      return "an unexpected JSON value";
  }
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Parses one tensor entry of the header into `info` (without the data pointer).
void parse_entry(const std::string& file, const std::string& name, const json& entry,
                 uint64_t data_size, TensorInfo& info) {
  if (!entry.is_object()) {
    fail("{}: tensor '{}': expected an object, found {}", file, printable(name), json_kind(entry));
  }
  const auto dtype_it = entry.find("dtype");
  const auto shape_it = entry.find("shape");
  const auto offsets_it = entry.find("data_offsets");
  if (dtype_it == entry.end()) fail("{}: tensor '{}': missing 'dtype'", file, printable(name));
  if (shape_it == entry.end()) fail("{}: tensor '{}': missing 'shape'", file, printable(name));
  if (offsets_it == entry.end()) {
    fail("{}: tensor '{}': missing 'data_offsets'", file, printable(name));
  }

  if (!dtype_it->is_string()) {
    fail("{}: tensor '{}': dtype: expected a string, found {}", file, printable(name),
         json_kind(*dtype_it));
  }
  const auto& dtype_text = dtype_it->get_ref<const std::string&>();
  const auto dtype = dtype_from_name(dtype_text);
  if (!dtype) {
    fail("{}: tensor '{}': dtype: unknown dtype '{}'", file, printable(name),
         printable(dtype_text));
  }

  if (!shape_it->is_array()) {
    fail("{}: tensor '{}': shape: expected an array, found {}", file, printable(name),
         json_kind(*shape_it));
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t n_values = 1;
  std::vector<uint64_t> shape;
  for (const json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) {
      fail("{}: tensor '{}': shape: expected non-negative integers, found {}", file,
           printable(name), json_kind(dim));
    }
    const auto d = dim.get<uint64_t>();
    if (d != 0 && n_values > kMax / d) {
      fail("{}: tensor '{}': shape: product of the dimensions overflows", file, printable(name));
    }
    n_values *= d;
    shape.push_back(d);
  }
  const uint32_t value_bytes = dtype_size(*dtype);
  if (n_values > kMax / value_bytes) {
    fail("{}: tensor '{}': shape: size in bytes overflows", file, printable(name));
  }
  const uint64_t expected_bytes = n_values * value_bytes;

  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    fail("{}: tensor '{}': data_offsets: expected [begin, end], found {}", file, printable(name),
         offsets_it->is_array() ? fmt::format("{} items", offsets_it->size())
                                : std::string(json_kind(*offsets_it)));
  }
  for (const json& o : *offsets_it) {
    if (!o.is_number_unsigned()) {
      fail("{}: tensor '{}': data_offsets: expected non-negative integers, found {}", file,
           printable(name), json_kind(o));
    }
  }
  const auto begin = (*offsets_it)[0].get<uint64_t>();
  const auto end = (*offsets_it)[1].get<uint64_t>();
  if (begin > end) {
    fail("{}: tensor '{}': data_offsets: begin {} is after end {}", file, printable(name), begin,
         end);
  }
  if (end > data_size) {
    fail("{}: tensor '{}': data_offsets: end {} is past the end of the data section ({} bytes)",
         file, printable(name), end, data_size);
  }
  if (end - begin != expected_bytes) {
    fail("{}: tensor '{}': data_offsets: {} bytes, but shape [{}] of {} needs {}", file,
         printable(name), end - begin, fmt::join(shape, ", "), dtype_text, expected_bytes);
  }
  info.name = name;
  info.dtype = *dtype;
  info.shape = std::move(shape);
  info.begin = begin;
  info.end = end;
}

}  // namespace

std::string_view dtype_name(Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

std::optional<Dtype> dtype_from_name(std::string_view name) {
  for (const auto& d : kDtypes) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

uint32_t dtype_size(Dtype dtype) {
  for (const auto& d : kDtypes) {
    if (d.dtype == dtype) return d.size;
  }
  return 1;
}

uint64_t TensorInfo::n_values() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // checked against overflow when parsed
  return n;
}

uint64_t TensorInfo::n_rows() const {
  const uint64_t len = row_length();
  return len == 0 ? 0 : n_values() / len;
}

SafetensorsFile SafetensorsFile::open(const std::string& path, FileImage image) {
  auto file = std::make_shared<MappedFile>(path, image);
  SafetensorsFile out = parse(file->bytes(), path);
  out.file_ = std::move(file);
  return out;
}

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, const std::string& name) {
  SafetensorsFile out;
  out.bytes_ = bytes;
  out.name_ = name;
  if (bytes.size() < 8) {
    fail("{}: header length: file is {} bytes, too short for the 8-byte header length", name,
         bytes.size());
  }
  const uint64_t header_size = read_le64(bytes.data());
  const uint64_t available = bytes.size() - 8;
  if (header_size > available) {
    fail("{}: header length: {} bytes, but only {} bytes follow it", name, header_size, available);
  }
  if (header_size > kMaxHeaderBytes) {
    fail("{}: header length: {} bytes, more than the {} byte limit", name, header_size,
         kMaxHeaderBytes);
  }
  if (header_size < 2) fail("{}: header length: {} bytes is too short for JSON", name, header_size);
  out.header_size_ = header_size;
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  if (text[0] != '{') {
    fail("{}: header JSON: expected '{{' at byte 8, found '{}'", name,
         printable(std::string_view(text, 1)));
  }
  const uint64_t data_size = available - header_size;

  // The callback bounds the nesting depth (a small file could otherwise nest arrays a million
  // deep) and catches duplicate tensor names, which json::parse would silently merge.
  std::set<std::string, std::less<>> seen;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event,
                                            json& parsed) -> bool {
    if (depth > kMaxJsonDepth) fail("{}: header JSON: nested deeper than a tensor entry", name);
    if (event == json::parse_event_t::key && depth == 1) {
      auto key = parsed.get<std::string>();
      if (seen.count(key) != 0) fail("{}: header JSON: duplicate key '{}'", name, printable(key));
      seen.insert(std::move(key));
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, text + header_size, check);
  } catch (const json::exception& e) {
    fail("{}: header JSON: {}", name, printable(e.what(), 200));
  }
  if (!header.is_object()) {
    fail("{}: header JSON: expected an object, found {}", name, json_kind(header));
  }

  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) {
        fail("{}: __metadata__: expected an object of strings, found {}", name, json_kind(value));
      }
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string()) {
          fail("{}: __metadata__: key '{}': expected a string, found {}", name, printable(mkey),
               json_kind(mvalue));
        }
        out.metadata_[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    if (key.empty()) fail("{}: empty tensor name", name);
    TensorInfo info;
    parse_entry(name, key, value, data_size, info);
    out.tensors_.push_back(std::move(info));
  }

  std::sort(out.tensors_.begin(), out.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.name < b.name;
  });
  // Sorted by begin, an overlap shows between some tensor and the furthest end seen so far.
  // Empty tensors occupy no bytes and cannot overlap anything.
  const TensorInfo* furthest = nullptr;
  for (const auto& t : out.tensors_) {
    if (t.size_bytes() == 0) continue;
    if (furthest != nullptr && t.begin < furthest->end) {
      fail("{}: tensor '{}': data_offsets [{}, {}) overlap tensor '{}' [{}, {})", name,
           printable(t.name), t.begin, t.end, printable(furthest->name), furthest->begin,
           furthest->end);
    }
    if (furthest == nullptr || t.end > furthest->end) furthest = &t;
  }
  const uint8_t* data = bytes.data() + 8 + header_size;
  for (size_t i = 0; i < out.tensors_.size(); ++i) {
    auto& t = out.tensors_[i];
    t.data = data + t.begin;
    out.index_.emplace(t.name, i);
  }
  return out;
}

const TensorInfo* SafetensorsFile::find_tensor(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafetensorsFile::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) fail("{}: no tensor named '{}'", name_, printable(name));
  return *t;
}

SafetensorsModel SafetensorsModel::open(const std::string& path, FileImage image) {
  SafetensorsModel model;
  std::string index_path;
  std::string single_path;
  if (is_dir(path)) {
    model.dir_ = path;
    const std::string index = path + "/model.safetensors.index.json";
    const std::string single = path + "/model.safetensors";
    if (file_exists(index)) {
      index_path = index;
    } else if (file_exists(single)) {
      single_path = single;
    } else {
      fail("{}: no model.safetensors or model.safetensors.index.json in this folder", path);
    }
  } else {
    const size_t slash = path.rfind('/');
    model.dir_ = slash == std::string::npos ? "." : path.substr(0, slash);
    if (ends_with(path, ".json")) {
      index_path = path;
    } else {
      single_path = path;
    }
  }

  if (!single_path.empty()) {
    model.shards_.push_back(SafetensorsFile::open(single_path, image));
    const auto& tensors = model.shards_[0].tensors();
    for (size_t i = 0; i < tensors.size(); ++i)
      model.index_.emplace(tensors[i].name, std::pair{size_t{0}, i});
    return model;
  }

  json index;
  try {
    index = json::parse(read_file(index_path));
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", index_path, printable(e.what(), 200));
  }
  if (!index.is_object() || !index.contains("weight_map")) {
    fail("{}: key 'weight_map': missing", index_path);
  }
  const json& weight_map = index["weight_map"];
  if (!weight_map.is_object()) {
    fail("{}: key 'weight_map': expected an object, found {}", index_path, json_kind(weight_map));
  }
  // Shard file names, sorted (model-00001-of-00003.safetensors, ...), and what each must hold.
  std::map<std::string, std::set<std::string>> wanted;
  for (const auto& [tensor_name, shard] : weight_map.items()) {
    if (!shard.is_string()) {
      fail("{}: weight_map '{}': expected a file name, found {}", index_path,
           printable(tensor_name), json_kind(shard));
    }
    const auto& file = shard.get_ref<const std::string&>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
      fail("{}: weight_map '{}': '{}' is not a file name in this folder", index_path,
           printable(tensor_name), printable(file));
    }
    wanted[file].insert(tensor_name);
  }
  if (wanted.empty()) fail("{}: key 'weight_map': lists no tensors", index_path);

  for (const auto& [file, names] : wanted) {
    const size_t shard_index = model.shards_.size();
    model.shards_.push_back(SafetensorsFile::open(model.dir_ + "/" + file, image));
    const SafetensorsFile& shard = model.shards_.back();
    const auto& tensors = shard.tensors();
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (names.count(tensors[i].name) == 0) {
        fail("{}: tensor '{}' is in this shard but the index {} does not map it here", shard.path(),
             printable(tensors[i].name), index_path);
      }
      model.index_.emplace(tensors[i].name, std::pair{shard_index, i});
    }
    for (const auto& n : names) {
      if (shard.find_tensor(n) == nullptr) {
        fail("{}: tensor '{}': the index maps it to {}, which does not hold it", index_path,
             printable(n), shard.path());
      }
    }
  }
  return model;
}

std::vector<const TensorInfo*> SafetensorsModel::tensors() const {
  std::vector<const TensorInfo*> out;
  for (const auto& shard : shards_) {
    for (const auto& t : shard.tensors()) out.push_back(&t);
  }
  return out;
}

const TensorInfo* SafetensorsModel::find(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  return &shards_[it->second.first].tensors()[it->second.second];
}

const TensorInfo& SafetensorsModel::tensor(std::string_view name) const {
  const TensorInfo* t = find(name);
  if (t == nullptr) fail("{}: no tensor named '{}' in the checkpoint", dir_, printable(name));
  return *t;
}

const std::string& SafetensorsModel::shard_path(std::string_view name) const {
  const auto it = index_.find(name);
  if (it == index_.end()) fail("{}: no tensor named '{}' in the checkpoint", dir_, printable(name));
  return shards_[it->second.first].path();
}

uint64_t SafetensorsModel::total_bytes() const {
  uint64_t total = 0;
  for (const auto& shard : shards_) {
    for (const auto& t : shard.tensors()) total += t.size_bytes();
  }
  return total;
}

float f16_to_f32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  uint32_t out = 0;
  if (exponent == 0x1F) {
    out = sign | 0x7F800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 → 127
  } else if (mantissa == 0) {
    out = sign;  // ±0
  } else {
    // Subnormal half: normalise. value = mantissa × 2^-24.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3FFu;
    out = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

float bf16_to_f32(uint16_t bits) {
  const uint32_t out = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

void to_f32(const TensorInfo& tensor, uint64_t first, std::span<float> out) {
  const uint64_t n = tensor.n_values();
  if (first > n || out.size() > n - first) {
    fail("tensor '{}': values [{}, {}) are outside its {} values", printable(tensor.name), first,
         first + out.size(), n);
  }
  const uint8_t* src = tensor.data + first * dtype_size(tensor.dtype);
  switch (tensor.dtype) {
    case Dtype::F32:
      std::memcpy(out.data(), src, out.size() * sizeof(float));
      return;
    case Dtype::F16:
    case Dtype::BF16: {
      const bool half = tensor.dtype == Dtype::F16;
      for (size_t i = 0; i < out.size(); ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, sizeof bits);
        out[i] = half ? f16_to_f32(bits) : bf16_to_f32(bits);
      }
      return;
    }
    default:
      fail("tensor '{}': cannot convert dtype {} to f32 (supported: F32, F16, BF16)",
           printable(tensor.name), dtype_name(tensor.dtype));
  }
}

void row_to_f32(const TensorInfo& tensor, uint64_t row, std::span<float> out) {
  const uint64_t len = tensor.row_length();
  if (out.size() != len) {
    fail("tensor '{}': row buffer holds {} values, rows have {}", printable(tensor.name),
         out.size(), len);
  }
  if (row >= tensor.n_rows()) {
    fail("tensor '{}': row {} out of range ({} rows)", printable(tensor.name), row,
         tensor.n_rows());
  }
  to_f32(tensor, row * len, out);
}

std::vector<float> to_f32(const TensorInfo& tensor) {
  std::vector<float> out(tensor.n_values());
  to_f32(tensor, 0, out);
  return out;
}

GgmlType weight_type(const TensorInfo& t, const std::string& file) {
  switch (t.dtype) {
    case Dtype::F32:
      return GgmlType::F32;
    case Dtype::F16:
      return GgmlType::F16;
    case Dtype::BF16:
      return GgmlType::BF16;
    default:
      fail("{}: tensor '{}': dtype {} is not supported for weights (expected F32, F16 or BF16)",
           file, t.name, dtype_name(t.dtype));
  }
}

}  // namespace vigil::safetensors
