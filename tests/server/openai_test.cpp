// Request parsing and response shapes of the OpenAI wire format (no sockets).
#include "server/openai.h"

#include <gtest/gtest.h>

#include "server/metrics.h"

namespace vigil::server {
namespace {

using nlohmann::json;

CompletionRequest parse(const json& body, bool chat = false) {
  return parse_completion_request(body, chat, CompletionLimits{});
}

// The ApiError's param and code for a body that must be refused.
std::pair<std::string, std::string> refusal(const json& body, bool chat = false) {
  try {
    parse(body, chat);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    return {e.param, e.code};
  }
  ADD_FAILURE() << "accepted: " << body.dump();
  return {};
}

TEST(OpenAi, CompletionDefaultsAndFields) {
  CompletionRequest r = parse({{"prompt", "hi"}});
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.max_tokens, 128);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FALSE(r.seeded);
  EXPECT_FALSE(r.stream);

  r = parse({{"prompt", {"one"}},
             {"max_tokens", 5},
             {"temperature", 0},
             {"top_p", 0.5},
             {"stop", {"\n", "END"}},
             {"seed", 42},
             {"stream", true},
             {"stream_options", {{"include_usage", true}}},
             {"unknown_field", {1, 2}}});
  EXPECT_EQ(r.prompt, "one");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.5f);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.seeded);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);

  r = parse({{"prompt", {1, 2, 3}}});
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  r = parse({{"prompt", "x"}, {"stop", "."}, {"max_tokens", nullptr}});
  EXPECT_EQ(r.stop, std::vector<std::string>{"."});
}

TEST(OpenAi, ChatMessages) {
  CompletionRequest r = parse(
      {{"messages",
        {{{"role", "system"}, {"content", "sys"}},
         {{"role", "user"},
          {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}},
         {{"role", "developer"}, {"content", "dev"}}}},
       {"max_completion_tokens", 9}},
      true);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].role, "system");
  EXPECT_EQ(r.max_tokens, 9);
}

TEST(OpenAi, RefusalsNameTheField) {
  EXPECT_EQ(refusal({{"prompt", "x"}, {"max_tokens", 1.5}}),
            std::make_pair(std::string("max_tokens"), std::string("invalid_type")));
  EXPECT_EQ(refusal({{"prompt", "x"}, {"max_tokens", 0}}).second, "invalid_value");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"max_tokens", 100000}}).second, "max_tokens_exceeded");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"top_p", 0}}).first, "top_p");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"temperature", -1}}).first, "temperature");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"seed", "abc"}}).first, "seed");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"stop", 3}}).first, "stop");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"stop", {"a", "b", "c", "d", "e"}}}).first, "stop");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"n", 2}}).first, "n");
  EXPECT_EQ(refusal({{"prompt", "x"}, {"stream_options", true}}).first, "stream_options");
  EXPECT_EQ(refusal({{"prompt", {"a", "b"}}}).first, "prompt");
  EXPECT_EQ(refusal({{"prompt", {1, "b"}}}).first, "prompt[1]");
  EXPECT_EQ(refusal({{"prompt", {-1}}}).first, "prompt[0]");
  EXPECT_EQ(refusal({{"prompt", {{"k", 1}}}}).first, "prompt");
  EXPECT_EQ(refusal(json::object()).second, "missing_field");
  EXPECT_EQ(refusal(json::object(), true).first, "messages");
  EXPECT_EQ(refusal({{"messages", json::array()}}, true).first, "messages");
  EXPECT_EQ(refusal({{"messages", {1}}}, true).first, "messages[0]");
  EXPECT_EQ(refusal({{"messages", {{{"content", "x"}}}}}, true).first, "messages[0].role");
  EXPECT_EQ(
      refusal({{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, true)
          .first,
      "messages[0].content[0].type");
  EXPECT_EQ(refusal({{"model", 3}, {"prompt", "x"}}).first, "model");
}

TEST(OpenAi, JsonBody) {
  EXPECT_THROW(parse_json_body("{"), ApiError);
  EXPECT_THROW(parse_json_body("\"text\""), ApiError);
  EXPECT_THROW(parse_json_body(""), ApiError);
  EXPECT_EQ(parse_json_body(R"({"a":1})")["a"], 1);
}

TEST(OpenAi, ErrorShape) {
  const json e = error_body(ApiError(400, "bad", "invalid_request_error", "max_tokens", "x"));
  EXPECT_EQ(e, json::parse(R"({"error":{"message":"bad","type":"invalid_request_error",
                                        "param":"max_tokens","code":"x"}})"));
  const json n = error_body("oops", "server_error");
  EXPECT_TRUE(n["error"]["param"].is_null());
  EXPECT_TRUE(n["error"]["code"].is_null());
}

TEST(OpenAi, ResponsesAndChunks) {
  const json c = completion_response("cmpl-1", 7, "m", false, "hello", "length", {3, 2});
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], "hello");
  EXPECT_EQ(c["usage"]["total_tokens"], 5);
  const json chat = completion_response("chatcmpl-1", 7, "m", true, "hi", "stop", {1, 1});
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "hi");
  EXPECT_EQ(chat["choices"][0]["message"]["role"], "assistant");

  const json first = completion_chunk("id", 1, "m", true, "", "", true);
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  const json last = completion_chunk("id", 1, "m", true, "", "stop", false);
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  const json usage = usage_chunk("id", 1, "m", false, {4, 5});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 5);

  EXPECT_EQ(finish_reason("eos"), "stop");
  EXPECT_EQ(finish_reason("stop"), "stop");
  EXPECT_EQ(finish_reason("length"), "length");
  EXPECT_EQ(finish_reason("context"), "length");
  EXPECT_EQ(sse_data(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  // Invalid UTF-8 in a piece never breaks the JSON.
  EXPECT_EQ(sse_data(json{{"t", std::string("\xff")}}), "data: {\"t\":\"\xEF\xBF\xBD\"}\n\n");
  const std::string id = random_id("cmpl-");
  EXPECT_EQ(id.size(), 29u);
  EXPECT_NE(id, random_id("cmpl-"));
}

TEST(Metrics, HistogramRendersCumulativeBuckets) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  std::string out;
  h.render(out, "lat", "help", "route=\"x\"");
  EXPECT_NE(out.find("# TYPE lat histogram"), std::string::npos);
  EXPECT_NE(out.find("lat_bucket{route=\"x\",le=\"0.1\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("lat_bucket{route=\"x\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("lat_bucket{route=\"x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("lat_count{route=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("lat_sum{route=\"x\"} 5.55\n"), std::string::npos);
  EXPECT_EQ(h.count(), 3u);
  EXPECT_GT(h.quantile(0.5), 0.1);
  EXPECT_LE(h.quantile(0.5), 1.0);
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace vigil::server
