#include "server/openai.h"

#include <fmt/format.h>

#include <random>

namespace vigil::server {

using nlohmann::json;

json error_body(const std::string& message, const std::string& type, const std::string& param,
                const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

json error_body(const ApiError& error) {
  return error_body(error.what(), error.type, error.param, error.code);
}

json parse_json_body(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", "",
                   "invalid_json");
  }
  if (!j.is_object()) {
    throw ApiError(400,
                   fmt::format("the request body must be a JSON object, got {}", j.type_name()),
                   "invalid_request_error", "", "invalid_json");
  }
  return j;
}

namespace {

[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& value) {
  throw ApiError(400, fmt::format("'{}': expected {}, got {}", field, expected, value.type_name()),
                 "invalid_request_error", field, "invalid_type");
}

[[noreturn]] void bad_value(const std::string& field, const std::string& message) {
  throw ApiError(400, fmt::format("'{}': {}", field, message), "invalid_request_error", field,
                 "invalid_value");
}

// The field when present and not null.
const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number_in(const json& body, const char* key, double lo, double hi, double fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad_value(key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
  return x;
}

int64_t integer_in(const json& body, const char* key, int64_t lo, int64_t hi, int64_t fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad_value(key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
  return x;
}

bool boolean(const json& body, const char* key, bool fallback) {
  const json* v = field(body, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

// Chat content: a string, or an array of parts of which the text ones are joined.
std::string message_content(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return "";
  if (!content.is_array()) wrong_type(where, "a string or an array of content parts", content);
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string pw = fmt::format("{}[{}]", where, i);
    if (!part.is_object()) wrong_type(pw, "an object", part);
    const std::string type = part.value("type", "");
    if (type != "text") bad_value(pw + ".type", fmt::format("'{}' parts are not supported", type));
    const json* t = field(part, "text");
    if (t == nullptr || !t->is_string()) wrong_type(pw + ".text", "a string", t ? *t : json());
    text += t->get<std::string>();
  }
  return text;
}

}  // namespace

CompletionRequest parse_completion_request(const json& body, bool chat,
                                           const CompletionLimits& limits) {
  CompletionRequest r;
  r.chat = chat;
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) wrong_type("model", "a string", *m);
    r.model = m->get<std::string>();
  }
  if (chat) {
    const json* msgs = field(body, "messages");
    if (msgs == nullptr) {
      throw ApiError(400, "'messages' is required", "invalid_request_error", "messages",
                     "missing_field");
    }
    if (!msgs->is_array()) wrong_type("messages", "an array", *msgs);
    if (msgs->empty()) bad_value("messages", "must hold at least one message");
    for (size_t i = 0; i < msgs->size(); ++i) {
      const json& m = (*msgs)[i];
      const std::string where = fmt::format("messages[{}]", i);
      if (!m.is_object()) wrong_type(where, "an object", m);
      const json* role = field(m, "role");
      if (role == nullptr || !role->is_string()) {
        wrong_type(where + ".role", "a string", role ? *role : json());
      }
      const std::string rs = role->get<std::string>();
      if (rs != "system" && rs != "user" && rs != "assistant" && rs != "developer") {
        bad_value(where + ".role", fmt::format("'{}' is not system, user or assistant", rs));
      }
      auto content = m.find("content");
      r.messages.push_back(
          {rs == "developer" ? "system" : rs,
           message_content(content == m.end() ? json() : *content, where + ".content")});
    }
  } else {
    const json* p = field(body, "prompt");
    if (p == nullptr) {
      throw ApiError(400, "'prompt' is required", "invalid_request_error", "prompt",
                     "missing_field");
    }
    if (p->is_string()) {
      r.prompt = p->get<std::string>();
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
      r.prompt = (*p)[0].get<std::string>();
    } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
      for (size_t i = 0; i < p->size(); ++i) {
        if (!(*p)[i].is_number_integer()) {
          wrong_type(fmt::format("prompt[{}]", i), "an integer token id", (*p)[i]);
        }
        const int64_t id = (*p)[i].get<int64_t>();
        if (id < 0 || id > INT32_MAX) bad_value(fmt::format("prompt[{}]", i), "not a token id");
        r.prompt_tokens.push_back(static_cast<int32_t>(id));
      }
    } else if (p->is_array() && p->size() > 1 && (*p)[0].is_string()) {
      bad_value("prompt", "several prompts in one request are not supported; send one each");
    } else {
      wrong_type("prompt", "a string, [string] or an array of token ids", *p);
    }
    r.echo = boolean(body, "echo", false);
  }

