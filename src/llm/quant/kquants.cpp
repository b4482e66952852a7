#include "llm/quant/kquants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "llm/quant/reference.h"

// Every expression below keeps ggml's operand order and types (float arithmetic, int -> float
// conversions where C does them), because the files must match llama-quantize byte for byte.
// This file is compiled without -ffast-math and for the baseline ISA, so no FMA contraction.

namespace vigil::quant {
namespace {

// Below this a group counts as all zero (ggml's GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

// ggml's make_qx_quants: symmetric quantization of n values to [-nmax, nmax - 1], stored in L
// offset by nmax. rmse_type 1 searches 18 nearby inverse scales for the best weighted fit;
// weights are `qw` when given, else x^2.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  auto weight = [&](int i) -> float {
    if (qw != nullptr) return qw[i];
    switch (rmse_type) {
      case 1:
        return x[i] * x[i];
      case 2:
        return 1;
      case 3:
        return std::fabs(x[i]);
      default:
        return std::sqrt(std::fabs(x[i]));
    }
  };
  auto clamp_q = [nmax](int l) { return std::max(-nmax, std::min(nmax - 1, l)); };
  float iscale = static_cast<float>(-nmax) / max;
  if (rmse_type == 0) {
    for (int i = 0; i < n; ++i) {
      L[i] = static_cast<int8_t>(nmax + clamp_q(nearest_int(iscale * x[i])));
    }
    return 1 / iscale;
  }
  bool return_early = false;
  if (rmse_type < 0) {
    rmse_type = -rmse_type;
    return_early = true;
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = clamp_q(nearest_int(iscale * x[i]));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = clamp_q(nearest_int(iscale * x[i]));
      const float w = weight(i);
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(nmax + clamp_q(nearest_int(iscale * x[i])));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// ggml's make_qkx2_quants: affine quantization x ~ scale * L - min with L in [0, nmax], by a
// search over nstep + 1 inverse scales (rmin + rdelta * is + nmax) / (max - min) that keeps the
// least weighted error. Returns the scale; *the_min receives -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  const auto fnmax = static_cast<float>(nmax);
  float iscale = fnmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + fnmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      const auto fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_qkx3_quants: as make_qkx2_quants, weights x^2 when `weights` is null, and a
// rounding that stays defined when the current min approaches max (v = inf or NaN gives 0 or
// nmax, which is what the clamp of a finite v gives as well).
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad) {
  auto weight = [&](int i) { return weights != nullptr ? weights[i] : x[i] * x[i]; };
  float min = x[0];
  float max = x[0];
  float sum_w = weight(0);
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weight(i);
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max <= min) {
    std::memset(L, 0, static_cast<size_t>(n));
    *the_min = -min;
    return 0.f;
  }
  const auto fnmax = static_cast<float>(nmax);
  float iscale = fnmax / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * static_cast<float>(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_mad += weight(i) * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + fnmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const float v = iscale * (x[i] - min);
      const int l = v > 0 ? nearest_int(std::min(v, fnmax)) : 0;
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weight(i);
      const auto fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        mad += weight(i) * diff;
      }
      if (mad < best_mad) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// ggml's make_qp_quants: quantizes n non-negative values (sub-block scales or mins) to
// [0, nmax] with weights, trying 8 nearby inverse scales and then 5 rounds of coordinate
// descent on single values. Returns the scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  const auto fnmax = static_cast<float>(nmax);
  float iscale = fnmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nearest_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += quant_weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + fnmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::min(nmax, nearest_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += quant_weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::min(nmax, nearest_int(iscale * x[i]));
    L[i] = static_cast<uint8_t>(l);
    const float w = quant_weights[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = quant_weights[i];
      const auto li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        const int new_l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          const auto fl = static_cast<float>(new_l);
          slx += w * x[i] * fl;
          sl2 += w * fl * fl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Packs the 6-bit scale `ls` and min `lm` of sub-block j into the 12 bytes of a Q4_K / Q5_K
// super-block (the inverse of unpack_q4_k_scales). Sub-blocks 0-3 must be packed first.
void pack_scale_min(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | ((ls >> 4) << 6));
    scales[j] = static_cast<uint8_t>(scales[j] | ((lm >> 4) << 6));
  }
}

// Requantizes the 256 values of a Q4_K / Q5_K super-block with its stored (rounded) d, dmin
// and 6-bit scales into L (values in [0, nmax]). Sub-blocks whose scale is 0 keep the values
// the search left in L, as in ggml.
void requantize_affine(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* scales,
                       int nmax, uint8_t* L) {
  uint8_t sc[8], mn[8];
  unpack_q4_k_scales(scales, sc, mn);
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float d = fp16_to_fp32(d16) * static_cast<float>(sc[j]);
    if (d == 0) continue;
    const float dm = fp16_to_fp32(dmin16) * static_cast<float>(mn[j]);
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    }
  }
}

