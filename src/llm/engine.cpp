#include "llm/engine.h"

#include <chrono>

#include "base/error.h"
#include "llm/tokenizer/unicode.h"

namespace vigil {
namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

size_t complete_utf8_prefix(std::string_view text) {
  // Look back at most 3 bytes for the start of a multi-byte sequence.
  const size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? n - back : n;
  }
  return n;
}

std::string replace_invalid_utf8(std::string_view text) { return tok::sanitize_utf8(text); }

Engine::Engine(const EngineOptions& options) {
  model_ = Model::load(options.model_path);
  if (!model_->has_tokenizer()) fail("{}: the model has no tokenizer", options.model_path);
  ContextParams cp;
  cp.n_ctx = options.n_ctx;
  cp.kv_type = options.kv_type;
  cp.n_threads = options.n_threads;
  cp.exact = options.exact;
  cp.mem_budget = options.mem_budget;
  cp.direct_io = options.direct_io;
  context_ = std::make_unique<Context>(*model_, cp);
  if (options.chat_template) {
    auto f = chat_format_from_name(*options.chat_template);
    if (!f) {
      fail_usage("--chat-template '{}' is not known (expected llama2, llama3, chatml, phi3, "
                 "mistral or gemma)", *options.chat_template);
    }
    chat_format_ = *f;
  } else if (model_->chat_template()) {
    if (auto f = detect_chat_format(*model_->chat_template())) chat_format_ = *f;
  } else if (model_->config().arch == "phi3") {
    chat_format_ = ChatFormat::Phi3;
  }
}

Engine::~Engine() = default;

const Tokenizer& Engine::tokenizer() const { return model_->tokenizer(); }

std::string Engine::apply_chat_template(const std::vector<ChatMessage>& messages,
                                        bool add_generation_prompt) const {
  const Tokenizer& tok = tokenizer();
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : std::string();
  return render_chat(chat_format_, messages, add_generation_prompt, bos);
}

GenerateResult Engine::generate(const GenerateRequest& req,
                                const std::function<bool(std::string_view)>& on_piece) {
  const auto t_start = std::chrono::steady_clock::now();
  cancel_.store(false);
  const Tokenizer& tok = tokenizer();
  GenerateResult result;
  std::vector<int32_t> ids = req.prompt_ids;
  if (ids.empty()) ids = tok.encode(req.prompt, req.add_bos, req.parse_special);
  if (ids.empty()) fail("the prompt is empty (no tokens)");
  Context& ctx = *context_;
  const int32_t room = ctx.n_ctx() - 1;
  if (static_cast<int32_t>(ids.size()) > room) {
    if (!req.truncate_prompt) {
      fail("the prompt has {} tokens but the context holds {} (raise --ctx or allow truncation)",
           ids.size(), ctx.n_ctx());
    }
    ids.erase(ids.begin(), ids.end() - room);
  }
  ctx.reset();
  result.stats.n_prompt = static_cast<int32_t>(ids.size());
  // Streaming counters around each step (all zero when everything is resident).
  auto io_snapshot = [&]() -> StreamStats {
    return ctx.streaming() != nullptr ? ctx.streaming()->stats() : StreamStats{};
  };
  auto io_delta = [](const StreamStats& a, const StreamStats& b, double ms) {
    return TokenIoStats{b.bytes_read - a.bytes_read, b.io_ns - a.io_ns, b.stall_ns - a.stall_ns,
                        static_cast<uint64_t>(ms * 1e6)};
  };
  StreamStats io0 = io_snapshot();
  std::span<const float> logits = ctx.eval(ids);
  result.stats.prompt_ms = ms_since(t_start);
  result.stats.prompt_io = io_delta(io0, io_snapshot(), result.stats.prompt_ms);

  if (ctx.streaming() != nullptr) result.stats.token_io.reserve(static_cast<size_t>(std::max(0, req.max_tokens)));
  Sampler sampler(req.sampling);
  std::vector<int32_t> history = ids;
  std::string pending;   // decoded text not yet emitted (incomplete UTF-8 or a possible stop)
  std::string emitted;
  const auto t_gen = std::chrono::steady_clock::now();
  auto emit = [&](std::string_view raw) -> bool {
    if (raw.empty()) return true;
    const std::string piece = replace_invalid_utf8(raw);
    if (result.stats.first_token_ms == 0) result.stats.first_token_ms = ms_since(t_start);
    emitted += piece;
    return on_piece ? on_piece(piece) : true;
  };

  result.stop_reason = "length";
  for (int32_t n = 0; n < req.max_tokens; ++n) {
    if (cancel_.load()) {
      result.stop_reason = "cancelled";
      break;
    }
    const int32_t id = sampler.sample(logits, history);
    if (tok.is_eog(id)) {
      result.stop_reason = "eos";
      break;
    }
    history.push_back(id);
    result.tokens.push_back(id);
    pending += tok.token_to_piece(id);
    // A stop string ends generation before it; hold back any suffix that may start one.
    size_t stop_at = std::string::npos;
    for (const auto& s : req.stop) {
      if (s.empty()) continue;
      const size_t p = pending.find(s);
      if (p != std::string::npos && p < stop_at) stop_at = p;
    }
    if (stop_at != std::string::npos) {
      emit(pending.substr(0, complete_utf8_prefix(pending.substr(0, stop_at))));
      pending.clear();
      result.stop_reason = "stop";
      break;
    }
    size_t hold = 0;
    for (const auto& s : req.stop) {
      for (size_t k = std::min(s.size() - 1, pending.size()); k > hold; --k) {
        if (pending.compare(pending.size() - k, k, s, 0, k) == 0) {
          hold = k;
          break;
        }
      }
    }
    const size_t ready = complete_utf8_prefix(std::string_view(pending).substr(0, pending.size() - hold));
    if (!emit(std::string_view(pending).substr(0, ready))) {
      pending.erase(0, ready);
      result.stop_reason = "cancelled";
      break;
    }
    pending.erase(0, ready);
    if (n + 1 == req.max_tokens) break;
    if (ctx.n_past() >= ctx.n_ctx()) {
      result.stop_reason = "context";
      break;
    }
    const auto t_step = std::chrono::steady_clock::now();
    io0 = io_snapshot();
    logits = ctx.eval(std::span<const int32_t>(&id, 1));
    if (ctx.streaming() != nullptr) result.stats.token_io.push_back(io_delta(io0, io_snapshot(), ms_since(t_step)));
  }
  if (result.stop_reason != "stop" && result.stop_reason != "cancelled") emit(pending);
  result.text = std::move(emitted);
  result.stats.n_generated = static_cast<int32_t>(result.tokens.size());
  result.stats.generate_ms = ms_since(t_gen);
  return result;
}

}  // namespace vigil
