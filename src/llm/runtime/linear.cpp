#include "llm/runtime/linear.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "base/error.h"
#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"
#include "llm/quant/reference.h"

namespace vigil {
namespace {
// Decode hands out each matrix in chunks of about this many bytes (see linear_group): small
// enough that a thread finishing early waits at most ~30 us, large enough for the kernels' 4
// sequential streams (256 KiB each) to run at full speed. 256 KiB to 4 MiB measured within noise
// of each other; all at or above the static split.
constexpr size_t kDecodeChunkBytes = size_t{1} << 20;
}  // namespace

void tensor_row_f32(const Tensor& t, int64_t r, float* out) {
  if (r < 0 || r >= t.rows) fail("tensor '{}': row {} out of range ({} rows)", t.name, r, t.rows);
  kernels::dequantize_row(t.type, t.row(r), out, t.cols);
}

void store_row(GgmlType type, const float* src, uint8_t* dst, int64_t n) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case GgmlType::F16: {
      auto* out = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = quant::fp32_to_fp16(src[i]);
      return;
    }
    case GgmlType::Q8_0:
      quant::quantize_row_q8_0(src, reinterpret_cast<quant::BlockQ8_0*>(dst), n);
      return;
    default:
      fail("store_row: type {} is not a KV cache type", ggml_type_name(type));
  }
}

void linear(const Tensor& W, const float* X, int64_t n_tokens, float* Y, ThreadPool& pool,
            std::vector<uint8_t>& scratch, bool exact) {
  const LinearOut out[] = {{&W, Y}};
  linear_group(out, X, n_tokens, pool, scratch, exact);
}

void linear_group(std::span<const LinearOut> outs, const float* X, int64_t n_tokens,
                  ThreadPool& pool, std::vector<uint8_t>& scratch, bool exact) {
  constexpr size_t kMaxOuts = 4;
  if (outs.empty()) return;
  if (outs.size() > kMaxOuts) fail("linear_group: {} products (at most {})", outs.size(), kMaxOuts);
  const int64_t n_cols = outs[0].W->cols;
  const kernels::KernelTable& table = kernels::kernels();
  const kernels::DotKernels* k[kMaxOuts];
  // Distinct activation types (at most one buffer each) and where each output finds its input.
  GgmlType act_types[kMaxOuts];
  size_t act_offset[kMaxOuts];
  size_t act_stride[kMaxOuts];
  size_t n_act = 0, total = 0;
  const void* x_act[kMaxOuts];
  size_t x_stride[kMaxOuts];
  for (size_t i = 0; i < outs.size(); ++i) {
    const Tensor& W = *outs[i].W;
    if (W.cols != n_cols) {
      fail("linear_group: '{}' has {} columns, '{}' {}", W.name, W.cols, outs[0].W->name, n_cols);
    }
    k[i] = exact ? &table.dot(W.type, GgmlType::F32) : &table.dot(W.type);
    size_t a = 0;
    while (a < n_act && act_types[a] != k[i]->act_type) ++a;
    if (a == n_act && k[i]->act_type != GgmlType::F32) {
      act_types[a] = k[i]->act_type;
      act_stride[a] = kernels::activation_bytes(k[i]->act_type, n_cols);
      act_offset[a] = total;
      total += (act_stride[a] * static_cast<size_t>(n_tokens) + 63) / 64 * 64;
      ++n_act;
    }
  }
  if (scratch.size() < total + 64) scratch.resize(total + 64);
  // 64-byte aligned start (kActivationAlignment) whatever the vector's allocation.
  uint8_t* base = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  if (n_act > 0) {
    pool.parallel_for(n_tokens * static_cast<int64_t>(n_act), 1, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        const size_t a = static_cast<size_t>(j / n_tokens);
        const int64_t t = j % n_tokens;
        kernels::quantize_activations(act_types[a], X + t * n_cols,
                                      base + act_offset[a] + static_cast<size_t>(t) * act_stride[a],
                                      n_cols);
      }
    });
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    x_act[i] = X;
    x_stride[i] = static_cast<size_t>(n_cols) * sizeof(float);
    for (size_t a = 0; a < n_act; ++a) {
      if (act_types[a] == k[i]->act_type) {
        x_act[i] = base + act_offset[a];
        x_stride[i] = act_stride[a];
      }
    }
  }
  if (n_tokens == 1) {
    // Decode streams every weight byte once, and the halves of a static split finished ~10 %
    // apart on the shared project machine (the thread done first waited 10 % of the matrix
    // time). So the rows go out in chunks of about kDecodeChunkBytes, taken in turn by whichever
    // thread is free. Every row is computed by the same code whichever thread takes it: results
    // do not depend on timing.
    int64_t chunk_rows[kMaxOuts];
    int64_t first_chunk[kMaxOuts + 1];
    first_chunk[0] = 0;
    for (size_t i = 0; i < outs.size(); ++i) {
      const Tensor& W = *outs[i].W;
      const int64_t rows =
          static_cast<int64_t>(kDecodeChunkBytes / std::max<size_t>(W.row_bytes(), 1));
      chunk_rows[i] = std::max<int64_t>(16, rows / 4 * 4);
      first_chunk[i + 1] = first_chunk[i] + (W.rows + chunk_rows[i] - 1) / chunk_rows[i];
    }
    const int64_t n_chunks = first_chunk[outs.size()];
    std::atomic<int64_t> next{0};
    pool.run([&](int, int) {
      size_t i = 0;
      for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < n_chunks;
           c = next.fetch_add(1, std::memory_order_relaxed)) {
        while (c >= first_chunk[i + 1]) ++i;
        const Tensor& W = *outs[i].W;
        const int64_t r0 = (c - first_chunk[i]) * chunk_rows[i];
        const int64_t r1 = std::min(W.rows, r0 + chunk_rows[i]);
        k[i]->matvec(W.data, W.row_bytes(), n_cols, r0, r1, x_act[i], outs[i].Y);
      }
    });
    return;
  }
  pool.run([&](int thread, int n_threads) {
    for (size_t i = 0; i < outs.size(); ++i) {
      const Tensor& W = *outs[i].W;
      // This thread's slice of W, in whole 4-row tiles (the kernels' prefill tile).
      const int64_t tiles = (W.rows + 3) / 4;
      const int64_t r0 = std::min(W.rows, tiles * thread / n_threads * 4);
      const int64_t r1 = std::min(W.rows, tiles * (thread + 1) / n_threads * 4);
      if (r0 >= r1) continue;
      k[i]->matmul(W.data, W.row_bytes(), n_cols, r0, r1, x_act[i], x_stride[i], n_tokens,
                   outs[i].Y, W.rows);
    }
  });
}

}  // namespace vigil
