// Helpers for the kernel tests: aligned buffers, random weight rows of every type, activations,
// and a minimal GGUF reader (independent of src/llm/format, so these tests only depend on the
// kernels).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"
#include "llm/quant/reference.h"
#include "llm/quant/types.h"

namespace vigil {
// Readable test names and failure messages for type parameters.
inline void PrintTo(GgmlType type, std::ostream* os) {
  *os << ggml_type_name(type);
}
}  // namespace vigil

namespace vigil::testing {

// A zero-filled byte buffer whose data() is 64-byte aligned.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size = 0) { resize(size); }
  void resize(size_t size) {
    storage_.assign(size + 64, 0);
    const auto addr = reinterpret_cast<uintptr_t>(storage_.data());
    offset_ = static_cast<size_t>((64 - addr % 64) % 64);
    size_ = size;
  }
  uint8_t* data() { return storage_.data() + offset_; }
  const uint8_t* data() const { return storage_.data() + offset_; }
  size_t size() const { return size_; }

 private:
  std::vector<uint8_t> storage_;
  size_t offset_ = 0;
  size_t size_ = 0;
};

inline std::vector<GgmlType> all_weight_types() {
  return {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
          GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
          GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
}

inline std::vector<kernels::Isa> available_isas() {
  std::vector<kernels::Isa> out;
  for (auto isa :
       {kernels::Isa::Scalar, kernels::Isa::Avx2, kernels::Isa::Avx512, kernels::Isa::Neon}) {
    if (kernels::isa_available(isa)) out.push_back(isa);
  }
  return out;
}

inline void put_u16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}

// n_rows rows of n_cols random values of `type`, rows `row_bytes` apart. Quantized types get
// random quant bytes (every bit pattern) and sane random scales (magnitude 1e-3..1e-1, signed
// where the format allows).
inline AlignedBuffer random_rows(GgmlType type, int64_t n_rows, int64_t n_cols, size_t row_bytes,
                                 std::mt19937& rng) {
  AlignedBuffer buf(row_bytes * static_cast<size_t>(n_rows));
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> mag(1e-3f, 1e-1f);
  auto scale = [&](bool allow_negative) {
    float s = mag(rng);
    if (allow_negative && byte(rng) & 1) s = -s;
    return quant::fp32_to_fp16(s);
  };
  for (int64_t r = 0; r < n_rows; ++r) {
    uint8_t* row = buf.data() + r * row_bytes;
    const auto& traits = ggml_traits(type);
    const size_t bytes = ggml_row_bytes(type, static_cast<uint64_t>(n_cols));
    for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(byte(rng));
    const int64_t nb = n_cols / traits.block_values;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* blk = row + b * traits.block_bytes;
      switch (type) {
        case GgmlType::F32: {
          const float v = normal(rng);
          std::memcpy(blk, &v, 4);
          break;
        }
        case GgmlType::F16:
          put_u16(blk, quant::fp32_to_fp16(normal(rng)));
          break;
        case GgmlType::BF16:
          put_u16(blk, quant::fp32_to_bf16(normal(rng)));
          break;
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
        case GgmlType::Q8_0:
          put_u16(blk, scale(true));
          break;
        case GgmlType::Q4_1:
        case GgmlType::Q5_1:
          put_u16(blk, scale(false));
          put_u16(blk + 2, scale(true));
          break;
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
          put_u16(blk, scale(false));
          put_u16(blk + 2, scale(false));
          break;
        case GgmlType::Q6_K:
          put_u16(blk + 208, scale(true));
          break;
        default:
          throw std::logic_error("random_rows: unsupported type");
      }
    }
  }
  return buf;
}

inline std::vector<float> random_floats(int64_t n, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  return x;
}

// ---- minimal GGUF reader ----

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> shape;
  GgmlType type = GgmlType::F32;
  const uint8_t* data = nullptr;
};

class MiniGguf {
 public:
  explicit MiniGguf(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    bytes_.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (bytes_.size() < 24 || std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
      throw std::runtime_error(path + ": not a GGUF file");
    }
    pos_ = 8;
    const uint64_t n_tensors = u64();
    const uint64_t n_kv = u64();
    uint64_t alignment = 32;
    for (uint64_t i = 0; i < n_kv; ++i) {
      const std::string key = str();
      const uint32_t type = u32();
      if (key == "general.alignment" && type == 4) {
        alignment = u32();
      } else {
        skip_value(type);
      }
    }
    std::vector<std::pair<GgufTensor, uint64_t>> infos;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      GgufTensor t;
      t.name = str();
      const uint32_t n_dims = u32();
      for (uint32_t d = 0; d < n_dims; ++d) t.shape.push_back(u64());
      t.type = static_cast<GgmlType>(u32());
      const uint64_t offset = u64();
      infos.emplace_back(t, offset);
    }
    const uint64_t data_start = (pos_ + alignment - 1) / alignment * alignment;
    for (auto& [t, offset] : infos) {
      if (data_start + offset > bytes_.size()) throw std::runtime_error("tensor out of file");
      t.data = reinterpret_cast<const uint8_t*>(bytes_.data()) + data_start + offset;
      tensors_[t.name] = t;
    }
  }
  const std::map<std::string, GgufTensor>& tensors() const { return tensors_; }

 private:
  template <typename T>
  T read() {
    if (pos_ + sizeof(T) > bytes_.size()) throw std::runtime_error("truncated GGUF");
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint32_t u32() { return read<uint32_t>(); }
  uint64_t u64() { return read<uint64_t>(); }
  std::string str() {
    const uint64_t n = u64();
    if (pos_ + n > bytes_.size()) throw std::runtime_error("truncated GGUF string");
    std::string s(bytes_.data() + pos_, n);
    pos_ += n;
    return s;
  }
  void skip_value(uint32_t type) {
    static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      str();
    } else if (type == 9) {
      const uint32_t item_type = u32();
      const uint64_t n = u64();
      for (uint64_t i = 0; i < n; ++i) skip_value(item_type);
    } else if (type < 13) {
      pos_ += kSizes[type];
    } else {
      throw std::runtime_error("bad GGUF value type");
    }
  }

  std::vector<char> bytes_;
  size_t pos_ = 0;
  std::map<std::string, GgufTensor> tensors_;
};

}  // namespace vigil::testing
