// An alert channel's delivery worker: its own thread and bounded queue, so a slow or broken
// channel (webhook down, broker unreachable) never holds up the others or the pipeline.
//
// Delivery failures are retried with exponential backoff (backoff_initial_s, doubling up to
// backoff_max_s) up to max_attempts per message; the backoff is the channel's, so while it is
// down each message does not restart the ladder. The first failure of a streak is logged once
// with its reason; later ones are only counted until a delivery succeeds again ("recovered").
// When the queue is full the oldest message is dropped (counted).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "fusion/config.h"

namespace vigil::fusion {

struct AlertMessage {
  std::string kind;  // "event" or "report"
  Severity severity = Severity::kInfo;
  std::string rule;
  std::string text;        // one line for humans
  nlohmann::json payload;  // what machines get (webhook body, MQTT payload)
};

struct DispatcherStats {
  uint64_t posted = 0;
  uint64_t delivered = 0;
  uint64_t failed_attempts = 0;
  uint64_t given_up = 0;  // messages dropped after max_attempts
  uint64_t dropped = 0;   // messages dropped because the queue was full
  size_t depth = 0;
  std::string last_error;
};

class Dispatcher {
 public:
  Dispatcher(std::string name, RetryOptions retry);
  virtual ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  const std::string& name() const { return name_; }
  void start();
  // Never blocks (beyond a mutex).
  void post(AlertMessage message);
  // Delivers what is queued for up to `drain_s` seconds, then drops the rest and joins.
  void stop(double drain_s);
  DispatcherStats stats() const;

 protected:
  // One delivery attempt; returns "" on success, else a one-line reason. Worker thread only.
  virtual std::string deliver(const AlertMessage& message) = 0;
  // Called on the worker thread before the first message (connect, open files).
  virtual void on_start() {}
  // Called on the worker thread when it exits.
  virtual void on_stop() {}
  // Called on the worker thread about every 200 ms while idle (network keep-alive).
  virtual void idle() {}

 private:
  void run();
  // Sleeps up to `seconds` unless stopping past the drain deadline; false when it should quit.
  bool wait(double seconds);

  const std::string name_;
  const RetryOptions retry_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<AlertMessage> queue_;
  std::thread worker_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  DispatcherStats stats_;
};

// Prints alerts on stdout, one line each.
class ConsoleDispatcher : public Dispatcher {
 public:
  ConsoleDispatcher() : Dispatcher("console", RetryOptions{1, 0, 0, 1024}) {}
  ~ConsoleDispatcher() override { stop(1.0); }

 protected:
  std::string deliver(const AlertMessage& message) override;
};

// POSTs each message's payload as JSON to an http:// URL.
class WebhookDispatcher : public Dispatcher {
 public:
  explicit WebhookDispatcher(const WebhookOptions& options);
  ~WebhookDispatcher() override;

 protected:
  std::string deliver(const AlertMessage& message) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Publishes events on <prefix>/<site>/events and reports on <prefix>/<site>/reports.
// libmosquitto's own network thread connects and reconnects (with the same backoff).
class MqttDispatcher : public Dispatcher {
 public:
  MqttDispatcher(const MqttOptions& options, const std::string& site);
  ~MqttDispatcher() override;
  std::string topic(const std::string& kind) const;  // kind: events or reports

 protected:
  std::string deliver(const AlertMessage& message) override;
  void on_start() override;
  void on_stop() override;
  void idle() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Topic-safe form of a site name: lower case, [a-z0-9_-], spaces -> '-'.
std::string topic_segment(std::string_view name);

}  // namespace vigil::fusion
