// libFuzzer target: SafetensorsFile::parse on arbitrary bytes, then every tensor is touched (its
// data read, converted to f32 where the dtype allows) and the metadata read. vigil::Error is the
// expected way to reject input. Seeds: fuzz/corpus/safetensors/ (tests/formats).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.h"
#include "llm/format/safetensors.h"

namespace {

// Converting more than this many values per tensor would only slow the fuzzer down.
constexpr uint64_t kMaxConvert = 1 << 16;

void touch(const vigil::safetensors::SafetensorsFile& f) {
  using vigil::safetensors::Dtype;
  volatile uint64_t sink = f.header_size() + f.data_offset();
  for (const auto& [key, value] : f.metadata()) sink = sink + key.size() + value.size();
  std::vector<float> buffer;
  for (const auto& t : f.tensors()) {
    sink = sink + t.n_values() + t.n_rows() + t.row_length() + (f.find_tensor(t.name) == &t);
    // Reading the first and last byte checks the accepted bounds under ASan.
    if (t.size_bytes() > 0) sink = sink + t.data[0] + t.data[t.size_bytes() - 1];
    const uint64_t n = t.n_values() < kMaxConvert ? t.n_values() : kMaxConvert;
    buffer.assign(n, 0.0f);
    try {
      vigil::safetensors::to_f32(t, 0, buffer);
      if (t.n_rows() > 0 && t.row_length() <= kMaxConvert) {
        buffer.assign(t.row_length(), 0.0f);
        vigil::safetensors::row_to_f32(t, t.n_rows() - 1, buffer);
      }
    } catch (const vigil::Error&) {
      // Expected for dtypes other than F32/F16/BF16.
      if (t.dtype == Dtype::F32 || t.dtype == Dtype::F16 || t.dtype == Dtype::BF16)
        __builtin_trap();
    }
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto f = vigil::safetensors::SafetensorsFile::parse(std::span<const uint8_t>(data, size),
                                                              "fuzz.safetensors");
    touch(f);
  } catch (const vigil::Error&) {
  }
  return 0;
}
