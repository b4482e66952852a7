// Layer streaming: a WeightStore that keeps the planned layers in memory and reads the others
// from the GGUF file as the forward pass reaches them. A reader thread walks the streamed layers
// in forward order, cyclically (the next pass's first layer loads while this pass finishes), into
// a ring of prefetch buffers; acquire(i) waits for layer i, release(i) hands its buffer back.
// Nothing is allocated per token; kernels run on the bytes as read.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/async_reader.h"
#include "llm/runtime/residency.h"
#include "llm/runtime/weight_store.h"

namespace vigil {

// Counters since construction (or reset()). Times in nanoseconds.
struct StreamStats {
  uint64_t bytes_read = 0;  // streamed bytes read by the reader thread
  uint64_t load_bytes = 0;  // resident bytes read at start-up
  uint64_t io_ns = 0;       // reader thread time inside reads
  uint64_t stall_ns = 0;    // compute time spent waiting in acquire()
  uint64_t layers_streamed = 0;
  uint64_t passes = 0;  // forward passes completed (output head released)
};

class StreamingWeightStore final : public WeightStore {
 public:
  // `fault_hook` (tests): see AsyncFileReader::set_fault_hook; installed before any read.
  StreamingWeightStore(const Model& model, const ResidencyPlan& plan, bool direct_io = true,
                       std::function<uint64_t(uint64_t, uint64_t)> fault_hook = {});
  ~StreamingWeightStore() override;

  const LayerWeights& acquire(int32_t layer) override;
  void release(int32_t layer) override;
  const Tensor& output_norm() override { return model_.weights().output_norm; }
  const Tensor& acquire_output() override;
  void release_output() override;
  void embed_row(int32_t id, float* out) override;
  // Read with pread, not through the file mapping, so no page cache is charged to the budget.
  std::vector<float> small_tensor_f32(const Tensor& t) override;

  const ResidencyPlan& plan() const { return plan_; }
  StreamStats stats() const;

  // Storage bandwidth for exactly what decode streams: `passes` whole cycles of acquire/release
  // over the streamed layers and head with no compute between them (bytes/s, best pass). The
  // bound of a streamed token is its streamed bytes over this figure. Call between forward
  // passes only (it leaves the ring where a pass starts). The bytes count in stats() as usual.
  double measure_read_bandwidth(int passes = 2);
  bool direct_io() const { return reader_->direct(); }
  bool uses_io_uring() const { return reader_->uses_io_uring(); }

 private:
  enum class SlotState { Free, Loading, Ready, InUse };
  struct Slot {
    AlignedBuffer buffer;
    SlotState state = SlotState::Free;
    int32_t id = -1;  // layer index, or n_layers for the output head
  };

  void reader_loop();
  // Views of layer `id`'s tensors over a buffer holding its file span.
  void rebase_layer(int32_t id, const uint8_t* base, LayerWeights& out) const;
  const FileSpan& span(int32_t id) const;
  Slot& wait_ready(int32_t id);
  void finish(int32_t id);

  const Model& model_;
  ResidencyPlan plan_;
  std::unique_ptr<AsyncFileReader> reader_;
  int embed_fd_ = -1;
  std::vector<uint8_t> embed_row_buf_;

  std::vector<AlignedBuffer> resident_buffers_;
  std::vector<LayerWeights> layers_;  // resident views, or the view of the current slot
  Tensor output_;
  std::vector<int32_t> cycle_;  // streamed ids in forward order

  std::vector<Slot> slots_;
  uint64_t next_read_ = 0;     // reader position in the endless cycle
  uint64_t next_consume_ = 0;  // consumer position
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread reader_thread_;

  std::atomic<uint64_t> bytes_read_{0}, io_ns_{0}, stall_ns_{0}, layers_streamed_{0}, passes_{0};
  uint64_t load_bytes_ = 0;
};

}  // namespace vigil
