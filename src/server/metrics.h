// Prometheus text exposition (format 0.0.4) for GET /metrics: latency histograms with fixed
// buckets (seconds) and a small writer for counters and gauges.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::server {

// A cumulative histogram. Thread-safe (one mutex; observations are a few per request).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // seconds, increasing
  void observe(double value);
  // Appends "# TYPE" and the _bucket/_sum/_count lines of `name` (optional `labels` like
  // `route="chat"`, without braces).
  void render(std::string& out, std::string_view name, std::string_view help,
              std::string_view labels = "") const;
  uint64_t count() const;
  // The value below which `q` (0..1) of the observations fall, interpolated within a bucket.
  double quantile(double q) const;

  // 1 ms .. 60 s, roughly x2.5 per step: request latencies and times to first token.
  static std::vector<double> latency_buckets();

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Helpers that append one metric family.
void render_counter(std::string& out, std::string_view name, std::string_view help, double value);
void render_gauge(std::string& out, std::string_view name, std::string_view help, double value);
// A label value with \, " and newline escaped.
std::string escape_label(std::string_view value);

}  // namespace vigil::server
