// The summarizer's input: a bounded priority queue of report jobs.
//
//   * Priority: a job's severity is the highest of its events'; pop() takes the most severe
//     job first, the oldest among equals (alerts before routine).
//   * Burst merging: an event joins a queued job (not yet taken by the model) of the same
//     camera and the same zone or rule whose first event is within `burst_window_s` of stream
//     time and which holds fewer than `max_burst` events: one report then covers the burst.
//   * Back-pressure: the queue never holds more than `capacity` jobs. When full, an event is
//     merged into a related job even outside the window (up to 2 x max_burst); failing that a
//     routine (info) event is dropped, and an alert displaces the oldest job of lower severity,
//     or joins the newest job. Every drop is counted and returned, so the store can mark those
//     events as never reported.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fusion/config.h"

namespace vigil::fusion {

// What the queue needs to know about an event (the full record stays in the store).
struct QueuedEvent {
  std::string id;  // store id
  std::string camera, rule, zone;
  Severity severity = Severity::kInfo;
  double stream_s = 0;       // event start, stream seconds (burst window)
  double detected_unix = 0;  // when perception emitted it (latency)
};

struct ReportJob {
  uint64_t seq = 0;  // order of creation
  Severity severity = Severity::kInfo;
  std::vector<QueuedEvent> events;
  std::vector<std::string> event_ids() const;
};

struct PushOutcome {
  enum Kind { kQueued, kMerged, kDropped } kind = kQueued;
  uint64_t job_seq = 0;                  // the job holding the event (0 when dropped)
  std::vector<std::string> dropped_ids;  // events that will never get a report
};

struct QueueStats {
  uint64_t pushed = 0;           // events offered
  uint64_t merged = 0;           // ... joined a queued job (burst)
  uint64_t overflow_merged = 0;  // ... of which because the queue was full
  uint64_t dropped = 0;          // events dropped (new routine events or displaced jobs)
  uint64_t jobs = 0;             // jobs created
  size_t depth = 0;              // jobs waiting now
  size_t max_depth = 0;
};

class ReportQueue {
 public:
  ReportQueue(size_t capacity, double burst_window_s, int max_burst);

  PushOutcome push(const QueuedEvent& event);
  // Waits up to `timeout` for a job; empty on timeout or when closed and drained.
  std::optional<ReportJob> pop_for(std::chrono::milliseconds timeout);
  // Later pushes are dropped; pops drain what is queued.
  void close();
  bool closed() const;
  QueueStats stats() const;

 private:
  bool related(const ReportJob& job, const QueuedEvent& e) const;
  PushOutcome merge_into(ReportJob& job, const QueuedEvent& e, bool overflow);

  const size_t capacity_;
  const double burst_window_s_;
  const size_t max_burst_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<ReportJob> jobs_;
  uint64_t next_seq_ = 1;
  bool closed_ = false;
  QueueStats stats_;
};

}  // namespace vigil::fusion
