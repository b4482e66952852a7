#include "llm/runtime/streaming.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "base/error.h"
#include "llm/kernels/kernels.h"

namespace vigil {
namespace {

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

StreamingWeightStore::StreamingWeightStore(const Model& model, const ResidencyPlan& plan,
                                           bool direct_io,
                                           std::function<uint64_t(uint64_t, uint64_t)> fault_hook)
    : model_(model), plan_(plan) {
  reader_ = std::make_unique<AsyncFileReader>(model.path(), direct_io, /*queue_depth=*/8);
  if (fault_hook) reader_->set_fault_hook(std::move(fault_hook));
  embed_fd_ = ::open(model.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (embed_fd_ < 0) fail("{}: cannot open: {}", model.path(), std::strerror(errno));
  embed_row_buf_.resize(model.weights().tok_embd.row_bytes());

  const int32_t n = plan.n_layers;
  const uint64_t file_size = reader_->file_size();
  auto read_span = [&](const FileSpan& s, uint8_t* dst) {
    reader_->read(s.begin, std::min(s.end, file_size) - s.begin, dst);
  };
  layers_.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    if (plan.layer_resident[static_cast<size_t>(i)]) {
      const FileSpan& s = span(i);
      resident_buffers_.emplace_back(s.bytes());
      read_span(s, resident_buffers_.back().data());
      load_bytes_ += s.bytes();
      rebase_layer(i, resident_buffers_.back().data(), layers_[static_cast<size_t>(i)]);
    } else {
      cycle_.push_back(i);
    }
  }
  output_ = model.weights().output;
  if (plan.output_resident) {
    const FileSpan& s = plan.output_span;
    resident_buffers_.emplace_back(s.bytes());
    read_span(s, resident_buffers_.back().data());
    load_bytes_ += s.bytes();
    output_.data = resident_buffers_.back().data() + (output_.file_offset - s.begin);
  } else {
    cycle_.push_back(n);
  }
  if (!cycle_.empty()) {
    slots_.resize(static_cast<size_t>(std::max(1, plan.ring_slots)));
    for (auto& slot : slots_) slot.buffer = AlignedBuffer(plan.slot_bytes);
    reader_thread_ = std::thread([this] { reader_loop(); });
  }
}

StreamingWeightStore::~StreamingWeightStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reader_thread_.joinable()) reader_thread_.join();
  if (embed_fd_ >= 0) ::close(embed_fd_);
}

const FileSpan& StreamingWeightStore::span(int32_t id) const {
  return id == plan_.n_layers ? plan_.output_span : plan_.layer_spans[static_cast<size_t>(id)];
}

void StreamingWeightStore::rebase_layer(int32_t id, const uint8_t* base, LayerWeights& out) const {
  out = model_.weights().layers[static_cast<size_t>(id)];
  const uint64_t begin = span(id).begin;
  for (Tensor* t : {&out.attn_norm, &out.wq, &out.wk, &out.wv, &out.wqkv, &out.bq, &out.bk, &out.bv,
                    &out.wo, &out.ffn_norm, &out.w_gate, &out.w_up, &out.w_gate_up, &out.w_down}) {
    if (t->present()) t->data = base + (t->file_offset - begin);
  }
}

void StreamingWeightStore::reader_loop() {
  const uint64_t file_size = [&] {
    try {
      return reader_->file_size();
    } catch (...) {
      return uint64_t{0};
    }
  }();
  for (;;) {
    Slot* slot = nullptr;
    int32_t id = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // The slot for read number k is k % ring size; wait until the consumer freed it.
      cv_.wait(lock, [&] {
        return stop_ || slots_[next_read_ % slots_.size()].state == SlotState::Free;
      });
      if (stop_) return;
      slot = &slots_[next_read_ % slots_.size()];
      id = cycle_[next_read_ % cycle_.size()];
      slot->state = SlotState::Loading;
      slot->id = id;
    }
    const FileSpan& s = span(id);
    const uint64_t t0 = now_ns();
    try {
      if (s.begin >= file_size) {
        fail(
            "{}: layer data at offset {} lies past the end of the file ({} bytes; truncated "
            "after load?)",
            model_.path(), s.begin, file_size);
      }
      reader_->read(s.begin, std::min(s.end, file_size) - s.begin, slot->buffer.data());
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    io_ns_ += now_ns() - t0;
    bytes_read_ += s.bytes();
    layers_streamed_ += 1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot->state = SlotState::Ready;
      ++next_read_;
    }
    cv_.notify_all();
  }
}

