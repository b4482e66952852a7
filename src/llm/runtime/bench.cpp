#include "llm/runtime/bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>

#include "base/async_reader.h"
#include "base/error.h"
#include "base/thread_pool.h"

namespace vigil {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void mean_sd(BenchResult& r) {
  double sum = 0;
  for (double v : r.samples_ts) sum += v;
  r.avg_ts = sum / static_cast<double>(r.samples_ts.size());
  double sq = 0;
  for (double v : r.samples_ts) sq += (v - r.avg_ts) * (v - r.avg_ts);
  r.stddev_ts =
      r.samples_ts.size() > 1 ? std::sqrt(sq / static_cast<double>(r.samples_ts.size() - 1)) : 0;
}

StreamStats stream_stats(const Context& ctx) {
  return ctx.streaming() != nullptr ? ctx.streaming()->stats() : StreamStats{};
}

void accumulate(StreamStats& sum, const StreamStats& a, const StreamStats& b) {
  sum.bytes_read += b.bytes_read - a.bytes_read;
  sum.io_ns += b.io_ns - a.io_ns;
  sum.stall_ns += b.stall_ns - a.stall_ns;
}

}  // namespace

double measure_disk_bandwidth(const std::string& path, unsigned queue_depth, uint64_t bytes,
                              int passes) {
  AsyncFileReader reader(path, /*direct=*/true, queue_depth, 4u << 20);
  bytes = std::min(bytes, reader.file_size()) / AsyncFileReader::kAlignment *
          AsyncFileReader::kAlignment;
  constexpr uint64_t kBuffer = 64u << 20;  // reads cycle through one 64 MiB buffer
  AlignedBuffer buf(std::min<uint64_t>(kBuffer, bytes));
  double best = 0;
  for (int p = 0; p < passes; ++p) {
    if (!reader.direct()) drop_page_cache(path);
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t off = 0; off < bytes; off += buf.size()) {
      reader.read(off, std::min<uint64_t>(buf.size(), bytes - off), buf.data());
    }
    best = std::max(best, static_cast<double>(bytes) / seconds_since(t0));
  }
  return best;
}

uint64_t weight_bytes_per_token(const Model& model) {
  const ModelWeights& w = model.weights();
  uint64_t n = w.output.bytes() + w.output_norm.bytes() + w.tok_embd.row_bytes();
  for (const auto& l : w.layers) n += l.bytes();
  return n;
}

std::vector<BenchResult> bench_model(Engine& engine, int32_t n_prompt, int32_t n_gen, int reps,
                                     int32_t n_parallel) {
  Context& ctx = engine.context();
  const int32_t n_vocab = ctx.n_vocab();
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  std::vector<BenchResult> out;
  if (n_prompt > 0) {
    BenchResult r;
    r.test = "pp" + std::to_string(n_prompt);
    r.n_prompt = n_prompt;
    r.n_threads = ctx.pool().size();
    std::vector<int32_t> ids(static_cast<size_t>(n_prompt));
    StreamStats io_sum;
    for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
      for (auto& id : ids) id = pick(rng);
      ctx.reset();
      const StreamStats before = stream_stats(ctx);
      const auto t0 = std::chrono::steady_clock::now();
      ctx.eval(ids);
      const double s = seconds_since(t0);
      if (rep >= 0) {
        r.samples_ts.push_back(n_prompt / s);
        accumulate(io_sum, before, stream_stats(ctx));
      }
    }
    mean_sd(r);
    r.streamed_bytes_per_token =
        io_sum.bytes_read / static_cast<uint64_t>(reps);  // per prompt pass
    r.stall_s_per_token = static_cast<double>(io_sum.stall_ns) / 1e9 / reps;
    r.io_s_per_token = static_cast<double>(io_sum.io_ns) / 1e9 / reps;
    out.push_back(r);
  }
  if (n_gen > 0) {
    if (n_parallel < 1 || n_parallel > ctx.n_seq()) {
      fail("--parallel {}: the context holds {} sequences", n_parallel, ctx.n_seq());
    }
    BenchResult r;
    r.test = "tg" + std::to_string(n_gen);
    r.n_gen = n_gen;
    r.n_parallel = n_parallel;
    r.n_threads = ctx.pool().size();
    r.weight_bytes_per_token = weight_bytes_per_token(engine.model());
    StreamStats io_sum;
    // N sequences each generate n_gen tokens; a step feeds one token of every sequence in one
    // pass (Context::eval_batch). Tokens/s counts all sequences' tokens.
    std::vector<int32_t> ids(static_cast<size_t>(n_parallel)), seqs(ids.size());
    for (size_t k = 0; k < seqs.size(); ++k) seqs[k] = static_cast<int32_t>(k);
    for (int rep = -1; rep < reps; ++rep) {
      ctx.reset();
      for (auto& id : ids) id = pick(rng);
      const int32_t n = rep < 0 ? std::min(n_gen, 4) : n_gen;
      const StreamStats before = stream_stats(ctx);
      const auto t0 = std::chrono::steady_clock::now();
      for (int32_t i = 0; i < n; ++i) {
        auto logits = n_parallel == 1 ? ctx.eval(std::span<const int32_t>(ids.data(), 1))
                                      : ctx.eval_batch(ids, seqs, false);
        for (size_t k = 0; k < ids.size(); ++k) {
          const float v = logits[k * static_cast<size_t>(n_vocab)];
          ids[k] = static_cast<int32_t>(
              (static_cast<uint32_t>(std::abs(v) * 1000.0f) + static_cast<uint32_t>(i)) %
              static_cast<uint32_t>(n_vocab));
        }
      }
      const double s = seconds_since(t0);
      if (rep >= 0) {
        r.samples_ts.push_back(static_cast<double>(n) * n_parallel / s);
        accumulate(io_sum, before, stream_stats(ctx));
      }
    }
    mean_sd(r);
    const auto tokens = static_cast<uint64_t>(reps) * static_cast<uint64_t>(n_gen) *
                        static_cast<uint64_t>(n_parallel);
    r.streamed_bytes_per_token = io_sum.bytes_read / tokens;
    r.stall_s_per_token = static_cast<double>(io_sum.stall_ns) / 1e9 / static_cast<double>(tokens);
    r.io_s_per_token = static_cast<double>(io_sum.io_ns) / 1e9 / static_cast<double>(tokens);
    out.push_back(r);
  }
  return out;
}

