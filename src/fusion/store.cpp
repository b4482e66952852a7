#include "fusion/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <variant>

#include "base/error.h"
#include "base/log.h"
#include "base/units.h"

namespace vigil::fusion {

namespace {

using Value = std::variant<std::monostate, int64_t, double, std::string>;

// One prepared statement; finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql, const std::string& path) : db_(db), path_(path) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      fail("event store {}: {} (in \"{}\")", path, sqlite3_errmsg(db), printable(sql, 80));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(const std::vector<Value>& values) {
    for (size_t i = 0; i < values.size(); ++i) bind(static_cast<int>(i + 1), values[i]);
    return *this;
  }
  void bind(int index, const Value& v) {
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(v)) {
      rc = sqlite3_bind_null(stmt_, index);
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt_, index, *i);
    } else if (const auto* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt_, index, *d);
    } else {
      const std::string& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(stmt_, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) fail("event store {}: bind: {}", path_, sqlite3_errmsg(db_));
  }
  // True while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("event store {}: {}", path_, sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }
  sqlite3_stmt* get() const { return stmt_; }
  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const std::string& sql, const std::string& path) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    fail("event store {}: {}", path, text);
  }
}

// A transaction that rolls back unless committed (so an exception leaves the file unchanged).
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    exec(db_, "BEGIN IMMEDIATE", path_);
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  void commit() {
    exec(db_, "COMMIT", path_);
    done_ = true;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool done_ = false;
};

// Columns read by read_event_row, in order.
constexpr const char* kEventColumns =
    "e.id, e.run_id, e.json, e.severity, e.detected_unix, e.updated_unix, e.report_status, "
    "(SELECT r.text FROM report_events re JOIN reports r ON r.id = re.report_id "
    " WHERE re.event_id = e.id ORDER BY r.id DESC LIMIT 1), "
    "(SELECT re.report_id FROM report_events re WHERE re.event_id = e.id "
    " ORDER BY re.report_id DESC LIMIT 1)";

std::string new_run_id(double now_unix) {
  std::random_device rd;
  return fmt::format("r{}-{:04x}", format_local_time(now_unix, "%Y%m%d-%H%M%S"), rd() & 0xffff);
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

void add_filters(const EventQuery& q, std::string& where, std::vector<Value>& args) {
  auto add = [&](const std::string& clause, Value v) {
    where += where.empty() ? " WHERE " : " AND ";
    where += clause;
    args.push_back(std::move(v));
  };
  if (q.since_unix > 0) add("e.start_unix >= ?", q.since_unix);
  if (q.until_unix > 0) add("e.start_unix <= ?", q.until_unix);
  if (!q.zone.empty()) add("e.zone = ?", q.zone);
  if (!q.object_class.empty()) add("e.class = ?", q.object_class);
  if (!q.type.empty()) add("e.type = ?", q.type);
  if (!q.rule.empty()) add("e.rule = ?", q.rule);
  if (!q.run_id.empty()) add("e.run_id = ?", q.run_id);
}

ReportStatus parse_report_status(const std::string& s) {
  if (s == "reported") return ReportStatus::kReported;
  if (s == "dropped") return ReportStatus::kDropped;
  return ReportStatus::kPending;
}

}  // namespace

const std::vector<std::string_view>& store_migrations() {
  static const std::vector<std::string_view> migrations = {
      // 0 -> 1: runs, events, reports.
      R"sql(
CREATE TABLE runs(
  id TEXT PRIMARY KEY, source TEXT NOT NULL DEFAULT '', started_unix REAL NOT NULL,
  ended_unix REAL, frames_done INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0);
CREATE TABLE events(
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, event_id TEXT NOT NULL, rule TEXT NOT NULL,
  type TEXT NOT NULL, zone TEXT NOT NULL, camera TEXT NOT NULL, class TEXT NOT NULL,
  count INTEGER NOT NULL, start_s REAL NOT NULL, end_s REAL, start_unix REAL NOT NULL,
  severity TEXT NOT NULL, snapshot TEXT NOT NULL, json TEXT NOT NULL,
  detected_unix REAL NOT NULL, updated_unix REAL NOT NULL);
CREATE INDEX events_start ON events(start_unix);
CREATE TABLE reports(
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, created_unix REAL NOT NULL,
  text TEXT NOT NULL, source TEXT NOT NULL, prompt TEXT NOT NULL, stop_reason TEXT NOT NULL,
  first_token_ms REAL, done_ms REAL);
CREATE TABLE report_events(
  report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
  event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  PRIMARY KEY(report_id, event_id));
)sql",
      // 1 -> 2: report status per event (so a restarted run finds unreported events) and
      // per-event latency stamps.
      R"sql(
ALTER TABLE events ADD COLUMN report_status TEXT NOT NULL DEFAULT 'pending';
UPDATE events SET report_status = 'reported'
  WHERE id IN (SELECT event_id FROM report_events);
CREATE INDEX report_events_event ON report_events(event_id);
CREATE TABLE latency(
  event_id TEXT PRIMARY KEY REFERENCES events(id) ON DELETE CASCADE,
  detected_unix REAL NOT NULL, first_token_unix REAL, report_done_unix REAL,
  first_audio_unix REAL);
)sql",
  };
  return migrations;
}

