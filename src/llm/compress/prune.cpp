#include "llm/compress/prune.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "base/error.h"
#include "llm/format/gguf.h"
#include "llm/kernels/kernels.h"
#include "llm/model/model.h"
#include "llm/runtime/linear.h"

namespace vigil::compress {
namespace {

bool is_k_quant(GgmlType t) {
  return t == GgmlType::Q2_K || t == GgmlType::Q3_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K ||
         t == GgmlType::Q6_K || t == GgmlType::Q8_K;
}

bool is_plain(GgmlType t) {
  return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

// Σ_r W[r][j]² for every column j.
std::vector<double> column_sq_norms(const Tensor& w) {
  std::vector<double> out(static_cast<size_t>(w.cols), 0.0);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    tensor_row_f32(w, r, row.data());
    for (size_t j = 0; j < row.size(); ++j) out[j] += static_cast<double>(row[j]) * row[j];
  }
  return out;
}

const std::vector<double>& stats_for(const ActivationStats& stats, const std::string& name,
                                     int64_t cols) {
  auto it = stats.find(name);
  if (it == stats.end()) {
    fail(
        "prune: no calibration statistics for '{}' (run with -f CALIB.txt, or an imatrix that "
        "covers it)",
        name);
  }
  if (static_cast<int64_t>(it->second.size()) != cols) {
    fail(
        "prune: statistics for '{}' have {} columns, the tensor has {} (imatrix of another model?)",
        name, it->second.size(), cols);
  }
  return it->second;
}

// Indices of the `k` largest scores (lowest index first on ties), ascending.
std::vector<int32_t> top_k(const std::vector<double>& scores, size_t k) {
  std::vector<int32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) {
    return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)];
  });
  idx.resize(std::min(k, idx.size()));
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<int32_t> all_of(int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// How one output tensor is made from its source.
struct TensorJob {
  enum class Op { Copy, Rows, Cols } op = Op::Copy;
  const gguf::TensorInfo* src = nullptr;
  std::vector<int64_t> index;  // kept rows or columns
  GgmlType type = GgmlType::F32;
  std::vector<uint64_t> shape;
};

// Rows (or elements) [offset + h * head_dim, offset + (h + 1) * head_dim) of every head h.
void append_heads(std::vector<int64_t>& out, const std::vector<int32_t>& heads, int64_t head_dim,
                  int64_t offset) {
  for (int32_t h : heads) {
    for (int64_t i = 0; i < head_dim; ++i) out.push_back(offset + h * head_dim + i);
  }
}

}  // namespace

ActivationStats activation_stats(const ImportanceMatrix& imatrix) {
  ActivationStats out;
  for (const auto& [name, e] : imatrix.entries) {
    std::vector<double> v(e.values.begin(), e.values.end());
    if (e.ncall > 0) {
      for (double& x : v) x /= e.ncall;
    }
    out.emplace(name, std::move(v));
  }
  return out;
}

std::vector<double> ffn_channel_importance(const Model& model, int32_t layer,
                                           const ActivationStats& stats) {
  const Tensor& down = model.weights().layers.at(static_cast<size_t>(layer)).w_down;
  const std::vector<double>& ms =
      stats_for(stats, "blk." + std::to_string(layer) + ".ffn_down.weight", down.cols);
  std::vector<double> score = column_sq_norms(down);
  for (size_t j = 0; j < score.size(); ++j) score[j] *= ms[j];
  return score;
}

std::vector<double> kv_group_importance(const Model& model, int32_t layer,
                                        const ActivationStats& stats) {
  const ModelConfig& c = model.config();
  const Tensor& wo = model.weights().layers.at(static_cast<size_t>(layer)).wo;
  const std::vector<double>& ms =
      stats_for(stats, "blk." + std::to_string(layer) + ".attn_output.weight", wo.cols);
  const std::vector<double> col = column_sq_norms(wo);
  const int32_t group = c.n_head / c.n_head_kv;
  std::vector<double> score(static_cast<size_t>(c.n_head_kv), 0.0);
  for (int32_t h = 0; h < c.n_head; ++h) {
    for (int64_t i = 0; i < c.head_dim; ++i) {
      const auto j = static_cast<size_t>(h * c.head_dim + i);
      score[static_cast<size_t>(h / group)] += ms[j] * col[j];
    }
  }
  return score;
}