void pack_q4_k_values(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 64) {
    for (int l = 0; l < 32; ++l) qs[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    qs += 32;
  }
}

void pack_q5_k_values(const uint8_t* L, uint8_t* qh, uint8_t* ql) {
  std::memset(qh, 0, kQK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    ql += 32;
  }
}

// The reference (no importance) fit of one Q4_K / Q5_K super-block: per sub-block weights
// av_x + |x| with av_x the sub-block's RMS; d and dmin are max / 63.
template <typename Block>
void quantize_affine_k_ref(const float* x, Block* y, int nmax, float rmin, float rdelta, int nstep,
                           uint8_t* L) {
  uint8_t Laux[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0;  // as the min is subtracted, scales are positive
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 rdelta, nstep, false);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(y->scales, 0, sizeof(y->scales));
  for (int j = 0; j < kQK_K / 32; ++j) {
    // ggml stores nearest_int into a uint8_t (modulo 256) before clamping to 63.
    uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
    uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    pack_scale_min(j, ls, lm, y->scales);
  }
  y->d = fp32_to_fp16(max_scale / 63.f);
  y->dmin = fp32_to_fp16(max_min / 63.f);
  requantize_affine(x, y->d, y->dmin, y->scales, nmax, L);
}

// The importance-weighted fit of one Q4_K / Q5_K super-block (ggml's quantize_row_q4_K_impl /
// q5_K_impl): weights qw * sqrt(sigma2 + x^2), make_qkx3_quants per sub-block, and d / dmin
// fitted to the eight scales / mins by make_qp_quants weighted by each sub-block's weight sum.
// ggml clamps the 6-bit scales to 63 for Q5_K only (`clamp_scales`); make_qp_quants keeps them
// in [0, 63] unless a scale came out negative, so this matters only for degenerate input.
template <typename Block>
void quantize_affine_k_weighted(const float* x, Block* y, int nmax, bool clamp_scales,
                                const float* qw, uint8_t* L) {
  uint8_t Laux[32];
  uint8_t Ls[kQK_K / 32];
  uint8_t Lm[kQK_K / 32];
  float weights[32];
  float sw[kQK_K / 32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  const float av_x = std::sqrt(sigma2);
  for (int j = 0; j < kQK_K / 32; ++j) {
    if (qw != nullptr) {
      for (int l = 0; l < 32; ++l) {
        weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
      }
    } else {
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    }
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(kQK_K / 32, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(kQK_K / 32, 63, mins, Lm, sw);
  std::memset(y->scales, 0, sizeof(y->scales));
  for (int j = 0; j < kQK_K / 32; ++j) {
    const uint8_t ls = clamp_scales ? std::min<uint8_t>(63, Ls[j]) : Ls[j];
    const uint8_t lm = clamp_scales ? std::min<uint8_t>(63, Lm[j]) : Lm[j];
    pack_scale_min(j, ls, lm, y->scales);
  }
  y->d = fp32_to_fp16(d_block);
  y->dmin = fp32_to_fp16(m_block);
  requantize_affine(x, y->d, y->dmin, y->scales, nmax, L);
}

// Q6_K from the sixteen symmetric sub-block fits already in `scales` / L.
void finish_q6_k(const float* x, BlockQ6_K* y, const float* scales, int8_t* L) {
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y, 0, sizeof(*y));
    y->d = fp32_to_fp16(0.f);
    return;
  }
  const float iscale = -128.f / max_scale;
  y->d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    y->scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  }
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = fp16_to_fp32(y->d) * static_cast<float>(y->scales[j]);
    if (d == 0) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = std::max(-32, std::min(31, nearest_int(x[16 * j + ii] / d)));
      L[16 * j + ii] = static_cast<int8_t>(l + 32);
    }
  }
  uint8_t* ql = y->ql;
  uint8_t* qh = y->qh;
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l + 0] & 0xF;
      const int q2 = L[j + l + 32] & 0xF;
      const int q3 = L[j + l + 64] & 0xF;
      const int q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                   ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

