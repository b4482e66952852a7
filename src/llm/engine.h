// vigil/llm: the API the rest of the system uses to run a language model.
//
//   Engine engine({.model_path = "model.gguf", .n_threads = 2});
//   GenerateRequest req{.prompt = "Hello", .max_tokens = 32};
//   engine.generate(req, [](std::string_view piece) { std::cout << piece; return true; });
//
// One Engine owns one model and one context; it is used from one thread at a time (the
// fusion summarizer and the server serialise requests onto it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm/model/model.h"
#include "llm/runtime/chat.h"
#include "llm/runtime/context.h"
#include "llm/runtime/sampler.h"
#include "llm/tokenizer/tokenizer.h"

namespace vigil {

struct EngineOptions {
  std::string model_path;
  int n_threads = 0;  // 0 = all hardware threads
  int32_t n_ctx = 0;  // 0 = model context capped at 4096
  GgmlType kv_type = GgmlType::F16;
  bool exact = false;       // reference f32 math (see ContextParams)
  uint64_t mem_budget = 0;  // bytes; 0 = everything resident (see ContextParams)
  bool direct_io = true;
  // Resident weights (no budget): false = a private copy in memory (FileImage::kCopy, faster
  // decode), true = a mapping of the file (instant start, pages shared with the page cache).
  bool mmap = false;
  int32_t n_seq = 1;                         // requests generate_batch() can decode together
  std::optional<std::string> chat_template;  // family name overriding detection
};

struct GenerateRequest {
  std::string prompt;               // raw text (no template applied)
  std::vector<int32_t> prompt_ids;  // used instead of `prompt` when non-empty
  int32_t max_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;  // generation ends before the first occurrence of any
  bool add_bos = true;            // add the tokenizer's BOS (if it uses one)
  bool parse_special = true;      // "<|im_start|>" in the prompt is the special token
  // What to do when the prompt does not fit the context: error, or keep its last tokens.
  bool truncate_prompt = false;
};

// Per decode step (streaming only): what the layer streamer did during that token.
struct TokenIoStats {
  uint64_t bytes_read = 0;
  uint64_t io_ns = 0;     // reader thread busy reading
  uint64_t stall_ns = 0;  // compute waiting for a layer
  uint64_t wall_ns = 0;   // the whole step
};

struct GenerateStats {
  int32_t n_prompt = 0;
  int32_t n_generated = 0;
  double prompt_ms = 0;                // wall time of the prefill
  double generate_ms = 0;              // wall time of decode (sampling included)
  double first_token_ms = 0;           // from request start to the first generated piece
  TokenIoStats prompt_io;              // streaming: the prefill
  std::vector<TokenIoStats> token_io;  // streaming: one entry per decode step
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::string stop_reason;  // "length", "stop" (a stop string), "eos", "cancelled"
  GenerateStats stats;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options);
  ~Engine();

  const Model& model() const { return *model_; }
  const Tokenizer& tokenizer() const;
  Context& context() { return *context_; }
  const Context& context() const { return *context_; }

  // Streams text pieces (always whole UTF-8 characters, stop strings never leaked) to
  // `on_piece`; returning false cancels. The context is reset before each request.
  GenerateResult generate(const GenerateRequest& request,
                          const std::function<bool(std::string_view)>& on_piece = {});

  // Several requests decoded together (EngineOptions::n_seq >= requests.size()): all prompts are
  // evaluated in one batch, then every step feeds one token of each unfinished request in one
  // pass over the weights, so N requests cost about as much weight traffic as one (the win is
  // largest when weights stream from storage). on_piece(i, piece) streams request i's text;
  // returning false cancels that request only. Results in request order.
  std::vector<GenerateResult> generate_batch(
      const std::vector<GenerateRequest>& requests,
      const std::function<bool(size_t, std::string_view)>& on_piece = {});

  // Applies the model's chat template (or the override) to messages.
  std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt = true) const;
  ChatFormat chat_format() const { return chat_format_; }

  // Cancels a running generate() from another thread.
  void cancel() { cancel_.store(true); }

 private:
  class SequenceRun;
  std::vector<int32_t> prompt_ids(const GenerateRequest& req) const;

  std::unique_ptr<Model> model_;
  std::unique_ptr<Context> context_;
  ChatFormat chat_format_ = ChatFormat::ChatML;
  std::atomic<bool> cancel_{false};
};

// Length of the longest prefix of `text` that is complete UTF-8 (an incomplete trailing
// sequence is held back until the next piece completes it).
size_t complete_utf8_prefix(std::string_view text);
// `text` with every ill-formed UTF-8 subsequence replaced by U+FFFD (the tokenizer's rule,
// tok::sanitize_utf8, so streamed text equals Tokenizer::decode).
std::string replace_invalid_utf8(std::string_view text);

}  // namespace vigil
