// The OpenAI wire format (https://platform.openai.com/docs/api-reference): request parsing with
// type checks, response and stream-chunk bodies, and the error shape
//   {"error":{"message":"...","type":"invalid_request_error","param":"max_tokens","code":null}}
// Pure functions over JSON, so they are tested without a socket.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "llm/engine.h"

namespace vigil::server {

// An error the client caused or the server state explains; becomes an HTTP response.
class ApiError : public std::runtime_error {
 public:
  ApiError(int http_status, const std::string& message,
           std::string error_type = "invalid_request_error", std::string error_param = "",
           std::string error_code = "")
      : std::runtime_error(message),
        status(http_status),
        type(std::move(error_type)),
        param(std::move(error_param)),
        code(std::move(error_code)) {}
  int status;
  std::string type, param, code;
};

// {"error":{"message","type","param","code"}} (param and code null when empty).
nlohmann::json error_body(const std::string& message, const std::string& type,
                          const std::string& param = "", const std::string& code = "");
nlohmann::json error_body(const ApiError& error);

// Server-side limits applied while parsing.
struct CompletionLimits {
  int max_tokens_limit = 512;    // a request asking for more is refused (400)
  int default_max_tokens = 128;  // when the request does not say (capped by the limit)
  size_t max_stop = 4;           // stop strings
};

// A parsed /v1/completions or /v1/chat/completions request.
struct CompletionRequest {
  bool chat = false;
  std::string model;                   // as sent ("" when absent)
  std::string prompt;                  // completions: the text prompt
  std::vector<int32_t> prompt_tokens;  // completions: a prompt given as token ids
  std::vector<ChatMessage> messages;   // chat
  int max_tokens = 0;
  SamplingParams sampling;
  bool seeded = false;  // "seed" was given (else a random seed is drawn)
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool echo = false;           // completions: prepend the prompt to the text
};

// Throws ApiError(400) naming the field for a wrong type or value. Unknown fields are ignored
// (as llama.cpp's and Ollama's servers do).
CompletionRequest parse_completion_request(const nlohmann::json& body, bool chat,
                                           const CompletionLimits& limits);

// Parses a request body as a JSON object; ApiError(400) when it is not one.
nlohmann::json parse_json_body(const std::string& body);

// "stop" (eos, stop string, cancelled) or "length" (max_tokens, context full).
std::string finish_reason(const std::string& stop_reason);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  nlohmann::json to_json() const;
};

nlohmann::json completion_response(const std::string& id, int64_t created, const std::string& model,
                                   bool chat, const std::string& text, const std::string& finish,
                                   const Usage& usage);
// One stream chunk: `text` as a delta (chat: {"content"}; first chat chunk also carries the
// role), `finish` "" while going on.
nlohmann::json completion_chunk(const std::string& id, int64_t created, const std::string& model,
                                bool chat, const std::string& text, const std::string& finish,
                                bool first);
// The final usage-only chunk (stream_options.include_usage): choices empty.
nlohmann::json usage_chunk(const std::string& id, int64_t created, const std::string& model,
                           bool chat, const Usage& usage);

// "data: <json>\n\n"
std::string sse_data(const nlohmann::json& value);
// A random id with `prefix` ("chatcmpl-" / "cmpl-") and 24 base-36 characters.
std::string random_id(const std::string& prefix);

}  // namespace vigil::server
