// Benchmarks in llama-bench's style: prompt processing (pp) and token generation (tg) speed of a
// model, and the machine's memory read bandwidth, the bound of memory-bound decode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llm/engine.h"

namespace vigil {

struct BenchResult {
  std::string test;  // "pp512", "tg128"
  int32_t n_prompt = 0;
  int32_t n_gen = 0;
  int n_threads = 0;
  int32_t n_parallel = 1;  // tg: sequences decoded together (tokens/s counts all of them)
  double avg_ts = 0;       // tokens per second, mean over repetitions
  double stddev_ts = 0;
  std::vector<double> samples_ts;
  uint64_t weight_bytes_per_token = 0;  // tg: bytes of weights read per generated token
  // Streaming (a memory budget is set): storage bytes read per token or per prompt pass, and
  // the mean time the compute thread stalled waiting for layers, per token (s).
  uint64_t streamed_bytes_per_token = 0;
  double stall_s_per_token = 0;
  double io_s_per_token = 0;
};

// Runs pp (n_prompt tokens in one batch) and/or tg (n_gen tokens one at a time) `reps` times
// after one warm-up each. n_prompt or n_gen 0 skips that test. With n_parallel > 1 (the engine
// opened with n_seq >= n_parallel), tg decodes n_parallel sequences together, one token of each
// per pass over the weights.
std::vector<BenchResult> bench_model(Engine& engine, int32_t n_prompt, int32_t n_gen, int reps,
                                     int32_t n_parallel = 1);

// Bytes of weights a decode step reads: every layer, the output head and norms, one embedding row.
uint64_t weight_bytes_per_token(const Model& model);

// Sequential O_DIRECT read bandwidth of `path` in bytes/s: `bytes` from the start of the file
// (at most its size) in 4 MiB reads with `queue_depth` in flight, best of `passes`.
double measure_disk_bandwidth(const std::string& path, unsigned queue_depth, uint64_t bytes,
                              int passes = 2);

// Measured memory read bandwidth in bytes/s, streaming `bytes` with `n_threads` threads
// (best of a few passes). bytes = 0 picks memory_bandwidth_buffer_bytes().
double measure_memory_bandwidth(int n_threads, uint64_t bytes = 0);

// Buffer size for measure_memory_bandwidth: 1 GiB, or 4x the last-level cache when that is
// larger (some VMs report a 512 MiB L3; a buffer that half fits would measure the cache).
uint64_t memory_bandwidth_buffer_bytes();

}  // namespace vigil
