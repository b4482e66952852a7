// The OpenAI-compatible API over a real loopback connection (httplib::Client) with the shared
// tiny model: completions (whole and streamed), chat, tokenize round trip, error shapes, auth,
// limits, batching of concurrent requests, cancellation by disconnect, shutdown.
#include <atomic>
#include <thread>
#include <vector>

#include "base/error.h"
#include "server_test_util.h"

namespace vigil::server {
namespace {

using nlohmann::json;
using testing::eventually;
using testing::expect_error_shape;
using testing::json_of;
using testing::shared_engine;
using testing::test_options;

class HttpTest : public ::testing::Test {
 protected:
  void start(ServerOptions options = test_options()) {
    server_ = std::make_unique<Server>(options, &shared_engine());
    server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60, 0);
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->stop();
  }
  httplib::Result post(const std::string& path, const json& body) {
    return client_->Post(path.c_str(), body.dump(), "application/json");
  }
  // The data: payloads of an SSE response, "[DONE]" included.
  static std::vector<std::string> sse_payloads(const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while ((pos = body.find("data: ", pos)) != std::string::npos) {
      const size_t end = body.find("\n\n", pos);
      out.push_back(body.substr(pos + 6, end - pos - 6));
      pos = end;
    }
    return out;
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpTest, HealthAndModels) {
  start();
  auto res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(json_of(res)["status"], "ok");
  res = client_->Get("/v1/models");
  ASSERT_TRUE(res);
  const json models = json_of(res);
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "test-llama");
  EXPECT_EQ(models["data"][0]["meta"]["n_ctx"], 512);
}

TEST_F(HttpTest, CompletionWholeResponse) {
  start();
  auto res =
      post("/v1/completions",
           {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}, {"seed", 7}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json_of(res);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], "test-llama");
  EXPECT_EQ(j["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  ASSERT_EQ(j["choices"].size(), 1u);
  const auto& usage = j["usage"];
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 0);
  EXPECT_GE(usage["completion_tokens"].get<int>(), 1);
  EXPECT_LE(usage["completion_tokens"].get<int>(), 12);
  EXPECT_EQ(usage["total_tokens"].get<int>(),
            usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  const std::string finish = j["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "length" || finish == "stop") << finish;
  if (usage["completion_tokens"] == 12) {
    EXPECT_EQ(finish, "length");
  }

  // Greedy decoding is deterministic: the same request gives the same text, and it matches
  // what the engine produces directly for the same tokens.
  auto again = post("/v1/completions",
                    {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_TRUE(again);
  EXPECT_EQ(json_of(again)["choices"][0]["text"], j["choices"][0]["text"]);
}

TEST_F(HttpTest, CompletionStreamsSseChunks) {
  start();
  auto whole =
      post("/v1/completions", {{"prompt", "The harbour"}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200);
  auto res = post("/v1/completions", {{"prompt", "The harbour"},
                                      {"max_tokens", 10},
                                      {"temperature", 0},
                                      {"stream", true},
                                      {"stream_options", {{"include_usage", true}}}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  const auto payloads = sse_payloads(res->body);
  ASSERT_GE(payloads.size(), 3u) << res->body;
  EXPECT_EQ(payloads.back(), "[DONE]");
  std::string text;
  std::string finish;
  json usage;
  for (size_t i = 0; i + 1 < payloads.size(); ++i) {
    const json chunk = json::parse(payloads[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    if (chunk.contains("usage")) {
      usage = chunk["usage"];
      EXPECT_TRUE(chunk["choices"].empty());
      continue;
    }
    text += chunk["choices"][0]["text"].get<std::string>();
    if (!chunk["choices"][0]["finish_reason"].is_null())
      finish = chunk["choices"][0]["finish_reason"];
  }
  // The streamed pieces add up to the whole response's text.
  EXPECT_EQ(text, json_of(whole)["choices"][0]["text"]);
  EXPECT_FALSE(finish.empty());
  ASSERT_TRUE(usage.is_object());
  EXPECT_EQ(usage["completion_tokens"], json_of(whole)["usage"]["completion_tokens"]);
}

TEST_F(HttpTest, ChatWholeAndStreamed) {
  start();
  const json messages = json::array({{{"role", "system"}, {"content", "Be brief."}},
                                     {{"role", "user"}, {"content", "Hello there"}}});
  auto res =
      post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 8}, {"temperature", 0}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json j = json_of(res);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["message"]["content"].is_string());

  // Content parts are accepted as text.
  const json parts =
      json::array({{{"role", "user"},
                    {"content", json::array({{{"type", "text"}, {"text", "Hello there"}}})}}});
  res = post("/v1/chat/completions",
             {{"messages", parts}, {"max_tokens", 8}, {"temperature", 0}, {"stream", true}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const auto payloads = sse_payloads(res->body);
  ASSERT_GE(payloads.size(), 3u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  const json first = json::parse(payloads[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  const json last = json::parse(payloads[payloads.size() - 2]);
  EXPECT_FALSE(last["choices"][0]["finish_reason"].is_null());
}

TEST_F(HttpTest, StopStringEndsTheText) {
  start();
  auto res = post("/v1/completions", {{"prompt", "a b c"}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_TRUE(res);
  const std::string text = json_of(res)["choices"][0]["text"];
  if (text.size() < 4) GTEST_SKIP() << "the model's text is too short to cut: '" << text << "'";
  const std::string stop = text.substr(2, 2);
  res = post("/v1/completions",
             {{"prompt", "a b c"}, {"max_tokens", 24}, {"temperature", 0}, {"stop", stop}});
  ASSERT_TRUE(res);
  const json j = json_of(res);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][0]["text"], text.substr(0, text.find(stop)));
}

TEST_F(HttpTest, TokenizeRoundTrip) {
  start();
  const std::string text = "The quick brown fox, 2024!";
  auto res = post("/tokenize", {{"content", text}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json tokens = json_of(res)["tokens"];
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.get<std::vector<int32_t>>(),
            shared_engine().tokenizer().encode(text, false, true));
  res = post("/detokenize", {{"tokens", tokens}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json_of(res)["content"], text);

  res = post("/tokenize", {{"content", "hi"}, {"with_pieces", true}, {"add_special", true}});
  ASSERT_TRUE(res);
  const json pieces = json_of(res)["tokens"];
  ASSERT_FALSE(pieces.empty());
  EXPECT_TRUE(pieces[0].contains("id") && pieces[0].contains("piece"));

  expect_error_shape(post("/detokenize", {{"tokens", {1, 999999}}}), 400);
  expect_error_shape(post("/detokenize", {{"tokens", "nope"}}), 400);
  expect_error_shape(post("/tokenize", {{"text", "wrong field"}}), 400);
}

TEST_F(HttpTest, ErrorShapes) {
  start();
  // Bad JSON.
  auto res = client_->Post("/v1/completions", "{\"prompt\": ", "application/json");
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_json");
  res = client_->Post("/v1/completions", "[1,2]", "application/json");
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_json");
  // Wrong field types, each named in "param".
  res = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", "ten"}});
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_type");
  EXPECT_EQ(json_of(res)["error"]["param"], "max_tokens");
  res = post("/v1/completions", {{"prompt", "x"}, {"temperature", "hot"}});
  EXPECT_EQ(json_of(res)["error"]["param"], "temperature");
  res = post("/v1/completions", {{"prompt", "x"}, {"stream", "yes"}});
  EXPECT_EQ(json_of(res)["error"]["param"], "stream");
  res = post("/v1/completions", {{"prompt", 42}});
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_type");
  res = post("/v1/chat/completions", {{"messages", "hello"}});
  EXPECT_EQ(json_of(res)["error"]["param"], "messages");
  res = post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", 5}}}}});
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_type");
  res = post("/v1/chat/completions", {{"messages", {{{"role", "robot"}, {"content", "hi"}}}}});
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_value");
  res = post("/v1/completions", {{"max_tokens", 4}});
  EXPECT_EQ(expect_error_shape(res, 400), "missing_field");
  res = post("/v1/completions", {{"prompt", "x"}, {"temperature", 7}});
  EXPECT_EQ(expect_error_shape(res, 400), "invalid_value");
  // Too many tokens: over the server's limit, and over the context.
  res = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 65}});
  EXPECT_EQ(expect_error_shape(res, 400), "max_tokens_exceeded");
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += "word ";
  res = post("/v1/completions", {{"prompt", long_prompt}, {"max_tokens", 8}});
  EXPECT_EQ(expect_error_shape(res, 400), "context_length_exceeded");
  // Unknown route, wrong method.
  EXPECT_EQ(expect_error_shape(client_->Get("/v1/nothing"), 404), "not_found");
  EXPECT_EQ(expect_error_shape(client_->Get("/v1/completions"), 404), "not_found");
  // The server still works after all that.
  res = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpTest, BodyTooLargeIs413) {
  ServerOptions o = test_options();
  o.max_body_bytes = 1024;
  start(o);
  const std::string big = json({{"prompt", std::string(4096, 'a')}}).dump();
  auto res = client_->Post("/v1/completions", big, "application/json");
  EXPECT_EQ(expect_error_shape(res, 413), "request_too_large");
}

TEST_F(HttpTest, ApiKeyRequiredEverywhere) {
  ServerOptions o = test_options();
  o.api_key = "s3cret-key";
  start(o);
  for (const char* path : {"/health", "/v1/models", "/metrics", "/", "/api/status", "/nope"}) {
    auto res = client_->Get(path);
    EXPECT_EQ(expect_error_shape(res, 401), "invalid_api_key") << path;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer") << path;
  }
  EXPECT_EQ(expect_error_shape(post("/v1/completions", {{"prompt", "x"}}), 401), "invalid_api_key");
  client_->set_bearer_token_auth("wrong-key!");
  EXPECT_EQ(expect_error_shape(client_->Get("/health"), 401), "invalid_api_key");
  client_->set_bearer_token_auth("s3cret-key");
  auto res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  // Browsers: ?key= on the page sets an HttpOnly cookie that later requests carry.
  httplib::Client browser("127.0.0.1", server_->port());
  res = browser.Get("/?key=s3cret-key");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Set-Cookie").find("HttpOnly"), std::string::npos);
  res = browser.Get("/api/status", {{"Cookie", "vigil_key=s3cret-key"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = browser.Get("/api/status", {{"Cookie", "vigil_key=nope"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(HttpTest, NonLoopbackNeedsAKey) {
  ServerOptions o = test_options();
  o.host = "0.0.0.0";
  EXPECT_THROW(Server(o, &shared_engine()), vigil::UsageError);
  o.api_key = "k";
  EXPECT_NO_THROW(Server(o, &shared_engine()));
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.4"));
  EXPECT_FALSE(is_loopback_host("128.0.0.1"));
}

TEST_F(HttpTest, CorsOffByDefaultOnWhenAsked) {
  start();
  auto res = client_->Get("/health", {{"Origin", "http://evil.example"}});
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
  server_->stop();
  ServerOptions o = test_options();
  o.cors_origin = "http://dash.example";
  start(o);
  res = client_->Options("/v1/completions", {{"Origin", "http://dash.example"},
                                             {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://dash.example");
  EXPECT_NE(res->get_header_value("Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  res = client_->Get("/health");
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://dash.example");
}

TEST_F(HttpTest, ConcurrentRequestsAreBatched) {
  start();
  Scheduler& scheduler = *server_->scheduler();
  ASSERT_EQ(scheduler.max_batch(), 4);
  // Hold the scheduler until all four requests wait, so they must be decoded as one batch.
  scheduler.pause();
  std::vector<std::thread> clients;
  std::vector<int> statuses(4, 0);
  std::vector<int> completion_tokens(4, 0);
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(60, 0);
      const bool stream = i % 2 == 1;
      auto res = c.Post("/v1/completions",
                        json({{"prompt", "request " + std::to_string(i)},
                              {"max_tokens", 6},
                              {"stream", stream},
                              {"seed", i}})
                            .dump(),
                        "application/json");
      if (!res) return;
      statuses[static_cast<size_t>(i)] = res->status;
      if (!stream)
        completion_tokens[static_cast<size_t>(i)] = json_of(res)["usage"]["completion_tokens"];
      else
        completion_tokens[static_cast<size_t>(i)] = res->body.find("[DONE]") != std::string::npos;
    });
  }
  ASSERT_TRUE(eventually([&] { return scheduler.stats().queue_depth == 4; }));
  scheduler.resume();
  for (auto& t : clients) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(statuses[static_cast<size_t>(i)], 200) << i;
    EXPECT_GE(completion_tokens[static_cast<size_t>(i)], 1) << i;
  }
  const SchedulerStats s = scheduler.stats();
  EXPECT_EQ(s.max_batch_seen, 4u);
  EXPECT_GE(s.batched_requests, 4u);
  EXPECT_EQ(s.completed, 4u);
}

TEST_F(HttpTest, ConcurrentSmoke) {
  start();
  // 8 clients x 3 requests, mixed streaming: all succeed, nothing is lost.
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", server_->port());
      c.set_read_timeout(60, 0);
      for (int k = 0; k < 3; ++k) {
        auto res = c.Post(
            "/v1/completions",
            json({{"prompt", "smoke"}, {"max_tokens", 4}, {"stream", (i + k) % 2 == 0}}).dump(),
            "application/json");
        if (res && res->status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 24);
  EXPECT_EQ(server_->scheduler()->stats().completed, 24u);
}

TEST_F(HttpTest, QueueFullIs503) {
  ServerOptions o = test_options();
  o.max_queue = 1;
  start(o);
  Scheduler& scheduler = *server_->scheduler();
  scheduler.pause();
  std::thread waiting([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60, 0);
    c.Post("/v1/completions", json({{"prompt", "x"}, {"max_tokens", 2}}).dump(),
           "application/json");
  });
  ASSERT_TRUE(eventually([&] { return scheduler.stats().queue_depth == 1; }));
  auto res = post("/v1/completions", {{"prompt", "y"}, {"max_tokens", 2}});
  EXPECT_EQ(expect_error_shape(res, 503), "overloaded");
  scheduler.resume();
  waiting.join();
}

TEST_F(HttpTest, ClientDisconnectCancels) {
  start();
  Scheduler& scheduler = *server_->scheduler();
  scheduler.pause();
  // A streaming client that hangs up after the first chunk (the role), while its request waits.
  std::thread streaming([&] {
    httplib::Client c("127.0.0.1", server_->port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = json({{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                     {"max_tokens", 32},
                     {"stream", true}})
                   .dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [](const char*, size_t, uint64_t, uint64_t) { return false; };
    c.send(req);
  });
  // A whole-response client that gives up waiting.
  std::thread whole([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(1, 0);
    c.Post("/v1/completions", json({{"prompt", "x"}, {"max_tokens", 32}}).dump(),
           "application/json");
  });
  streaming.join();
  whole.join();
  // The server notices both departures while the requests are still queued.
  ASSERT_TRUE(eventually([&] { return scheduler.stats().queued_cancelled == 2; }))
      << scheduler.stats().queued_cancelled;
  scheduler.resume();
  ASSERT_TRUE(eventually([&] { return scheduler.stats().queue_depth == 0; }));
  EXPECT_TRUE(eventually([&] { return scheduler.stats().cancelled == 2; }));
  EXPECT_EQ(scheduler.stats().completed, 0u);
}

TEST_F(HttpTest, GracefulShutdownFinishesInFlight) {
  start();
  Scheduler& scheduler = *server_->scheduler();
  scheduler.pause();
  int status = 0;
  std::string body;
  std::thread waiting([&] {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(60, 0);
    auto res = c.Post("/v1/completions", json({{"prompt", "x"}, {"max_tokens", 3}}).dump(),
                      "application/json");
    if (res) {
      status = res->status;
      body = res->body;
    }
  });
  ASSERT_TRUE(eventually([&] { return scheduler.stats().queue_depth == 1; }));
  // stop() drains: the queued request is decoded (a stop overrides the pause) and answered.
  server_->stop();
  waiting.join();
  EXPECT_EQ(status, 200) << body;
  EXPECT_EQ(json::parse(body, nullptr, false)["usage"]["completion_tokens"].is_number(), true);
  EXPECT_FALSE(server_->running());
  // New connections are refused once stopped.
  httplib::Client late("127.0.0.1", server_->port());
  late.set_connection_timeout(1, 0);
  EXPECT_FALSE(late.Get("/health"));
}

TEST_F(HttpTest, MetricsInPrometheusFormat) {
  start();
  ASSERT_TRUE(post("/v1/completions", {{"prompt", "x"}, {"max_tokens", 3}}));
  // The request counter is bumped after the response is sent: wait for it to show.
  std::string m;
  std::string content_type;
  ASSERT_TRUE(eventually([&] {
    auto res = client_->Get("/metrics");
    if (!res || res->status != 200) return false;
    m = res->body;
    content_type = res->get_header_value("Content-Type");
    return m.find("route=\"/v1/completions\",code=\"200\"") != std::string::npos;
  }));
  EXPECT_EQ(content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  for (const char* name :
       {"# TYPE vigil_llm_generated_tokens_total counter", "vigil_llm_tokens_per_second ",
        "vigil_llm_queue_depth 0", "vigil_live_fps ",
        "vigil_llm_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1",
        "vigil_llm_request_duration_seconds_count 1",
        "vigil_http_requests_total{route=\"/v1/completions\",code=\"200\"} 1",
        "# TYPE vigil_http_request_duration_seconds histogram"}) {
    EXPECT_NE(m.find(name), std::string::npos) << name << "\n" << m;
  }
}

TEST(ServerWithoutModel, LlmEndpointsSay503) {
  Server server(testing::test_options(), nullptr);
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Post("/v1/completions", R"({"prompt":"x"})", "application/json");
  EXPECT_EQ(expect_error_shape(res, 503), "model_not_loaded");
  res = c.Get("/v1/models");
  ASSERT_TRUE(res);
  EXPECT_TRUE(json_of(res)["data"].empty());
  res = c.Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  server.stop();
}

}  // namespace
}  // namespace vigil::server
