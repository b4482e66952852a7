// The forward pass. Read it top to bottom like llama2.c's forward(): embed, then per layer
// attention and SwiGLU FFN with pre-RMSNorm and residuals, then final norm and the output head.
#include "llm/runtime/context.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "llm/kernels/kernels.h"
#include "llm/runtime/linear.h"

namespace vigil {
namespace {


// Dot product with independent partial sums so the compiler vectorises it without -ffast-math.
float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[i + k] * b[i + k];
  }
  float sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (float v : acc) sum += v;
  return sum;
}

}  // namespace

void ResidentWeightStore::embed_row(int32_t id, float* out) { tensor_row_f32(w_.tok_embd, id, out); }

std::vector<float> WeightStore::small_tensor_f32(const Tensor& t) {
  std::vector<float> out;
  if (!t.present()) return out;
  out.resize(static_cast<size_t>(t.cols * t.rows));
  for (int64_t r = 0; r < t.rows; ++r) tensor_row_f32(t, r, out.data() + r * t.cols);
  return out;
}

Context::Context(const Model& model, const ContextParams& params)
    : model_(model), params_(params), pool_(params.n_threads) {
  const ModelConfig& c = model.config();
  n_ctx_ = params.n_ctx > 0 ? params.n_ctx : std::min(c.n_ctx_train > 0 ? c.n_ctx_train : 4096, 4096);
  if (params_.exact) params_.kv_type = GgmlType::F32;
  if (params_.kv_type != GgmlType::F32 && params_.kv_type != GgmlType::F16 &&
      params_.kv_type != GgmlType::Q8_0) {
    fail("KV cache type {} is not supported (expected f32, f16 or q8_0)",
         ggml_type_name(params_.kv_type));
  }
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
  if (params_.kv_type == GgmlType::Q8_0 && c.head_dim % 32 != 0) {
    fail("KV cache type q8_0 needs head_dim divisible by 32 (head_dim is {})", c.head_dim);
  }
  params_.n_batch = std::max(1, params_.n_batch);
  rope_ = ops::Rope::build(c, model.weights().rope_freq_factors);

  const auto d = static_cast<uint64_t>(c.n_embd);
  const auto q_dim = static_cast<uint64_t>(c.n_head) * static_cast<uint64_t>(c.head_dim);
  const auto kvd = static_cast<uint64_t>(kv_dim);
  const auto ff = static_cast<uint64_t>(c.n_ff);
  kv_row_bytes_ = ggml_row_bytes(params_.kv_type, kvd);
  const uint64_t kv_bytes = 2 * kv_row_bytes_ * static_cast<uint64_t>(n_ctx_) * static_cast<uint64_t>(c.n_layers);
  // Activation bytes per token of batch: the f32 buffers below plus the widest quantized copy.
  uint64_t act_row = 0;
  for (uint64_t cols : {d, q_dim, ff}) {
    for (const Tensor* t : {&model.weights().layers[0].wq, &model.weights().layers[0].w_down,
                            &model.weights().layers[0].wqkv, &model.weights().output}) {
      if (t->present() && kernels::has_kernels(t->type)) {
        const GgmlType at = kernels::vec_dot_type(t->type);
        act_row = std::max<uint64_t>(act_row, kernels::activation_bytes(at, static_cast<int64_t>(cols)));
      }
    }
  }
  const uint64_t per_token =
      4 * (d + std::max(d, q_dim) + q_dim + 2 * kvd + q_dim + 3 * ff + (c.fused_qkv ? q_dim + 2 * kvd : 0)) +
      act_row;
  uint64_t small_bytes = 4 * d;  // output norm
  for (const auto& l : model.weights().layers) {
    for (const Tensor* t : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv}) {
      if (t->present()) small_bytes += 4 * static_cast<uint64_t>(t->cols);
    }
  }
  const uint64_t scores = 4 * static_cast<uint64_t>(pool_.size()) * (static_cast<uint64_t>(n_ctx_) + 2 * static_cast<uint64_t>(c.head_dim));
  const uint64_t logits = 4 * static_cast<uint64_t>(c.n_vocab);
  auto fixed_for = [&](uint64_t batch) { return kv_bytes + batch * per_token + small_bytes + scores + logits; };

  if (params_.mem_budget > 0) {
    // Prefill batch: as many tokens as fit beside the smallest workable weight plan, so a long
    // prompt costs as few streamed passes as the budget allows.
    std::vector<FileSpan> spans;
    FileSpan out_span;
    layer_file_spans(model, spans, out_span);
    uint64_t min_weights = out_span.bytes();
    for (const auto& sp : spans) min_weights = std::max(min_weights, sp.bytes());
    while (params_.n_batch > 1 && fixed_for(static_cast<uint64_t>(params_.n_batch)) + min_weights > params_.mem_budget) {
      params_.n_batch /= 2;
    }
    fixed_bytes_ = fixed_for(static_cast<uint64_t>(params_.n_batch));
    const ResidencyPlan plan = plan_residency(model, params_.mem_budget, fixed_bytes_);
    auto store = std::make_unique<StreamingWeightStore>(model, plan, params_.direct_io, params_.io_fault_hook);
    streaming_ = store.get();
    store_ = std::move(store);
  } else {
    fixed_bytes_ = fixed_for(static_cast<uint64_t>(params_.n_batch));
    store_ = std::make_unique<ResidentWeightStore>(model.weights());
  }

  small_.resize(static_cast<size_t>(c.n_layers));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = model.weights().layers[static_cast<size_t>(i)];
    auto& s = small_[static_cast<size_t>(i)];
    s.attn_norm = store_->small_tensor_f32(l.attn_norm);
    s.ffn_norm = store_->small_tensor_f32(l.ffn_norm);
    s.bq = store_->small_tensor_f32(l.bq);
    s.bk = store_->small_tensor_f32(l.bk);
    s.bv = store_->small_tensor_f32(l.bv);
  }
  output_norm_ = store_->small_tensor_f32(model.weights().output_norm);

  k_cache_.assign(static_cast<size_t>(c.n_layers), std::vector<uint8_t>(kv_row_bytes_ * static_cast<uint64_t>(n_ctx_)));
  v_cache_ = k_cache_;

  const auto B = static_cast<size_t>(params_.n_batch);
  x_.resize(B * d);
  xb_.resize(B * std::max(d, q_dim));
  q_.resize(B * q_dim);
  k_.resize(B * kvd);
  v_.resize(B * kvd);
  att_.resize(B * q_dim);
  hb_.resize(B * ff * 2);
  hb2_.resize(B * ff);
  if (c.fused_qkv) qkv_.resize(B * (q_dim + 2 * kvd));
  act_q_.reserve(B * act_row);
  logits_.reserve(static_cast<size_t>(c.n_vocab));
  att_scores_.resize(static_cast<size_t>(pool_.size()) *
                     (static_cast<size_t>(n_ctx_) + static_cast<size_t>(c.head_dim) * 2));
}

