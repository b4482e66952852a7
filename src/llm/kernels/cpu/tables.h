// Internal: how the per-ISA translation units fill their KernelTable, and CPU feature detection.
#pragma once

#include "llm/kernels/kernels.h"

namespace vigil::kernels::cpu {

// What the CPU and the OS support (the OS must save the wide registers: XCR0 is checked).
struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, YMM state enabled
  bool avx512 = false;  // AVX-512 F/BW/VL/DQ + VNNI, ZMM state enabled
  bool avx512_bf16 = false;
  bool neon = false;
};
const CpuFeatures& cpu_features();

// Position of each weight type in KernelTable's arrays (also weight_type_index()).
static constexpr int table_index(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::BF16:
      return 2;
    case GgmlType::Q4_0:
      return 3;
    case GgmlType::Q4_1:
      return 4;
    case GgmlType::Q5_0:
      return 5;
    case GgmlType::Q5_1:
      return 6;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::Q4_K:
      return 8;
    case GgmlType::Q5_K:
      return 9;
    case GgmlType::Q6_K:
      return 10;
    default:
      return -1;
  }
}
static constexpr GgmlType kWeightTypes[kNumWeightTypes] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
    GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Each fills every entry of `table` (an ISA may reuse scalar entries: the SIMD tables start from
// a copy of the scalar table). Only called when cpu_features() allows it.
void init_scalar_table(KernelTable& table);
#if defined(__x86_64__)
void init_avx2_table(KernelTable& table);
void init_avx512_table(KernelTable& table);
void init_avx512_bf16_entries(KernelTable& table);  // overrides the BF16 entries
#endif
#if defined(__aarch64__)
void init_neon_table(KernelTable& table);
#endif

}  // namespace vigil::kernels::cpu
