// The event API over loopback with a fake event source (MemoryEventSource): listing with
// filters and paging, one event, snapshots (and their path checks), the SSE stream, questions
// through a fake answerer, the MJPEG live view, and no path traversal anywhere.
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/file.h"
#include "server/static_files.h"
#include "server_test_util.h"

namespace vigil::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::eventually;
using testing::expect_error_shape;
using testing::json_of;
using testing::raw_request;
using testing::status_of;

json make_event(const std::string& id, double start_unix, const std::string& zone,
                const std::string& rule, const std::string& cls = "person") {
  return {{"id", id},
          {"rule", rule},
          {"type", "intrusion"},
          {"zone", zone},
          {"camera", "cam0"},
          {"class", cls},
          {"track_ids", {1}},
          {"start_s", 1.0},
          {"end_s", nullptr},
          {"start_unix", start_unix},
          {"confidence", 0.9},
          {"severity", "warning"},
          {"count", 0}};
}

class FakeAnswerer : public QuestionAnswerer {
 public:
  AskOutput ask(const AskInput& input) override {
    ++calls;
    AskOutput out;
    out.heard = input.wav.empty() ? input.text : "audio of " + std::to_string(input.wav.size());
    out.answer = "3 people entered the lawn.";
    out.source = "template";
    out.intent = "count";
    out.facts = {{"count", 3}};
    out.answer_wav = "RIFF\x24\x00\x00\x00WAVEfmt fake";
    return out;
  }
  std::atomic<int> calls{0};
};

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("vigil_server_events_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "snapshots");
    fs::create_directories(dir_ / "web" / "sub");
    write_file_atomic((dir_ / "snapshots" / "e1.jpg").string(), "\xFF\xD8jpeg-bytes\xFF\xD9");
    write_file_atomic((dir_ / "secret.txt").string(), "top secret");
    write_file_atomic((dir_ / "web" / "index.html").string(), "<h1>dash</h1>");
    write_file_atomic((dir_ / "web" / "sub" / "app.js").string(), "let x = 1;");
    source_ = std::make_unique<MemoryEventSource>((dir_ / "snapshots").string());
    // Three events a minute apart in two zones; e1 has a snapshot.
    source_->put_event(make_event("run1/e1", 1000, "lawn", "keep_off"),
                       (dir_ / "snapshots" / "e1.jpg").string());
    source_->put_event(make_event("run1/e2", 1060, "plaza", "gathering"));
    source_->put_event(make_event("run1/e3", 1120, "lawn", "keep_off", "dog"));
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->stop();
    server_.reset();
    fs::remove_all(dir_);
  }
  void start(ServerOptions options = testing::test_options()) {
    server_ = std::make_unique<Server>(options, nullptr);
    server_->set_event_source(source_.get());
    server_->set_answerer(&answerer_);
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(30, 0);
  }
  json get_json(const std::string& path) {
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path;
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    return json_of(res);
  }

  fs::path dir_;
  std::unique_ptr<MemoryEventSource> source_;
  FakeAnswerer answerer_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(EventsTest, ListFiltersAndPages) {
  start();
  json page = get_json("/api/events");
  EXPECT_EQ(page["total"], 3);
  ASSERT_EQ(page["events"].size(), 3u);
  EXPECT_EQ(page["events"][0]["id"], "run1/e3");  // newest first
  EXPECT_EQ(page["zones"]["lawn"], 2);
  EXPECT_EQ(page["zones"]["plaza"], 1);
  EXPECT_TRUE(page["next_offset"].is_null());

  page = get_json("/api/events?zone=lawn");
  EXPECT_EQ(page["total"], 2);
  page = get_json("/api/events?rule=gathering");
  ASSERT_EQ(page["events"].size(), 1u);
  EXPECT_EQ(page["events"][0]["id"], "run1/e2");
  page = get_json("/api/events?class=dog");
  EXPECT_EQ(page["total"], 1);
  page = get_json("/api/events?since=1050&until=1100");
  ASSERT_EQ(page["events"].size(), 1u);
  EXPECT_EQ(page["events"][0]["id"], "run1/e2");

  page = get_json("/api/events?limit=2");
  ASSERT_EQ(page["events"].size(), 2u);
  EXPECT_EQ(page["next_offset"], 2);
  page = get_json("/api/events?limit=2&offset=2");
  ASSERT_EQ(page["events"].size(), 1u);
  EXPECT_EQ(page["events"][0]["id"], "run1/e1");
  EXPECT_TRUE(page["next_offset"].is_null());

  EXPECT_EQ(expect_error_shape(client_->Get("/api/events?since=yesterday"), 400), "invalid_value");
  EXPECT_EQ(expect_error_shape(client_->Get("/api/events?limit=0"), 400), "invalid_value");
  EXPECT_EQ(expect_error_shape(client_->Get("/api/events?offset=-1"), 400), "invalid_value");
}

