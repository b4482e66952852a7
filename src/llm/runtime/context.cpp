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

void ResidentWeightStore::embed_row(int32_t id, float* out) {
  tensor_row_f32(w_.tok_embd, id, out);
}

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
  n_ctx_ =
      params.n_ctx > 0 ? params.n_ctx : std::min(c.n_ctx_train > 0 ? c.n_ctx_train : 4096, 4096);
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
  if (params_.n_seq < 1) fail("number of sequences must be >= 1 (got {})", params_.n_seq);
  const auto n_seq = static_cast<uint64_t>(params_.n_seq);
  const uint64_t kv_bytes =
      2 * kv_row_bytes_ * static_cast<uint64_t>(n_ctx_) * static_cast<uint64_t>(c.n_layers) * n_seq;
  // Activation bytes per token of batch: the f32 buffers below plus the widest quantized copy.
  // Every matrix's own input width and activation type (mixes such as q4_k_m vary both by layer);
  // linear_group may hold two activation types of the same input at once, hence the factor 2.
  uint64_t act_row = 0;
  auto account = [&](const Tensor& t) {
    if (t.present() && t.rows > 1 && kernels::has_kernels(t.type)) {
      const GgmlType at = kernels::vec_dot_type(t.type);
      act_row = std::max<uint64_t>(act_row, 2 * (kernels::activation_bytes(at, t.cols) + 64));
    }
  };
  for (const auto& l : model.weights().layers) {
    for (const Tensor* t :
         {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.w_gate, &l.w_up, &l.w_gate_up, &l.w_down}) {
      account(*t);
    }
  }
  account(model.weights().output);
  const uint64_t per_token = 4 * (d + std::max(d, q_dim) + q_dim + 2 * kvd + q_dim + 3 * ff +
                                  (c.fused_qkv ? q_dim + 2 * kvd : 0)) +
                             act_row;
  uint64_t small_bytes = 4 * d;  // output norm
  for (const auto& l : model.weights().layers) {
    for (const Tensor* t : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv}) {
      if (t->present()) small_bytes += 4 * static_cast<uint64_t>(t->cols);
    }
  }
  att_stride_ = static_cast<size_t>(n_ctx_) + static_cast<size_t>(c.head_dim);
  const uint64_t scores = 4 * static_cast<uint64_t>(pool_.size()) * att_stride_;
  const uint64_t logits = 4 * static_cast<uint64_t>(c.n_vocab);
  auto fixed_for = [&](uint64_t batch) {
    return kv_bytes + batch * per_token + small_bytes + scores + logits;
  };

  if (params_.mem_budget > 0) {
    // Prefill batch: as many tokens as fit beside the smallest workable weight plan, so a long
    // prompt costs as few streamed passes as the budget allows.
    std::vector<FileSpan> spans;
    FileSpan out_span;
    layer_file_spans(model, spans, out_span);
    uint64_t min_weights = out_span.bytes();
    for (const auto& sp : spans) min_weights = std::max(min_weights, sp.bytes());
    while (params_.n_batch > 1 &&
           fixed_for(static_cast<uint64_t>(params_.n_batch)) + min_weights > params_.mem_budget) {
      params_.n_batch /= 2;
    }
    fixed_bytes_ = fixed_for(static_cast<uint64_t>(params_.n_batch));
    const ResidencyPlan plan = plan_residency(model, params_.mem_budget, fixed_bytes_);
    auto store = std::make_unique<StreamingWeightStore>(model, plan, params_.direct_io,
                                                        params_.io_fault_hook);
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

  k_cache_.assign(static_cast<size_t>(c.n_layers),
                  std::vector<uint8_t>(kv_row_bytes_ * static_cast<uint64_t>(n_ctx_) * n_seq));
  n_past_.assign(n_seq, 0);
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
  pos_.resize(B);
  seq_zero_.assign(B, 0);
  att_scores_.resize(static_cast<size_t>(pool_.size()) * att_stride_);
}

Context::~Context() = default;

