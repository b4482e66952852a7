// Alert channels: retries with backoff against a webhook that is down and then comes up, an
// unreachable MQTT broker that must not hold up the other channels, delivery through a real
// mosquitto broker (skipped when the binary is missing), and sentence streaming for speech.
#include "fusion/dispatcher.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "fusion/alerts.h"
#include "fusion_test_util.h"

namespace vigil::fusion {
namespace {

using namespace std::chrono_literals;

// A loopback port nothing listens on (bound then released).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Counts what it is given; never fails.
class CountingDispatcher : public Dispatcher {
 public:
  CountingDispatcher() : Dispatcher("counting", RetryOptions{}) {}
  ~CountingDispatcher() override { stop(0); }
  std::atomic<int> delivered{0};

 protected:
  std::string deliver(const AlertMessage&) override {
    ++delivered;
    return "";
  }
};

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

AlertMessage message(int i) {
  AlertMessage m;
  m.kind = i % 2 ? "report" : "event";
  m.text = fmt::format("message {}", i);
  m.payload = {{"n", i}};
  return m;
}

TEST(Dispatcher, WebhookDownIsRetriedWithBackoffAndRecovers) {
  const int port = free_port();
  WebhookOptions o;
  o.url = fmt::format("http://127.0.0.1:{}/hook", port);
  o.timeout_s = 0.5;
  o.retry.max_attempts = 50;
  o.retry.backoff_initial_s = 0.05;
  o.retry.backoff_max_s = 0.2;
  WebhookDispatcher webhook(o);
  CountingDispatcher other;
  webhook.start();
  other.start();
  for (int i = 0; i < 3; ++i) {
    webhook.post(message(i));
    other.post(message(i));
  }
  // The other channel is not held up by the dead webhook.
  EXPECT_TRUE(wait_until([&] { return other.delivered.load() == 3; }, 2000ms));
  EXPECT_TRUE(wait_until([&] { return webhook.stats().failed_attempts >= 2; }, 3000ms));
  EXPECT_EQ(webhook.stats().delivered, 0u);
  EXPECT_NE(webhook.stats().last_error.find("webhook down: cannot POST to http://127.0.0.1:"),
            std::string::npos)
      << webhook.stats().last_error;
  EXPECT_NE(webhook.stats().last_error.find("Connection refused"), std::string::npos)
      << webhook.stats().last_error;
  // The webhook comes up: the queued messages are delivered by the retries.
  httplib::Server server;
  std::atomic<int> received{0};
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    if (nlohmann::json::parse(req.body).contains("n")) ++received;
    res.status = 204;
  });
  std::thread serving([&] { server.listen("127.0.0.1", port); });
  EXPECT_TRUE(wait_until([&] { return received.load() == 3; }, 10000ms)) << received.load();
  webhook.stop(1.0);
  server.stop();
  serving.join();
  EXPECT_EQ(webhook.stats().delivered, 3u);
  EXPECT_EQ(webhook.stats().given_up, 0u);
}

