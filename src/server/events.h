// The server's view of events: a small interface the HTTP layer reads events and reports
// through, so it can be served from the decision engine's SQLite store (fusion_adapter.h), from
// memory (MemoryEventSource: tests, `vigil serve --replay`), or anything else.
//
// Events and reports travel as JSON objects (the API's wire shape, docs/SERVER.md):
//   event:  {"id","run_id","rule","type","zone","camera","class","track_ids","start_s","end_s",
//            "start_unix","confidence","bbox","severity","report_status","report","report_id",
//            "count","direction","has_snapshot"}
//   report: {"id","kind","created_unix","text","source","event_ids"}
// The server adds "snapshot_url" to events; sources never build URLs.
//
// Live changes are pushed with publish(): the server's SSE endpoint subscribes. publish() may be
// called from any thread; listeners run on the publishing thread and must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vigil::server {

// Filters of GET /api/events (all optional; empty strings and zero bounds match everything).
struct EventFilter {
  double since_unix = 0;  // start_unix >= since
  double until_unix = 0;  // start_unix <= until
  std::string zone, rule, type, object_class;
  int64_t offset = 0;  // events to skip (newest first)
  int64_t limit = 50;  // page size (the server caps it)
};

struct EventPage {
  std::vector<nlohmann::json> events;  // newest first
  int64_t total = 0;                   // events matching the filter, all pages
};

// A change pushed to subscribers. kind: "event" (a new or updated event), "report" (a stored
// report), "report_piece" ({"seq","text"}: model text as it is written, before it is stored).
struct EventNotice {
  std::string kind;
  nlohmann::json data;
};

class EventSource {
 public:
  using Listener = std::function<void(const EventNotice&)>;

  virtual ~EventSource() = default;

  virtual EventPage list(const EventFilter& filter) const = 0;
  virtual std::optional<nlohmann::json> get(const std::string& id) const = 0;
  // The snapshot JPEG of an event as a file path ("" when it has none). The server serves it
  // only when it resolves (symlinks followed) to a regular file under snapshot_root().
  virtual std::string snapshot_file(const std::string& id) const = 0;
  virtual std::string snapshot_root() const = 0;
  // Events per zone (all time), for the dashboard and /metrics.
  virtual std::map<std::string, int64_t> zone_counts() const = 0;

  // Returns a handle for unsubscribe().
  int subscribe(Listener listener);
  void unsubscribe(int handle);
  size_t subscribers() const;

 protected:
  // Hands `notice` to every subscriber (on the calling thread).
  void publish(const EventNotice& notice);

 private:
  mutable std::mutex mutex_;
  std::map<int, Listener> listeners_;
  int next_handle_ = 1;
};

// Events and reports kept in memory: the test fake, and the source behind `vigil serve
// --replay`. Thread-safe.
class MemoryEventSource : public EventSource {
 public:
  explicit MemoryEventSource(std::string snapshot_root = "");

  // Adds or replaces (same "id") an event and publishes it. Needs "id" and "start_unix".
  void put_event(nlohmann::json event, std::string snapshot_file = "");
  // Stores a report, links it to its "event_ids" (report, report_id, report_status) and
  // publishes it followed by the updated events. Returns the report id.
  int64_t put_report(nlohmann::json report);
  // Publishes a piece of report text as it is generated.
  void put_report_piece(uint64_t seq, const std::string& text);

  EventPage list(const EventFilter& filter) const override;
  std::optional<nlohmann::json> get(const std::string& id) const override;
  std::string snapshot_file(const std::string& id) const override;
  std::string snapshot_root() const override { return snapshot_root_; }
  std::map<std::string, int64_t> zone_counts() const override;

 private:
  const std::string snapshot_root_;
  mutable std::mutex mutex_;
  std::vector<nlohmann::json> events_;  // in arrival order
  std::map<std::string, std::string> snapshots_;
  std::vector<nlohmann::json> reports_;
};

// Whether `event` (wire shape) passes `filter`'s conditions (paging aside).
bool event_matches(const nlohmann::json& event, const EventFilter& filter);

}  // namespace vigil::server