void Context::linear(const Tensor& W, const float* X, int64_t n_tokens, float* Y, ThreadPool& pool,
                     std::vector<uint8_t>& scratch, bool exact) {
  if (linear_observer_) linear_observer_(W.name, X, n_tokens, W.cols);  // observer hook
  vigil::linear(W, X, n_tokens, Y, pool, scratch, exact);
}

void Context::linear_group(std::span<const LinearOut> outs, const float* X, int64_t n_tokens,
                           bool exact) {
  if (linear_observer_) {
    for (const LinearOut& o : outs) linear_observer_(o.W->name, X, n_tokens, o.W->cols);
  }
  vigil::linear_group(outs, X, n_tokens, pool_, act_q_, exact);
}

void Context::truncate(int32_t n, int32_t seq) {
  if (seq < 0 || seq >= params_.n_seq)
    fail("sequence {} does not exist (context has {})", seq, params_.n_seq);
  int32_t& past = n_past_[static_cast<size_t>(seq)];
  if (n < 0 || n > past) fail("cannot truncate context to {} tokens (it holds {})", n, past);
  past = n;
}

std::span<const float> Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  if (tokens.empty()) fail("eval: no tokens");
  if (static_cast<int64_t>(n_past_[0]) + static_cast<int64_t>(tokens.size()) > n_ctx_) {
    fail("context overflow: {} tokens in the cache + {} new > context size {} (use --ctx)",
         n_past_[0], tokens.size(), n_ctx_);
  }
  return eval_tokens(tokens, {}, all_logits);
}

std::span<const float> Context::eval_batch(std::span<const int32_t> tokens,
                                           std::span<const int32_t> seq_ids, bool all_logits) {
  if (tokens.empty()) fail("eval_batch: no tokens");
  if (seq_ids.size() != tokens.size()) {
    fail("eval_batch: {} tokens but {} sequence ids", tokens.size(), seq_ids.size());
  }
  std::vector<int64_t> added(static_cast<size_t>(params_.n_seq), 0);
  for (int32_t s : seq_ids) {
    if (s < 0 || s >= params_.n_seq)
      fail("sequence {} does not exist (context has {})", s, params_.n_seq);
    ++added[static_cast<size_t>(s)];
  }
  for (int32_t s = 0; s < params_.n_seq; ++s) {
    const int32_t past = n_past_[static_cast<size_t>(s)];
    if (past + added[static_cast<size_t>(s)] > n_ctx_) {
      fail(
          "context overflow in sequence {}: {} tokens in the cache + {} new > context size {} (use "
          "--ctx)",
          s, past, added[static_cast<size_t>(s)], n_ctx_);
    }
  }
  return eval_tokens(tokens, seq_ids, all_logits);
}

std::span<const float> Context::eval_tokens(std::span<const int32_t> tokens,
                                            std::span<const int32_t> seq_ids, bool all_logits) {
  const int32_t n_vocab = model_.config().n_vocab;
  for (int32_t id : tokens) {
    if (id < 0 || id >= n_vocab)
      fail("token id {} is out of range (vocabulary has {})", id, n_vocab);
  }
  // Which logits row each token fills (-1: none): every token, or the last token of each
  // sequence in the call, rows in increasing sequence id.
  const size_t n_tok = tokens.size();
  auto seq_of = [&](size_t t) { return seq_ids.empty() ? 0 : seq_ids[t]; };
  out_row_.assign(n_tok, -1);
  size_t n_rows = 0;
  if (all_logits) {
    for (size_t t = 0; t < n_tok; ++t) out_row_[t] = static_cast<int32_t>(t);
    n_rows = n_tok;
  } else {
    std::vector<int32_t>& last = last_of_seq_;
    last.assign(static_cast<size_t>(params_.n_seq), -1);
    for (size_t t = 0; t < n_tok; ++t)
      last[static_cast<size_t>(seq_of(t))] = static_cast<int32_t>(t);
    for (int32_t t : last) {
      if (t >= 0) out_row_[static_cast<size_t>(t)] = static_cast<int32_t>(n_rows++);
    }
  }
  logits_.resize(static_cast<size_t>(n_vocab) * n_rows);
  for (size_t start = 0; start < n_tok; start += static_cast<size_t>(params_.n_batch)) {
    const size_t n = std::min(n_tok - start, static_cast<size_t>(params_.n_batch));
    const auto seqs =
        seq_ids.empty() ? std::span<const int32_t>(seq_zero_.data(), n) : seq_ids.subspan(start, n);
    eval_chunk(tokens.subspan(start, n), seqs,
               std::span<const int32_t>(out_row_).subspan(start, n));
  }
  return {logits_.data(), logits_.size()};
}

