// The event store: every perception event and every report, in one SQLite file (WAL mode), with
// snapshots as JPEG files on disk referenced by path.
//
// Durability contract: a call that changes state returns only after its transaction is
// committed (fsync'd with `synchronous_full`), and the callers announce a change (summarizer,
// alerts, events.jsonl) only after that call returned. So a crash, kill -9 included, loses
// nothing that was announced.
//
// Ids: perception numbers events per run ("cam0-000003"), so the store prefixes them with the
// run id ("r20240601-101500-3fa2/cam0-000003"): a restarted run never collides with stored ids.
//
// Schema: versioned by PRAGMA user_version; store_migrations()[i] upgrades version i to i + 1,
// each in its own transaction. A file from a newer build is refused, not guessed at.
//
// Retention: events older than `retention_days` are deleted; when the live database plus the
// snapshots exceed `max_bytes`, the oldest events go until they fit. Their snapshots are
// deleted with them, and reports left without events are removed.
//
// Thread-safe: one connection, serialised by a mutex (writes are a few per second).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fusion/config.h"
#include "vision/event.h"

struct sqlite3;
struct sqlite3_stmt;

namespace vigil::fusion {

// The SQL of each schema upgrade, in order (exposed for the migration tests).
const std::vector<std::string_view>& store_migrations();

// Report status of an event.
enum class ReportStatus { kPending, kReported, kDropped };
std::string_view report_status_name(ReportStatus status);

struct StoredEvent {
  std::string id;  // store id: "<run id>/<perception id>"
  std::string run_id;
  vision::Event event;  // as perception last emitted it (event.id is the perception id)
  Severity severity = Severity::kInfo;
  double detected_unix = 0;  // when the decision engine received the first record
  double updated_unix = 0;   // last change
  ReportStatus report_status = ReportStatus::kPending;
  std::string report;     // latest report covering this event ("" when none)
  int64_t report_id = 0;  // 0 when none
};

struct StoredReport {
  int64_t id = 0;
  std::string kind = "event";  // event (one or a burst of events), shift, answer
  double created_unix = 0;
  std::string text;
  std::string source = "llm";  // llm or template
  std::string prompt;
  std::string stop_reason;
  double first_token_ms = 0;  // from the job's start on the model
  double done_ms = 0;
  std::vector<std::string> event_ids;
};

// Per-event latency stamps, wall clock (seconds since 1970). 0 = not reached.
struct LatencyRecord {
  std::string event_id;
  double detected_unix = 0;     // the event left perception
  double first_token_unix = 0;  // the report's first token
  double report_done_unix = 0;  // the report's last token
  double first_audio_unix = 0;  // the first synthesised sample of its spoken alert
};

struct RunInfo {
  std::string id;
  std::string source;
  double started_unix = 0;
  double ended_unix = 0;  // 0 while running (or killed)
  int64_t frames_done = 0;
  bool finished = false;  // the source reached its end
};

// Filters for reading events back (all optional; empty strings match everything).
struct EventQuery {
  double since_unix = 0;  // start_unix >= since (0: no bound)
  double until_unix = 0;  // start_unix <= until (0: no bound)
  std::string zone, object_class, type, rule, run_id;
  int64_t limit = 0;          // 0 = all
  bool newest_first = false;  // order by start time
};

struct RetentionResult {
  int64_t events_deleted = 0;
  int64_t snapshots_deleted = 0;
  int64_t reports_deleted = 0;
  uint64_t bytes_before = 0, bytes_after = 0;  // live database pages + snapshot files
};

class EventStore {
 public:
  struct Options {
    std::string path;              // SQLite file (created with its folder when missing)
    bool synchronous_full = true;  // fsync per commit
    double retention_days = 0;     // 0 = keep forever
    uint64_t max_bytes = 0;        // 0 = no cap
    bool create = true;            // false: a missing file is an error (vigil ask)
  };

  explicit EventStore(const Options& options);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  int schema_version() const;
  static int latest_schema_version();
  const std::string& path() const { return options_.path; }

  // Runs.
  std::string begin_run(const std::string& source, double now_unix);
  void set_run_progress(const std::string& run_id, int64_t frames_done);
  void end_run(const std::string& run_id, bool finished, double now_unix);
  // The most recent run of `source` before `except_run`, if any.
  std::optional<RunInfo> last_run(const std::string& source, const std::string& except_run) const;
  // Frames of `source` already processed by earlier runs that did not finish (0 when the last
  // run finished or there was none): where a resumed run continues.
  int64_t resume_frame(const std::string& source, const std::string& except_run) const;

  // Inserts a start record or updates the stored event with an end record (same perception
  // id); committed on return. Returns the stored state.
  // `inserted` (when not null) tells whether this was the event's first record.
  StoredEvent record(const std::string& run_id, const vision::Event& event, Severity severity,
                     double now_unix, bool* inserted = nullptr);
  // Adds a report and links it to its events (marking them reported); returns its id.
  int64_t add_report(StoredReport report);
  void set_report_status(const std::vector<std::string>& event_ids, ReportStatus status);

  // Latency stamps: `field` is first_token, report_done or first_audio; keeps the first value.
  void stamp_latency(const std::vector<std::string>& event_ids, std::string_view field,
                     double unix_time);
  std::vector<LatencyRecord> latencies(const std::string& run_id) const;

  std::optional<StoredEvent> event(const std::string& id) const;
  std::vector<StoredEvent> events(const EventQuery& query) const;
  int64_t count(const EventQuery& query) const;
  // Events still waiting for a report (oldest first), e.g. left by a killed run.
  std::vector<StoredEvent> pending_reports() const;
  std::vector<StoredReport> reports(std::string_view kind = "") const;

  RetentionResult enforce_retention(double now_unix);

 private:
  void migrate();
  StoredEvent read_event_row(sqlite3_stmt* stmt) const;
  uint64_t live_bytes_locked() const;

  Options options_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace vigil::fusion
