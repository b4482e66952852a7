// Micro-benchmarks of the CPU kernels.
//
//   bench_kernels [--benchmark_filter=...]        (Google Benchmark flags)
//
// * MemRead: sequential read bandwidth (with software prefetch) of a buffer much larger than the
//   last-level cache; the yardstick for the memory-bound decode path.
// * Matvec/<type>/<isa>/threads:N: y = W x for a 7B-shaped matrix (11008 rows of 4096 values,
//   llama-7B's ffn_up / ffn_gate), cycling through enough copies of W that every call streams
//   it from DRAM. Counter "GB/s" = weight bytes read per second.
// * Matmul/<type>/<isa>/tokens:T/threads:N: Y = W X for T tokens (prefill). "GFLOP/s" counts
//   2 * rows * cols * tokens.
// * Quantize/Dequantize: activation quantization and row dequantization throughput.
// Multi-threaded variants split the rows with vigil::ThreadPool, as the engine does.
//
// Timing: the development machine is shared, so a benchmark thread is often preempted. Matvec,
// Matmul and MemRead therefore time each matrix in short row chunks (well under a scheduler time
// slice) and report median(chunk time) x chunks as the iteration time: preempted chunks are
// outliers that the median ignores. On an idle machine this equals the plain wall time.
// VIGIL_BENCH_STAT=min reports the fastest chunk instead (see chunked_seconds).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "llm/kernels/kernels.h"
#include "llm/quant/blocks.h"
#include "llm/quant/types.h"

namespace {

using vigil::GgmlType;
namespace kernels = vigil::kernels;

constexpr int64_t kRows = 11008;
constexpr int64_t kCols = 4096;
constexpr size_t kStreamBytes = size_t{1} << 30;  // >> last-level cache

// 64-byte aligned, untouched-by-default storage.
struct Buffer {
  explicit Buffer(size_t n) : size(n) {
    raw.reset(new uint8_t[n + 64]);
    data = raw.get() + (64 - reinterpret_cast<uintptr_t>(raw.get()) % 64) % 64;
  }
  std::unique_ptr<uint8_t[]> raw;
  uint8_t* data;
  size_t size;
};

uint64_t next_random(uint64_t& s) {  // xorshift64*
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * 2685821657736338717ull;
}

void put_half(uint8_t* p, float v) {
  const uint16_t h = vigil::quant::fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// Random weights of `type`: random quant bytes, sane scales (so no NaN/inf in the arithmetic).
void fill_weights(GgmlType type, uint8_t* data, size_t bytes, uint64_t seed) {
  uint64_t s = seed | 1;
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    const uint64_t r = next_random(s);
    std::memcpy(data + i, &r, 8);
  }
  const auto& t = vigil::ggml_traits(type);
  for (size_t off = 0; off + t.block_bytes <= bytes; off += t.block_bytes) {
    uint8_t* b = data + off;
    const float v = 0.001f + static_cast<float>(next_random(s) % 1000) * 1e-5f;
    switch (type) {
      case GgmlType::F32:
        std::memcpy(b, &v, 4);
        break;
      case GgmlType::F16:
        put_half(b, v);
        break;
      case GgmlType::BF16: {
        const uint16_t h = vigil::quant::fp32_to_bf16(v);
        std::memcpy(b, &h, 2);
        break;
      }
      case GgmlType::Q6_K:
        put_half(b + 208, v);
        break;
      case GgmlType::Q4_1:
      case GgmlType::Q5_1:
      case GgmlType::Q4_K:
      case GgmlType::Q5_K:
        put_half(b, v);
        put_half(b + 2, v);
        break;
      default:
        put_half(b, v);
        break;
    }
  }
}

std::vector<float> random_activations(int64_t n, uint64_t seed) {
  std::vector<float> x(static_cast<size_t>(n));
  uint64_t s = seed | 1;
  for (auto& v : x)
    v = static_cast<float>(static_cast<int64_t>(next_random(s) % 2001) - 1000) / 500.f;
  return x;
}

// Quantized activations for n_tokens rows, 64-byte strided.
struct Activations {
  Activations(GgmlType act_type, int64_t n, int64_t n_tokens)
      : stride((kernels::activation_bytes(act_type, n) + 63) / 64 * 64),
        buf(stride * static_cast<size_t>(n_tokens)) {
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto x = random_activations(n, 1234 + static_cast<uint64_t>(t));
      kernels::quantize_activations(act_type, x.data(), buf.data + t * stride, n);
    }
  }
  size_t stride;
  Buffer buf;
};

vigil::ThreadPool& pool(int n_threads) {
  static vigil::ThreadPool pool1(1), pool2(2);
  return n_threads == 1 ? pool1 : pool2;
}

