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
    if ((c & 0xE0) == 0xC0)
      need = 2;
    else if ((c & 0xF0) == 0xE0)
      need = 3;
    else if ((c & 0xF8) == 0xF0)
      need = 4;
    return need > back ? n - back : n;
  }
  return n;
}

std::string replace_invalid_utf8(std::string_view text) {
  return tok::sanitize_utf8(text);
}

Engine::Engine(const EngineOptions& options) {
  const bool copy = options.mem_budget == 0 && !options.mmap;
  model_ = Model::load(options.model_path, copy ? FileImage::kCopy : FileImage::kMap);
  if (!model_->has_tokenizer()) fail("{}: the model has no tokenizer", options.model_path);
  ContextParams cp;
  cp.n_ctx = options.n_ctx;
  cp.kv_type = options.kv_type;
  cp.n_threads = options.n_threads;
  cp.exact = options.exact;
  cp.mem_budget = options.mem_budget;
  cp.direct_io = options.direct_io;
  cp.n_seq = options.n_seq;
  context_ = std::make_unique<Context>(*model_, cp);
  if (options.chat_template) {
    auto f = chat_format_from_name(*options.chat_template);
    if (!f) {
      fail_usage(
          "--chat-template '{}' is not known (expected llama2, llama3, chatml, phi3, "
          "mistral or gemma)",
          *options.chat_template);
    }
    chat_format_ = *f;
  } else if (model_->chat_template()) {
    if (auto f = detect_chat_format(*model_->chat_template())) chat_format_ = *f;
  } else if (model_->config().arch == "phi3") {
    chat_format_ = ChatFormat::Phi3;
  }
}

Engine::~Engine() = default;

const Tokenizer& Engine::tokenizer() const {
  return model_->tokenizer();
}

std::string Engine::apply_chat_template(const std::vector<ChatMessage>& messages,
                                        bool add_generation_prompt) const {
  const Tokenizer& tok = tokenizer();
  const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : std::string();
  return render_chat(chat_format_, messages, add_generation_prompt, bos);
}

// The per-request state of a generation: sampling, stop strings, UTF-8-safe streaming of pieces.
// generate() runs one; generate_batch() runs several side by side on one context.
class Engine::SequenceRun {
 public:
  SequenceRun(const Tokenizer& tok, const GenerateRequest& req, std::vector<int32_t> prompt,
              const std::function<bool(std::string_view)>& on_piece,
              std::chrono::steady_clock::time_point t_start)
      : tok_(tok),
        req_(req),
        on_piece_(on_piece),
        t_start_(t_start),
        sampler_(req.sampling),
        history_(std::move(prompt)) {
    result_.stats.n_prompt = static_cast<int32_t>(history_.size());
    result_.stop_reason = "length";
  }

  const std::vector<int32_t>& prompt() const { return history_; }
  GenerateResult& result() { return result_; }
  bool done() const { return done_; }

  // Takes the logits after the last fed token; returns the next token to feed, or -1 when the
  // request is finished (eos, stop string, length, cancel, full context).
  int32_t step(std::span<const float> logits, bool cancelled, bool context_full) {
    if (cancelled) return finish("cancelled");
    if (n_ >= req_.max_tokens) return finish("length");
    const int32_t id = sampler_.sample(logits, history_);
    ++n_;
    if (tok_.is_eog(id)) return finish("eos");
    history_.push_back(id);
    result_.tokens.push_back(id);
    pending_ += tok_.token_to_piece(id);
    // A stop string ends generation before it; hold back any suffix that may start one.
    size_t stop_at = std::string::npos;
    for (const auto& s : req_.stop) {
      if (s.empty()) continue;
      const size_t p = pending_.find(s);
      if (p != std::string::npos && p < stop_at) stop_at = p;
    }
    if (stop_at != std::string::npos) {
      emit(pending_.substr(0, complete_utf8_prefix(pending_.substr(0, stop_at))));
      pending_.clear();
      return finish("stop");
    }
    size_t hold = 0;
    for (const auto& s : req_.stop) {
      for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k) {
        if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
          hold = k;
          break;
        }
      }
    }
    const size_t ready =
        complete_utf8_prefix(std::string_view(pending_).substr(0, pending_.size() - hold));
    const bool go_on = emit(std::string_view(pending_).substr(0, ready));
    pending_.erase(0, ready);
    if (!go_on) return finish("cancelled");
    if (n_ >= req_.max_tokens) return finish("length");
    if (context_full) return finish("context");
    return id;
  }

 private:
  bool emit(std::string_view raw) {
    if (raw.empty()) return true;
    const std::string piece = replace_invalid_utf8(raw);
    if (result_.stats.first_token_ms == 0) result_.stats.first_token_ms = ms_since(t_start_);
    emitted_ += piece;
    return on_piece_ ? on_piece_(piece) : true;
  }
  int32_t finish(const char* reason) {
    result_.stop_reason = reason;
    if (result_.stop_reason != "stop" && result_.stop_reason != "cancelled") emit(pending_);
    pending_.clear();
    result_.text = std::move(emitted_);
    result_.stats.n_generated = static_cast<int32_t>(result_.tokens.size());
    done_ = true;
    return -1;
  }

  const Tokenizer& tok_;
  const GenerateRequest& req_;
  const std::function<bool(std::string_view)>& on_piece_;
  std::chrono::steady_clock::time_point t_start_;
  Sampler sampler_;
  std::vector<int32_t> history_;
  std::string pending_;  // decoded text not yet emitted (incomplete UTF-8 or a possible stop)
  std::string emitted_;
  int32_t n_ = 0;  // tokens sampled
  bool done_ = false;
  GenerateResult result_;
};

