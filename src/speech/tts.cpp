// Text to speech with espeak-ng, synthesising into memory.
//
// espeak-ng keeps one engine per process (global state, not re-entrant), so every call takes
// the engine lock, applies its Synthesizer's voice settings and synthesises synchronously. The
// engine hands back audio in small buffers as it goes; each buffer is passed straight to the
// caller's sink, so playback can begin after the first few tens of milliseconds of speech are
// ready instead of after the whole text. The text is also cut into sentences first, which bounds
// the work done before the first sentence's audio and lets a caller stop between sentences.
#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <cctype>
#include <mutex>

#include "base/error.h"
#include "base/file.h"
#include "speech/internal.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

constexpr int kEngineBufferMs = 50;  // audio handed to the sink per engine callback

// Data path the engine was started with; "" is the library default.
struct Engine {
  std::mutex mutex;
  bool started = false;
  std::string data_dir;
  int sample_rate = 0;
};

Engine& engine() {
  static Engine e;
  return e;
}

struct SynthContext {
  const Synthesizer::ChunkSink* sink = nullptr;
  size_t sentence = 0;
  bool stopped = false;
  std::vector<float> buffer;
};

int synth_callback(short* wav, int count, espeak_EVENT* events) {
  if (events == nullptr || events->user_data == nullptr) return 0;
  auto* ctx = static_cast<SynthContext*>(events->user_data);
  if (ctx->stopped) return 1;
  if (wav == nullptr || count <= 0) return 0;
  ctx->buffer.resize(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) ctx->buffer[i] = wav[i] / 32768.0f;
  if (!(*ctx->sink)(ctx->buffer, ctx->sentence)) {
    ctx->stopped = true;
    return 1;  // tells espeak-ng to abandon the rest
  }
  return 0;
}

std::string status_text(espeak_ng_STATUS status) {
  char buffer[256] = {0};
  espeak_ng_GetStatusCodeMessage(status, buffer, sizeof buffer);
  return buffer;
}

// Starts (or restarts, for another data folder) the engine. Caller holds the engine lock.
void start_engine(const std::string& data_dir) {
  Engine& e = engine();
  if (e.started && e.data_dir == data_dir) return;
  if (!data_dir.empty() && !file_exists(data_dir + "/phontab")) {
    fail("tts: espeak-ng data not found in {} (expected {}/phontab; install espeak-ng-data)",
         data_dir, data_dir);
  }
  if (e.started) {
    espeak_ng_Terminate();
    e.started = false;
  }
  espeak_ng_InitializePath(data_dir.empty() ? nullptr : data_dir.c_str());
  espeak_ng_ERROR_CONTEXT context = nullptr;
  espeak_ng_STATUS status = espeak_ng_Initialize(&context);
  if (context != nullptr) espeak_ng_ClearErrorContext(&context);
  if (status != ENS_OK) {
    fail("tts: cannot start espeak-ng (data {}): {}", data_dir.empty() ? "default" : data_dir,
         status_text(status));
  }
  status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, kEngineBufferMs, nullptr);
  if (status != ENS_OK) {
    espeak_ng_Terminate();
    fail("tts: cannot set up espeak-ng output: {}", status_text(status));
  }
  espeak_SetSynthCallback(&synth_callback);
  e.sample_rate = espeak_ng_GetSampleRate();
  e.data_dir = data_dir;
  e.started = true;
}

// Applies the voice settings. Caller holds the engine lock.
void apply_voice(const VoiceOptions& options) {
  espeak_ng_STATUS status = espeak_ng_SetVoiceByName(options.voice.c_str());
  if (status != ENS_OK) fail("tts: voice '{}': {}", options.voice, status_text(status));
  const std::pair<espeak_PARAMETER, int> settings[] = {
      {espeakRATE, options.rate_wpm}, {espeakVOLUME, options.volume}, {espeakPITCH, options.pitch}};
  for (const auto& [parameter, value] : settings) {
    status = espeak_ng_SetParameter(parameter, value, 0);
    if (status != ENS_OK)
      fail("tts: cannot set parameter {} to {}: {}", static_cast<int>(parameter), value,
           status_text(status));
  }
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string trimmed(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && is_space(s[a])) ++a;
  while (b > a && is_space(s[b - 1])) --b;
  return std::string(s.substr(a, b - a));
}

