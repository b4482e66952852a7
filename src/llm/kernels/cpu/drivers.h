// Internal: the loops that turn a register tile into vec_dot / matvec / matmul. Included by the
// per-ISA translation units; everything is a template in an anonymous namespace, so each ISA gets
// its own copy compiled with its own flags (see the note in llm/quant/blocks.h).
//
// A Tile type provides
//   template <int R, int T> static void run(const uint8_t* w, size_t row_bytes, int64_t n_cols,
//                                           const uint8_t* x, size_t x_stride, float* res);
// computing res[r * T + t] = dot(row r at w + r * row_bytes, activation row t at x + t * x_stride)
// for R in {1, 4} and T in {1, 2, 3, 4}.
#pragma once

#include <cstddef>
#include <cstdint>

#include "llm/kernels/kernels.h"

namespace vigil::kernels::cpu {
namespace {

template <class Tile>
float drive_vec_dot(int64_t n, const void* w, const void* x) {
  float res;
  Tile::template run<1, 1>(static_cast<const uint8_t*>(w), 0, n, static_cast<const uint8_t*>(x), 0,
                           &res);
  return res;
}

template <class Tile>
void drive_matvec(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                  int64_t row_end, const void* x, float* y) {
  const auto* xb = static_cast<const uint8_t*>(x);
  int64_t r = row_begin;
  float res[4];
  for (; r + 4 <= row_end; r += 4) {
    Tile::template run<4, 1>(w + r * row_bytes, row_bytes, n_cols, xb, 0, res);
    for (int i = 0; i < 4; ++i) y[r + i] = res[i];
  }
  for (; r < row_end; ++r) {
    Tile::template run<1, 1>(w + r * row_bytes, row_bytes, n_cols, xb, 0, res);
    y[r] = res[0];
  }
}

// R rows starting at row r, all tokens, 4 tokens at a time.
template <class Tile, int R>
void drive_matmul_rows(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t r,
                       const uint8_t* x, size_t x_stride, int64_t n_tokens, float* y,
                       int64_t y_stride) {
  float res[R * 4];
  const uint8_t* wr = w + r * row_bytes;
  for (int64_t t = 0; t < n_tokens; t += 4) {
    const int nt = n_tokens - t < 4 ? static_cast<int>(n_tokens - t) : 4;
    const uint8_t* xt = x + t * x_stride;
    switch (nt) {
      case 4:
        Tile::template run<R, 4>(wr, row_bytes, n_cols, xt, x_stride, res);
        break;
      case 3:
        Tile::template run<R, 3>(wr, row_bytes, n_cols, xt, x_stride, res);
        break;
      case 2:
        Tile::template run<R, 2>(wr, row_bytes, n_cols, xt, x_stride, res);
        break;
      default:
        Tile::template run<R, 1>(wr, row_bytes, n_cols, xt, x_stride, res);
        break;
    }
    for (int i = 0; i < R; ++i) {
      for (int j = 0; j < nt; ++j) y[(t + j) * y_stride + r + i] = res[i * nt + j];
    }
  }
}

template <class Tile>
void drive_matmul(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                  int64_t row_end, const void* x, size_t x_stride, int64_t n_tokens, float* y,
                  int64_t y_stride) {
  const auto* xb = static_cast<const uint8_t*>(x);
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) {
    drive_matmul_rows<Tile, 4>(w, row_bytes, n_cols, r, xb, x_stride, n_tokens, y, y_stride);
  }
  for (; r < row_end; ++r) {
    drive_matmul_rows<Tile, 1>(w, row_bytes, n_cols, r, xb, x_stride, n_tokens, y, y_stride);
  }
}

template <class Tile>
DotKernels make_tiled(GgmlType weight_type, GgmlType act_type) {
  return DotKernels{weight_type, act_type, drive_vec_dot<Tile>, drive_matvec<Tile>,
                    drive_matmul<Tile>};
}

// Row-by-row matvec / matmul around a vec_dot (for the exact, f32-activation kernels).
template <VecDotFn F>
void rows_matvec(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                 int64_t row_end, const void* x, float* y) {
  for (int64_t r = row_begin; r < row_end; ++r) y[r] = F(n_cols, w + r * row_bytes, x);
}

template <VecDotFn F>
void rows_matmul(const uint8_t* w, size_t row_bytes, int64_t n_cols, int64_t row_begin,
                 int64_t row_end, const void* x, size_t x_stride, int64_t n_tokens, float* y,
                 int64_t y_stride) {
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      y[t * y_stride + r] = F(n_cols, w + r * row_bytes, xb + t * x_stride);
    }
  }
}

template <VecDotFn F>
DotKernels make_rows(GgmlType weight_type, GgmlType act_type) {
  return DotKernels{weight_type, act_type, F, rows_matvec<F>, rows_matmul<F>};
}

}  // namespace
}  // namespace vigil::kernels::cpu