StreamingWeightStore::Slot& StreamingWeightStore::wait_ready(int32_t id) {
  const uint64_t t0 = now_ns();
  std::unique_lock<std::mutex> lock(mu_);
  Slot& slot = slots_[next_consume_ % slots_.size()];
  const int32_t expected = cycle_[next_consume_ % cycle_.size()];
  if (expected != id) {
    fail("layer stream out of order: the forward pass asked for {} but {} is next (internal error)",
         id, expected);
  }
  cv_.wait(lock, [&] { return error_ != nullptr || slot.state == SlotState::Ready; });
  if (error_) std::rethrow_exception(error_);
  slot.state = SlotState::InUse;
  stall_ns_ += now_ns() - t0;
  return slot;
}

void StreamingWeightStore::finish(int32_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& slot = slots_[next_consume_ % slots_.size()];
    if (slot.id != id || slot.state != SlotState::InUse) {
      fail("layer stream: release of {} without acquire (internal error)", id);
    }
    slot.state = SlotState::Free;
    ++next_consume_;
  }
  cv_.notify_all();
}

double StreamingWeightStore::measure_read_bandwidth(int passes) {
  double best = 0;
  if (cycle_.empty()) return 0;  // everything resident: nothing to read
  for (int p = 0; p < passes; ++p) {
    const uint64_t b0 = bytes_read_.load();
    const uint64_t t0 = now_ns();
    for (int32_t layer = 0; layer < plan_.n_layers; ++layer) {
      acquire(layer);
      release(layer);
    }
    acquire_output();
    release_output();
    const uint64_t ns = now_ns() - t0;
    // Bytes the reader finished inside the window (it runs ahead by up to the ring's slots at
    // both ends, so this is its throughput, not the pass's size).
    const uint64_t bytes = bytes_read_.load() - b0;
    if (ns > 0) best = std::max(best, static_cast<double>(bytes) * 1e9 / static_cast<double>(ns));
  }
  return best;
}

const LayerWeights& StreamingWeightStore::acquire(int32_t layer) {
  if (plan_.layer_resident[static_cast<size_t>(layer)]) return layers_[static_cast<size_t>(layer)];
  Slot& slot = wait_ready(layer);
  rebase_layer(layer, slot.buffer.data(), layers_[static_cast<size_t>(layer)]);
  return layers_[static_cast<size_t>(layer)];
}

void StreamingWeightStore::release(int32_t layer) {
  if (!plan_.layer_resident[static_cast<size_t>(layer)]) finish(layer);
}

const Tensor& StreamingWeightStore::acquire_output() {
  if (plan_.output_resident) return output_;
  Slot& slot = wait_ready(plan_.n_layers);
  output_.data = slot.buffer.data() + (output_.file_offset - plan_.output_span.begin);
  return output_;
}

void StreamingWeightStore::release_output() {
  if (!plan_.output_resident) finish(plan_.n_layers);
  passes_ += 1;
}

namespace {
void pread_exact(int fd, uint8_t* dst, uint64_t bytes, uint64_t offset, const std::string& path,
                 const std::string& what) {
  uint64_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, dst + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail("{}: cannot read {} at offset {}: {}", path, what, offset + done,
           n < 0 ? std::strerror(errno) : "file truncated");
    }
    done += static_cast<uint64_t>(n);
  }
}
}  // namespace

void StreamingWeightStore::embed_row(int32_t id, float* out) {
  // Token embeddings are never loaded whole: read the one row (buffered; rows are small).
  const Tensor& e = model_.weights().tok_embd;
  const uint64_t rb = e.row_bytes();
  pread_exact(embed_fd_, embed_row_buf_.data(), rb, e.file_offset + static_cast<uint64_t>(id) * rb,
              model_.path(), "embedding row " + std::to_string(id));
  kernels::dequantize_row(e.type, embed_row_buf_.data(), out, e.cols);
}

std::vector<float> StreamingWeightStore::small_tensor_f32(const Tensor& t) {
  std::vector<float> out;
  if (!t.present()) return out;
  std::vector<uint8_t> raw(t.bytes());
  pread_exact(embed_fd_, raw.data(), raw.size(), t.file_offset, model_.path(),
              "tensor '" + t.name + "'");
  out.resize(static_cast<size_t>(t.cols * t.rows));
  for (int64_t r = 0; r < t.rows; ++r) {
    kernels::dequantize_row(t.type, raw.data() + static_cast<uint64_t>(r) * t.row_bytes(),
                            out.data() + r * t.cols, t.cols);
  }
  return out;
}

StreamStats StreamingWeightStore::stats() const {
  StreamStats s;
  s.bytes_read = bytes_read_.load();
  s.load_bytes = load_bytes_;
  s.io_ns = io_ns_.load();
  s.stall_ns = stall_ns_.load();
  s.layers_streamed = layers_streamed_.load();
  s.passes = passes_.load();
  return s;
}

}  // namespace vigil