std::string_view report_status_name(ReportStatus status) {
  switch (status) {
    case ReportStatus::kPending:
      return "pending";
    case ReportStatus::kReported:
      return "reported";
    case ReportStatus::kDropped:
      return "dropped";
  }
  return "pending";
}

int EventStore::latest_schema_version() {
  return static_cast<int>(store_migrations().size());
}

EventStore::EventStore(const Options& options) : options_(options) {
  namespace fs = std::filesystem;
  const bool existed = fs::exists(options_.path);
  if (!existed && !options_.create) {
    fail("event store {}: no such file (run `vigil run` first, or pass --db)", options_.path);
  }
  if (!existed) {
    const fs::path parent = fs::path(options_.path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec)
      fail("event store {}: cannot create folder {} ({})", options_.path, parent.string(),
           ec.message());
  }
  const int flags =
      SQLITE_OPEN_READWRITE | (options_.create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(options_.path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    fail("event store {}: cannot open ({})", options_.path, message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    // A file that is not SQLite fails here, with SQLite's "file is not a database".
    exec(db_, "PRAGMA auto_vacuum = INCREMENTAL", options_.path);
    {
      Statement mode(db_, "PRAGMA journal_mode = WAL", options_.path);
      if (mode.step() && mode.text(0) != "wal") {
        spdlog::warn("event store {}: WAL mode unavailable, using {}", options_.path, mode.text(0));
      }
    }
    exec(db_,
         options_.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
         options_.path);
    exec(db_, "PRAGMA foreign_keys = ON", options_.path);
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

EventStore::~EventStore() {
  if (db_) sqlite3_close(db_);
}

int EventStore::schema_version() const {
  std::lock_guard lock(mutex_);
  Statement s(db_, "PRAGMA user_version", options_.path);
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

void EventStore::migrate() {
  int version = 0;
  {
    Statement s(db_, "PRAGMA user_version", options_.path);
    if (s.step()) version = static_cast<int>(s.i64(0));
  }
  const int latest = latest_schema_version();
  if (version > latest) {
    fail(
        "event store {}: schema version {} was written by a newer vigil (this build knows up to "
        "{}); use a newer build or another --db",
        options_.path, version, latest);
  }
  if (version < 0) fail("event store {}: invalid schema version {}", options_.path, version);
  for (int v = version; v < latest; ++v) {
    Transaction tx(db_, options_.path);
    exec(db_, std::string(store_migrations()[static_cast<size_t>(v)]), options_.path);
    exec(db_, fmt::format("PRAGMA user_version = {}", v + 1), options_.path);
    tx.commit();
    if (version > 0)
      spdlog::info("event store {}: schema upgraded to version {}", options_.path, v + 1);
  }
}

std::string EventStore::begin_run(const std::string& source, double now_unix) {
  std::lock_guard lock(mutex_);
  std::string id = new_run_id(now_unix);
  for (int attempt = 0;; ++attempt) {
    Statement s(db_, "SELECT COUNT(*) FROM runs WHERE id = ?", options_.path);
    s.bind({id});
    if (s.step() && s.i64(0) == 0) break;
    id = new_run_id(now_unix) + fmt::format("{}", attempt);
  }
  Statement s(db_, "INSERT INTO runs(id, source, started_unix) VALUES(?, ?, ?)", options_.path);
  s.bind({id, source, now_unix}).run();
  return id;
}

void EventStore::set_run_progress(const std::string& run_id, int64_t frames_done) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE runs SET frames_done = ? WHERE id = ?", options_.path);
  s.bind({frames_done, run_id}).run();
}

void EventStore::end_run(const std::string& run_id, bool finished, double now_unix) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "UPDATE runs SET ended_unix = ?, finished = ? WHERE id = ?", options_.path);
  s.bind({now_unix, int64_t{finished ? 1 : 0}, run_id}).run();
}

std::optional<RunInfo> EventStore::last_run(const std::string& source,
                                            const std::string& except_run) const {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT id, source, started_unix, ended_unix, frames_done, finished FROM runs "
              "WHERE source = ? AND id != ? ORDER BY started_unix DESC, rowid DESC LIMIT 1",
              options_.path);
  s.bind({source, except_run});
  if (!s.step()) return std::nullopt;
  RunInfo info;
  info.id = s.text(0);
  info.source = s.text(1);
  info.started_unix = s.real(2);
  info.ended_unix = s.null(3) ? 0 : s.real(3);
  info.frames_done = s.i64(4);
  info.finished = s.i64(5) != 0;
  return info;
}

int64_t EventStore::resume_frame(const std::string& source, const std::string& except_run) const {
  const auto last = last_run(source, except_run);
  if (!last || last->finished) return 0;
  // A killed run that itself resumed an earlier one counted from where it started.
  return last->frames_done;
}

StoredEvent EventStore::record(const std::string& run_id, const vision::Event& event,
                               Severity severity, double now_unix, bool* inserted) {
  const std::string id = run_id + "/" + event.id;
  const std::string json = vision::event_to_json_line(event);
  {
    std::lock_guard lock(mutex_);
    Transaction tx(db_, options_.path);
    Value end = event.end_s ? Value(*event.end_s) : Value();
    Statement exists(db_, "SELECT COUNT(*) FROM events WHERE id = ?", options_.path);
    exists.bind({id});
    const bool update = exists.step() && exists.i64(0) > 0;
    if (inserted != nullptr) *inserted = !update;
    if (update) {
      // An end record: keep the start's snapshot when the end carries none.
      Statement s(db_,
                  "UPDATE events SET end_s = ?, count = MAX(count, ?), json = ?, updated_unix = ?, "
                  "snapshot = CASE WHEN ? = '' THEN snapshot ELSE ? END WHERE id = ?",
                  options_.path);
      s.bind({end, event.count, json, now_unix, event.snapshot_path, event.snapshot_path, id})
          .run();
    } else {
      Statement s(
          db_,
          "INSERT INTO events(id, run_id, event_id, rule, type, zone, camera, class, count, "
          "start_s, end_s, start_unix, severity, snapshot, json, detected_unix, "
          "updated_unix) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          options_.path);
      s.bind({id, run_id, event.id, event.rule, std::string(vision::event_type_name(event.type)),
              event.zone, event.camera, event.object_class, event.count, event.start_s, end,
              event.start_unix, std::string(severity_name(severity)), event.snapshot_path, json,
              now_unix, now_unix})
          .run();
      Statement l(db_, "INSERT OR IGNORE INTO latency(event_id, detected_unix) VALUES(?, ?)",
                  options_.path);
      l.bind({id, now_unix}).run();
    }
    tx.commit();
  }
  auto stored = this->event(id);
  if (!stored) fail("event store {}: event {} vanished after commit", options_.path, id);
  return *stored;
}

int64_t EventStore::add_report(StoredReport report) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_, options_.path);
  {
    Statement s(db_,
                "INSERT INTO reports(kind, created_unix, text, source, prompt, stop_reason, "
                "first_token_ms, done_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                options_.path);
    s.bind({report.kind, report.created_unix, report.text, report.source, report.prompt,
            report.stop_reason, report.first_token_ms, report.done_ms})
        .run();
  }
  const int64_t id = sqlite3_last_insert_rowid(db_);
  for (const std::string& event_id : report.event_ids) {
    Statement exists(db_, "SELECT COUNT(*) FROM events WHERE id = ?", options_.path);
    exists.bind({event_id});
    if (!exists.step() || exists.i64(0) == 0) continue;  // deleted by retention meanwhile
    Statement link(db_, "INSERT OR IGNORE INTO report_events(report_id, event_id) VALUES(?, ?)",
                   options_.path);
    link.bind({id, event_id}).run();
    Statement status(db_, "UPDATE events SET report_status = 'reported' WHERE id = ?",
                     options_.path);
    status.bind({event_id}).run();
  }
  tx.commit();
  return id;
}

void EventStore::set_report_status(const std::vector<std::string>& event_ids, ReportStatus status) {
  std::lock_guard lock(mutex_);
  Transaction tx(db_, options_.path);
  for (const std::string& id : event_ids) {
    Statement s(db_, "UPDATE events SET report_status = ? WHERE id = ?", options_.path);
    s.bind({std::string(report_status_name(status)), id}).run();
  }
  tx.commit();
}

void EventStore::stamp_latency(const std::vector<std::string>& event_ids, std::string_view field,
                               double unix_time) {
  if (field != "first_token" && field != "report_done" && field != "first_audio") {
    fail("event store: unknown latency field \"{}\"", printable(field));
  }
  std::lock_guard lock(mutex_);
  Transaction tx(db_, options_.path);
  const std::string column = std::string(field) + "_unix";
  for (const std::string& id : event_ids) {
    Statement s(
        db_, fmt::format("UPDATE latency SET {0} = ? WHERE event_id = ? AND {0} IS NULL", column),
        options_.path);
    s.bind({unix_time, id}).run();
  }
  tx.commit();
}

std::vector<LatencyRecord> EventStore::latencies(const std::string& run_id) const {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT l.event_id, l.detected_unix, l.first_token_unix, l.report_done_unix, "
              "l.first_audio_unix FROM latency l JOIN events e ON e.id = l.event_id "
              "WHERE (? = '' OR e.run_id = ?) ORDER BY l.detected_unix",
              options_.path);
  s.bind({run_id, run_id});
  std::vector<LatencyRecord> out;
  while (s.step()) {
    LatencyRecord r;
    r.event_id = s.text(0);
    r.detected_unix = s.real(1);
    r.first_token_unix = s.null(2) ? 0 : s.real(2);
    r.report_done_unix = s.null(3) ? 0 : s.real(3);
    r.first_audio_unix = s.null(4) ? 0 : s.real(4);
    out.push_back(std::move(r));
  }
  return out;
}