TEST(Dispatcher, WebhookErrorStatusCountsAsFailureAndGivesUp) {
  httplib::Server server;
  server.Post("/hook", [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  WebhookOptions o;
  o.url = fmt::format("http://127.0.0.1:{}/hook", port);
  o.retry.max_attempts = 2;
  o.retry.backoff_initial_s = 0.01;
  WebhookDispatcher webhook(o);
  webhook.start();
  webhook.post(message(1));
  EXPECT_TRUE(wait_until([&] { return webhook.stats().given_up == 1; }, 5000ms));
  EXPECT_NE(webhook.stats().last_error.find("HTTP 500"), std::string::npos);
  webhook.stop(0);
  server.stop();
  serving.join();
}

TEST(Dispatcher, UnreachableBrokerDoesNotBlockOthersAndStopsPromptly) {
  MqttOptions o;
  o.host = "127.0.0.1";
  o.port = free_port();
  o.retry.max_attempts = 1000;
  o.retry.backoff_initial_s = 0.05;
  o.retry.backoff_max_s = 0.1;
  MqttDispatcher mqtt(o, "Test Site");
  CountingDispatcher other;
  mqtt.start();
  other.start();
  for (int i = 0; i < 20; ++i) {
    mqtt.post(message(i));
    other.post(message(i));
  }
  EXPECT_TRUE(wait_until([&] { return other.delivered.load() == 20; }, 2000ms));
  EXPECT_TRUE(wait_until([&] { return mqtt.stats().failed_attempts >= 3; }, 3000ms));
  EXPECT_NE(mqtt.stats().last_error.find("unreachable"), std::string::npos)
      << mqtt.stats().last_error;
  const auto t0 = std::chrono::steady_clock::now();
  mqtt.stop(0.2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(mqtt.stats().delivered, 0u);
  EXPECT_EQ(mqtt.topic("events"), "vigil/test-site/events");
}

TEST(Dispatcher, PublishesThroughARealBroker) {
  const char* broker = "/usr/sbin/mosquitto";
  if (!std::filesystem::exists(broker)) {
    GTEST_SKIP() << "mosquitto broker not installed (" << broker << "); apt-get install mosquitto";
  }
  const int port = free_port();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string p = std::to_string(port);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    if (!freopen("/dev/null", "w", stderr)) _exit(126);
    execl(broker, broker, "-p", p.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  struct Killer {
    pid_t pid;
    ~Killer() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } killer{pid};
  mosquitto_lib_init();
  struct Inbox {
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> messages;
  } inbox;
  mosquitto* sub = mosquitto_new("vigil-test-sub", true, &inbox);
  ASSERT_NE(sub, nullptr);
  mosquitto_message_callback_set(sub, [](mosquitto*, void* user, const mosquitto_message* m) {
    auto* in = static_cast<Inbox*>(user);
    std::lock_guard lock(in->mutex);
    in->messages.emplace_back(m->topic, std::string(static_cast<const char*>(m->payload),
                                                    static_cast<size_t>(m->payloadlen)));
  });
  // The broker takes a moment to listen.
  ASSERT_TRUE(wait_until(
      [&] { return mosquitto_connect(sub, "127.0.0.1", port, 30) == MOSQ_ERR_SUCCESS; }, 5000ms));
  ASSERT_EQ(mosquitto_subscribe(sub, nullptr, "vigil/#", 1), MOSQ_ERR_SUCCESS);
  ASSERT_EQ(mosquitto_loop_start(sub), MOSQ_ERR_SUCCESS);
  std::this_thread::sleep_for(200ms);  // SUBACK

  MqttOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  MqttDispatcher mqtt(o, "Harbor Depot");
  mqtt.start();
  mqtt.post(message(0));  // event
  mqtt.post(message(1));  // report
  EXPECT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(inbox.mutex);
        return inbox.messages.size() >= 2;
      },
      5000ms));
  mqtt.stop(1.0);
  mosquitto_disconnect(sub);
  mosquitto_loop_stop(sub, false);
  mosquitto_destroy(sub);
  std::lock_guard lock(inbox.mutex);
  ASSERT_EQ(inbox.messages.size(), 2u);
  EXPECT_EQ(inbox.messages[0].first, "vigil/harbor-depot/events");
  EXPECT_EQ(nlohmann::json::parse(inbox.messages[0].second)["n"], 0);
  EXPECT_EQ(inbox.messages[1].first, "vigil/harbor-depot/reports");
  EXPECT_EQ(mqtt.stats().delivered, 2u);
}

TEST(SentenceStream, HandsOverSentencesAsSoonAsTheNextOneBegins) {
  SentenceStream s;
  EXPECT_TRUE(s.push("A person entered the lawn at 10:").empty());
  EXPECT_TRUE(s.push("02:11.").empty());  // may still be "10:02:11.5" or an abbreviation
  const auto first = s.push(" They left");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], "A person entered the lawn at 10:02:11.");
  EXPECT_TRUE(s.push(" after 3.5 s").empty());  // a decimal is not a sentence end
  const auto rest = s.finish();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0], "They left after 3.5 s");
}

TEST(SpeechAlerts, WritesOneWavPerReportAndStampsFirstAudio) {
  testing::TempDir dir;
  EventStore::Options so;
  so.path = dir.file("vigil.db");
  EventStore store(so);
  const std::string run = store.begin_run("cam", 1);
  const auto e = store.record(
      run, testing::make_event("cam0-000001", vision::EventType::kIntrusion, "lawn", 1),
      Severity::kCritical, 1);
  SpeechAlerts speech(SpeechAlertOptions{}, speech::VoiceOptions{}, dir.file("alerts"), run,
                      &store);
  speech.start();
  speech.begin(1, {e.id});
  for (const char* piece : {"A person ", "entered the lawn.", " Security ", "was told."}) {
    speech.piece(1, piece);
  }
  speech.end(1, "");
  speech.stop();
  const SpeechStats s = speech.stats();
  ASSERT_EQ(s.wav_files.size(), 1u) << s.error;
  EXPECT_EQ(s.sentences, 2u);
  EXPECT_GT(std::filesystem::file_size(s.wav_files[0]), 20000u);
  EXPECT_GT(store.latencies(run).at(0).first_audio_unix, 0);
}

}  // namespace
}  // namespace vigil::fusion