void pack_q5_0(const int8_t* L, BlockQ5_0* y) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const auto xi0 = static_cast<uint8_t>(L[j]);
    const auto xi1 = static_cast<uint8_t>(L[j + 16]);
    y->qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(y->qh, &qh, sizeof(qh));
}

// sigma2 of the 32-block imatrix quantizers: mean square of the whole row.
float row_sigma2(const float* x, int64_t n_per_row) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n_per_row);
}

void importance(const float* xb, const float* qw, float sigma2, float* weight) {
  for (int j = 0; j < kQK; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

}  // namespace

void quantize_row_q4_K_ref(const float* x, BlockQ4_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_affine_k_ref(x, &y[i], 15, -1.f, 0.1f, 20, L);
    pack_q4_k_values(L, y[i].qs);
  }
}

void quantize_row_q5_K_ref(const float* x, BlockQ5_K* y, int64_t n) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    quantize_affine_k_ref(x, &y[i], 31, -0.5f, 0.1f, 15, L);
    pack_q5_k_values(L, y[i].qh, y[i].qs);
  }
}

void quantize_row_q6_K_ref(const float* x, BlockQ6_K* y, int64_t n) {
  quantize_row_q6_K_imatrix(x, y, n, nullptr);
}

void quantize_row_q4_K_imatrix(const float* x, BlockQ4_K* y, int64_t n_per_row,
                               const float* quant_weights) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n_per_row / kQK_K; ++i, x += kQK_K) {
    const float* qw = quant_weights != nullptr ? quant_weights + kQK_K * i : nullptr;
    quantize_affine_k_weighted(x, &y[i], 15, false, qw, L);
    pack_q4_k_values(L, y[i].qs);
  }
}

void quantize_row_q5_K_imatrix(const float* x, BlockQ5_K* y, int64_t n_per_row,
                               const float* quant_weights) {
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n_per_row / kQK_K; ++i, x += kQK_K) {
    const float* qw = quant_weights != nullptr ? quant_weights + kQK_K * i : nullptr;
    quantize_affine_k_weighted(x, &y[i], 31, true, qw, L);
    pack_q5_k_values(L, y[i].qh, y[i].qs);
  }
}

void quantize_row_q6_K_imatrix(const float* x, BlockQ6_K* y, int64_t n_per_row,
                               const float* quant_weights) {
  int8_t L[kQK_K];
  float scales[kQK_K / 16];
  for (int64_t i = 0; i < n_per_row / kQK_K; ++i, x += kQK_K) {
    for (int ib = 0; ib < kQK_K / 16; ++ib) {
      const float* qw = quant_weights != nullptr ? quant_weights + kQK_K * i + 16 * ib : nullptr;
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
    }
    finish_q6_k(x, &y[i], scales, L);
  }
}

void quantize_row_q4_0_imatrix(const float* x, BlockQ4_0* y, int64_t n_per_row,
                               const float* quant_weights) {
  if (quant_weights == nullptr) {
    quantize_row_q4_0_ref(x, y, n_per_row);
    return;
  }
  float weight[kQK];
  int8_t L[kQK];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    importance(xb, quant_weights + kQK * ib, sigma2, weight);
    const float d = make_qx_quants(kQK, 8, xb, L, 1, weight);
    y[ib].d = fp32_to_fp16(d);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void quantize_row_q4_1_imatrix(const float* x, BlockQ4_1* y, int64_t n_per_row,
                               const float* quant_weights) {
  if (quant_weights == nullptr) {
    quantize_row_q4_1_ref(x, y, n_per_row);
    return;
  }
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    importance(xb, quant_weights + kQK * ib, sigma2, weight);
    float min;
    const float d = make_qkx3_quants(kQK, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
  }
}

void quantize_row_q5_0_imatrix(const float* x, BlockQ5_0* y, int64_t n_per_row,
                               const float* quant_weights) {
  if (quant_weights == nullptr) {
    quantize_row_q5_0_ref(x, y, n_per_row);
    return;
  }
  float weight[kQK];
  int8_t L[kQK];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    importance(xb, quant_weights + kQK * ib, sigma2, weight);
    const float d = make_qx_quants(kQK, 16, xb, L, 1, weight);
    y[ib].d = fp32_to_fp16(d);
    pack_q5_0(L, &y[ib]);
  }
}