StoredEvent EventStore::read_event_row(sqlite3_stmt* stmt) const {
  auto text = [&](int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt, col))) : "";
  };
  StoredEvent e;
  e.id = text(0);
  e.run_id = text(1);
  try {
    e.event = vision::event_from_json_line(text(2));
  } catch (const Error& error) {
    fail("event store {}: event {}: {}", options_.path, e.id, error.what());
  }
  e.severity = parse_severity(text(3));
  e.detected_unix = sqlite3_column_double(stmt, 4);
  e.updated_unix = sqlite3_column_double(stmt, 5);
  e.report_status = parse_report_status(text(6));
  e.report = text(7);
  e.report_id = sqlite3_column_int64(stmt, 8);
  return e;
}

std::optional<StoredEvent> EventStore::event(const std::string& id) const {
  std::lock_guard lock(mutex_);
  Statement s(db_, fmt::format("SELECT {}, e.snapshot FROM events e WHERE e.id = ?", kEventColumns),
              options_.path);
  s.bind({id});
  if (!s.step()) return std::nullopt;
  StoredEvent e = read_event_row(s.get());
  e.event.snapshot_path = s.text(9);
  return e;
}

std::vector<StoredEvent> EventStore::events(const EventQuery& query) const {
  std::string where;
  std::vector<Value> args;
  add_filters(query, where, args);
  std::string sql = fmt::format(
      "SELECT {}, e.snapshot FROM events e{} ORDER BY e.start_unix {}, "
      "e.rowid {}",
      kEventColumns, where, query.newest_first ? "DESC" : "ASC",
      query.newest_first ? "DESC" : "ASC");
  if (query.limit > 0) sql += fmt::format(" LIMIT {}", query.limit);
  std::lock_guard lock(mutex_);
  Statement s(db_, sql, options_.path);
  s.bind(args);
  std::vector<StoredEvent> out;
  while (s.step()) {
    out.push_back(read_event_row(s.get()));
    out.back().event.snapshot_path = s.text(9);
  }
  return out;
}

