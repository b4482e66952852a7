// Where the forward pass gets its weights. The forward pass never touches a layer's weights
// without acquire(i) … release(i): a resident store returns views into the mapped file at once;
// a streaming store (runtime/streaming.h) waits for layer i's prefetch and recycles the buffer on
// release. The model code does not know which one it talks to.
#pragma once

#include <cstdint>
#include <vector>

#include "llm/model/weights.h"

namespace vigil {

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  // Blocks until layer `layer`'s tensors are readable; the views stay valid until release().
  virtual const LayerWeights& acquire(int32_t layer) = 0;
  virtual void release(int32_t layer) = 0;
  // Non-layer tensors (embedding rows are read through embed_row, never whole).
  virtual const Tensor& output_norm() = 0;
  // The output head, between acquire_output() and release_output() (every forward pass calls
  // both once, after the last layer, even when it needs no logits, so a streaming store's read
  // schedule stays in step).
  virtual const Tensor& acquire_output() = 0;
  virtual void release_output() = 0;
  // Copies token `id`'s embedding row as f32 into `out` (n_embd values).
  virtual void embed_row(int32_t id, float* out) = 0;
  // A small tensor (norm weights, biases) as f32, read once at start-up.
  virtual std::vector<float> small_tensor_f32(const Tensor& t);
};

// Everything resident: views into the mapped model file.
class ResidentWeightStore final : public WeightStore {
 public:
  explicit ResidentWeightStore(const ModelWeights& weights) : w_(weights) {}
  const LayerWeights& acquire(int32_t layer) override { return w_.layers[static_cast<size_t>(layer)]; }
  void release(int32_t) override {}
  const Tensor& output_norm() override { return w_.output_norm; }
  const Tensor& acquire_output() override { return w_.output; }
  void release_output() override {}
  void embed_row(int32_t id, float* out) override;

 private:
  const ModelWeights& w_;
};

}  // namespace vigil