TEST_F(EventsTest, OneEventWithSnapshot) {
  start();
  // Ids hold '/': clients percent-encode it.
  json e = get_json("/api/events/run1%2Fe1");
  EXPECT_EQ(e["id"], "run1/e1");
  EXPECT_EQ(e["zone"], "lawn");
  ASSERT_TRUE(e["snapshot_url"].is_string());
  EXPECT_EQ(e["snapshot_url"], "/api/events/run1%2Fe1/snapshot.jpg");
  auto res = client_->Get(e["snapshot_url"].get<std::string>().c_str());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(res->body, "\xFF\xD8jpeg-bytes\xFF\xD9");

  e = get_json("/api/events/run1%2Fe2");
  EXPECT_TRUE(e["snapshot_url"].is_null());
  EXPECT_EQ(expect_error_shape(client_->Get("/api/events/run1%2Fe2/snapshot.jpg"), 404),
            "not_found");
  EXPECT_EQ(expect_error_shape(client_->Get("/api/events/nope"), 404), "not_found");
}

TEST_F(EventsTest, SnapshotsOutsideTheRootAreRefused) {
  // A store whose snapshot path points elsewhere (tampered, or a symlink out of the folder).
  source_->put_event(make_event("evil1", 2000, "lawn", "r"), (dir_ / "secret.txt").string());
  source_->put_event(make_event("evil2", 2001, "lawn", "r"),
                     (dir_ / "snapshots" / ".." / "secret.txt").string());
  fs::create_symlink(dir_ / "secret.txt", dir_ / "snapshots" / "link.jpg");
  source_->put_event(make_event("evil3", 2002, "lawn", "r"),
                     (dir_ / "snapshots" / "link.jpg").string());
  source_->put_event(make_event("evil4", 2003, "lawn", "r"), "/etc/passwd");
  start();
  for (const char* id : {"evil1", "evil2", "evil3", "evil4"}) {
    auto res = client_->Get((std::string("/api/events/") + id + "/snapshot.jpg").c_str());
    EXPECT_EQ(expect_error_shape(res, 404), "not_found") << id;
    EXPECT_EQ(res->body.find("secret"), std::string::npos);
  }
}

TEST_F(EventsTest, StreamDeliversNewEventsAndReports) {
  start();
  std::mutex mutex;
  std::string received;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    c.Get("/api/events/stream", [&](const char* data, size_t n) {
      std::lock_guard lock(mutex);
      received.append(data, n);
      return !stop.load();
    });
  });
  auto seen = [&](const std::string& what) {
    std::lock_guard lock(mutex);
    return received.find(what) != std::string::npos;
  };
  ASSERT_TRUE(eventually([&] { return seen("event: hello"); }));
  source_->put_event(make_event("run1/e4", 1200, "gate", "door"));
  source_->put_report_piece(5, "A person ");
  source_->put_report({{"kind", "event"},
                       {"text", "A person entered the gate."},
                       {"event_ids", {"run1/e4"}},
                       {"seq", 5}});
  ASSERT_TRUE(eventually([&] { return seen("A person entered the gate."); }));
  {
    std::lock_guard lock(mutex);
    EXPECT_NE(received.find("event: event\ndata: "), std::string::npos);
    EXPECT_NE(received.find("\"id\":\"run1/e4\""), std::string::npos);
    EXPECT_NE(received.find("event: report_piece\ndata: {\"seq\":5,\"text\":\"A person \"}"),
              std::string::npos);
    EXPECT_NE(received.find("event: report\ndata: "), std::string::npos);
    // The event comes again, now with its report.
    EXPECT_NE(received.find("\"report_status\":\"reported\""), std::string::npos);
  }
  // The report is on the event from now on.
  EXPECT_EQ(get_json("/api/events/run1%2Fe4")["report"], "A person entered the gate.");
  stop = true;
  source_->put_event(make_event("run1/e5", 1300, "gate", "door"));  // wakes the reader to quit
  reader.join();
  // The departed client is unsubscribed (the server's own metrics listener remains).
  EXPECT_TRUE(eventually([&] { return source_->subscribers() == 1; }));
}

