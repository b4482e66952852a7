// Run-time ISA selection, the activation quantizers and the public wrappers of kernels.h.
// Compiled for the baseline ISA: nothing here may use AVX.

#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "base/error.h"
#include "llm/kernels/cpu/act_layout.h"
#include "llm/kernels/cpu/tables.h"
#include "llm/kernels/kernels.h"
#include "llm/quant/reference.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace vigil::kernels {
namespace cpu {
namespace {

#if defined(__x86_64__)
CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28),
             f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  uint32_t xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x6u) == 0x6u;    // SSE + AVX state
  const bool zmm_state = (xcr0_lo & 0xe6u) == 0xe6u;  // + opmask, ZMM_Hi256, Hi16_ZMM
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d7)) {
    unsigned b71, c71, d71;
    if (a >= 1) __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71);
  }
  const bool avx2 = b7 & (1u << 5);
  const bool avx512f = b7 & (1u << 16), avx512dq = b7 & (1u << 17), avx512bw = b7 & (1u << 30),
             avx512vl = b7 & (1u << 31), avx512vnni = c7 & (1u << 11), avx512bf16 = a71 & (1u << 5);
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
  f.avx512_bf16 = f.avx512 && avx512bf16;
  return f;
}
#else
CpuFeatures detect() {
  CpuFeatures f;
#if defined(__aarch64__) && defined(__ARM_NEON)
  f.neon = true;
#endif
  return f;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace cpu

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
    case Isa::Neon:
      return "neon";
  }
  return "?";
}

bool isa_available(Isa isa) {
  const auto& f = cpu::cpu_features();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return f.avx2;
    case Isa::Avx512:
      return f.avx512;
    case Isa::Neon:
      return f.neon;
  }
  return false;
}

Isa best_isa() {
  if (isa_available(Isa::Avx512)) return Isa::Avx512;
  if (isa_available(Isa::Avx2)) return Isa::Avx2;
  if (isa_available(Isa::Neon)) return Isa::Neon;
  return Isa::Scalar;
}

namespace {

KernelTable build_table(Isa isa) {
  KernelTable t;
  cpu::init_scalar_table(t);
  switch (isa) {
    case Isa::Scalar:
      break;
#if defined(__x86_64__)
    case Isa::Avx2:
      cpu::init_avx2_table(t);
      break;
    case Isa::Avx512:
      cpu::init_avx512_table(t);
      if (cpu::cpu_features().avx512_bf16) cpu::init_avx512_bf16_entries(t);
      break;
#endif
#if defined(__aarch64__)
    case Isa::Neon:
      cpu::init_neon_table(t);
      break;
#endif
    default:
      break;
  }
  t.isa = isa;
  return t;
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  if (!isa_available(isa)) fail("kernels: ISA {} is not available on this CPU", isa_name(isa));
  switch (isa) {
    case Isa::Scalar: {
      static const KernelTable t = build_table(Isa::Scalar);
      return t;
    }
    case Isa::Avx2: {
      static const KernelTable t = build_table(Isa::Avx2);
      return t;
    }
    case Isa::Avx512: {
      static const KernelTable t = build_table(Isa::Avx512);
      return t;
    }
    case Isa::Neon: {
      static const KernelTable t = build_table(Isa::Neon);
      return t;
    }
  }
  fail("kernels: unknown ISA {}", static_cast<int>(isa));
}

namespace {
Isa chosen_isa() {
  const char* env = std::getenv("VIGIL_ISA");
  if (env == nullptr || *env == '\0') return best_isa();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) {
    if (isa_name(isa) == env) {
      if (!isa_available(isa)) fail("VIGIL_ISA={}: this CPU does not support it", env);
      return isa;
    }
  }
  fail("VIGIL_ISA={}: expected scalar, avx2, avx512 or neon", printable(env));
}
}  // namespace

const KernelTable& kernels() {
  static const KernelTable& table = kernel_table(chosen_isa());
  return table;
}

int weight_type_index(GgmlType type) {
  return cpu::table_index(type);
}
bool has_kernels(GgmlType weight_type) {
  return cpu::table_index(weight_type) >= 0;
}