Context::~Context() = default;

void Context::truncate(int32_t n) {
  if (n < 0 || n > n_past_) fail("cannot truncate context to {} tokens (it holds {})", n, n_past_);
  n_past_ = n;
}

std::span<const float> Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  const int32_t n_vocab = model_.config().n_vocab;
  if (tokens.empty()) fail("eval: no tokens");
  if (static_cast<int64_t>(n_past_) + static_cast<int64_t>(tokens.size()) > n_ctx_) {
    fail("context overflow: {} tokens in the cache + {} new > context size {} (use --ctx)",
         n_past_, tokens.size(), n_ctx_);
  }
  for (int32_t id : tokens) {
    if (id < 0 || id >= n_vocab) fail("token id {} is out of range (vocabulary has {})", id, n_vocab);
  }
  logits_.resize(static_cast<size_t>(n_vocab) * (all_logits ? tokens.size() : 1));
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(params_.n_batch)) {
    const size_t n = std::min(tokens.size() - start, static_cast<size_t>(params_.n_batch));
    const bool last_chunk = start + n == tokens.size();
    float* out = all_logits ? logits_.data() + start * static_cast<size_t>(n_vocab) : logits_.data();
    if (all_logits || last_chunk) {
      eval_chunk(tokens.subspan(start, n), all_logits, out);
    } else {
      eval_chunk(tokens.subspan(start, n), false, nullptr);
    }
  }
  return {logits_.data(), logits_.size()};
}

