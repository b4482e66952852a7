// An inference context: one sequence's KV cache, scratch buffers and a thread pool, over a
// loaded Model. eval() runs a batch of tokens through every layer (prefill: all prompt tokens
// per layer, matrix-matrix kernels; decode: one token, matrix-vector kernels).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "llm/model/model.h"
#include "llm/model/ops.h"
#include "llm/quant/types.h"
#include "llm/runtime/linear.h"
#include "llm/runtime/residency.h"
#include "llm/runtime/streaming.h"
#include "llm/runtime/weight_store.h"

namespace vigil {

struct ContextParams {
  int32_t n_ctx = 0;                 // tokens of KV cache; 0 = min(model context, 4096)
  GgmlType kv_type = GgmlType::F16;  // F32, F16 or Q8_0
  int n_threads = 0;                 // 0 = all hardware threads
  int32_t n_batch = 512;             // tokens per eval() chunk in prefill
  // Independent sequences (each with its own KV cache of n_ctx positions) that eval_batch() can
  // advance together in one pass over the weights. Sequence 0 is the one eval() uses.
  int32_t n_seq = 1;
  // Reference mode: weights dequantized to f32, f32 activations and f32 KV (the exact-math
  // path the dequant_* and HF checks use). Slow; for tests and debugging.
  bool exact = false;
  // Hard cap on resident bytes for weights + KV cache + activations + I/O buffers; 0 = no cap
  // (everything resident, weights read through the file mapping). With a cap, layers that do
  // not fit stream from the file (runtime/streaming.h) and prefill runs in chunks that fit.
  uint64_t mem_budget = 0;
  bool direct_io = true;  // streaming reads with O_DIRECT (falls back to buffered)
  std::function<uint64_t(uint64_t, uint64_t)> io_fault_hook;  // tests only
};

// Observer hook (compress/imatrix, compress/prune): called with the f32 input X of every linear
// layer of the forward pass, [n_tokens][n_cols] row-major, just before the product, and the
// weight tensor's name (GGUF or HF, as loaded). Unset (the default) it costs one branch per call.
using LinearObserver = std::function<void(const std::string& tensor_name, const float* x,
                                          int64_t n_tokens, int64_t n_cols)>;

class Context {
 public:
  Context(const Model& model, const ContextParams& params);
  ~Context();

  // Appends `tokens` at positions n_past().. and returns logits: for the last token only
  // ([n_vocab]) or, with all_logits, for every token ([tokens.size()][n_vocab]).
  // Throws if the context would overflow or a token id is out of range.
  std::span<const float> eval(std::span<const int32_t> tokens, bool all_logits = false);

  // Several sequences in one pass: token i is appended to sequence seq_ids[i] (tokens of one
  // sequence in order; any mix of sequences). Every weight byte is read once for all of them: N
  // sequences decoding one token each cost about one token's weight traffic (the basis of serving
  // several streams, and of verifying draft tokens). Returns logits for every token
  // ([tokens.size()][n_vocab]) or, without all_logits, for the last token of each sequence in the
  // call, rows in increasing sequence id. Throws on an unknown sequence id or an overflow.
  std::span<const float> eval_batch(std::span<const int32_t> tokens,
                                    std::span<const int32_t> seq_ids, bool all_logits = true);

  int32_t n_past(int32_t seq = 0) const { return n_past_.at(static_cast<size_t>(seq)); }
  int32_t n_ctx() const { return n_ctx_; }
  int32_t n_seq() const { return params_.n_seq; }
  int32_t n_vocab() const { return model_.config().n_vocab; }
  // Forgets positions >= n (n <= n_past(seq)) of one sequence.
  void truncate(int32_t n, int32_t seq = 0);
  void reset() {
    for (int32_t s = 0; s < params_.n_seq; ++s) truncate(0, s);
  }
  const Model& model() const { return model_; }
  // Debugging/tests: the next eval() (one chunk) stores the residual stream after the embedding
  // and after every layer into `out`, laid out [n_layers + 1][n_tokens][n_embd]. nullptr = off.
  void capture_hidden(std::vector<float>* out) { capture_ = out; }
  // Installs (or, with an empty function, removes) the linear-layer observer (see above).
  void set_linear_observer(LinearObserver observer) { linear_observer_ = std::move(observer); }
  ThreadPool& pool() { return pool_; }
  int32_t n_batch() const { return params_.n_batch; }
  // The streaming store when a memory budget is set, else nullptr.
  const StreamingWeightStore* streaming() const { return streaming_; }
  StreamingWeightStore* streaming() { return streaming_; }
  // Bytes this context holds besides resident weights: KV cache, activations, logits.
  uint64_t fixed_bytes() const { return fixed_bytes_; }

 private:
  // Checks ids and capacity, then runs the chunks; shared by eval() and eval_batch().
  std::span<const float> eval_tokens(std::span<const int32_t> tokens,
                                     std::span<const int32_t> seq_ids, bool all_logits);
  // One chunk (<= n_batch tokens); token t goes to sequence seq_ids[t] at position pos_[t].
  void eval_chunk(std::span<const int32_t> tokens, std::span<const int32_t> seq_ids,
                  std::span<const int32_t> out_rows);
  void attention(int32_t layer, int64_t n_tokens, std::span<const int32_t> seq_ids);
  // Observer hook: every unqualified linear(...) call in the member functions resolves to this
  // member (it hides vigil::linear), which feeds linear_observer_ when set, then computes.
  void linear(const Tensor& W, const float* X, int64_t n_tokens, float* Y, ThreadPool& pool,
              std::vector<uint8_t>& scratch, bool exact);
  // Several products of one input in one parallel step (q/k/v, gate/up), observed like linear().
  void linear_group(std::span<const LinearOut> outs, const float* X, int64_t n_tokens, bool exact);
  LinearObserver linear_observer_;

  const Model& model_;
  ContextParams params_;
  int32_t n_ctx_ = 0;
  std::vector<int32_t> n_past_;  // per sequence
  ThreadPool pool_;
  std::unique_ptr<WeightStore> store_;
  StreamingWeightStore* streaming_ = nullptr;  // == store_ when streaming
  uint64_t fixed_bytes_ = 0;
  ops::Rope rope_;

  // f32 copies of the small 1-D tensors (norms, biases), per layer.
  struct SmallTensors {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv;
  };
  std::vector<SmallTensors> small_;
  std::vector<float> output_norm_;

  // KV cache: per layer, rows of kv_dim values of kv_type, one row per position; sequence s owns
  // rows [s * n_ctx, (s + 1) * n_ctx).
  std::vector<std::vector<uint8_t>> k_cache_, v_cache_;
  uint64_t kv_row_bytes_ = 0;

  // Scratch (sized for n_batch tokens), reused across calls: no allocation per token.
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_, qkv_, logits_;
  std::vector<uint8_t> act_q_;     // quantized activations for the integer kernels
  std::vector<float> att_scores_;  // per thread: n_ctx scores + head_dim outputs
  size_t att_stride_ = 0;          // floats of att_scores_ per thread (n_ctx + head_dim)
  std::vector<int32_t> pos_;       // position of each token of the chunk in its sequence
  std::vector<int32_t> next_pos_;  // per sequence: the position its next token of the chunk takes
  std::vector<int32_t> seq_zero_;  // n_batch zeros: the sequence ids of eval()
  std::vector<int32_t> out_row_, last_of_seq_;  // logits row per token of a call (-1: none)
  std::vector<float>* capture_ = nullptr;       // hidden states of every layer (capture_hidden)
};

}  // namespace vigil
