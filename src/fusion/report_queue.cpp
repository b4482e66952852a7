#include "fusion/report_queue.h"

#include <algorithm>
#include <cmath>

namespace vigil::fusion {

std::vector<std::string> ReportJob::event_ids() const {
  std::vector<std::string> ids;
  ids.reserve(events.size());
  for (const auto& e : events) ids.push_back(e.id);
  return ids;
}

ReportQueue::ReportQueue(size_t capacity, double burst_window_s, int max_burst)
    : capacity_(std::max<size_t>(1, capacity)),
      burst_window_s_(burst_window_s),
      max_burst_(static_cast<size_t>(std::max(1, max_burst))) {}

bool ReportQueue::related(const ReportJob& job, const QueuedEvent& e) const {
  const QueuedEvent& first = job.events.front();
  return first.camera == e.camera && (first.zone == e.zone || first.rule == e.rule);
}

PushOutcome ReportQueue::merge_into(ReportJob& job, const QueuedEvent& e, bool overflow) {
  job.events.push_back(e);
  job.severity = std::max(job.severity, e.severity);
  ++stats_.merged;
  if (overflow) ++stats_.overflow_merged;
  return {PushOutcome::kMerged, job.seq, {}};
}

PushOutcome ReportQueue::push(const QueuedEvent& e) {
  std::lock_guard lock(mutex_);
  ++stats_.pushed;
  if (closed_) {
    ++stats_.dropped;
    return {PushOutcome::kDropped, 0, {e.id}};
  }
  // 1. A burst: a related job within the window with room.
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    if (related(*it, e) && it->events.size() < max_burst_ &&
        std::fabs(e.stream_s - it->events.front().stream_s) <= burst_window_s_) {
      return merge_into(*it, e, false);
    }
  }
  PushOutcome outcome;
  if (jobs_.size() >= capacity_) {
    // 2. Full: any related job with room for an overflow burst.
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
      if (related(*it, e) && it->events.size() < 2 * max_burst_) return merge_into(*it, e, true);
    }
    // 3. Routine events are dropped; an alert displaces the oldest less severe job...
    if (e.severity == Severity::kInfo) {
      ++stats_.dropped;
      return {PushOutcome::kDropped, 0, {e.id}};
    }
    auto victim = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (it->severity < e.severity && (victim == jobs_.end() || it->severity < victim->severity)) {
        victim = it;
      }
    }
    if (victim == jobs_.end()) {
      // ... or, when every queued job is at least as severe, joins the newest with room.
      for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
        if (it->events.size() < 2 * max_burst_) return merge_into(*it, e, true);
      }
      ++stats_.dropped;
      return {PushOutcome::kDropped, 0, {e.id}};
    }
    outcome.dropped_ids = victim->event_ids();
    stats_.dropped += victim->events.size();
    jobs_.erase(victim);
  }
  ReportJob job;
  job.seq = next_seq_++;
  job.severity = e.severity;
  job.events.push_back(e);
  jobs_.push_back(std::move(job));
  ++stats_.jobs;
  stats_.max_depth = std::max(stats_.max_depth, jobs_.size());
  ready_.notify_one();
  outcome.kind = PushOutcome::kQueued;
  outcome.job_seq = jobs_.back().seq;
  return outcome;
}

std::optional<ReportJob> ReportQueue::pop_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  ready_.wait_for(lock, timeout, [&] { return closed_ || !jobs_.empty(); });
  if (jobs_.empty()) return std::nullopt;
  // Most severe first; the deque is in creation order, so the first of the best is the oldest.
  auto best = jobs_.begin();
  for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
    if (it->severity > best->severity) best = it;
  }
  ReportJob job = std::move(*best);
  jobs_.erase(best);
  return job;
}

void ReportQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  ready_.notify_all();
}

bool ReportQueue::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

QueueStats ReportQueue::stats() const {
  std::lock_guard lock(mutex_);
  QueueStats s = stats_;
  s.depth = jobs_.size();
  return s;
}

}  // namespace vigil::fusion
