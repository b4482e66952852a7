// The LLM scheduler: the one thread that owns the Engine. HTTP threads submit() requests and
// read each one's text as it is generated; the scheduler takes up to `max_batch` waiting
// requests at a time and decodes them together with Engine::generate_batch (one pass over the
// weights per step for all of them), or with Engine::generate when only one waits.
//
//   auto job = scheduler.submit(request);          // throws Overloaded when the queue is full
//   std::string text;
//   while (!job->next(&text, 200ms)) send(text);   // pieces as they come
//   send(text); job->result();                      // the rest, then the totals
//
// A job is cancelled by job->cancel() (client gone): a waiting job is dropped, a running one
// stops at its next piece while the rest of its batch goes on. A batch runs to its end before
// the next one starts (the engine cannot add sequences to a running batch), so a long request
// delays those queued behind it; max_tokens limits bound that delay.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "llm/engine.h"
#include "server/metrics.h"

namespace vigil::server {

// The queue is full or the scheduler is stopping (HTTP 503).
class Overloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Job {
 public:
  explicit Job(GenerateRequest request) : request_(std::move(request)) {}

  // HTTP side. Waits up to `timeout` for more text or the end; appends the new text to `*text`.
  // Returns true once the job has ended and all of its text was handed out.
  bool next(std::string* text, std::chrono::milliseconds timeout);
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Valid once next() returned true.
  const GenerateResult& result() const { return result_; }
  const std::string& error() const { return error_; }  // "" unless the engine threw
  const GenerateRequest& request() const { return request_; }

  // Scheduler side.
  bool add_piece(std::string_view piece);  // false when cancelled
  void finish(GenerateResult result);
  void fail(std::string message);

  std::chrono::steady_clock::time_point submitted{};

 private:
  GenerateRequest request_;
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;  // generated, not yet taken by next()
  bool done_ = false;
  GenerateResult result_;
  std::string error_;
};

struct SchedulerOptions {
  size_t max_queue = 64;  // waiting requests; more are refused (Overloaded)
  int max_batch = 0;      // requests decoded together; 0 = the engine's n_seq
};

struct SchedulerStats {
  size_t queue_depth = 0;  // waiting
  size_t running = 0;      // in the current batch
  uint64_t completed = 0;  // finished (any stop reason but cancelled)
  uint64_t cancelled = 0;
  uint64_t failed = 0;          // the engine threw
  uint64_t rejected = 0;        // refused with Overloaded
  size_t queued_cancelled = 0;  // waiting, but already cancelled (dropped when reached)
  uint64_t batches = 0;
  uint64_t batched_requests = 0;  // requests that ran in a batch of two or more
  uint64_t max_batch_seen = 0;
  uint64_t prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  double tokens_per_s = 0;  // generated tokens / decode wall time of the last batch
};

class Scheduler {
 public:
  Scheduler(Engine& engine, SchedulerOptions options);
  ~Scheduler();  // stop(0)
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request (prompt_ids should be set: the HTTP layer tokenizes and checks lengths).
  std::shared_ptr<Job> submit(GenerateRequest request);

  // Refuses new work, lets queued and running jobs finish for up to `drain_s` seconds, then
  // cancels what is left and joins the thread. Idempotent.
  void stop(double drain_s);

  SchedulerStats stats() const;

  // While paused no new batch starts (the running one goes on); requests queue up. For
  // maintenance and for tests that need a known batch.
  void pause();
  void resume();
  int max_batch() const { return max_batch_; }
  Engine& engine() { return engine_; }

  // Latency histograms (seconds): queue wait, time to first piece, whole request.
  Histogram queue_wait{Histogram::latency_buckets()};
  Histogram first_token{Histogram::latency_buckets()};
  Histogram total{Histogram::latency_buckets()};

 private:
  void run();
  void run_batch(std::vector<std::shared_ptr<Job>>& batch);

  Engine& engine_;
  const SchedulerOptions options_;
  const int max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  bool paused_ = false;
  std::atomic<bool> cancel_all_{false};  // set by stop() after the drain
  SchedulerStats stats_;
  std::thread thread_;
};

}  // namespace vigil::server
