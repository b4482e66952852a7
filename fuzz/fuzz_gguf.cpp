// libFuzzer target: GgufFile::parse on arbitrary bytes, then every metadata value and tensor info
// is touched (typed getters, display form, tensor data bytes). vigil::Error is the expected way
// to reject input; anything else (a crash, a sanitizer report, another exception, an allocation
// above -malloc_limit_mb) is a bug. Seeds: fuzz/corpus/gguf/ (tests/gguf/gguf_corpus_test.cpp).
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/error.h"
#include "llm/format/gguf.h"

namespace {

// Reads every byte of the tensor's data so that ASan checks the bounds the parser accepted.
uint64_t checksum(const vigil::gguf::TensorInfo& t) {
  uint64_t sum = 0;
  for (uint64_t k = 0; k < t.size_bytes; ++k) sum += t.data[k];
  return sum;
}

void touch(const vigil::gguf::GgufFile& f) {
  using vigil::gguf::ValueType;
  volatile uint64_t sink = f.version() + f.alignment() + f.data_offset();
  for (const auto& [key, value] : f.metadata()) {
    sink = sink + value.to_display().size() + value.to_display(0).size();
    // The conversions and typed getters must either return or throw vigil::Error.
    try {
      if (value.is_integer()) sink = sink + static_cast<uint64_t>(value.as_int());
      switch (value.type) {
        case ValueType::STRING:
          sink = sink + f.get_string(key).size();
          break;
        case ValueType::BOOL:
          sink = sink + f.get_bool(key);
          break;
        case ValueType::FLOAT32:
        case ValueType::FLOAT64:
          sink = sink + static_cast<uint64_t>(f.get_float(key) != 0);
          break;
        case ValueType::ARRAY:
          if (value.array_type == ValueType::STRING) {
            sink = sink + f.get_string_array(key).size();
          } else if (value.array_type != ValueType::ARRAY) {
            sink = sink + f.get_float_array(key).size();
            sink = sink + f.get_int_array(key).size();
          }
          break;
        default:
          sink = sink + static_cast<uint64_t>(f.get_int(key));
          break;
      }
    } catch (const vigil::Error&) {
    }
  }
  for (const auto& t : f.tensors()) {
    sink = sink + t.n_values() + t.offset + t.file_offset(f.data_offset()) + checksum(t);
    sink = sink + (f.find_tensor(t.name) == &t);
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = vigil::gguf::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    touch(f);
  } catch (const vigil::Error&) {
  }
  return 0;
}