namespace {

// Sums `len` bytes at p as kStreams interleaved sequential streams, software-prefetching
// kAhead bytes ahead in each (kAhead 0: hardware prefetchers only).
template <size_t kStreams, size_t kAhead>
uint64_t read_streams(const uint64_t* p, size_t n_words) {
  using V = uint64_t __attribute__((vector_size(16)));
  constexpr size_t kWordsPerLine = 8;
  const size_t per = n_words / kStreams / kWordsPerLine * kWordsPerLine;
  V acc[kStreams] = {};
  for (size_t i = 0; i < per; i += kWordsPerLine) {
    for (size_t k = 0; k < kStreams; ++k) {
      const uint64_t* line = p + k * per + i;
      if constexpr (kAhead > 0) __builtin_prefetch(line + kAhead / sizeof(uint64_t));
      V a, b, c, d;
      std::memcpy(&a, line, 16);
      std::memcpy(&b, line + 2, 16);
      std::memcpy(&c, line + 4, 16);
      std::memcpy(&d, line + 6, 16);
      acc[k] += (a + b) + (c + d);
    }
  }
  uint64_t sum = 0;
  for (size_t k = 0; k < kStreams; ++k) sum += acc[k][0] + acc[k][1];
  return sum;
}

}  // namespace

uint64_t memory_bandwidth_buffer_bytes() {
  uint64_t bytes = 1ull << 30;
  const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (llc > 0) bytes = std::max<uint64_t>(bytes, 4 * static_cast<uint64_t>(llc));
  // Never more than a quarter of physical memory (edge devices with a large cache but little RAM).
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) {
    bytes =
        std::min<uint64_t>(bytes, static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4);
  }
  return bytes / 4096 * 4096;
}

double measure_memory_bandwidth(int n_threads, uint64_t bytes) {
  if (bytes == 0) bytes = memory_bandwidth_buffer_bytes();
  ThreadPool pool(n_threads);
  const size_t n = static_cast<size_t>(bytes / sizeof(uint64_t));
  std::unique_ptr<uint64_t[]> buf(new uint64_t[n]);
  pool.parallel_for(static_cast<int64_t>(n), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<uint64_t>(i);
  });
  // The best of several read patterns: a few streams with software prefetch (as the decode
  // kernels read) and many streams without; "memory bandwidth" is the most the cores can pull,
  // so decode efficiency is never flattered by a weak yardstick.
  using ReadFn = uint64_t (*)(const uint64_t*, size_t);
  const ReadFn patterns[] = {read_streams<8, 0>, read_streams<2, 2048>, read_streams<4, 1024>,
                             read_streams<8, 512>};
  double best = 0;
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.size()) * 8);
  for (ReadFn read : patterns) {
    for (int pass = 0; pass < 3; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.run([&](int thread, int threads) {
        const size_t b = n * static_cast<size_t>(thread) / static_cast<size_t>(threads);
        const size_t e = n * static_cast<size_t>(thread + 1) / static_cast<size_t>(threads);
        sinks[static_cast<size_t>(thread) * 8] += read(buf.get() + b, e - b);
      });
      const double s = seconds_since(t0);
      best = std::max(best, static_cast<double>(bytes) / s);
    }
  }
  volatile uint64_t keep = 0;
  for (auto v : sinks) keep = keep + v;
  return best;
}

}  // namespace vigil