GgmlType vec_dot_type(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::F32:
      return GgmlType::F32;
    case GgmlType::F16:
      return GgmlType::F16;
    case GgmlType::BF16:
      return GgmlType::BF16;
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0:
      return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1:
      return GgmlType::Q8_1;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return GgmlType::Q8_K;
    default:
      break;
  }
  fail("kernels: no matrix kernels for tensor type {}", ggml_type_name(weight_type));
}

const DotKernels& KernelTable::dot(GgmlType weight_type) const {
  const int i = cpu::table_index(weight_type);
  if (i < 0) fail("kernels: no matrix kernels for tensor type {}", ggml_type_name(weight_type));
  return quantized[i];
}

const DotKernels& KernelTable::dot(GgmlType weight_type, GgmlType act_type) const {
  const DotKernels& q = dot(weight_type);
  if (act_type == q.act_type) return q;
  if (act_type == GgmlType::F32) return exact[cpu::table_index(weight_type)];
  fail("kernels: {} weights pair with {} or f32 activations, not {}", ggml_type_name(weight_type),
       ggml_type_name(q.act_type), ggml_type_name(act_type));
}

void KernelTable::dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) const {
  const int i = cpu::table_index(type);
  if (i < 0) fail("dequantize: tensor type {} is not supported", ggml_type_name(type));
  const int64_t block = ggml_traits(type).block_values;
  if (n < 0 || n % block != 0) {
    fail("dequantize: row of {} values is not a multiple of the {} block size {}", n,
         ggml_type_name(type), block);
  }
  dequantize[i](src, dst, n);
}

WeightedRowSumFn KernelTable::row_sum(GgmlType type) const {
  const int i = cpu::table_index(type);
  if (i < 0) fail("kernels: no row-sum kernel for tensor type {}", ggml_type_name(type));
  return weighted_row_sum[i];
}

namespace {

void check_act_length(GgmlType act_type, int64_t n) {
  const int64_t block = ggml_traits(act_type).block_values;
  if (n < 0 || n % block != 0) {
    fail("kernels: activation row of {} values is not a multiple of the {} block size {}", n,
         ggml_type_name(act_type), block);
  }
}

// Writes the packed copy of Q8_0 or Q8_1 blocks; see act_layout.h.
template <typename Block>
void pack_q8_groups(const Block* blocks, int64_t nb, uint8_t* out) {
  constexpr bool kQ8_1 = std::is_same_v<Block, quant::BlockQ8_1>;
  const int64_t groups = (nb + cpu::kGroupBlocks - 1) / cpu::kGroupBlocks;
  for (int64_t g = 0; g < groups; ++g) {
    uint8_t* group = out + g * cpu::kGroupBytes;
    int8_t lo[64] = {}, hi[64] = {};
    float d[16] = {};
    int32_t negsum[16] = {};
    float s[16] = {};
    for (int k = 0; k < cpu::kGroupBlocks; ++k) {
      const int64_t b = g * cpu::kGroupBlocks + k;
      if (b >= nb) break;  // zero padding
      const Block& blk = blocks[b];
      std::memcpy(lo + 16 * k, blk.qs, 16);
      std::memcpy(hi + 16 * k, blk.qs + 16, 16);
      const float dk = quant::fp16_to_fp32(blk.d);
      for (int m = 0; m < 4; ++m) {
        d[4 * k + m] = dk;
        int sum = 0;
        for (int i = 0; i < 4; ++i) sum += blk.qs[4 * m + i] + blk.qs[16 + 4 * m + i];
        negsum[4 * k + m] = -sum;
      }
      if constexpr (kQ8_1) s[4 * k] = quant::fp16_to_fp32(blk.s);
    }
    std::memcpy(group + cpu::kGroupLo, lo, 64);
    std::memcpy(group + cpu::kGroupHi, hi, 64);
    std::memcpy(group + cpu::kGroupD, d, 64);
    if constexpr (kQ8_1) {
      std::memcpy(group + cpu::kGroupAux, s, 64);
    } else {
      std::memcpy(group + cpu::kGroupAux, negsum, 64);
    }
  }
}

void pack_q8_k(const quant::BlockQ8_K* blocks, int64_t nb, uint8_t* out) {
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* rec = out + i * cpu::kSuperBytes;
    std::memcpy(rec + cpu::kSuperQs, blocks[i].qs, 256);
    std::memcpy(rec + cpu::kSuperBsums, blocks[i].bsums, 32);
    float dsum[8], d[16];
    for (int j = 0; j < 8; ++j) {
      dsum[j] =
          blocks[i].d * static_cast<float>(blocks[i].bsums[2 * j] + blocks[i].bsums[2 * j + 1]);
    }
    for (float& v : d) v = blocks[i].d;
    std::memcpy(rec + cpu::kSuperDsum, dsum, sizeof(dsum));
    std::memcpy(rec + cpu::kSuperD, d, sizeof(d));
  }
}

}  // namespace