int64_t EventStore::count(const EventQuery& query) const {
  std::string where;
  std::vector<Value> args;
  add_filters(query, where, args);
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT COUNT(*) FROM events e" + where, options_.path);
  s.bind(args);
  return s.step() ? s.i64(0) : 0;
}

std::vector<StoredEvent> EventStore::pending_reports() const {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              fmt::format("SELECT {}, e.snapshot FROM events e WHERE e.report_status = 'pending' "
                          "ORDER BY e.start_unix, e.rowid",
                          kEventColumns),
              options_.path);
  std::vector<StoredEvent> out;
  while (s.step()) {
    out.push_back(read_event_row(s.get()));
    out.back().event.snapshot_path = s.text(9);
  }
  return out;
}

std::vector<StoredReport> EventStore::reports(std::string_view kind) const {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT id, kind, created_unix, text, source, prompt, stop_reason, first_token_ms, "
              "done_ms FROM reports WHERE (? = '' OR kind = ?) ORDER BY id",
              options_.path);
  s.bind({std::string(kind), std::string(kind)});
  std::vector<StoredReport> out;
  while (s.step()) {
    StoredReport r;
    r.id = s.i64(0);
    r.kind = s.text(1);
    r.created_unix = s.real(2);
    r.text = s.text(3);
    r.source = s.text(4);
    r.prompt = s.text(5);
    r.stop_reason = s.text(6);
    r.first_token_ms = s.real(7);
    r.done_ms = s.real(8);
    out.push_back(std::move(r));
  }
  for (StoredReport& r : out) {
    Statement l(db_, "SELECT event_id FROM report_events WHERE report_id = ? ORDER BY event_id",
                options_.path);
    l.bind({r.id});
    while (l.step()) r.event_ids.push_back(l.text(0));
  }
  return out;
}