// Runs fn(chunk) for chunk in [0, n_chunks), timing each; returns the median chunk time times
// n_chunks (seconds). See "Timing" at the top. With VIGIL_BENCH_STAT=min it uses the fastest
// chunk instead: on a machine too busy for two benchmark threads to run at the same time for most
// of a chunk, that is the only estimate of an undisturbed multi-threaded run (an optimistic one).
template <typename Fn>
double chunked_seconds(int64_t n_chunks, const Fn& fn) {
  static const bool use_min = [] {
    const char* s = std::getenv("VIGIL_BENCH_STAT");
    return s != nullptr && std::string(s) == "min";
  }();
  std::vector<double> t(static_cast<size_t>(n_chunks));
  for (int64_t c = 0; c < n_chunks; ++c) {
    const auto start = std::chrono::steady_clock::now();
    fn(c);
    t[c] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const auto pick = use_min ? t.begin() : t.begin() + n_chunks / 2;
  std::nth_element(t.begin(), pick, t.end());
  return *pick * static_cast<double>(n_chunks);
}

void BM_MemRead(benchmark::State& state) {
  static Buffer buf(kStreamBytes);
  static bool filled = false;
  if (!filled) {
    std::memset(buf.data, 1, buf.size);
    filled = true;
  }
  const int n_threads = static_cast<int>(state.range(0));
  constexpr int64_t kChunk = 4 << 20;  // bytes
  const int64_t n_chunks = static_cast<int64_t>(buf.size) / kChunk;
  uint64_t sums[2] = {0, 0};
  for (auto _ : state) {
    state.SetIterationTime(chunked_seconds(n_chunks, [&](int64_t c) {
      const auto* p = reinterpret_cast<const uint64_t*>(buf.data + c * kChunk);
      pool(n_threads).parallel_for(kChunk / 64, 64, [&](int64_t begin, int64_t end) {
        uint64_t a = 0, b = 0, cc = 0, d = 0;
        for (int64_t i = begin * 8; i < end * 8; i += 8) {
          // Prefetch 1 KiB ahead, as the matvec kernels do, so this is a fair yardstick.
          __builtin_prefetch(p + i + 128);
          a += p[i] + p[i + 4];
          b += p[i + 1] + p[i + 5];
          cc += p[i + 2] + p[i + 6];
          d += p[i + 3] + p[i + 7];
        }
        sums[begin == 0 ? 0 : 1] += a + b + cc + d;
      });
    }));
    benchmark::DoNotOptimize(sums);
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(buf.size) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// The streamed weights of the last type benchmarked (1 GiB; kept across repetitions and ISAs).
const Buffer& streamed_weights(GgmlType type, size_t bytes) {
  static std::unique_ptr<Buffer> buf;
  static GgmlType buf_type = GgmlType::F32;
  if (!buf || buf_type != type || buf->size != bytes) {
    buf.reset();
    buf = std::make_unique<Buffer>(bytes);
    fill_weights(type, buf->data, buf->size, 42);
    buf_type = type;
  }
  return *buf;
}

void BM_Matvec(benchmark::State& state, GgmlType type, kernels::Isa isa) {
  const int n_threads = static_cast<int>(state.range(0));
  const auto& dot = kernels::kernel_table(isa).dot(type);
  const size_t row_bytes = vigil::ggml_row_bytes(type, kCols);
  const size_t matrix_bytes = row_bytes * kRows;
  const size_t copies = (kStreamBytes + matrix_bytes - 1) / matrix_bytes;
  const Buffer& w = streamed_weights(type, matrix_bytes * copies);
  Activations x(dot.act_type, kCols, 1);
  std::vector<float> y(kRows);
  constexpr int64_t kChunkRows = 688;  // 16 chunks; ~1.5 MB of Q4_0
  size_t copy = 0;
  for (auto _ : state) {
    const uint8_t* wc = w.data + copy * matrix_bytes;
    state.SetIterationTime(chunked_seconds(kRows / kChunkRows, [&](int64_t c) {
      pool(n_threads).parallel_for(kChunkRows, 4, [&](int64_t begin, int64_t end) {
        const int64_t r0 = c * kChunkRows;
        dot.matvec(wc, row_bytes, kCols, r0 + begin, r0 + end, x.buf.data, y.data());
      });
    }));
    benchmark::DoNotOptimize(y.data());
    copy = (copy + 1) % copies;
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(matrix_bytes) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["Gop/s"] =
      benchmark::Counter(2.0 * kRows * kCols * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The same matvec on 256 rows that stay in the core's L2 cache: the kernel's compute ceiling. When
// Matvec (DRAM) is well below this, decode is bandwidth-bound; when close, the kernel is the limit.
void BM_MatvecCached(benchmark::State& state, GgmlType type, kernels::Isa isa) {
  constexpr int64_t kCachedRows = 256;
  const auto& dot = kernels::kernel_table(isa).dot(type);
  const size_t row_bytes = vigil::ggml_row_bytes(type, kCols);
  Buffer w(row_bytes * kCachedRows);
  fill_weights(type, w.data, w.size, 45);
  Activations x(dot.act_type, kCols, 1);
  std::vector<float> y(kCachedRows);
  for (auto _ : state) {
    dot.matvec(w.data, row_bytes, kCols, 0, kCachedRows, x.buf.data, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.size) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Matmul(benchmark::State& state, GgmlType type, kernels::Isa isa) {
  const int64_t n_tokens = state.range(0);
  const int n_threads = static_cast<int>(state.range(1));
  const auto& dot = kernels::kernel_table(isa).dot(type);
  const size_t row_bytes = vigil::ggml_row_bytes(type, kCols);
  Buffer w(row_bytes * kRows);
  fill_weights(type, w.data, w.size, 43);
  Activations x(dot.act_type, kCols, n_tokens);
  std::vector<float> y(static_cast<size_t>(kRows * n_tokens));
  constexpr int64_t kChunkRows = 64;  // 172 chunks
  for (auto _ : state) {
    state.SetIterationTime(chunked_seconds(kRows / kChunkRows, [&](int64_t c) {
      pool(n_threads).parallel_for(kChunkRows, 4, [&](int64_t begin, int64_t end) {
        const int64_t r0 = c * kChunkRows;
        dot.matmul(w.data, row_bytes, kCols, r0 + begin, r0 + end, x.buf.data, x.stride, n_tokens,
                   y.data(), kRows);
      });
    }));
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols * static_cast<double>(n_tokens) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Quantize(benchmark::State& state, GgmlType act_type) {
  const auto x = random_activations(kCols, 7);
  Buffer out(kernels::activation_bytes(act_type, kCols));
  for (auto _ : state) {
    kernels::quantize_activations(act_type, x.data(), out.data, kCols);
    benchmark::DoNotOptimize(out.data);
  }
  state.counters["Gvalues/s"] = benchmark::Counter(static_cast<double>(kCols) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Dequantize(benchmark::State& state, GgmlType type, kernels::Isa isa) {
  const auto& table = kernels::kernel_table(isa);
  Buffer w(vigil::ggml_row_bytes(type, kCols));
  fill_weights(type, w.data, w.size, 44);
  std::vector<float> y(kCols);
  for (auto _ : state) {
    table.dequantize_row(type, w.data, y.data(), kCols);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["Gvalues/s"] = benchmark::Counter(static_cast<double>(kCols) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K,
                            GgmlType::Q5_K, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                            GgmlType::F16,  GgmlType::BF16, GgmlType::F32};
  std::vector<kernels::Isa> isas;
  for (auto isa :
       {kernels::Isa::Avx512, kernels::Isa::Avx2, kernels::Isa::Neon, kernels::Isa::Scalar}) {
    if (kernels::isa_available(isa)) isas.push_back(isa);
  }
  benchmark::RegisterBenchmark("MemRead", BM_MemRead)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (GgmlType type : types) {  // type-major, so the streamed weights are filled once per type
    const std::string tn = std::string(vigil::ggml_type_name(type));
    for (auto isa : isas) {
      const std::string in = std::string(kernels::isa_name(isa));
      auto* b =
          benchmark::RegisterBenchmark(("Matvec/" + tn + "/" + in).c_str(), BM_Matvec, type, isa);
      b->ArgName("threads")->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond);
      if (type == GgmlType::Q4_0 || type == GgmlType::Q8_0) b->Arg(2);
      if (isa == kernels::Isa::Scalar) b->Iterations(3);
      if (isa != kernels::Isa::Scalar) {
        benchmark::RegisterBenchmark(("MatvecCached/" + tn + "/" + in).c_str(), BM_MatvecCached,
                                     type, isa);
      }
    }
  }
  for (auto isa : isas) {
    const std::string in = std::string(kernels::isa_name(isa));
    for (GgmlType type : types) {
      const std::string tn = std::string(vigil::ggml_type_name(type));
      auto* b =
          benchmark::RegisterBenchmark(("Matmul/" + tn + "/" + in).c_str(), BM_Matmul, type, isa);
      b->ArgNames({"tokens", "threads"})->UseManualTime()->Unit(benchmark::kMillisecond);
      if (isa == kernels::Isa::Scalar) {
        b->Args({8, 1})->Iterations(1);
      } else {
        b->Args({64, 1});
        if (type == GgmlType::Q4_0 || type == GgmlType::Q8_0 || type == GgmlType::Q4_K) {
          b->Args({64, 2})->Args({8, 1})->Args({16, 1});
        }
      }
    }
    for (GgmlType type :
         {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16}) {
      const std::string tn = std::string(vigil::ggml_type_name(type));
      benchmark::RegisterBenchmark(("Dequantize/" + tn + "/" + in).c_str(), BM_Dequantize, type,
                                   isa);
    }
  }
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16}) {
    benchmark::RegisterBenchmark(("Quantize/" + std::string(vigil::ggml_type_name(act))).c_str(),
                                 BM_Quantize, act);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