size_t activation_bytes(GgmlType act_type, int64_t n) {
  check_act_length(act_type, n);
  switch (act_type) {
    case GgmlType::F32:
      return static_cast<size_t>(n) * 4;
    case GgmlType::F16:
    case GgmlType::BF16:
      return static_cast<size_t>(n) * 2;
    case GgmlType::Q8_0:
      return cpu::activation_bytes_q8(n, sizeof(quant::BlockQ8_0));
    case GgmlType::Q8_1:
      return cpu::activation_bytes_q8(n, sizeof(quant::BlockQ8_1));
    case GgmlType::Q8_K:
      return cpu::activation_bytes_q8_k(n);
    default:
      break;
  }
  fail("kernels: {} is not an activation type", ggml_type_name(act_type));
}

void quantize_activations(GgmlType act_type, const float* x, void* out, int64_t n) {
  check_act_length(act_type, n);
  auto* bytes = static_cast<uint8_t*>(out);
  switch (act_type) {
    case GgmlType::F32:
      std::memcpy(out, x, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16: {
      auto* h = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) h[i] = quant::fp32_to_fp16(x[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* h = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) h[i] = quant::fp32_to_bf16(x[i]);
      return;
    }
    case GgmlType::Q8_0: {
      auto* blocks = reinterpret_cast<quant::BlockQ8_0*>(out);
      quant::quantize_row_q8_0(x, blocks, n);
      const size_t ggml = static_cast<size_t>(n / 32) * sizeof(quant::BlockQ8_0);
      const size_t packed = cpu::packed_offset_q8(n, sizeof(quant::BlockQ8_0));
      std::memset(bytes + ggml, 0, packed - ggml);
      pack_q8_groups(blocks, n / 32, bytes + packed);
      return;
    }
    case GgmlType::Q8_1: {
      auto* blocks = reinterpret_cast<quant::BlockQ8_1*>(out);
      quant::quantize_row_q8_1(x, blocks, n);
      const size_t ggml = static_cast<size_t>(n / 32) * sizeof(quant::BlockQ8_1);
      const size_t packed = cpu::packed_offset_q8(n, sizeof(quant::BlockQ8_1));
      std::memset(bytes + ggml, 0, packed - ggml);
      pack_q8_groups(blocks, n / 32, bytes + packed);
      return;
    }
    case GgmlType::Q8_K: {
      auto* blocks = reinterpret_cast<quant::BlockQ8_K*>(out);
      quant::quantize_row_q8_K(x, blocks, n);
      const size_t ggml = static_cast<size_t>(n / 256) * sizeof(quant::BlockQ8_K);
      const size_t packed = cpu::packed_offset_q8_k(n);
      std::memset(bytes + ggml, 0, packed - ggml);
      pack_q8_k(blocks, n / 256, bytes + packed);
      return;
    }
    default:
      break;
  }
  fail("kernels: {} is not an activation type", ggml_type_name(act_type));
}

float vec_dot(GgmlType weight_type, int64_t n, const void* w_row, const void* x_act) {
  return kernels().dot(weight_type).vec_dot(n, w_row, x_act);
}

void matvec(GgmlType weight_type, const uint8_t* w, size_t row_bytes, int64_t n_cols,
            int64_t row_begin, int64_t row_end, const void* x_act, float* y) {
  kernels().dot(weight_type).matvec(w, row_bytes, n_cols, row_begin, row_end, x_act, y);
}

void matmul(GgmlType weight_type, const uint8_t* w, size_t row_bytes, int64_t n_cols,
            int64_t row_begin, int64_t row_end, const void* x_act, size_t x_stride,
            int64_t n_tokens, float* y, int64_t y_stride) {
  kernels()
      .dot(weight_type)
      .matmul(w, row_bytes, n_cols, row_begin, row_end, x_act, x_stride, n_tokens, y, y_stride);
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  kernels().dequantize_row(type, src, dst, n);
}

}  // namespace vigil::kernels
