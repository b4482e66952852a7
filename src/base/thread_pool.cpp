#include "base/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VIGIL_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define VIGIL_CPU_RELAX() asm volatile("yield")
#else
#define VIGIL_CPU_RELAX() ((void)0)
#endif

namespace vigil {
namespace {
// Spin iterations before a worker sleeps: ~50-100 us on current x86, long enough to stay awake
// between the matrices of one token, short enough not to burn a core when idle.
constexpr int kSpinIterations = 20000;
}  // namespace

int ThreadPool::resolve_threads(int n_threads) {
  return n_threads > 0 ? n_threads
                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int n_threads) {
  n_threads_ = resolve_threads(n_threads);
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      VIGIL_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    while (gen == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    (*job_)(index, n_threads_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  fn(0, n_threads_);
  // Spin briefly (workers usually finish within microseconds), then sleep: on a busy machine a
  // worker may not even be scheduled yet, and spinning would take the core it needs.
  for (int spin = 0; spin < kSpinIterations / 8; ++spin) {
    if (pending_.load(std::memory_order_acquire) == 0) return;
    VIGIL_CPU_RELAX();
  }
  for (int left = pending_.load(std::memory_order_acquire); left != 0;
       left = pending_.load(std::memory_order_acquire)) {
    pending_.wait(left, std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t n_grains = (n + grain - 1) / grain;
  if (n_grains == 1) {  // one thread's work: no round trip through the workers
    fn(0, n);
    return;
  }
  run([&](int thread, int n_threads) {
    const int64_t g0 = n_grains * thread / n_threads;
    const int64_t g1 = n_grains * (thread + 1) / n_threads;
    const int64_t begin = std::min(n, g0 * grain);
    const int64_t end = std::min(n, g1 * grain);
    if (begin < end) fn(begin, end);
  });
}

}  // namespace vigil
