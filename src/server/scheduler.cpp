#include "server/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::server {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

bool Job::next(std::string* text, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return done_ || !pending_.empty(); });
  text->append(pending_);
  pending_.clear();
  return done_;
}

bool Job::add_piece(std::string_view piece) {
  if (cancelled()) return false;
  {
    std::lock_guard lock(mutex_);
    pending_.append(piece);
  }
  cv_.notify_all();
  return true;
}

void Job::finish(GenerateResult result) {
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
    done_ = true;
  }
  cv_.notify_all();
}

void Job::fail(std::string message) {
  {
    std::lock_guard lock(mutex_);
    error_ = std::move(message);
    result_.stop_reason = "error";
    done_ = true;
  }
  cv_.notify_all();
}

Scheduler::Scheduler(Engine& engine, SchedulerOptions options)
    : engine_(engine),
      options_(options),
      max_batch_(std::max(1, options.max_batch > 0
                                 ? std::min(options.max_batch, engine.context().n_seq())
                                 : engine.context().n_seq())) {
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  stop(0);
}

std::shared_ptr<Job> Scheduler::submit(GenerateRequest request) {
  auto job = std::make_shared<Job>(std::move(request));
  job->submitted = Clock::now();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ++stats_.rejected;
      throw Overloaded("the server is shutting down");
    }
    if (queue_.size() >= options_.max_queue) {
      ++stats_.rejected;
      throw Overloaded("too many requests are waiting for the model (" +
                       std::to_string(queue_.size()) + "); retry later");
    }
    queue_.push_back(job);
  }
  cv_.notify_all();
  return job;
}

void Scheduler::stop(double drain_s) {
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  // Drain: wait for the queue to empty and the running batch to end, up to drain_s.
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(drain_s));
  {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return queue_.empty() && stats_.running == 0; });
    cancel_all_ = true;
    for (auto& job : queue_) job->cancel();
  }
  engine_.cancel();  // the running batch, if any, stops at its next step
  cv_.notify_all();
  thread_.join();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mutex_);
  SchedulerStats s = stats_;
  s.queue_depth = queue_.size();
  for (const auto& job : queue_) s.queued_cancelled += job->cancelled() ? 1 : 0;
  return s;
}

void Scheduler::pause() {
  std::lock_guard lock(mutex_);
  paused_ = true;
}

void Scheduler::resume() {
  {
    std::lock_guard lock(mutex_);
    paused_ = false;
  }
  cv_.notify_all();
}

void Scheduler::run() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> batch;
    {
      std::unique_lock lock(mutex_);
      // A stop overrides a pause, so shutdown never waits on a paused scheduler.
      cv_.wait(lock, [&] { return (!queue_.empty() && !paused_) || stopping_; });
      if (queue_.empty() && stopping_) break;
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        std::shared_ptr<Job> job = std::move(queue_.front());
        queue_.pop_front();
        if (job->cancelled() || cancel_all_.load()) {
          GenerateResult r;
          r.stop_reason = "cancelled";
          job->finish(std::move(r));
          ++stats_.cancelled;
          continue;
        }
        batch.push_back(std::move(job));
      }
      stats_.running = batch.size();
    }
    if (!batch.empty()) run_batch(batch);
    {
      std::lock_guard lock(mutex_);
      stats_.running = 0;
    }
    cv_.notify_all();  // stop() may be waiting for the drain
  }
  // Anything left (submitted before stopping_ but after the last wait) is cancelled.
  std::lock_guard lock(mutex_);
  for (auto& job : queue_) {
    GenerateResult r;
    r.stop_reason = "cancelled";
    job->finish(std::move(r));
    ++stats_.cancelled;
  }
  queue_.clear();
}

void Scheduler::run_batch(std::vector<std::shared_ptr<Job>>& batch) {
  const auto t_start = Clock::now();
  for (const auto& job : batch) queue_wait.observe(seconds_between(job->submitted, t_start));
  std::vector<bool> first_seen(batch.size(), false);
  auto on_piece = [&](size_t i, std::string_view piece) {
    if (!first_seen[i]) {
      first_seen[i] = true;
      first_token.observe(seconds_between(batch[i]->submitted, Clock::now()));
    }
    // cancel_all_ also covers a stop() that raced with the engine resetting its cancel flag.
    return batch[i]->add_piece(piece) && !cancel_all_.load();
  };
  std::vector<GenerateResult> results;
  std::string error;
  try {
    if (batch.size() == 1) {
      results.push_back(engine_.generate(
          batch[0]->request(), [&](std::string_view piece) { return on_piece(0, piece); }));
    } else {
      std::vector<GenerateRequest> requests;
      requests.reserve(batch.size());
      for (const auto& job : batch) requests.push_back(job->request());
      results = engine_.generate_batch(requests, on_piece);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty() && batch.size() > 1) {
    // One request's fault must not fail the others: run each alone.
    spdlog::warn("server: a batch of {} failed ({}); running its requests one by one", batch.size(),
                 error);
    for (auto& job : batch) {
      std::vector<std::shared_ptr<Job>> one{job};
      run_batch(one);
    }
    return;
  }
  const auto t_end = Clock::now();
  std::lock_guard lock(mutex_);
  ++stats_.batches;
  stats_.max_batch_seen = std::max<uint64_t>(stats_.max_batch_seen, batch.size());
  if (batch.size() > 1) stats_.batched_requests += batch.size();
  uint64_t generated = 0;
  double decode_ms = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    total.observe(seconds_between(batch[i]->submitted, t_end));
    if (!error.empty()) {
      ++stats_.failed;
      batch[i]->fail(error);
      continue;
    }
    GenerateResult& r = results[i];
    stats_.prompt_tokens += static_cast<uint64_t>(r.stats.n_prompt);
    stats_.generated_tokens += r.tokens.size();
    generated += r.tokens.size();
    decode_ms = std::max(decode_ms, r.stats.generate_ms);
    if (r.stop_reason == "cancelled")
      ++stats_.cancelled;
    else
      ++stats_.completed;
    batch[i]->finish(std::move(r));
  }
  if (decode_ms > 0) stats_.tokens_per_s = static_cast<double>(generated) / (decode_ms / 1000.0);
}

}  // namespace vigil::server
