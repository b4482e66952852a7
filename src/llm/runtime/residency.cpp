#include "llm/runtime/residency.h"

#include <algorithm>

#include "base/async_reader.h"
#include "base/error.h"
#include "base/units.h"
#include "llm/format/gguf.h"

namespace vigil {
namespace {

constexpr uint64_t kAlign = AsyncFileReader::kAlignment;

FileSpan span_of(std::initializer_list<const Tensor*> tensors) {
  FileSpan s{UINT64_MAX, 0};
  for (const Tensor* t : tensors) {
    if (!t->present()) continue;
    s.begin = std::min(s.begin, t->file_offset);
    s.end = std::max(s.end, t->file_offset + t->bytes());
  }
  if (s.begin == UINT64_MAX) return {};
  s.begin = s.begin / kAlign * kAlign;
  s.end = (s.end + kAlign - 1) / kAlign * kAlign;
  return s;
}

}  // namespace

void layer_file_spans(const Model& model, std::vector<FileSpan>& layers, FileSpan& output) {
  if (model.gguf() == nullptr) {
    fail("{}: layer streaming (--mem-budget) needs a GGUF file; convert the folder with "
         "`vigil quantize` first", model.path());
  }
  layers.clear();
  const ModelWeights& w = model.weights();
  for (const LayerWeights& l : w.layers) {
    layers.push_back(span_of({&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wqkv, &l.bq, &l.bk, &l.bv, &l.wo,
                              &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_gate_up, &l.w_down}));
    // A layer whose tensors are scattered (another layer's tensors between them) would make the
    // span read bytes it does not need; refuse rather than silently read the model twice over.
    const FileSpan& s = layers.back();
    if (s.bytes() > l.bytes() + l.bytes() / 8 + 16 * kAlign) {
      fail("{}: layer {} tensors are not contiguous in the file (span {} for {} of tensors); "
           "rewrite the file with `vigil quantize` to stream it", model.path(), layers.size() - 1,
           format_bytes(s.bytes()), format_bytes(l.bytes()));
    }
  }
  output = span_of({&w.output});
}

int32_t ResidencyPlan::n_resident_layers() const {
  return static_cast<int32_t>(std::count(layer_resident.begin(), layer_resident.end(), true));
}

std::string ResidencyPlan::describe() const {
  std::string list;
  for (int32_t i = 0; i < n_layers; ++i) {
    if (layer_resident[static_cast<size_t>(i)]) list += (list.empty() ? "" : ",") + std::to_string(i);
  }
  return fmt::format(
      "memory budget {} (minimum {}):\n"
      "  fixed (KV cache, activations, small tensors): {}\n"
      "  prefetch ring: {} x {} = {}\n"
      "  resident: {} of {} layers [{}] + output head {} = {}\n"
      "  streamed per forward pass: {}\n"
      "  planned total: {}",
      format_bytes(budget), format_bytes(minimum_budget), format_bytes(fixed_bytes), ring_slots,
      format_bytes(slot_bytes), format_bytes(static_cast<uint64_t>(ring_slots) * slot_bytes),
      n_resident_layers(), n_layers, list, output_resident ? "resident" : "streamed",
      format_bytes(resident_weight_bytes), format_bytes(streamed_bytes_per_pass),
      format_bytes(total_bytes()));
}

ResidencyPlan plan_residency(const Model& model, uint64_t budget, uint64_t fixed_bytes) {
  ResidencyPlan p;
  p.budget = budget;
  p.fixed_bytes = fixed_bytes;
  p.n_layers = model.config().n_layers;
  layer_file_spans(model, p.layer_spans, p.output_span);
  uint64_t max_layer = 0;
  for (const auto& s : p.layer_spans) max_layer = std::max(max_layer, s.bytes());
  const uint64_t out_bytes = p.output_span.bytes();

  // Minimum: one slot big enough for any layer and for the output head (streamed too).
  const uint64_t min_slot = std::max(max_layer, out_bytes);
  p.minimum_budget = fixed_bytes + min_slot;
  if (budget < p.minimum_budget) {
    fail("--mem-budget {} is below the minimum {} for this model and context (one streamed "
         "layer of {} + KV cache and activations of {}); raise the budget or lower --ctx",
         format_bytes(budget), format_bytes(p.minimum_budget), format_bytes(min_slot),
         format_bytes(fixed_bytes));
  }
  uint64_t avail = budget - fixed_bytes;
  p.layer_resident.assign(static_cast<size_t>(p.n_layers), false);

  // Everything fits: no streaming at all.
  uint64_t all = out_bytes;
  for (const auto& s : p.layer_spans) all += s.bytes();
  if (all <= avail) {
    p.layer_resident.assign(static_cast<size_t>(p.n_layers), true);
    p.output_resident = true;
    p.resident_weight_bytes = all;
    return p;
  }

  // Output head resident if it fits beside a 2-slot ring of layer-sized buffers (then slots
  // need only hold layers); otherwise slots must also hold the head.
  uint64_t slot = max_layer;
  if (avail >= 2 * max_layer + out_bytes) {
    p.output_resident = true;
    avail -= out_bytes;
    p.resident_weight_bytes += out_bytes;
  } else {
    slot = min_slot;
  }
  p.slot_bytes = slot;
  p.ring_slots = avail >= 2 * slot ? 2 : 1;
  avail -= static_cast<uint64_t>(p.ring_slots) * slot;

  // Whole layers with what is left, spread evenly (layer i resident when the running share
  // crosses an integer), so resident compute interleaves with streamed reads.
  const int32_t fit = static_cast<int32_t>(std::min<uint64_t>(avail / std::max<uint64_t>(max_layer, 1),
                                                             static_cast<uint64_t>(p.n_layers)));
  for (int32_t k = 0; k < fit; ++k) {
    const auto i = static_cast<size_t>((static_cast<int64_t>(k) * p.n_layers + p.n_layers / 2) / fit);
    p.layer_resident[std::min(i, static_cast<size_t>(p.n_layers - 1))] = true;
  }
  for (int32_t i = 0; i < p.n_layers; ++i) {
    const uint64_t b = p.layer_spans[static_cast<size_t>(i)].bytes();
    if (p.layer_resident[static_cast<size_t>(i)]) {
      p.resident_weight_bytes += b;
    } else {
      p.streamed_bytes_per_pass += b;
    }
  }
  if (!p.output_resident) p.streamed_bytes_per_pass += out_bytes;
  // With every layer resident but the head streamed, a single slot is all that is needed.
  return p;
}

}  // namespace vigil