TEST_F(EventsTest, StreamEndsAtShutdown) {
  start();
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60, 0);
    c.Get("/api/events/stream", [&](const char*, size_t) { return true; });
    ended = true;
  });
  ASSERT_TRUE(eventually([&] { return source_->subscribers() == 2; }));
  server_->stop();
  reader.join();
  EXPECT_TRUE(ended.load());
  EXPECT_EQ(source_->subscribers(), 0u);
}

TEST_F(EventsTest, AskWithTextAndWav) {
  start();
  auto res = client_->Post("/api/ask", R"({"text":"how many people entered the lawn?"})",
                           "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json a = json_of(res);
  EXPECT_EQ(a["question"], "how many people entered the lawn?");
  EXPECT_EQ(a["answer"], "3 people entered the lawn.");
  EXPECT_EQ(a["facts"]["count"], 3);
  ASSERT_TRUE(a["audio_url"].is_string());
  auto audio = client_->Get(a["audio_url"].get<std::string>().c_str());
  ASSERT_TRUE(audio);
  EXPECT_EQ(audio->status, 200);
  EXPECT_EQ(audio->get_header_value("Content-Type"), "audio/wav");
  EXPECT_EQ(audio->body.substr(0, 4), "RIFF");

  const std::string wav = std::string("RIFF\x10\x00\x00\x00WAVE", 12) + std::string(100, '\0');
  res = client_->Post("/api/ask", wav, "audio/wav");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json_of(res)["question"], "audio of 112");

  httplib::MultipartFormDataItems items = {{"audio", wav, "q.wav", "audio/wav"}};
  res = client_->Post("/api/ask", items);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json_of(res)["question"], "audio of 112");

  EXPECT_EQ(expect_error_shape(client_->Post("/api/ask", "not a wav", "audio/wav"), 400),
            "invalid_value");
  EXPECT_EQ(
      expect_error_shape(client_->Post("/api/ask", R"({"text":""})", "application/json"), 400),
      "invalid_value");
  EXPECT_EQ(expect_error_shape(client_->Post("/api/ask", R"({"text":5})", "application/json"), 400),
            "invalid_type");
  EXPECT_EQ(expect_error_shape(client_->Get("/api/audio/zzz.wav"), 404), "not_found");
  EXPECT_EQ(answerer_.calls.load(), 3);
}

TEST_F(EventsTest, MjpegStreamsPushedFrames) {
  start();
  std::mutex mutex;
  std::string received;
  std::atomic<bool> stop{false};
  std::thread viewer([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    auto res = c.Get("/api/stream.mjpg", [&](const char* data, size_t n) {
      std::lock_guard lock(mutex);
      received.append(data, n);
      return !stop.load();
    });
  });
  ASSERT_TRUE(eventually([&] { return server_->live_view().viewers() == 1; }));
  // Frames go to viewers as JPEG parts; a cv::Mat is encoded only while someone watches.
  cv::Mat frame(48, 64, CV_8UC3, cv::Scalar(0, 128, 255));
  ASSERT_TRUE(eventually([&] {
    server_->live_view().push_frame(frame);
    std::lock_guard lock(mutex);
    return received.find("\xFF\xD9") != std::string::npos;
  }));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(received.rfind("--vigilframe\r\nContent-Type: image/jpeg\r\n", 0), 0u)
        << received.substr(0, 80);
  }
  stop = true;
  server_->live_view().push_jpeg("\xFF\xD8x\xFF\xD9");
  viewer.join();
  EXPECT_TRUE(eventually([&] { return server_->live_view().viewers() == 0; }));
  EXPECT_GE(server_->live_view().frames(), 2u);
}