void Context::eval_chunk(std::span<const int32_t> tokens, bool all_logits, float* logits_out) {
  const ModelConfig& c = model_.config();
  const auto T = static_cast<int64_t>(tokens.size());
  const int64_t d = c.n_embd;
  const int64_t hd = c.head_dim;
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * hd;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * hd;
  const bool exact = params_.exact;
  float* x = x_.data();
  float* xb = xb_.data();

  for (int64_t t = 0; t < T; ++t) store_->embed_row(tokens[static_cast<size_t>(t)], x + t * d);
  auto capture = [&](int32_t slot) {
    if (capture_ == nullptr) return;
    if (slot == 0) capture_->assign(static_cast<size_t>((c.n_layers + 1) * T * d), 0.0f);
    std::memcpy(capture_->data() + slot * T * d, x, sizeof(float) * static_cast<size_t>(T * d));
  };
  capture(0);

  for (int32_t layer = 0; layer < c.n_layers; ++layer) {
    const LayerWeights& w = store_->acquire(layer);
    const SmallTensors& s = small_[static_cast<size_t>(layer)];

    // Attention: xb = norm(x); q, k, v projections (+ bias); rope; cache; attend; project.
    for (int64_t t = 0; t < T; ++t) ops::rmsnorm(xb + t * d, x + t * d, s.attn_norm.data(), d, c.rms_eps);
    if (c.fused_qkv) {
      const int64_t n_qkv = q_dim + 2 * kv_dim;
      linear(w.wqkv, xb, T, qkv_.data(), pool_, act_q_, exact);
      for (int64_t t = 0; t < T; ++t) {
        const float* row = qkv_.data() + t * n_qkv;
        std::memcpy(q_.data() + t * q_dim, row, sizeof(float) * static_cast<size_t>(q_dim));
        std::memcpy(k_.data() + t * kv_dim, row + q_dim, sizeof(float) * static_cast<size_t>(kv_dim));
        std::memcpy(v_.data() + t * kv_dim, row + q_dim + kv_dim, sizeof(float) * static_cast<size_t>(kv_dim));
      }
    } else {
      linear(w.wq, xb, T, q_.data(), pool_, act_q_, exact);
      linear(w.wk, xb, T, k_.data(), pool_, act_q_, exact);
      linear(w.wv, xb, T, v_.data(), pool_, act_q_, exact);
    }
    if (!s.bq.empty()) {
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < q_dim; ++i) q_[static_cast<size_t>(t * q_dim + i)] += s.bq[static_cast<size_t>(i)];
        for (int64_t i = 0; i < kv_dim; ++i) {
          k_[static_cast<size_t>(t * kv_dim + i)] += s.bk[static_cast<size_t>(i)];
          v_[static_cast<size_t>(t * kv_dim + i)] += s.bv[static_cast<size_t>(i)];
        }
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      const int32_t pos = n_past_ + static_cast<int32_t>(t);
      for (int32_t h = 0; h < c.n_head; ++h) rope_.apply(q_.data() + t * q_dim + h * hd, pos);
      for (int32_t h = 0; h < c.n_head_kv; ++h) rope_.apply(k_.data() + t * kv_dim + h * hd, pos);
      uint8_t* krow = k_cache_[static_cast<size_t>(layer)].data() + static_cast<uint64_t>(pos) * kv_row_bytes_;
      uint8_t* vrow = v_cache_[static_cast<size_t>(layer)].data() + static_cast<uint64_t>(pos) * kv_row_bytes_;
      store_row(params_.kv_type, k_.data() + t * kv_dim, krow, kv_dim);
      store_row(params_.kv_type, v_.data() + t * kv_dim, vrow, kv_dim);
    }
    attention(layer, T);
    linear(w.wo, att_.data(), T, xb, pool_, act_q_, exact);
    for (int64_t i = 0; i < T * d; ++i) x[i] += xb[i];

    // FFN: xb = norm(x); h = silu(gate(xb)) * up(xb); x += down(h).
    const int64_t ff = c.ff_size(layer);
    for (int64_t t = 0; t < T; ++t) ops::rmsnorm(xb + t * d, x + t * d, s.ffn_norm.data(), d, c.rms_eps);
    if (c.fused_gate_up) {
      linear(w.w_gate_up, xb, T, hb_.data(), pool_, act_q_, exact);
      // Rows of the fused output are [gate (ff); up (ff)] per token; compact into hb2 = h.
      for (int64_t t = 0; t < T; ++t) {
        float* g = hb_.data() + t * 2 * ff;
        ops::swiglu(g, g + ff, ff);
        std::memcpy(hb2_.data() + t * ff, g, sizeof(float) * static_cast<size_t>(ff));
      }
    } else {
      linear(w.w_gate, xb, T, hb2_.data(), pool_, act_q_, exact);
      linear(w.w_up, xb, T, hb_.data(), pool_, act_q_, exact);
      ops::swiglu(hb2_.data(), hb_.data(), T * ff);
    }
    linear(w.w_down, hb2_.data(), T, xb, pool_, act_q_, exact);
    for (int64_t i = 0; i < T * d; ++i) x[i] += xb[i];
    store_->release(layer);
    capture(layer + 1);
  }
  capture_ = nullptr;

  n_past_ += static_cast<int32_t>(T);
  const Tensor& output = store_->acquire_output();
  if (logits_out != nullptr) {
    const int64_t first = all_logits ? 0 : T - 1;
    const int64_t n_out = T - first;
    for (int64_t t = first; t < T; ++t) {
      ops::rmsnorm(xb + (t - first) * d, x + t * d, output_norm_.data(), d, c.rms_eps);
    }
    linear(output, xb, n_out, logits_out, pool_, act_q_, exact);
  }
  store_->release_output();
}

