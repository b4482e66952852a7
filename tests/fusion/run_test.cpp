// `vigil run` end to end on the first seconds of the sample video: every output exists, every
// event has a report, and — with the bundled model — every report states its events' facts.
// Then kill -9 in the middle of a run and run again: nothing announced is lost, and the run
// continues where it stopped.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/videoio.hpp>
#include <set>
#include <thread>

#include "base/file.h"
#include "fusion/config.h"
#include "fusion/report_eval.h"
#include "fusion/report_prompt.h"
#include "fusion/store.h"
#include "fusion_test_util.h"

namespace vigil::fusion {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr double kSeconds = 12;  // ASan runs perception ~3x slower; stay well under a minute
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr double kSeconds = 12;
#else
constexpr double kSeconds = 20;
#endif
#else
constexpr double kSeconds = 20;
#endif

const std::string kVideo = std::string(VIGIL_SOURCE_DIR) + "/data/vtest.avi";
const std::string kBundled = std::string(VIGIL_SOURCE_DIR) + "/models/vigil-default-q8_0.gguf";

std::string model_path() {
  return fs::exists(kBundled) ? kBundled : testing::shared_test_model();
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kVideo)) GTEST_SKIP() << kVideo << " missing (scripts/fetch-sample-video)";
    if (!fs::exists(model_path())) GTEST_SKIP() << "no model: " << model_path();
  }
  testing::TempDir dir_;
};

TEST_F(RunTest, ProducesEveryOutputAndAReportForEveryEvent) {
  const std::string out = dir_.file("out");
  int status = 0;
  const std::string log = testing::run_command(
      fmt::format("{} run --config {}/configs/demo.yaml --out {} --max-seconds {} -m {} -q 2>&1",
                  VIGIL_VIGIL_BINARY, VIGIL_SOURCE_DIR, out, kSeconds, model_path()),
      &status);
  ASSERT_EQ(status, 0) << log;
  for (const char* f :
       {"events.jsonl", "vigil.db", "report.html", "latency.json", "annotated.mkv"}) {
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f << "\n" << log;
  }
  const auto events = read_lines(out + "/events.jsonl");
  ASSERT_GT(events.size(), 2u) << log;
  const std::string html = read_file(out + "/report.html");
  for (const auto& e : events) {
    EXPECT_EQ(e["report_status"], "reported") << e.dump();
    EXPECT_FALSE(e["report"].get<std::string>().empty()) << e.dump();
    EXPECT_NE(html.find(e["id"].get<std::string>()), std::string::npos);
    EXPECT_LE(e["start_s"].get<double>(), kSeconds + 1);
  }
  EXPECT_NE(html.find("data:image/jpeg;base64,"), std::string::npos);  // embedded snapshots
  // The lawn intrusion at the start is critical: it was spoken.
  size_t wavs = 0;
  for (const auto& f : fs::directory_iterator(out + "/alerts"))
    wavs += f.path().extension() == ".wav";
  EXPECT_GT(wavs, 0u);
  cv::VideoCapture video(out + "/annotated.mkv");
  ASSERT_TRUE(video.isOpened());
  cv::Mat frame;
  EXPECT_TRUE(video.read(frame));
  const nlohmann::json latency = nlohmann::json::parse(read_file(out + "/latency.json"));
  EXPECT_GT(latency["event_to_first_token"]["count"].get<int>(), 0);
  EXPECT_GE(latency["event_to_report_done"]["p95_ms"].get<double>(),
            latency["event_to_first_token"]["p50_ms"].get<double>());
  EXPECT_NE(log.find("event -> report first token"), std::string::npos) << log;

  if (!fs::exists(kBundled)) {
    GTEST_SKIP() << "facts check skipped: " << kBundled
                 << " does not exist yet (the shared test model writes noise)";
  }
  // Every report was written by the bundled model and states its events' facts.
  const RunConfig config = load_run_config(std::string(VIGIL_SOURCE_DIR) + "/configs/demo.yaml");
  ReportVocabulary vocab;
  for (const auto& z : config.vision.zones) vocab.zones.push_back(z.name);
  vocab.classes = config.class_names();
  ReportChecker checker(vocab);
  EventStore::Options so;
  so.path = out + "/vigil.db";
  so.create = false;
  EventStore store(so);
  for (const StoredReport& r : store.reports("event")) {
    std::vector<vision::Event> covered;
    for (const auto& id : r.event_ids) covered.push_back(store.event(id)->event);
    EXPECT_EQ(r.source, "llm") << r.text;
    // The facts the model was given (the prompt; zone names aliased, report_alias.h) are the
    // event records' facts; a crowd's count may have changed after the report was written.
    const size_t open = r.prompt.find(kFactsToken);
    const size_t close = r.prompt.find(kReportToken);
    ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << r.prompt;
    nlohmann::json given = nlohmann::json::parse(
        r.prompt.substr(open + kFactsToken.size(), close - open - kFactsToken.size()));
    const nlohmann::json recorded =
        nlohmann::json::parse(report_request_json(covered, config.site));
    ASSERT_EQ(given["events"].size(), recorded["events"].size()) << r.prompt;
    for (size_t i = 0; i < covered.size(); ++i) {
      nlohmann::json& g = given["events"][i];
      const nlohmann::json& want = recorded["events"][i];
      for (const char* key : {"type", "class", "time", "rule"}) {
        EXPECT_EQ(g[key], want[key]) << key << " in " << r.prompt;
      }
      if (want["type"] != "crowding") {
        EXPECT_EQ(g["count"], want["count"]) << r.prompt;
      }
      g["zone"] = want["zone"];  // the real name, which the report must state
    }
    const ReportCheck check = checker.check(r.text, given);
    std::string missed;
    for (const auto& e : check.events) {
      for (Fact f : kAllFacts) {
        if (e[f] == false) missed += " " + e.type + ":" + std::string(fact_name(f));
      }
    }
    std::string invented;
    for (const auto& h : check.hallucinations) invented += " " + h;
    EXPECT_EQ(check.facts_found(), check.facts_checked()) << r.text << "\nmissed:" << missed << "\n"
                                                          << r.prompt;
    EXPECT_TRUE(check.hallucinations.empty()) << r.text << "\ninvented:" << invented;
  }
}

