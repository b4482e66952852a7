// Shared helpers of the server tests: the tiny shared model (noise text, fine for the API), a
// server on a free loopback port, and raw HTTP for requests httplib::Client would tidy up.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "llm/engine.h"
#include "server/server.h"

namespace vigil::server::testing {

inline std::string test_model_path() {
  return std::string(VIGIL_SHARED_DIR) + "/testdata/models/llama/model-q8_0.gguf";
}

// One engine for a whole test binary (loading is cheap, but ASan makes everything slower).
inline Engine& shared_engine() {
  static Engine engine([] {
    EngineOptions o;
    o.model_path = test_model_path();
    o.n_threads = 1;
    o.n_ctx = 512;
    o.n_seq = 4;
    return o;
  }());
  return engine;
}

// Polls `condition` every 10 ms for up to `limit_s` seconds (a wait, not a timing assertion).
inline bool eventually(const std::function<bool()>& condition, double limit_s = 30) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(limit_s * 1000));
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

inline ServerOptions test_options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.http_threads = 16;
  o.model_name = "test-llama";
  o.max_tokens_limit = 64;
  o.default_max_tokens = 8;
  o.drain_s = 2;
  return o;
}

// Sends `request` verbatim and returns the whole response (the server closes or times out).
inline std::string raw_request(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// "HTTP/1.1 404 Not Found\r\n..." -> 404 (0 when unparsable).
inline int status_of(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

inline nlohmann::json json_of(const httplib::Result& res) {
  return nlohmann::json::parse(res->body, nullptr, false);
}

// Checks the OpenAI error shape and returns error.code ("" when null).
inline std::string expect_error_shape(const httplib::Result& res, int status) {
  EXPECT_TRUE(res);
  if (!res) return "";
  EXPECT_EQ(res->status, status) << res->body;
  const nlohmann::json j = json_of(res);
  EXPECT_TRUE(j.is_object() && j.contains("error")) << res->body;
  if (!j.is_object() || !j.contains("error")) return "";
  const auto& e = j["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_TRUE(e["type"].is_string());
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  return e["code"].is_string() ? e["code"].get<std::string>() : "";
}

}  // namespace vigil::server::testing