  const json* mt = field(body, "max_tokens");
  const char* mt_name = "max_tokens";
  if (chat && mt == nullptr) {
    mt = field(body, "max_completion_tokens");
    mt_name = "max_completion_tokens";
  }
  if (mt != nullptr) {
    if (!mt->is_number_integer()) wrong_type(mt_name, "an integer", *mt);
    const int64_t n = mt->get<int64_t>();
    if (n < 1) bad_value(mt_name, fmt::format("{} is below 1", n));
    if (n > limits.max_tokens_limit) {
      throw ApiError(400,
                     fmt::format("'{}': {} is more than this server allows ({})", mt_name, n,
                                 limits.max_tokens_limit),
                     "invalid_request_error", mt_name, "max_tokens_exceeded");
    }
    r.max_tokens = static_cast<int>(n);
  } else {
    r.max_tokens = std::min(limits.default_max_tokens, limits.max_tokens_limit);
  }

  // OpenAI's defaults: temperature 1, top_p 1; the llama.cpp extensions are off unless given.
  r.sampling.temperature = static_cast<float>(number_in(body, "temperature", 0, 2, 1.0));
  r.sampling.top_p = static_cast<float>(number_in(body, "top_p", 0, 1, 1.0));
  if (field(body, "top_p") != nullptr && r.sampling.top_p <= 0) bad_value("top_p", "must be > 0");
  r.sampling.top_k = static_cast<int32_t>(integer_in(body, "top_k", 0, 1 << 20, 0));
  r.sampling.min_p = static_cast<float>(number_in(body, "min_p", 0, 1, 0.0));
  r.sampling.presence_penalty = static_cast<float>(number_in(body, "presence_penalty", -2, 2, 0));
  r.sampling.frequency_penalty = static_cast<float>(number_in(body, "frequency_penalty", -2, 2, 0));
  r.sampling.repeat_penalty = static_cast<float>(number_in(body, "repeat_penalty", 0, 10, 1));
  if (const json* s = field(body, "seed")) {
    if (!s->is_number_integer()) wrong_type("seed", "an integer", *s);
    r.sampling.seed = static_cast<uint64_t>(s->get<int64_t>());
    r.seeded = true;
  } else {
    std::random_device rd;
    r.sampling.seed = (static_cast<uint64_t>(rd()) << 32) | rd();
  }
  if (const json* n = field(body, "n")) {
    if (!n->is_number_integer()) wrong_type("n", "an integer", *n);
    if (n->get<int64_t>() != 1) bad_value("n", "only n = 1 is supported");
  }

  if (const json* s = field(body, "stop")) {
    if (s->is_string()) {
      r.stop.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].is_string()) wrong_type(fmt::format("stop[{}]", i), "a string", (*s)[i]);
        r.stop.push_back((*s)[i].get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", *s);
    }
    if (r.stop.size() > limits.max_stop) {
      bad_value("stop", fmt::format("at most {} stop strings", limits.max_stop));
    }
  }
  r.stream = boolean(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) wrong_type("stream_options", "an object", *so);
    r.include_usage = boolean(*so, "include_usage", false);
  }
  return r;
}

std::string finish_reason(const std::string& stop_reason) {
  return stop_reason == "length" || stop_reason == "context" ? "length" : "stop";
}

json Usage::to_json() const {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json completion_response(const std::string& id, int64_t created, const std::string& model,
                         bool chat, const std::string& text, const std::string& finish,
                         const Usage& usage) {
  json choice = {{"index", 0}, {"finish_reason", finish}, {"logprobs", nullptr}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  return {{"id", id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})},
          {"usage", usage.to_json()}};
}

json completion_chunk(const std::string& id, int64_t created, const std::string& model, bool chat,
                      const std::string& text, const std::string& finish, bool first) {
  json choice = {{"index", 0},
                 {"finish_reason", finish.empty() ? json(nullptr) : json(finish)},
                 {"logprobs", nullptr}};
  if (chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || (first && finish.empty())) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({choice})}};
}

json usage_chunk(const std::string& id, int64_t created, const std::string& model, bool chat,
                 const Usage& usage) {
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array()},
          {"usage", usage.to_json()}};
}

std::string sse_data(const json& value) {
  return "data: " + value.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

std::string random_id(const std::string& prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += kDigits[rng() % 36];
  return id;
}

}  // namespace vigil::server
