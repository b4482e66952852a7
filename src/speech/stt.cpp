// Speech to text with PocketSphinx (Debian 12: 5prealpha, the 0.8-style API).
//
// One decoder holds two searches over the same acoustic model and dictionary:
//   "grammar" — the site's JSGF grammar (finite-state), the normal path;
//   "lm"      — the general trigram language model (loaded on first use) for the free-form
//               fallback.
// Confidence: PocketSphinx scores each frame relative to the best-scoring senone of that frame,
// so a path's mean acoustic score per frame says how far the chosen words are from the best the
// model could do with the audio. Words that fit stay close (about -30 per frame on clean speech);
// speech forced onto the wrong sentence falls far below (-55 and lower). A logistic maps this to
// 0..1; below RecognizerOptions::fallback_below the free-form result is used instead.
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/fsg_model.h>
#include <sphinxbase/jsgf.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "base/error.h"
#include "base/file.h"
#include "base/log.h"
#include "speech/internal.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

constexpr double kFrameRate = 100.0;  // PocketSphinx feature frames per second
// Quiet padding around each utterance: the decoder's silence model and batch mean
// normalisation need some non-speech at both ends (VAD segments and TTS output start abruptly).
constexpr size_t kPadSamples = kSpeechRate / 4;  // 250 ms
// Deterministic dither of +-kDither LSB (a noise floor near -72 dBFS): digital silence (exact
// zeros, common in synthetic and gated audio) gives -inf log energies that derail the features.
// PocketSphinx's own -dither is seeded from the clock and uses a process-global generator, so it
// is neither reproducible nor thread-safe.
constexpr int kDither = 8;
// Logistic confidence over the mean per-frame acoustic score (PocketSphinx's scaled log units):
// 0.5 at kConfidenceMidpoint, rising by e per kConfidenceSlope. Fitted on synthetic speech
// (docs/SPEECH.md): in-grammar utterances score -20..-45, out-of-grammar speech -50..-75.
constexpr double kConfidenceMidpoint = -48.0;
constexpr double kConfidenceSlope = 3.0;

// The last error PocketSphinx logged on this thread, to name the cause in our errors.
thread_local std::string t_last_error;

void sphinx_log(void* /*user_data*/, err_lvl_t level, const char* format, ...) {
  if (level < ERR_WARN) return;  // info chatter: model loading, timings
  char buffer[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof buffer, format, args);
  va_end(args);
  std::string message(buffer);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (message.empty()) return;
  if (level >= ERR_ERROR) t_last_error = message;
  spdlog::debug("pocketsphinx: {}", message);
}

void install_logger() {
  static std::once_flag once;
  std::call_once(once, [] {
    err_set_logfp(nullptr);  // the configuration dump is written straight to this stream
    err_set_callback(&sphinx_log, nullptr);
  });
}

std::string take_last_error() {
  std::string e = t_last_error.empty() ? "no detail logged" : t_last_error;
  t_last_error.clear();
  return e;
}

void require_file(const std::string& path, const char* what) {
  if (!file_exists(path)) {
    fail("speech model: {} not found at {} (install pocketsphinx-en-us or set speech.model_dir)",
         what, path);
  }
}

// Silence, noise and the grammar's empty transitions ("(NULL)") are not words.
bool is_filler(std::string_view word) {
  return word.empty() || word.front() == '<' || word.front() == '[' || word.front() == '+' ||
         word.front() == '(';
}

// "word(2)" -> "word": alternative pronunciations are numbered in the dictionary.
std::string base_word(std::string_view word) {
  const size_t paren = word.find('(');
  return std::string(paren == std::string_view::npos ? word : word.substr(0, paren));
}

struct WordTiming {
  std::string word;
  int first_frame = 0;
  int last_frame = 0;
};

struct Pass {
  std::vector<WordTiming> words;  // in order, fillers removed
  int word_frames = 0;            // frames covered by the words
  int64_t word_acoustic = 0;      // their acoustic score, relative to each frame's best senone

  double confidence() const {
    if (word_frames <= 0) return 0.0;
    const double per_frame = static_cast<double>(word_acoustic) / word_frames;
    return 1.0 / (1.0 + std::exp(-(per_frame - kConfidenceMidpoint) / kConfidenceSlope));
  }
};

}  // namespace

struct Recognizer::Impl {
  RecognizerOptions options;
  std::string grammar;
  std::string lm_path;
  ps_decoder_t* decoder = nullptr;
  cmd_ln_t* config = nullptr;
  bool lm_loaded = false;
  std::vector<int16_t> pcm;