void Context::eval_chunk(std::span<const int32_t> tokens, std::span<const int32_t> seq_ids,
                         std::span<const int32_t> out_rows) {
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
  // Positions: each sequence continues where it stopped, its tokens in order.
  next_pos_ = n_past_;
  for (int64_t t = 0; t < T; ++t) {
    pos_[static_cast<size_t>(t)] =
        next_pos_[static_cast<size_t>(seq_ids[static_cast<size_t>(t)])]++;
  }
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
    for (int64_t t = 0; t < T; ++t)
      ops::rmsnorm(xb + t * d, x + t * d, s.attn_norm.data(), d, c.rms_eps);
    if (c.fused_qkv) {
      const int64_t n_qkv = q_dim + 2 * kv_dim;
      linear(w.wqkv, xb, T, qkv_.data(), pool_, act_q_, exact);
      for (int64_t t = 0; t < T; ++t) {
        const float* row = qkv_.data() + t * n_qkv;
        std::memcpy(q_.data() + t * q_dim, row, sizeof(float) * static_cast<size_t>(q_dim));
        std::memcpy(k_.data() + t * kv_dim, row + q_dim,
                    sizeof(float) * static_cast<size_t>(kv_dim));
        std::memcpy(v_.data() + t * kv_dim, row + q_dim + kv_dim,
                    sizeof(float) * static_cast<size_t>(kv_dim));
      }
    } else {
      const LinearOut qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
      linear_group(qkv, xb, T, exact);
    }
    if (!s.bq.empty()) {
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < q_dim; ++i)
          q_[static_cast<size_t>(t * q_dim + i)] += s.bq[static_cast<size_t>(i)];
        for (int64_t i = 0; i < kv_dim; ++i) {
          k_[static_cast<size_t>(t * kv_dim + i)] += s.bk[static_cast<size_t>(i)];
          v_[static_cast<size_t>(t * kv_dim + i)] += s.bv[static_cast<size_t>(i)];
        }
      }
    }
    for (int64_t t = 0; t < T; ++t) {
      const int32_t pos = pos_[static_cast<size_t>(t)];
      for (int32_t h = 0; h < c.n_head; ++h) rope_.apply(q_.data() + t * q_dim + h * hd, pos);
      for (int32_t h = 0; h < c.n_head_kv; ++h) rope_.apply(k_.data() + t * kv_dim + h * hd, pos);
      const uint64_t row =
          static_cast<uint64_t>(seq_ids[static_cast<size_t>(t)]) * static_cast<uint64_t>(n_ctx_) +
          static_cast<uint64_t>(pos);
      uint8_t* krow = k_cache_[static_cast<size_t>(layer)].data() + row * kv_row_bytes_;
      uint8_t* vrow = v_cache_[static_cast<size_t>(layer)].data() + row * kv_row_bytes_;
      store_row(params_.kv_type, k_.data() + t * kv_dim, krow, kv_dim);
      store_row(params_.kv_type, v_.data() + t * kv_dim, vrow, kv_dim);
    }
    attention(layer, T, seq_ids);
    linear(w.wo, att_.data(), T, xb, pool_, act_q_, exact);
    for (int64_t i = 0; i < T * d; ++i) x[i] += xb[i];

    // FFN: xb = norm(x); h = silu(gate(xb)) * up(xb); x += down(h).
    const int64_t ff = c.ff_size(layer);
    for (int64_t t = 0; t < T; ++t)
      ops::rmsnorm(xb + t * d, x + t * d, s.ffn_norm.data(), d, c.rms_eps);
    if (c.fused_gate_up) {
      linear(w.w_gate_up, xb, T, hb_.data(), pool_, act_q_, exact);
      // Rows of the fused output are [gate (ff); up (ff)] per token; compact into hb2 = h.
      for (int64_t t = 0; t < T; ++t) {
        float* g = hb_.data() + t * 2 * ff;
        ops::swiglu(g, g + ff, ff);
        std::memcpy(hb2_.data() + t * ff, g, sizeof(float) * static_cast<size_t>(ff));
      }
    } else {
      const LinearOut gate_up[] = {{&w.w_gate, hb2_.data()}, {&w.w_up, hb_.data()}};
      linear_group(gate_up, xb, T, exact);
      ops::swiglu(hb2_.data(), hb_.data(), T * ff);
    }
    linear(w.w_down, hb2_.data(), T, xb, pool_, act_q_, exact);
    for (int64_t i = 0; i < T * d; ++i) x[i] += xb[i];
    store_->release(layer);
    capture(layer + 1);
  }
  capture_ = nullptr;

  n_past_ = next_pos_;
  const Tensor& output = store_->acquire_output();
  // Output head for the tokens that want logits (contiguous rows of logits_ when several).
  int64_t n_out = 0;
  int32_t first_row = -1;
  for (int64_t t = 0; t < T; ++t) {
    const int32_t row = out_rows[static_cast<size_t>(t)];
    if (row < 0) continue;
    if (first_row < 0) first_row = row;
    if (row != first_row + n_out) fail("internal: logits rows of a chunk are not contiguous");
    ops::rmsnorm(xb + n_out * d, x + t * d, output_norm_.data(), d, c.rms_eps);
    ++n_out;
  }
  if (n_out > 0) {
    linear(output, xb, n_out, logits_.data() + static_cast<size_t>(first_row) * c.n_vocab, pool_,
           act_q_, exact);
  }
  store_->release_output();
}

