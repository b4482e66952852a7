// Operator questions over HTTP (POST /api/ask): typed text or a WAV recording in, an answer and
// (optionally) its spoken form out. The server only moves bytes; the work is done by an
// implementation of QuestionAnswerer (fusion_adapter.h: the decision engine's question
// answering over the event store, grammar STT and TTS).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vigil::server {

struct AskInput {
  std::string text;  // the question as typed ("" when `wav` is given)
  std::string wav;   // a RIFF/WAVE recording (bytes), "" when `text` is given
};

struct AskOutput {
  std::string heard;       // the question as understood (the transcript for audio)
  std::string answer;      // what is shown and spoken
  std::string source;      // "llm" or "template"
  std::string intent;      // count, what_happened, last_event
  nlohmann::json facts;    // the exact facts the answer states
  std::string answer_wav;  // the spoken answer (WAV bytes), "" when there is no voice
};

class QuestionAnswerer {
 public:
  virtual ~QuestionAnswerer() = default;
  // Called from HTTP threads, possibly several at once. Throws vigil::Error for input it cannot
  // use (unreadable WAV, no speech recognised): the server answers 400 with the message.
  virtual AskOutput ask(const AskInput& input) = 0;
};

}  // namespace vigil::server