  ~Impl() {
    if (decoder) ps_free(decoder);
    if (config) cmd_ln_free_r(config);
  }

  void use_search(const char* name) {
    if (ps_set_search(decoder, name) < 0) {
      fail("speech: cannot switch to the '{}' search: {}", name, take_last_error());
    }
  }

  // ps_set_jsgf_string() of this PocketSphinx version never frees the parsed grammar, so the
  // JSGF -> finite-state conversion is done here, owning (and freeing) both.
  void set_grammar_search() {
    std::unique_ptr<jsgf_t, decltype(&jsgf_grammar_free)> jsgf(
        jsgf_parse_string(grammar.c_str(), nullptr), &jsgf_grammar_free);
    if (!jsgf) fail("speech: the generated grammar does not parse: {}", take_last_error());
    jsgf_rule_t* top = jsgf_get_public_rule(jsgf.get());
    if (top == nullptr) fail("speech: the generated grammar has no public rule");
    const auto lw = static_cast<float32>(cmd_ln_float_r(config, "-lw"));
    std::unique_ptr<fsg_model_t, decltype(&fsg_model_free)> fsg(
        jsgf_build_fsg(jsgf.get(), top, ps_get_logmath(decoder), lw), &fsg_model_free);
    if (!fsg || ps_set_fsg(decoder, "grammar", fsg.get()) < 0) {
      fail("speech: the generated grammar was rejected: {}", take_last_error());
    }
  }

  void ensure_lm() {
    if (lm_loaded) return;
    require_file(lm_path, "language model");
    if (ps_set_lm_file(decoder, "lm", lm_path.c_str()) < 0) {
      fail("speech model: cannot load language model {}: {}", lm_path, take_last_error());
    }
    lm_loaded = true;
  }

  Pass decode(const char* search) {
    use_search(search);
    if (ps_start_utt(decoder) < 0) fail("speech: cannot start an utterance: {}", take_last_error());
    const int processed =
        ps_process_raw(decoder, pcm.data(), pcm.size(), /*no_search=*/0, /*full_utt=*/1);
    if (ps_end_utt(decoder) < 0 || processed < 0) {
      fail("speech: decoding failed: {}", take_last_error());
    }
    Pass pass;
    int32 score = 0;
    if (ps_get_hyp(decoder, &score) == nullptr) return pass;  // no path reached the end
    for (ps_seg_t* seg = ps_seg_iter(decoder); seg != nullptr; seg = ps_seg_next(seg)) {
      const char* word = ps_seg_word(seg);
      if (word == nullptr || is_filler(word)) continue;
      int first = 0, last = 0;
      ps_seg_frames(seg, &first, &last);
      int32 acoustic = 0, language = 0, backoff = 0;
      ps_seg_prob(seg, &acoustic, &language, &backoff);
      pass.word_frames += std::max(0, last - first + 1);
      pass.word_acoustic += acoustic;
      pass.words.push_back({base_word(word), first, last});
    }
    return pass;
  }

  // Word times are in frames of the padded input.
  Transcript to_transcript(const Pass& pass, bool from_grammar, double offset_s) const {
    Transcript t;
    t.from_grammar = from_grammar;
    t.confidence = static_cast<float>(pass.confidence());
    for (const WordTiming& w : pass.words) {
      if (!t.text.empty()) t.text += ' ';
      t.text += w.word;
    }
    const double pad_s = static_cast<double>(kPadSamples) / kSpeechRate;
    const double duration_s = static_cast<double>(pcm.size() - 2 * kPadSamples) / kSpeechRate;
    auto clamp_time = [&](double s) { return offset_s + std::clamp(s - pad_s, 0.0, duration_s); };
    if (pass.words.empty()) {
      t.start_s = t.end_s = offset_s;
      t.confidence = 0.0f;
    } else {
      t.start_s = clamp_time(pass.words.front().first_frame / kFrameRate);
      t.end_s = clamp_time((pass.words.back().last_frame + 1) / kFrameRate);
    }
    return t;
  }
};

