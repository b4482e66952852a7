// Quality metrics of a language model on a text: perplexity, and KL divergence / top-1 agreement /
// Δp against a reference run saved to a file (llama.cpp's `llama-perplexity` and
// `--kl-divergence`, same windowing and the same formulas).
//
//   Windowing: the text's tokens (with BOS when the tokenizer adds one) are cut into
//   floor(n_tokens / n_ctx) non-overlapping windows of n_ctx tokens; the first token of each
//   window is replaced by BOS (when the tokenizer uses one) and each window is evaluated from an
//   empty cache. The first half of a window is context only; the predictions at positions
//   n_ctx/2 .. n_ctx-2 (of tokens n_ctx/2+1 .. n_ctx-1) are scored: n_ctx - 1 - n_ctx/2 per window.
//
//   PPL = exp(mean NLL); ± = PPL * sqrt(var(NLL) / (N - 1)) (standard error of the mean NLL,
//   propagated through exp to first order).
//
// Reference log-prob file ("--save-logits", read by "--kld-base"), little-endian:
//   char[8] "VGLOGP01"
//   u32 n_vocab, u32 n_ctx, u32 n_windows, u32 top_k (0 = full distribution), u32 n_tokens
//   u64 vocab_hash (FNV-1a over the tokenizer's token texts; 0 without a tokenizer)
//   i32 tokens[n_tokens]                      (the evaluated windows, BOS substitution applied)
//   n_windows * (n_ctx - 1 - n_ctx/2) records, one per scored token, in order:
//     top_k == 0: f32 log_prob[n_vocab]        exact; 4 * n_vocab bytes per token
//     top_k  > 0: i32 id[top_k], f32 log_prob[top_k] (descending), f32 log_prob_of_target,
//                 f32 log(1 - sum of the top_k probabilities)            8 * top_k + 8 bytes
// The full form gives exact KLD but costs 4 * n_vocab bytes per token (1000-token vocab: 4 KB;
// 128k vocab: 512 KB per token, 130 MB per 512-token window). The top-K form keeps the K most
// likely tokens and lumps the rest into one bucket; its KLD is the KL divergence of the two
// coarse-grained distributions, a lower bound of the true KLD (log-sum inequality) that is exact
// when the reference puts no mass outside its top K. PPL and Δp of the base stay exact (the
// target's log-prob is stored).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vigil {
class Context;
class Tokenizer;
}  // namespace vigil

namespace vigil::compress {

struct PerplexityOptions {
  int32_t n_ctx = 512;      // window size in tokens
  int32_t max_windows = 0;  // 0 = every full window of the text
  std::string save_logits;  // write the reference log-prob file here (empty = no)
  int32_t save_top_k = -1;  // -1 = full distribution when n_vocab <= 8192, else top 64
  std::string kld_base;     // compare against this reference file (empty = no)
};

// Mean ± standard error of a sample (llama.cpp: sqrt(var / (n - 1))).
struct MeanErr {
  double mean = 0;
  double err = 0;
};

struct KldResult {
  int64_t n_tokens = 0;
  MeanErr kld;  // nats
  double kld_median = 0, kld_p99 = 0, kld_max = 0;
  MeanErr top1_agree;  // fraction (0..1) of tokens whose argmax equals the base's
  MeanErr delta_p;     // mean of p_new(correct) - p_base(correct), probability units
  double delta_p_rms = 0;
  double ppl_base = 0;   // perplexity of the base run on the same tokens
  MeanErr ln_ppl_ratio;  // mean of ln p_base(correct) - ln p_new(correct) = ln(PPL/PPL_base)
  bool exact = true;     // false when the base holds only the top-K (see above)
};

struct PerplexityResult {
  int32_t n_ctx = 0;
  int32_t n_windows = 0;
  int64_t n_scored = 0;  // tokens scored
  double mean_nll = 0;   // nats per token
  double ppl = 0;
  double ppl_err = 0;  // ± of ppl (see above)
  std::optional<KldResult> kld;
};

// Called after each window: (windows done, windows in all, running PPL).
using PerplexityProgress = std::function<void(int32_t done, int32_t total, double ppl)>;

// Tokens as llama.cpp's perplexity tool gets them: the tokenizer's special prefix (BOS) added,
// special-token text not parsed.
std::vector<int32_t> tokenize_text(const Tokenizer& tokenizer, const std::string& text);

// FNV-1a hash of the tokenizer's vocabulary (its token texts in id order).
uint64_t vocab_hash(const Tokenizer& tokenizer);

// Runs the evaluation on `ctx` (reset before each window; its n_ctx must be >= options.n_ctx).
// `tokens`: the text's tokens (tokenize_text); may be empty when options.kld_base is set (the base
// file's tokens are used then; when given, they must equal them). `bos`: the BOS id substituted at
// the start of every window, or -1 for none. Throws vigil::Error on a text shorter than one
// window, or a base file that is malformed or does not match (tokens, vocabulary, window size).
PerplexityResult evaluate_perplexity(Context& ctx, std::span<const int32_t> tokens, int32_t bos,
                                     uint64_t vocabulary_hash, const PerplexityOptions& options,
                                     const PerplexityProgress& progress = {});

// The header of a reference log-prob file (validated against the file size). Throws vigil::Error
// naming the path and the field on a malformed file.
struct LogitFileHeader {
  int32_t n_vocab = 0, n_ctx = 0, n_windows = 0, top_k = 0, n_tokens = 0;
  uint64_t vocab_hash = 0;
};
LogitFileHeader read_logit_header(const std::string& path);

// Helpers, exposed for the tests.
// log-softmax of one row of logits, in double (max-subtracted, so any finite logits are safe).
std::vector<double> log_softmax(std::span<const float> logits);
// Sample statistics: mean and llama.cpp's standard error of the mean.
MeanErr mean_and_error(std::span<const double> values);

}  // namespace vigil::compress
