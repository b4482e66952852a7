#include "llm/model/model.h"

#include <filesystem>

#include "base/error.h"
#include "llm/format/gguf.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {

Model::~Model() = default;

std::unique_ptr<Model> Model::load(const std::string& path, FileImage image) {
  std::unique_ptr<Model> m(new Model());
  m->path_ = path;
  if (std::filesystem::is_directory(path)) {
    m->load_hf(path, image);
  } else {
    m->load_gguf(path, image);
  }
  m->validate_shapes();
  return m;
}

uint64_t LayerWeights::bytes() const {
  uint64_t n = 0;
  for (const Tensor* t : {&attn_norm, &wq, &wk, &wv, &wqkv, &bq, &bk, &bv, &wo, &ffn_norm, &w_gate,
                          &w_up, &w_gate_up, &w_down}) {
    if (t->present()) n += t->bytes();
  }
  return n;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = weights_.tok_embd.bytes() + weights_.output_norm.bytes();
  if (!config_.tied_embeddings) n += weights_.output.bytes();
  for (const auto& l : weights_.layers) n += l.bytes();
  return n;
}

void Model::validate_shapes() const {
  const ModelConfig& c = config_;
  if (c.n_layers <= 0 || c.n_embd <= 0 || c.n_head <= 0 || c.head_dim <= 0 || c.n_vocab <= 0) {
    fail("{}: invalid hyperparameters (layers {}, hidden {}, heads {}, head_dim {}, vocab {})",
         path_, c.n_layers, c.n_embd, c.n_head, c.head_dim, c.n_vocab);
  }
  if (c.head_dim > 1024)
    fail("{}: head_dim {} is larger than the supported 1024", path_, c.head_dim);
  auto expect = [&](const Tensor& t, int64_t cols, int64_t rows) {
    if (!t.present()) return;
    if (t.cols != cols || t.rows != rows) {
      fail("{}: tensor '{}': shape [{}, {}] (expected [{}, {}] from the model's hyperparameters)",
           path_, t.name, t.cols, t.rows, cols, rows);
    }
  };
  const int64_t d = c.n_embd;
  const int64_t q_dim = static_cast<int64_t>(c.n_head) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.n_head_kv) * c.head_dim;
  expect(weights_.tok_embd, d, c.n_vocab);
  expect(weights_.output, d, c.n_vocab);
  expect(weights_.output_norm, d, 1);
  for (int32_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = weights_.layers[static_cast<size_t>(i)];
    const int64_t ff = c.ff_size(i);
    expect(l.attn_norm, d, 1);
    expect(l.wq, d, q_dim);
    expect(l.wk, d, kv_dim);
    expect(l.wv, d, kv_dim);
    expect(l.wqkv, d, q_dim + 2 * kv_dim);
    expect(l.bq, q_dim, 1);
    expect(l.bk, kv_dim, 1);
    expect(l.bv, kv_dim, 1);
    expect(l.wo, q_dim, d);
    expect(l.ffn_norm, d, 1);
    expect(l.w_gate, d, ff);
    expect(l.w_up, d, ff);
    expect(l.w_gate_up, d, 2 * ff);
    expect(l.w_down, ff, d);
    for (const Tensor* t : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv}) {
      if (t->present() && t->type != GgmlType::F32 && t->type != GgmlType::F16 &&
          t->type != GgmlType::BF16) {
        fail("{}: tensor '{}': type {} (expected f32, f16 or bf16 for a norm or bias)", path_,
             t->name, ggml_type_name(t->type));
      }
    }
  }
}

}  // namespace vigil