TEST_F(RunTest, KillNineThenRunAgainKeepsEverythingAnnouncedAndContinues) {
  // A webhook receives every event as it is announced (after its commit).
  httplib::Server server;
  std::mutex mutex;
  std::set<std::string> announced;
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    const auto j = nlohmann::json::parse(req.body);
    if (j.value("kind", "") == "event") {
      std::lock_guard lock(mutex);
      announced.insert(j["id"].get<std::string>());
    }
    res.status = 204;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  struct Stop {
    httplib::Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{server, serving};

  std::string config = read_file(std::string(VIGIL_SOURCE_DIR) + "/configs/demo.yaml");
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    config.replace(at, from.size(), to);
  };
  replace("uri: ../data/vtest.avi", "uri: " + kVideo);
  replace("webhook: {url: \"\"}",
          fmt::format("webhook: {{url: \"http://127.0.0.1:{}/hook\", min_severity: info}}", port));
  replace("shift_minutes: 1", "shift_minutes: 0");
  const std::string config_path = dir_.file("site.yaml");
  std::ofstream(config_path) << config;
  const std::string out = dir_.file("out");
  const std::string args =
      fmt::format("run --config {} --out {} --max-seconds {} -m {} -q --no-video", config_path, out,
                  kSeconds, model_path());

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    if (!freopen("/dev/null", "w", stderr)) _exit(126);
    execl("/bin/sh", "sh", "-c", (std::string(VIGIL_VIGIL_BINARY) + " " + args).c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Kill it once a few events have been announced (well before the end).
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (announced.size() >= 4) break;
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, WNOHANG), 0) << "the run ended before it was killed";
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(20ms);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  std::set<std::string> before_kill;
  {
    std::lock_guard lock(mutex);
    before_kill = announced;
  }
  {
    EventStore::Options so;
    so.path = out + "/vigil.db";
    so.create = false;
    EventStore store(so);
    for (const auto& id : before_kill) EXPECT_TRUE(store.event(id)) << id << " lost by kill -9";
  }

  // The second run goes on past where the first one was to stop, so it surely meets events of
  // its own however far the killed run got.
  const std::string args_again =
      fmt::format("run --config {} --out {} --max-seconds {} -m {} -q --no-video", config_path, out,
                  2 * kSeconds, model_path());
  int status = 0;
  const std::string log =
      testing::run_command(std::string(VIGIL_VIGIL_BINARY) + " " + args_again + " 2>&1", &status);
  ASSERT_EQ(status, 0) << log;
  EXPECT_NE(log.find("resumed after frame"), std::string::npos) << log;
  const auto events = read_lines(out + "/events.jsonl");
  std::set<std::string> ids, runs;
  for (const auto& e : events) {
    ids.insert(e["id"].get<std::string>());
    runs.insert(e["run_id"].get<std::string>());
    // Events the killed run stored without a report were reported by the second run.
    EXPECT_EQ(e["report_status"], "reported") << e.dump();
  }
  for (const auto& id : before_kill) EXPECT_TRUE(ids.count(id)) << id;
  EXPECT_EQ(runs.size(), 2u);  // the second run added its own events
}

}  // namespace
}  // namespace vigil::fusion