PrunePlan plan_pruning(const Model& model, const ActivationStats& stats,
                       const PruneOptions& options) {
  const ModelConfig& c = model.config();
  const size_t n_layers = static_cast<size_t>(c.n_layers);
  if (options.ffn_keep.size() != 1 && options.ffn_keep.size() != n_layers) {
    fail("prune: --ffn-keep has {} values; give one, or one per layer ({})",
         options.ffn_keep.size(), n_layers);
  }
  for (double k : options.ffn_keep) {
    if (!(k > 0 && k <= 1)) fail("prune: --ffn-keep {} is outside (0, 1]", k);
  }
  if (!(options.heads_keep > 0 && options.heads_keep <= 1)) {
    fail("prune: --heads-keep {} is outside (0, 1]", options.heads_keep);
  }
  if (options.align < 0) fail("prune: --align {} must be >= 0", options.align);

  PrunePlan plan;
  plan.layers.resize(n_layers);
  const int32_t n_groups =
      options.heads_keep >= 1
          ? c.n_head_kv
          : std::max<int32_t>(1,
                              static_cast<int32_t>(std::lround(options.heads_keep * c.n_head_kv)));
  plan.n_head_kv = n_groups;
  plan.n_head = n_groups * (c.n_head / c.n_head_kv);
  for (size_t l = 0; l < n_layers; ++l) {
    const auto layer = static_cast<int32_t>(l);
    const int32_t ff = c.ff_size(layer);
    const double keep = options.ffn_keep.size() == 1 ? options.ffn_keep[0] : options.ffn_keep[l];
    const GgmlType down_type = model.weights().layers[l].w_down.type;
    const int32_t align = options.align > 0 ? options.align : (is_k_quant(down_type) ? 256 : 32);
    int32_t k = ff;
    if (keep < 1 && ff > align) {
      const auto blocks = std::lround(keep * ff / align);
      k = std::clamp(static_cast<int32_t>(blocks) * align, align, ff);
    }
    plan.layers[l].ffn_channels =
        k == ff ? all_of(ff)
                : top_k(ffn_channel_importance(model, layer, stats), static_cast<size_t>(k));
    plan.layers[l].kv_groups =
        n_groups == c.n_head_kv
            ? all_of(c.n_head_kv)
            : top_k(kv_group_importance(model, layer, stats), static_cast<size_t>(n_groups));
  }
  return plan;
}