void quantize_row_q5_1_imatrix(const float* x, BlockQ5_1* y, int64_t n_per_row,
                               const float* quant_weights) {
  if (quant_weights == nullptr) {
    quantize_row_q5_1_ref(x, y, n_per_row);
    return;
  }
  float weight[kQK];
  uint8_t L[kQK], Laux[kQK];
  const float sigma2 = row_sigma2(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / kQK; ++ib) {
    const float* xb = x + kQK * ib;
    importance(xb, quant_weights + kQK * ib, sigma2, weight);
    float min;
    const float d = make_qkx3_quants(kQK, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = fp32_to_fp16(d);
    y[ib].m = fp32_to_fp16(-min);
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
      const uint8_t xi0 = L[j];
      const uint8_t xi1 = L[j + 16];
      y[ib].qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
      qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
      qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(y[ib].qh, &qh, sizeof(qh));
  }
}

bool can_quantize(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

size_t quantize_rows(GgmlType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                     const float* quant_weights) {
  if (!can_quantize(type)) fail("quantize: cannot produce tensor type {}", ggml_type_name(type));
  const GgmlTypeTraits& traits = ggml_traits(type);
  if (n_per_row <= 0 || n_rows < 0 || n_per_row % traits.block_values != 0) {
    fail("quantize: row length {} is not a positive multiple of {} (block size of {})", n_per_row,
         traits.block_values, traits.name);
  }
  const size_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(n_per_row));
  auto* out = static_cast<uint8_t*>(dst);
  const int64_t n = n_rows * n_per_row;
  // Row by row when weights are given (they are per column); the reference quantizers treat
  // the chunk as one long row, which gives the same blocks.
  auto per_row = [&](auto&& fn) {
    for (int64_t r = 0; r < n_rows; ++r) fn(src + r * n_per_row, out + r * row_bytes);
  };
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case GgmlType::F16: {
      auto* o = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) o[i] = fp32_to_fp16(src[i]);
      break;
    }
    case GgmlType::BF16: {
      auto* o = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) o[i] = fp32_to_bf16(src[i]);
      break;
    }
    case GgmlType::Q8_0:
      quantize_row_q8_0_ref(src, static_cast<BlockQ8_0*>(dst), n);
      break;
    case GgmlType::Q4_0:
      per_row([&](const float* x, uint8_t* y) {
        quantize_row_q4_0_imatrix(x, reinterpret_cast<BlockQ4_0*>(y), n_per_row, quant_weights);
      });
      break;
    case GgmlType::Q4_1:
      per_row([&](const float* x, uint8_t* y) {
        quantize_row_q4_1_imatrix(x, reinterpret_cast<BlockQ4_1*>(y), n_per_row, quant_weights);
      });
      break;
    case GgmlType::Q5_0:
      per_row([&](const float* x, uint8_t* y) {
        quantize_row_q5_0_imatrix(x, reinterpret_cast<BlockQ5_0*>(y), n_per_row, quant_weights);
      });
      break;
    case GgmlType::Q5_1:
      per_row([&](const float* x, uint8_t* y) {
        quantize_row_q5_1_imatrix(x, reinterpret_cast<BlockQ5_1*>(y), n_per_row, quant_weights);
      });
      break;
    case GgmlType::Q4_K:
      per_row([&](const float* x, uint8_t* y) {
        auto* b = reinterpret_cast<BlockQ4_K*>(y);
        if (quant_weights == nullptr) {
          quantize_row_q4_K_ref(x, b, n_per_row);
        } else {
          quantize_row_q4_K_imatrix(x, b, n_per_row, quant_weights);
        }
      });
      break;
    case GgmlType::Q5_K:
      per_row([&](const float* x, uint8_t* y) {
        auto* b = reinterpret_cast<BlockQ5_K*>(y);
        if (quant_weights == nullptr) {
          quantize_row_q5_K_ref(x, b, n_per_row);
        } else {
          quantize_row_q5_K_imatrix(x, b, n_per_row, quant_weights);
        }
      });
      break;
    case GgmlType::Q6_K:
      per_row([&](const float* x, uint8_t* y) {
        quantize_row_q6_K_imatrix(x, reinterpret_cast<BlockQ6_K*>(y), n_per_row, quant_weights);
      });
      break;
    default:
      break;
  }
  return static_cast<size_t>(n_rows) * row_bytes;
}

}  // namespace vigil::quant