void Context::attention(int32_t layer, int64_t T, std::span<const int32_t> seq_ids) {
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
  // Scores: the cached K rows of a head are a matrix (row stride kv_row_bytes_) times q, in f32
  // (the exact kernels); the output mixes the V rows by the probabilities in one kernel call.
  const kernels::KernelTable& table = kernels::kernels();
  const kernels::MatvecFn k_times_q = table.dot(kv_type, GgmlType::F32).matvec;
  const kernels::WeightedRowSumFn mix_v = table.row_sum(kv_type);
  pool_.run([&](int thread, int n_threads) {
    float* scores = att_scores_.data() + static_cast<size_t>(thread) * att_stride_;
    float* acc = scores + n_ctx_;
    for (int64_t task = n_tasks * thread / n_threads; task < n_tasks * (thread + 1) / n_threads;
         ++task) {
      const int64_t t = task / c.n_head;
      const int32_t h = static_cast<int32_t>(task % c.n_head);
      const int32_t kvh = h / group;
      const int32_t pos = pos_[static_cast<size_t>(t)];
      // Rows of this token's sequence (its cache starts at row seq * n_ctx).
      const int32_t base = seq_ids[static_cast<size_t>(t)] * n_ctx_;
      const int32_t first =
          base + (c.sliding_window > 0 ? std::max(0, pos - c.sliding_window + 1) : 0);
      const float* q = q_.data() + t * q_dim + h * hd;
      const int32_t n = base + pos + 1 - first;
      const uint64_t at = static_cast<uint64_t>(first) * kv_row_bytes_ + kvh * head_bytes;
      k_times_q(kc + at, kv_row_bytes_, hd, 0, n, q, scores);
      for (int32_t j = 0; j < n; ++j) scores[j] *= scale;
      ops::softmax(scores, n);
      mix_v(vc + at, kv_row_bytes_, n, scores, hd, acc);
      std::memcpy(att_.data() + t * q_dim + h * hd, acc, sizeof(float) * static_cast<size_t>(hd));
    }
  });
}

}  // namespace vigil
