#include "llm/compress/imatrix.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace vigil::compress {

std::string gguf_weight_name(const std::string& name) {
  static const std::pair<const char*, const char*> kSuffixes[] = {
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.qkv_proj.weight", "attn_qkv.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.gate_up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  if (name == "lm_head.weight") return "output.weight";
  if (name == "model.embed_tokens.weight") return "token_embd.weight";
  const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return name;
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos) return name;
  const std::string layer = name.substr(prefix.size(), dot - prefix.size());
  const std::string rest = name.substr(dot + 1);
  for (const auto& [hf, gguf] : kSuffixes) {
    if (rest == hf) return "blk." + layer + "." + gguf;
  }
  return name;
}

LinearObserver ImatrixCollector::observer() {
  return [this](const std::string& name, const float* x, int64_t n_tokens, int64_t n_cols) {
    add(name, x, n_tokens, n_cols);
  };
}

void ImatrixCollector::add(const std::string& name, const float* x, int64_t n_tokens,
                           int64_t n_cols) {
  const std::string gguf = gguf_weight_name(name);
  if (gguf.rfind("blk.", 0) != 0 && !(include_output_ && gguf == "output.weight")) return;
  Stat& s = stats_[gguf];
  if (s.sum_sq.empty()) s.sum_sq.assign(static_cast<size_t>(n_cols), 0.0);
  if (static_cast<int64_t>(s.sum_sq.size()) != n_cols) {
    fail("imatrix: tensor '{}' had {} input columns, now {}", gguf, s.sum_sq.size(), n_cols);
  }
  double* acc = s.sum_sq.data();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * n_cols;
    for (int64_t j = 0; j < n_cols; ++j) acc[j] += static_cast<double>(row[j]) * row[j];
  }
  s.n_tokens += n_tokens;
  touched_[gguf] = true;
}

void ImatrixCollector::end_chunk() {
  for (auto& [name, touched] : touched_) {
    if (touched) ++stats_[name].ncall;
    touched = false;
  }
  ++chunks_;
}

std::vector<double> ImatrixCollector::mean_square(const std::string& name) const {
  auto it = stats_.find(name);
  if (it == stats_.end() || it->second.n_tokens == 0)
    fail("imatrix: no activations collected for tensor '{}'", name);
  std::vector<double> out = it->second.sum_sq;
  for (double& v : out) v /= static_cast<double>(it->second.n_tokens);
  return out;
}

ImportanceMatrix ImatrixCollector::to_imatrix(const std::string& dataset) const {
  ImportanceMatrix m;
  for (const auto& [name, s] : stats_) {
    if (s.n_tokens == 0 || s.ncall == 0) continue;
    ImportanceMatrix::Entry e;
    e.ncall = s.ncall;
    e.values.resize(s.sum_sq.size());
    for (size_t j = 0; j < s.sum_sq.size(); ++j) {
      e.values[j] = static_cast<float>(s.sum_sq[j] / static_cast<double>(s.n_tokens) * s.ncall);
    }
    m.entries.emplace(name, std::move(e));
  }
  m.last_call = chunks_;
  m.dataset = dataset;
  return m;
}

int32_t collect_imatrix(Context& ctx, std::span<const int32_t> tokens, int32_t bos,
                        const ImatrixOptions& options, ImatrixCollector& collector,
                        const std::function<void(int32_t done, int32_t total)>& progress) {
  const int32_t n_ctx = options.n_ctx;
  if (n_ctx < 1) fail("imatrix: window size {} must be positive", n_ctx);
  if (ctx.n_ctx() < n_ctx)
    fail("imatrix: the context holds {} tokens, the window needs {}", ctx.n_ctx(), n_ctx);
  if (tokens.empty()) fail("imatrix: the calibration text has no tokens");
  int32_t n_windows = static_cast<int32_t>(tokens.size() / static_cast<size_t>(n_ctx));
  const bool one_short_window = n_windows == 0;
  if (one_short_window) n_windows = 1;
  if (options.max_chunks > 0) n_windows = std::min(n_windows, options.max_chunks);

  // Remove the observer on every way out, so the context never calls into a dead collector.
  struct Uninstall {
    Context& c;
    ~Uninstall() { c.set_linear_observer({}); }
  } uninstall{ctx};
  ctx.set_linear_observer(collector.observer());
  std::vector<int32_t> window;
  for (int32_t w = 0; w < n_windows; ++w) {
    const size_t start = static_cast<size_t>(w) * static_cast<size_t>(n_ctx);
    const size_t len = one_short_window ? tokens.size() : static_cast<size_t>(n_ctx);
    window.assign(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                  tokens.begin() + static_cast<std::ptrdiff_t>(start + len));
    if (bos >= 0) window[0] = bos;
    ctx.reset();
    ctx.eval(window, /*all_logits=*/false);
    collector.end_chunk();
    if (progress) progress(w + 1, n_windows);
  }
  return n_windows;
}

}  // namespace vigil::compress
