// A fixed pool of compute threads with a cheap fork/join. The LLM issues hundreds of small
// parallel steps per token (one per matrix), so dispatch must cost microseconds: workers spin
// briefly on a generation counter before sleeping on it (futex via std::atomic::wait).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace vigil {

class ThreadPool {
 public:
  // `n_threads` counts the calling thread: ThreadPool(2) starts one worker. 0 = hardware threads.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // The thread count ThreadPool(n_threads) would run: n_threads, or the hardware threads for 0.
  static int resolve_threads(int n_threads);

  // Runs fn(thread_index, n_threads) once on every thread (the caller is index 0) and returns
  // when all have finished. Not reentrant: call from one thread at a time.
  void run(const std::function<void(int thread, int n_threads)>& fn);

  // Splits [0, n) into contiguous chunks, one per thread, each a multiple of `grain` (except
  // the last), and calls fn(begin, end) for each non-empty chunk. When [0, n) is a single grain
  // the calling thread does it alone (decode's one-token steps skip the round trip).
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace vigil