TEST_F(EventsTest, NoEventSourceSays404) {
  server_ = std::make_unique<Server>(testing::test_options(), nullptr);
  server_->start();
  client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  EXPECT_EQ(expect_error_shape(client_->Get("/api/events"), 404), "no_event_source");
  EXPECT_EQ(
      expect_error_shape(client_->Post("/api/ask", R"({"text":"x"})", "application/json"), 404),
      "no_answerer");
}

// ---- static files: no way out of the root ------------------------------------------------------

TEST_F(EventsTest, WebRootServesFilesAndNothingElse) {
  fs::create_symlink(dir_ / "secret.txt", dir_ / "web" / "escape.txt");
  fs::create_directory_symlink(dir_, dir_ / "web" / "up");
  ServerOptions o = testing::test_options();
  o.web_root = (dir_ / "web").string();
  start(o);
  auto res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "<h1>dash</h1>");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  res = client_->Get("/sub/app.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "let x = 1;");
  const int port = server_->port();
  for (const std::string& path : std::vector<std::string>{
           "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
           "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/..%5csecret.txt", "/escape.txt",
           "/up/secret.txt", "//etc/passwd", "/" + (dir_ / "secret.txt").string(),
           "/%00/secret.txt", "/sub/..\\..\\secret.txt"}) {
    const std::string response =
        raw_request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const int status = status_of(response);
    EXPECT_TRUE(status == 404 || status == 400) << path << " -> " << response.substr(0, 200);
    EXPECT_EQ(response.find("top secret"), std::string::npos) << path;
    EXPECT_EQ(response.find("root:"), std::string::npos) << path;
  }
}

TEST_F(EventsTest, EmbeddedDashboardIsServed) {
  start();
  if (embedded_asset_count() == 0) GTEST_SKIP() << "built without web/";
  auto res = client_->Get("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("<html"), std::string::npos);
  EXPECT_NE(res->get_header_value("Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  res = client_->Get("/app.js");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  for (const std::string path : {"/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/etc/passwd"}) {
    const std::string response = raw_request(
        server_->port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(response), 404) << path;
  }
}

TEST(StaticFiles, ResolveUnderRoot) {
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("vigil_static_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "root" / "a");
  write_file_atomic((dir / "root" / "a" / "f.txt").string(), "ok");
  write_file_atomic((dir / "outside.txt").string(), "no");
  fs::create_symlink(dir / "outside.txt", dir / "root" / "link.txt");
  fs::create_symlink(dir / "root" / "a" / "f.txt", dir / "root" / "inside-link.txt");
  const std::string root = (dir / "root").string();
  EXPECT_TRUE(resolve_under_root(root, "/a/f.txt"));
  EXPECT_TRUE(resolve_under_root(root, "/a/./f.txt"));
  EXPECT_TRUE(resolve_under_root(root, "/inside-link.txt"));  // a link that stays inside is fine
  EXPECT_FALSE(resolve_under_root(root, "/a/../a/f.txt"));    // ".." is refused outright
  EXPECT_FALSE(resolve_under_root(root, "/../outside.txt"));
  EXPECT_FALSE(resolve_under_root(root, "/link.txt"));
  EXPECT_FALSE(resolve_under_root(root, "/a"));  // a folder
  EXPECT_FALSE(resolve_under_root(root, "/missing"));
  EXPECT_FALSE(resolve_under_root(root, "/a\\..\\..\\outside.txt"));
  EXPECT_FALSE(resolve_under_root(root, std::string_view("/a/f.txt\0x", 10)));
  EXPECT_FALSE(file_is_under(root, (dir / "outside.txt").string()));
  EXPECT_TRUE(file_is_under(root, (dir / "root" / "a" / "f.txt").string()));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::server
