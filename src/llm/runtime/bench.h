// Benchmarks in llama-bench's style: prompt processing (pp) and token generation (tg) speed of a
// model, and the machine's memory read bandwidth, the bound of memory-bound decode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llm/engine.h"

namespace vigil {

struct BenchResult {
  std::string test;     // "pp512", "tg128"
  int32_t n_prompt = 0;
  int32_t n_gen = 0;
  int n_threads = 0;
  double avg_ts = 0;    // tokens per second, mean over repetitions
  double stddev_ts = 0;
  std::vector<double> samples_ts;
  uint64_t weight_bytes_per_token = 0;  // tg: bytes of weights read per generated token
};

// Runs pp (n_prompt tokens in one batch) and/or tg (n_gen tokens one at a time) `reps` times
// after one warm-up each. n_prompt or n_gen 0 skips that test.
std::vector<BenchResult> bench_model(Engine& engine, int32_t n_prompt, int32_t n_gen, int reps);

// Bytes of weights a decode step reads: every layer, the output head and norms, one embedding row.
uint64_t weight_bytes_per_token(const Model& model);

// Measured memory read bandwidth in bytes/s, streaming `bytes` with `n_threads` threads
// (best of a few passes).
double measure_memory_bandwidth(int n_threads, uint64_t bytes = 1ull << 30);

}  // namespace vigil