Recognizer::Recognizer(const SiteVocabulary& vocabulary, const RecognizerOptions& options)
    : impl_(std::make_unique<Impl>()) {
  install_logger();
  Impl& m = *impl_;
  m.options = options;
  if (!(options.fallback_below >= 0.0f && options.fallback_below <= 1.0f)) {
    fail("speech: fallback_below is {}, expected 0..1", options.fallback_below);
  }
  const std::string dir = options.model_dir;
  const std::string hmm = dir + "/en-us";
  const std::string dict = dir + "/cmudict-en-us.dict";
  m.lm_path = dir + "/en-us.lm.bin";
  for (const char* part : {"mdef", "means", "variances", "transition_matrices", "feat.params",
                           "noisedict", "sendump"}) {
    require_file(hmm + "/" + part, "acoustic model file");
  }
  require_file(dict, "pronunciation dictionary");
  if (options.mode != RecognitionMode::kGrammarOnly) require_file(m.lm_path, "language model");

  // Spectral noise subtraction is off: it estimates the noise from the first frames, which for
  // a VAD-cut utterance is already speech, and it measurably hurt accuracy (docs/SPEECH.md).
  // Silence removal is off too: our VAD has already cut the utterance.
  // The language model search skips the second (flat-lexicon) pass and the lattice rescoring,
  // and keeps fewer words per frame and a longer phone lookahead: together about half the time
  // for little loss of accuracy (docs/SPEECH.md).
  m.config = cmd_ln_init(nullptr, ps_args(), 1, "-hmm", hmm.c_str(), "-dict", dict.c_str(),
                         "-remove_noise", "no", "-remove_silence", "no", "-fwdflat", "no",
                         "-bestpath", "no", "-pl_window", "10", "-maxwpf", "10", nullptr);
  if (m.config == nullptr) fail("speech: bad decoder configuration: {}", take_last_error());
  m.decoder = ps_init(m.config);
  if (m.decoder == nullptr) {
    fail("speech model: cannot load {} (is it a PocketSphinx model?): {}", dir, take_last_error());
  }

  m.grammar = build_grammar(vocabulary);
  // Words the dictionary lacks: the configured pronunciation, else espeak-ng's.
  for (const std::string& word : internal::grammar_words(m.grammar)) {
    std::string phones;
    if (char* known = ps_lookup_word(m.decoder, word.c_str()); known != nullptr) {
      ckd_free(known);
      continue;
    } else if (auto it = vocabulary.pronunciations.find(word);
               it != vocabulary.pronunciations.end()) {
      phones = it->second;
    } else {
      phones = internal::ipa_to_arpabet(internal::espeak_ipa(word));
      spdlog::info("speech: '{}' is not in the dictionary; using espeak-ng's spelling {}", word,
                   phones);
    }
    if (phones.empty() || ps_add_word(m.decoder, word.c_str(), phones.c_str(), 0) < 0) {
      fail(
          "speech vocabulary: cannot add the word '{}' with phones '{}' ({}); give its "
          "pronunciation under `pronunciations:`",
          word, phones, take_last_error());
    }
  }
  m.set_grammar_search();
  if (options.mode == RecognitionMode::kFreeForm) m.ensure_lm();
}

Recognizer::~Recognizer() = default;

const std::string& Recognizer::grammar() const {
  return impl_->grammar;
}

Transcript Recognizer::recognize(std::span<const float> samples, double offset_s) {
  return recognize(samples, impl_->options.mode, offset_s);
}

Transcript Recognizer::recognize(std::span<const float> samples, RecognitionMode mode,
                                 double offset_s) {
  if (samples.empty()) fail("speech: empty audio (0 samples), expected an utterance");
  Impl& m = *impl_;
  m.pcm.assign(samples.size() + 2 * kPadSamples, 0);
  uint32_t seed = 0x9E3779B9u;  // same dither for the same audio: reproducible results
  for (size_t i = 0; i < m.pcm.size(); ++i) {
    seed = seed * 1664525u + 1013904223u;
    const int dither = static_cast<int>(seed >> 24) % (2 * kDither + 1) - kDither;
    float s = 0.0f;
    if (i >= kPadSamples && i - kPadSamples < samples.size()) {
      s = samples[i - kPadSamples];
      s = std::isfinite(s) ? std::clamp(s, -1.0f, 1.0f) : 0.0f;
    }
    const long v = std::lround(s * 32767.0f) + dither;
    m.pcm[i] = static_cast<int16_t>(std::clamp<long>(v, -32768, 32767));
  }
  if (mode != RecognitionMode::kFreeForm) {
    const Pass pass = m.decode("grammar");
    Transcript t = m.to_transcript(pass, true, offset_s);
    spdlog::debug("speech: grammar '{}' confidence {:.3f} ({} word frames)", t.text, t.confidence,
                  pass.word_frames);
    if (mode == RecognitionMode::kGrammarOnly || t.confidence >= m.options.fallback_below) {
      return t;
    }
  }
  m.ensure_lm();
  return m.to_transcript(m.decode("lm"), false, offset_s);
}

}  // namespace vigil::speech