std::vector<int32_t> Engine::prompt_ids(const GenerateRequest& req) const {
  std::vector<int32_t> ids = req.prompt_ids;
  if (ids.empty()) ids = tokenizer().encode(req.prompt, req.add_bos, req.parse_special);
  if (ids.empty()) fail("the prompt is empty (no tokens)");
  const int32_t room = context_->n_ctx() - 1;
  if (static_cast<int32_t>(ids.size()) > room) {
    if (!req.truncate_prompt) {
      fail("the prompt has {} tokens but the context holds {} (raise --ctx or allow truncation)",
           ids.size(), context_->n_ctx());
    }
    ids.erase(ids.begin(), ids.end() - room);
  }
  return ids;
}

GenerateResult Engine::generate(const GenerateRequest& req,
                                const std::function<bool(std::string_view)>& on_piece) {
  const auto t_start = std::chrono::steady_clock::now();
  cancel_.store(false);
  Context& ctx = *context_;
  SequenceRun run(tokenizer(), req, prompt_ids(req), on_piece, t_start);
  ctx.reset();
  GenerateStats& stats = run.result().stats;
  // Streaming counters around each step (all zero when everything is resident).
  auto io_snapshot = [&]() -> StreamStats {
    return ctx.streaming() != nullptr ? ctx.streaming()->stats() : StreamStats{};
  };
  auto io_delta = [](const StreamStats& a, const StreamStats& b, double ms) {
    return TokenIoStats{b.bytes_read - a.bytes_read, b.io_ns - a.io_ns, b.stall_ns - a.stall_ns,
                        static_cast<uint64_t>(ms * 1e6)};
  };
  StreamStats io0 = io_snapshot();
  std::span<const float> logits = ctx.eval(run.prompt());
  stats.prompt_ms = ms_since(t_start);
  stats.prompt_io = io_delta(io0, io_snapshot(), stats.prompt_ms);
  if (ctx.streaming() != nullptr)
    stats.token_io.reserve(static_cast<size_t>(std::max(0, req.max_tokens)));

  const auto t_gen = std::chrono::steady_clock::now();
  for (;;) {
    const int32_t id = run.step(logits, cancel_.load(), ctx.n_past() >= ctx.n_ctx());
    if (id < 0) break;
    const auto t_step = std::chrono::steady_clock::now();
    io0 = io_snapshot();
    logits = ctx.eval(std::span<const int32_t>(&id, 1));
    if (ctx.streaming() != nullptr)
      stats.token_io.push_back(io_delta(io0, io_snapshot(), ms_since(t_step)));
  }
  stats.generate_ms = ms_since(t_gen);
  return std::move(run.result());
}

std::vector<GenerateResult> Engine::generate_batch(
    const std::vector<GenerateRequest>& requests,
    const std::function<bool(size_t, std::string_view)>& on_piece) {
  const auto t_start = std::chrono::steady_clock::now();
  cancel_.store(false);
  Context& ctx = *context_;
  const size_t n = requests.size();
  if (n == 0) return {};
  if (n > static_cast<size_t>(ctx.n_seq())) {
    fail("{} requests at once, but the engine was opened for {} parallel sequences", n,
         ctx.n_seq());
  }
  std::vector<std::function<bool(std::string_view)>> callbacks(n);
  std::vector<std::unique_ptr<SequenceRun>> runs;
  std::vector<int32_t> tokens, seqs;
  for (size_t i = 0; i < n; ++i) {
    if (on_piece) callbacks[i] = [&on_piece, i](std::string_view p) { return on_piece(i, p); };
    runs.push_back(std::make_unique<SequenceRun>(tokenizer(), requests[i], prompt_ids(requests[i]),
                                                 callbacks[i], t_start));
    // All prompts in one batch: each streamed layer is read once for every prompt token.
    for (int32_t id : runs.back()->prompt()) {
      tokens.push_back(id);
      seqs.push_back(static_cast<int32_t>(i));
    }
  }
  ctx.reset();
  std::span<const float> logits = ctx.eval_batch(tokens, seqs, false);
  const double prompt_ms = ms_since(t_start);
  const auto t_gen = std::chrono::steady_clock::now();
  const auto V = static_cast<size_t>(ctx.n_vocab());
  std::vector<int32_t> live(n);  // sequence ids that produced the current logits rows
  for (size_t i = 0; i < n; ++i) live[i] = static_cast<int32_t>(i);
  while (!live.empty()) {
    tokens.clear();
    seqs.clear();
    for (size_t row = 0; row < live.size(); ++row) {
      const auto i = static_cast<size_t>(live[row]);
      SequenceRun& r = *runs[i];
      const int32_t id =
          r.step(logits.subspan(row * V, V), cancel_.load(), ctx.n_past(live[row]) >= ctx.n_ctx());
      if (id >= 0) {
        tokens.push_back(id);
        seqs.push_back(live[row]);
      }
    }
    if (tokens.empty()) break;
    live = seqs;  // increasing, so rows of the next logits follow this order
    logits = ctx.eval_batch(tokens, seqs, false);
  }
  std::vector<GenerateResult> results;
  for (auto& r : runs) {
    r->result().stats.prompt_ms = prompt_ms;
    r->result().stats.generate_ms = ms_since(t_gen);
    results.push_back(std::move(r->result()));
  }
  return results;
}

}  // namespace vigil
