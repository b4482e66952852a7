// The text model behind the summarizer and `vigil ask`, as a narrow interface so the queueing
// and dispatch logic can be tested with a scripted fake. EngineGenerator is the real one: the
// llm::Engine with the report contract's settings (docs/REPORT_FORMAT.md): no BOS, no chat
// template, special tokens parsed, greedy decoding, stop at <|end|> / EOS.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "llm/engine.h"

namespace vigil::fusion {

struct Generation {
  std::string text;         // the whole output, stop token excluded
  std::string stop_reason;  // eos, stop, length, cancelled, context
  int tokens = 0;
  double first_token_ms = 0;  // from the call to the first piece (0 when none)
  double total_ms = 0;
};

class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  // Streams pieces of text (whole UTF-8 characters) to `on_piece`; returning false stops.
  virtual Generation generate(const std::string& prompt, int max_tokens,
                              const std::function<bool(std::string_view)>& on_piece) = 0;
  virtual std::string describe() const = 0;
};

class EngineGenerator : public TextGenerator {
 public:
  // Loads the model (throws vigil::Error naming the file when it cannot).
  EngineGenerator(const std::string& model_path, int threads, int ctx);
  Generation generate(const std::string& prompt, int max_tokens,
                      const std::function<bool(std::string_view)>& on_piece) override;
  std::string describe() const override { return description_; }
  Engine& engine() { return engine_; }

 private:
  Engine engine_;
  std::string description_;
};

}  // namespace vigil::fusion