// A period that does not end a sentence: "3.5", "e.g.", "Mr.", a single capital ("J. Smith").
bool period_inside_sentence(std::string_view text, size_t dot) {
  if (dot + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[dot + 1]))) return true;
  size_t start = dot;
  while (start > 0 && std::isalpha(static_cast<unsigned char>(text[start - 1]))) --start;
  const std::string_view word = text.substr(start, dot - start);
  static const std::string_view kAbbreviations[] = {
      "mr", "mrs", "ms", "dr", "st", "vs", "etc", "approx", "no", "e.g", "i.e", "g", "e", "i"};
  std::string lower;
  for (char c : word) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view a : kAbbreviations) {
    if (lower == a) return true;
  }
  return word.size() == 1 && std::isupper(static_cast<unsigned char>(word[0]));
}

}  // namespace

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  size_t start = 0;
  auto emit = [&](size_t end) {
    std::string s = trimmed(text.substr(start, end - start));
    if (!s.empty()) sentences.push_back(std::move(s));
    start = end;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      emit(i + 1);
    } else if (c == '!' || c == '?' || (c == '.' && !period_inside_sentence(text, i))) {
      size_t end = i + 1;  // closing punctuation and quotes stay with the sentence: ?!" .)
      while (end < text.size() &&
             std::string_view(".!?\"')").find(text[end]) != std::string_view::npos)
        ++end;
      if (end < text.size() && !is_space(text[end])) continue;  // "file.txt", "v1.2"
      emit(end);
      i = end - 1;
    }
  }
  emit(text.size());
  return sentences;
}

Synthesizer::Synthesizer(const VoiceOptions& options) : options_(options) {
  if (options.rate_wpm < espeakRATE_MINIMUM || options.rate_wpm > espeakRATE_MAXIMUM) {
    fail("tts: rate {} words/min, expected {}..{}", options.rate_wpm, espeakRATE_MINIMUM,
         espeakRATE_MAXIMUM);
  }
  if (options.volume < 0 || options.volume > 200) {
    fail("tts: volume {}%, expected 0..200", options.volume);
  }
  if (options.pitch < 0 || options.pitch > 100)
    fail("tts: pitch {}, expected 0..100", options.pitch);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  start_engine(options.data_dir);
  apply_voice(options);  // fails now, not at the first sentence, for an unknown voice
  sample_rate_ = e.sample_rate;
}

Synthesizer::~Synthesizer() = default;

int Synthesizer::sample_rate() const {
  return sample_rate_;
}

void Synthesizer::speak(std::string_view text, const ChunkSink& sink) {
  const std::vector<std::string> sentences = split_sentences(text);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  start_engine(options_.data_dir);
  apply_voice(options_);
  SynthContext ctx;
  ctx.sink = &sink;
  for (size_t i = 0; i < sentences.size() && !ctx.stopped; ++i) {
    ctx.sentence = i;
    const std::string& s = sentences[i];
    const espeak_ng_STATUS status =
        espeak_ng_Synthesize(s.c_str(), s.size() + 1, 0, POS_CHARACTER, 0,
                             espeakCHARS_UTF8 | espeakENDPAUSE, nullptr, &ctx);
    if (status != ENS_OK && !ctx.stopped) {
      fail("tts: synthesis of sentence {} failed: {}", i + 1, status_text(status));
    }
  }
}

Audio Synthesizer::synthesize(std::string_view text) {
  Audio audio;
  audio.sample_rate = sample_rate_;
  audio.channels = 1;
  speak(text, [&audio](std::span<const float> pcm, size_t) {
    audio.samples.insert(audio.samples.end(), pcm.begin(), pcm.end());
    return true;
  });
  return audio;
}

namespace internal {

std::string espeak_ipa(std::string_view text) {
  const std::string input(text);
  Engine& e = engine();
  std::lock_guard lock(e.mutex);
  start_engine(e.started ? e.data_dir : std::string());
  const espeak_ng_STATUS status = espeak_ng_SetVoiceByName("en-us");
  if (status != ENS_OK) fail("tts: voice 'en-us' for spelling: {}", status_text(status));
  std::string ipa;
  const void* cursor = input.c_str();
  // Each call translates one clause and advances the cursor; it becomes null at the end.
  while (cursor != nullptr && *static_cast<const char*>(cursor) != '\0') {
    const char* piece = espeak_TextToPhonemes(&cursor, espeakCHARS_UTF8, espeakPHONEMES_IPA);
    if (piece == nullptr) break;
    if (!ipa.empty()) ipa += ' ';
    ipa += piece;
  }
  return ipa;
}

}  // namespace internal
}  // namespace vigil::speech