uint64_t write_pruned_gguf(const Model& model, const PrunePlan& plan, const std::string& out_path) {
  const gguf::GgufFile* in = model.gguf();
  if (in == nullptr)
    fail("prune: {} is not a GGUF file (convert it with `vigil quantize` first)", model.path());
  const ModelConfig& c = model.config();
  if (plan.layers.size() != static_cast<size_t>(c.n_layers)) {
    fail("prune: plan has {} layers, the model {}", plan.layers.size(), c.n_layers);
  }
  const std::string p = c.arch + ".";
  gguf::GgufWriter w;
  for (const auto& [key, value] : in->metadata()) w.set(key, value);

  std::vector<int32_t> ff_sizes;
  for (const LayerPlan& l : plan.layers)
    ff_sizes.push_back(static_cast<int32_t>(l.ffn_channels.size()));
  if (std::all_of(ff_sizes.begin(), ff_sizes.end(), [&](int32_t v) { return v == ff_sizes[0]; })) {
    w.set(p + "feed_forward_length", gguf::Value::of_u32(static_cast<uint32_t>(ff_sizes[0])));
  } else {
    w.set(p + "feed_forward_length", gguf::Value::of_i32s(ff_sizes));
  }
  const bool heads_pruned = plan.n_head_kv != c.n_head_kv;
  if (heads_pruned) {
    w.set(p + "attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(plan.n_head)));
    w.set(p + "attention.head_count_kv",
          gguf::Value::of_u32(static_cast<uint32_t>(plan.n_head_kv)));
    w.set(p + "attention.key_length", gguf::Value::of_u32(static_cast<uint32_t>(c.head_dim)));
    w.set(p + "attention.value_length", gguf::Value::of_u32(static_cast<uint32_t>(c.head_dim)));
  }

  const int64_t hd = c.head_dim;
  const int32_t group = c.n_head / c.n_head_kv;
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * hd;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * hd;
  std::vector<TensorJob> jobs;
  for (const gguf::TensorInfo& t : in->tensors()) {
    TensorJob job;
    job.src = &t;
    job.type = t.type;
    job.shape = t.shape;
    int32_t layer = -1;
    std::string suffix;
    if (t.name.rfind("blk.", 0) == 0) {
      const size_t dot = t.name.find('.', 4);
      if (dot != std::string::npos) {
        try {
          layer = std::stoi(t.name.substr(4, dot - 4));
        } catch (const std::exception&) {
          layer = -1;
        }
        suffix = t.name.substr(dot + 1);
      }
    }
    if (layer >= 0 && layer < c.n_layers && t.shape.size() <= 2) {
      const LayerPlan& lp = plan.layers[static_cast<size_t>(layer)];
      const int64_t ff = c.ff_size(layer);
      std::vector<int32_t> q_heads;
      for (int32_t g : lp.kv_groups) {
        for (int32_t r = 0; r < group; ++r) q_heads.push_back(g * group + r);
      }
      std::vector<int64_t> q_rows, kv_rows;
      append_heads(q_rows, q_heads, hd, 0);
      append_heads(kv_rows, lp.kv_groups, hd, 0);
      std::vector<int64_t> ch(lp.ffn_channels.begin(), lp.ffn_channels.end());
      if (suffix == "ffn_gate.weight" || (suffix == "ffn_up.weight" && !c.fused_gate_up)) {
        job.op = TensorJob::Op::Rows;
        job.index = ch;
      } else if (suffix == "ffn_up.weight") {  // phi3: [gate rows; up rows]
        job.op = TensorJob::Op::Rows;
        job.index = ch;
        for (int64_t j : ch) job.index.push_back(ff + j);
      } else if (suffix == "ffn_down.weight") {
        job.op = TensorJob::Op::Cols;
        job.index = ch;
      } else if (heads_pruned && (suffix == "attn_q.weight" || suffix == "attn_q.bias")) {
        job.op = suffix == "attn_q.weight" ? TensorJob::Op::Rows : TensorJob::Op::Cols;
        job.index = q_rows;
      } else if (heads_pruned && (suffix == "attn_k.weight" || suffix == "attn_v.weight")) {
        job.op = TensorJob::Op::Rows;
        job.index = kv_rows;
      } else if (heads_pruned && (suffix == "attn_k.bias" || suffix == "attn_v.bias")) {
        job.op = TensorJob::Op::Cols;
        job.index = kv_rows;
      } else if (heads_pruned && suffix == "attn_qkv.weight") {  // phi3: [q; k; v] rows
        job.op = TensorJob::Op::Rows;
        job.index = q_rows;
        for (int64_t r : kv_rows) job.index.push_back(q_dim + r);
        for (int64_t r : kv_rows) job.index.push_back(q_dim + kv_dim + r);
      } else if (heads_pruned && suffix == "attn_output.weight") {
        job.op = TensorJob::Op::Cols;
        job.index = q_rows;
      }
    }
    const uint64_t rows = t.shape.size() > 1 ? t.shape[1] : 1;
    // Nothing removed: copy the bytes unchanged (a quantized ffn_down stays quantized).
    const uint64_t extent = job.op == TensorJob::Op::Rows ? rows : t.shape[0];
    bool identity = job.index.size() == extent;
    for (size_t k = 0; identity && k < job.index.size(); ++k)
      identity = job.index[k] == static_cast<int64_t>(k);
    if (identity) job.op = TensorJob::Op::Copy;
    if (job.op == TensorJob::Op::Rows) {
      if (t.shape.size() != 2) fail("prune: tensor '{}' is not 2-D", t.name);
      for (int64_t r : job.index) {
        if (r < 0 || static_cast<uint64_t>(r) >= rows)
          fail("prune: tensor '{}': row {} out of range ({} rows)", t.name, r, rows);
      }
      job.shape[1] = job.index.size();
    } else if (job.op == TensorJob::Op::Cols) {
      for (int64_t j : job.index) {
        if (j < 0 || static_cast<uint64_t>(j) >= t.shape[0])
          fail("prune: tensor '{}': column {} out of range ({} columns)", t.name, j, t.shape[0]);
      }
      job.shape[0] = job.index.size();
      if (!is_plain(t.type)) job.type = GgmlType::F32;  // dequantized: blocks cannot be cut
    }
    w.add_tensor(t.name, job.type, job.shape);
    jobs.push_back(std::move(job));
  }

  std::vector<float> row_f32;
  w.write(out_path, [&](size_t i, std::string& out) {
    const TensorJob& job = jobs[i];
    const gguf::TensorInfo& t = *job.src;
    const auto* data = reinterpret_cast<const char*>(t.data);
    const uint64_t row_bytes = ggml_row_bytes(t.type, t.shape[0]);
    const uint64_t rows = t.shape.size() > 1 ? t.shape[1] : 1;
    switch (job.op) {
      case TensorJob::Op::Copy:
        out.append(data, t.size_bytes);
        return;
      case TensorJob::Op::Rows:
        for (int64_t r : job.index)
          out.append(data + static_cast<uint64_t>(r) * row_bytes, row_bytes);
        return;
      case TensorJob::Op::Cols:
        for (uint64_t r = 0; r < rows; ++r) {
          const char* row = data + r * row_bytes;
          if (is_plain(t.type)) {
            const size_t es = ggml_traits(t.type).block_bytes;
            for (int64_t j : job.index) out.append(row + static_cast<uint64_t>(j) * es, es);
          } else {
            row_f32.resize(t.shape[0]);
            kernels::dequantize_row(t.type, row, row_f32.data(), static_cast<int64_t>(t.shape[0]));
            for (int64_t j : job.index)
              out.append(reinterpret_cast<const char*>(&row_f32[static_cast<size_t>(j)]), 4);
          }
        }
        return;
    }
  });
  return std::filesystem::file_size(out_path);
}

}  // namespace vigil::compress