void Context::attention(int32_t layer, int64_t T) {
  const ModelConfig& c = model_.config();
  const int64_t hd = c.head_dim;
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * hd;
  const int32_t group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const uint8_t* kc = k_cache_[static_cast<size_t>(layer)].data();
  const uint8_t* vc = v_cache_[static_cast<size_t>(layer)].data();
  const GgmlType kv_type = params_.kv_type;
  const uint64_t head_bytes = ggml_row_bytes(kv_type, static_cast<uint64_t>(hd));
  const int64_t n_tasks = T * c.n_head;
  const size_t per_thread = static_cast<size_t>(n_ctx_) + static_cast<size_t>(hd) * 2;
  pool_.run([&](int thread, int n_threads) {
    float* scores = att_scores_.data() + static_cast<size_t>(thread) * per_thread;
    float* tmp = scores + n_ctx_;
    float* acc = tmp + hd;
    for (int64_t task = n_tasks * thread / n_threads; task < n_tasks * (thread + 1) / n_threads; ++task) {
      const int64_t t = task / c.n_head;
      const int32_t h = static_cast<int32_t>(task % c.n_head);
      const int32_t kvh = h / group;
      const int32_t pos = n_past_ + static_cast<int32_t>(t);
      const int32_t first = c.sliding_window > 0 ? std::max(0, pos - c.sliding_window + 1) : 0;
      const float* q = q_.data() + t * q_dim + h * hd;
      const int32_t n = pos + 1 - first;
      for (int32_t j = 0; j < n; ++j) {
        load_row(kv_type, kc + static_cast<uint64_t>(first + j) * kv_row_bytes_ + kvh * head_bytes, tmp, hd);
        scores[j] = dot_f32(q, tmp, hd) * scale;
      }
      ops::softmax(scores, n);
      std::fill(acc, acc + hd, 0.0f);
      for (int32_t j = 0; j < n; ++j) {
        load_row(kv_type, vc + static_cast<uint64_t>(first + j) * kv_row_bytes_ + kvh * head_bytes, tmp, hd);
        const float p = scores[j];
        for (int64_t i = 0; i < hd; ++i) acc[i] += p * tmp[i];
      }
      std::memcpy(att_.data() + t * q_dim + h * hd, acc, sizeof(float) * static_cast<size_t>(hd));
    }
  });
}

}  // namespace vigil
