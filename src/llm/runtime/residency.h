// The residency planner: under a memory budget, which weights stay in memory and which stream
// from storage layer by layer. Every weight byte is read once per forward pass whether it is a
// layer or the output head, so a resident byte saves the same I/O wherever it sits; the plan
// therefore keeps a 2-slot prefetch ring (compute on layer i while i+1 loads), then the output
// head, then as many whole layers as fit, spread evenly through the stack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llm/model/model.h"

namespace vigil {

// Byte span of a group of tensors in the model file, widened to O_DIRECT alignment.
struct FileSpan {
  uint64_t begin = 0;  // aligned down
  uint64_t end = 0;    // aligned up (clamped to the file size by the reader)
  uint64_t bytes() const { return end - begin; }
};

struct ResidencyPlan {
  uint64_t budget = 0;          // bytes the user allowed
  uint64_t fixed_bytes = 0;     // KV cache + activations + small tensors + I/O bookkeeping
  int32_t n_layers = 0;
  std::vector<bool> layer_resident;
  bool output_resident = false;
  int32_t ring_slots = 0;       // prefetch buffers
  uint64_t slot_bytes = 0;      // bytes per prefetch buffer
  std::vector<FileSpan> layer_spans;  // per layer
  FileSpan output_span;
  uint64_t resident_weight_bytes = 0;
  uint64_t streamed_bytes_per_pass = 0;  // read from storage per forward pass
  uint64_t minimum_budget = 0;  // the smallest budget that runs at all

  uint64_t total_bytes() const {
    return fixed_bytes + resident_weight_bytes + static_cast<uint64_t>(ring_slots) * slot_bytes;
  }
  int32_t n_resident_layers() const;
  // Multi-line human description (for --stats).
  std::string describe() const;
};

// Byte spans of each layer's tensors and of the output head in the model file. Throws if the
// model was not loaded from a GGUF file (streaming reads GGUF files only).
void layer_file_spans(const Model& model, std::vector<FileSpan>& layers, FileSpan& output);

// Plans residency for `budget` bytes, of which `fixed_bytes` are already spoken for. Throws
// vigil::Error stating the minimum budget when one streamed layer does not fit.
ResidencyPlan plan_residency(const Model& model, uint64_t budget, uint64_t fixed_bytes);

}  // namespace vigil