uint64_t EventStore::live_bytes_locked() const {
  uint64_t pages = 0, free_pages = 0, page_size = 0;
  {
    Statement s(db_, "PRAGMA page_count", options_.path);
    if (s.step()) pages = static_cast<uint64_t>(s.i64(0));
  }
  {
    Statement s(db_, "PRAGMA freelist_count", options_.path);
    if (s.step()) free_pages = static_cast<uint64_t>(s.i64(0));
  }
  {
    Statement s(db_, "PRAGMA page_size", options_.path);
    if (s.step()) page_size = static_cast<uint64_t>(s.i64(0));
  }
  uint64_t bytes = (pages - std::min(pages, free_pages)) * page_size;
  Statement s(db_, "SELECT DISTINCT snapshot FROM events WHERE snapshot != ''", options_.path);
  while (s.step()) bytes += file_size_or_zero(s.text(0));
  return bytes;
}

RetentionResult EventStore::enforce_retention(double now_unix) {
  std::lock_guard lock(mutex_);
  RetentionResult result;
  result.bytes_before = live_bytes_locked();
  // Deletes the events matching `where` (with its arguments), their snapshots (unless another
  // event still uses the file) and the reports left without events.
  auto remove = [&](const std::string& where, const std::vector<Value>& args) {
    std::vector<std::string> snapshots;
    Transaction tx(db_, options_.path);
    {
      Statement s(db_, "SELECT DISTINCT snapshot FROM events WHERE snapshot != '' AND " + where,
                  options_.path);
      s.bind(args);
      while (s.step()) snapshots.push_back(s.text(0));
    }
    {
      Statement s(db_, "DELETE FROM events WHERE " + where, options_.path);
      s.bind(args).run();
      result.events_deleted += sqlite3_changes(db_);
    }
    {
      Statement s(db_,
                  "DELETE FROM reports WHERE kind = 'event' AND id NOT IN "
                  "(SELECT report_id FROM report_events)",
                  options_.path);
      s.run();
      result.reports_deleted += sqlite3_changes(db_);
    }
    tx.commit();
    // Files go after the commit: a crash in between leaves an orphan file, never a dangling path.
    for (const std::string& path : snapshots) {
      Statement still(db_, "SELECT COUNT(*) FROM events WHERE snapshot = ?", options_.path);
      still.bind({path});
      if (still.step() && still.i64(0) > 0) continue;
      std::error_code ec;
      if (std::filesystem::remove(path, ec)) ++result.snapshots_deleted;
    }
  };
  if (options_.retention_days > 0) {
    remove("start_unix < ?", {now_unix - options_.retention_days * 86400.0});
  }
  if (options_.max_bytes > 0) {
    // Oldest tenth of the events at a time until the store fits.
    for (int round = 0; round < 64 && live_bytes_locked() > options_.max_bytes; ++round) {
      int64_t total = 0;
      {
        Statement s(db_, "SELECT COUNT(*) FROM events", options_.path);
        if (s.step()) total = s.i64(0);
      }
      if (total == 0) break;
      const int64_t n = std::max<int64_t>(1, total / 10);
      remove("id IN (SELECT id FROM events ORDER BY start_unix, rowid LIMIT ?)", {n});
      exec(db_, "PRAGMA incremental_vacuum", options_.path);
    }
  }
  if (result.events_deleted > 0) exec(db_, "PRAGMA incremental_vacuum", options_.path);
  result.bytes_after = live_bytes_locked();
  return result;
}

}  // namespace vigil::fusion
