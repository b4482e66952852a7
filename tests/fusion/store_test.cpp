// Event store: migrations, ids across runs, retention by age and size, resume bookkeeping, and
// crash safety (a SIGKILLed writer loses nothing it announced).
#include "fusion/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "base/error.h"
#include "fusion_test_util.h"

namespace vigil::fusion {
namespace {

using testing::make_event;
using testing::TempDir;
using vision::EventType;

EventStore::Options options_for(const std::string& path) {
  EventStore::Options o;
  o.path = path;
  return o;
}

TEST(Store, CreatesLatestSchemaAndRoundTripsEvents) {
  TempDir dir;
  EventStore store(options_for(dir.file("db/vigil.db")));  // the folder is created
  EXPECT_EQ(store.schema_version(), EventStore::latest_schema_version());
  const std::string run = store.begin_run("cam.mp4", 1000);
  vision::Event e = make_event("cam0-000001", EventType::kIntrusion, "lawn", 1000.5);
  bool inserted = false;
  StoredEvent s = store.record(run, e, Severity::kCritical, 1001, &inserted);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(s.id, run + "/cam0-000001");
  EXPECT_EQ(s.severity, Severity::kCritical);
  EXPECT_TRUE(s.event.ongoing());
  EXPECT_EQ(s.report_status, ReportStatus::kPending);
  // The end record updates the same event.
  e.end_s = 4.0;
  s = store.record(run, e, Severity::kCritical, 1005, &inserted);
  EXPECT_FALSE(inserted);
  ASSERT_TRUE(s.event.end_s.has_value());
  EXPECT_DOUBLE_EQ(*s.event.end_s, 4.0);
  EXPECT_EQ(store.count(EventQuery{}), 1);
  StoredReport r;
  r.text = "A person entered the lawn at 10:00:00.";
  r.event_ids = {s.id};
  r.created_unix = 1006;
  store.add_report(r);
  auto back = store.event(s.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->report, r.text);
  EXPECT_EQ(back->report_status, ReportStatus::kReported);
  EXPECT_TRUE(store.pending_reports().empty());
}

TEST(Store, IdsDoNotCollideAcrossRuns) {
  TempDir dir;
  EventStore store(options_for(dir.file("vigil.db")));
  const std::string a = store.begin_run("cam.mp4", 1000);
  const std::string b = store.begin_run("cam.mp4", 1000);  // same second: still distinct
  EXPECT_NE(a, b);
  const auto e = make_event("cam0-000001", EventType::kIntrusion, "lawn", 1000);
  store.record(a, e, Severity::kInfo, 1000);
  store.record(b, e, Severity::kInfo, 1001);
  EXPECT_EQ(store.count(EventQuery{}), 2);
}

TEST(Store, MigratesVersionOneFiles) {
  TempDir dir;
  const std::string path = dir.file("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string v1 =
        std::string(store_migrations()[0]) +
        "PRAGMA user_version = 1;"
        "INSERT INTO runs(id, source, started_unix) VALUES('r1', 'x', 1);"
        "INSERT INTO events VALUES('r1/cam0-000001', 'r1', 'cam0-000001', "
        "'door', 'intrusion', 'lawn', 'cam0', 'person', 0, 0, NULL, 5, "
        "'warning', '', '" +
        vision::event_to_json_line(make_event("cam0-000001", EventType::kIntrusion, "lawn", 5)) +
        "', 5, 5);"
        "INSERT INTO reports(kind, created_unix, text, source, prompt, "
        "stop_reason) VALUES('event', 6, 'old report', 'llm', '', 'eos');"
        "INSERT INTO report_events VALUES(1, 'r1/cam0-000001');";
    ASSERT_EQ(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  EventStore store(options_for(path));
  EXPECT_EQ(store.schema_version(), 2);
  auto e = store.event("r1/cam0-000001");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->report, "old report");
  EXPECT_EQ(e->report_status, ReportStatus::kReported);  // filled in by migration 2
  store.stamp_latency({e->id}, "first_token", 7);        // the v2 table exists
}

TEST(Store, RefusesNewerSchemaAndNonDatabases) {
  TempDir dir;
  const std::string newer = dir.file("newer.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  try {
    EventStore store(options_for(newer));
    FAIL() << "a newer schema was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
  const std::string junk = dir.file("junk.db");
  std::ofstream(junk) << std::string(4096, 'x');
  try {
    EventStore store(options_for(junk));
    FAIL() << "a non-database was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
  EventStore::Options missing = options_for(dir.file("none.db"));
  missing.create = false;
  EXPECT_THROW(EventStore store(missing), Error);
}

TEST(Store, RetentionByAgeDeletesEventsSnapshotsAndReports) {
  TempDir dir;
  EventStore::Options o = options_for(dir.file("vigil.db"));
  o.retention_days = 1;
  EventStore store(o);
  const std::string run = store.begin_run("cam", 0);
  const double now = 100 * 86400.0;
  auto old_event = make_event("cam0-000001", EventType::kIntrusion, "lawn", now - 2 * 86400);
  old_event.snapshot_path = dir.file("old.jpg");
  std::ofstream(old_event.snapshot_path) << "jpeg";
  auto new_event = make_event("cam0-000002", EventType::kIntrusion, "lawn", now - 3600);
  const StoredEvent a = store.record(run, old_event, Severity::kInfo, now);
  store.record(run, new_event, Severity::kInfo, now);
  StoredReport r;
  r.text = "old";
  r.event_ids = {a.id};
  store.add_report(r);
  const RetentionResult result = store.enforce_retention(now);
  EXPECT_EQ(result.events_deleted, 1);
  EXPECT_EQ(result.snapshots_deleted, 1);
  EXPECT_EQ(result.reports_deleted, 1);
  EXPECT_FALSE(std::filesystem::exists(old_event.snapshot_path));
  EXPECT_EQ(store.count(EventQuery{}), 1);
  EXPECT_TRUE(store.event(run + "/cam0-000002"));
}

TEST(Store, RetentionBySizeKeepsTheNewest) {
  TempDir dir;
  EventStore::Options o = options_for(dir.file("vigil.db"));
  o.max_bytes = 600 * 1024;  // the snapshots below total 2 MB
  EventStore store(o);
  const std::string run = store.begin_run("cam", 0);
  for (int i = 0; i < 20; ++i) {
    auto e = make_event(fmt::format("cam0-{:06d}", i), EventType::kIntrusion, "lawn", 1000 + i);
    e.snapshot_path = dir.file(fmt::format("{}.jpg", i));
    std::ofstream(e.snapshot_path) << std::string(100 * 1024, 'j');
    store.record(run, e, Severity::kInfo, 1000 + i);
  }
  const RetentionResult result = store.enforce_retention(2000);
  EXPECT_GT(result.bytes_before, o.max_bytes);
  EXPECT_LE(result.bytes_after, o.max_bytes);
  const int64_t left = store.count(EventQuery{});
  EXPECT_GT(left, 0);
  EXPECT_LT(left, 20);
  EXPECT_EQ(left + result.events_deleted, 20);
  // The newest survive, the oldest went (with their files).
  EXPECT_TRUE(store.event(run + "/cam0-000019"));
  EXPECT_FALSE(store.event(run + "/cam0-000000"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("0.jpg")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("19.jpg")));
}

TEST(Store, ResumeFrameComesFromTheLastUnfinishedRun) {
  TempDir dir;
  EventStore store(options_for(dir.file("vigil.db")));
  const std::string a = store.begin_run("vtest.avi", 1);
  store.set_run_progress(a, 150);
  const std::string b = store.begin_run("vtest.avi", 2);
  EXPECT_EQ(store.resume_frame("vtest.avi", b), 150);  // a was killed at frame 150
  EXPECT_EQ(store.resume_frame("other.avi", b), 0);
  store.set_run_progress(b, 795);
  store.end_run(b, /*finished=*/true, 3);
  const std::string c = store.begin_run("vtest.avi", 4);
  EXPECT_EQ(store.resume_frame("vtest.avi", c), 0);  // b reached the end
}

TEST(Store, KilledWriterLosesNothingItAnnounced) {
  TempDir dir;
  const std::string path = dir.file("vigil.db");
  { EventStore store(options_for(path)); }  // created before the child starts
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    try {
      EventStore store(options_for(path));
      const std::string run = store.begin_run("cam", 1);
      for (int i = 0;; ++i) {
        const auto e = make_event(fmt::format("cam0-{:06d}", i), EventType::kIntrusion, "lawn", i);
        const StoredEvent s = store.record(run, e, Severity::kInfo, i);
        // Announce only after the commit returned.
        const std::string line = s.id + "\n";
        if (write(fds[1], line.data(), line.size()) < 0) _exit(3);
      }
    } catch (...) {
      _exit(2);
    }
  }
  close(fds[1]);
  std::set<std::string> announced;
  std::string buffer;
  char chunk[4096];
  while (announced.size() < 40) {
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    ASSERT_GT(n, 0) << "the writer died early";
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      announced.insert(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // Whatever was in the pipe was announced too.
  while (true) {
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  size_t nl;
  while ((nl = buffer.find('\n')) != std::string::npos) {
    announced.insert(buffer.substr(0, nl));
    buffer.erase(0, nl + 1);
  }
  EventStore store(options_for(path));
  for (const std::string& id : announced) EXPECT_TRUE(store.event(id)) << id << " was lost";
  EXPECT_GE(store.count(EventQuery{}), static_cast<int64_t>(announced.size()));
}

}  // namespace
}  // namespace vigil::fusion
