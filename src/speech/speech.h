// vigil/speech: the operator's voice in and the system's voice out.
//
//   audio  — WAV read/write, down-mixing and resampling to the recogniser's 16 kHz mono
//   VAD    — splits a recording or a live stream into utterances (adaptive energy detector)
//   STT    — PocketSphinx constrained by a JSGF grammar built from the site's own vocabulary
//            (zones, object classes, alert rules, numbers, time spans, question forms), with a
//            free-form fallback through the general language model when the grammar fits poorly
//   TTS    — espeak-ng synthesising into memory, streamed sentence by sentence
//   live   — ALSA capture and playback, with a clean error where no device exists
//
// Samples are float in [-1, 1]; times are seconds from the start of the input. Every failure the
// user can cause (bad file, missing model, no device) throws vigil::Error with one line naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::speech {

// ---------------------------------------------------------------------------------------------
// Audio

// The recogniser's input format: 16 kHz, mono.
constexpr int kSpeechRate = 16000;

// PCM audio held in memory: interleaved frames (L R L R ... for stereo).
struct Audio {
  int sample_rate = kSpeechRate;  // Hz
  int channels = 1;
  std::vector<float> samples;  // frames * channels values in [-1, 1]

  size_t frames() const { return channels > 0 ? samples.size() / channels : 0; }
  double duration_s() const {
    return sample_rate > 0 ? static_cast<double>(frames()) / sample_rate : 0.0;
  }
};

// Reads a RIFF/WAVE file: integer PCM of 8, 16, 24 or 32 bits or IEEE float of 32/64 bits
// (plain or WAVE_FORMAT_EXTENSIBLE), 1..8 channels. Anything else (compressed formats, truncated
// chunks, a data chunk larger than the file) throws vigil::Error naming the file and the field.
Audio read_wav(const std::string& path);
Audio parse_wav(std::span<const uint8_t> bytes, const std::string& name);

// Writes 16-bit PCM (samples are clipped to [-1, 1]). encode_wav returns the file's bytes.
std::string encode_wav(const Audio& audio);
void write_wav(const std::string& path, const Audio& audio);

// Averages the channels into one.
std::vector<float> downmix(const Audio& audio);
// Band-limited (windowed-sinc) resampling of mono audio between any two rates.
std::vector<float> resample(std::span<const float> mono, int from_hz, int to_hz);
// What the recogniser and the VAD take: 16 kHz mono. Empty audio throws.
std::vector<float> to_speech_format(const Audio& audio);

// ---------------------------------------------------------------------------------------------
// Voice activity detection

struct VadOptions {
  float threshold_db = 9.0f;       // speech when frame energy is this far above the noise floor
  float min_speech_s = 0.15f;      // shorter bursts (clicks, bangs) are not utterances
  float max_pause_s = 0.45f;       // a quieter stretch this short stays inside the utterance
  float padding_s = 0.15f;         // kept before and after each utterance
  float max_utterance_s = 15.0f;   // a longer utterance is cut (bounds the recogniser's input)
  float min_energy_dbfs = -60.0f;  // frames below this are silence whatever the noise floor
};

// An utterance as a sample range of the 16 kHz input: [begin, end).
struct Segment {
  size_t begin = 0;
  size_t end = 0;
  double start_s() const { return static_cast<double>(begin) / kSpeechRate; }
  double end_s() const { return static_cast<double>(end) / kSpeechRate; }
};

// Streaming detector for 16 kHz mono: push audio as it arrives; completed utterances are
// returned as soon as their trailing pause is long enough; finish() closes an open one.
class VoiceActivityDetector {
 public:
  explicit VoiceActivityDetector(const VadOptions& options = {});
  ~VoiceActivityDetector();
  VoiceActivityDetector(const VoiceActivityDetector&) = delete;
  VoiceActivityDetector& operator=(const VoiceActivityDetector&) = delete;

  std::vector<Segment> push(std::span<const float> samples);
  std::vector<Segment> finish();
  bool in_speech() const;  // an utterance has started and not ended yet

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The whole-buffer form: every utterance in a 16 kHz mono recording.
std::vector<Segment> detect_utterances(std::span<const float> samples,
                                       const VadOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Site vocabulary and grammar

// What the operator can name. Filled from the site configuration; spellings are free-form
// ("Front_Door", "gate 2") and are normalised into spoken words ("front door", "gate two").
struct SiteVocabulary {
  std::vector<std::string> zones;    // "front door", "driveway"
  std::vector<std::string> classes;  // detector classes, singular: "person", "car"
  std::vector<std::string> rules;    // alert rule names: "loitering", "line crossing"
  // Pronunciations for words the dictionary lacks, in the model's phone set
  // ("carport" -> "K AA R P AO R T"); other unknown words are spelled by espeak-ng.
  std::map<std::string, std::string> pronunciations;
};

// A small built-in site, used when no configuration is given.
SiteVocabulary default_vocabulary();

// The JSGF grammar (public rule <command>) for the vocabulary: question forms about zones,
// counts, time windows and alerts, acknowledgements, numbers up to 99 and short replies.
std::string build_grammar(const SiteVocabulary& vocabulary);

// The spoken form of a name: lower case, digits spelled out, punctuation as spaces.
std::string spoken_form(std::string_view name);

// ---------------------------------------------------------------------------------------------
// Speech to text

enum class RecognitionMode {
  kGrammarWithFallback,  // grammar first; the language model when the grammar fits poorly
  kGrammarOnly,
  kFreeForm,  // language model only
};

struct RecognizerOptions {
  // PocketSphinx model folder holding en-us/ (acoustic model), cmudict-en-us.dict and
  // en-us.lm.bin (language model, needed only by the free-form modes). Debian: pocketsphinx-en-us.
  std::string model_dir = "/usr/share/pocketsphinx/model/en-us";
  RecognitionMode mode = RecognitionMode::kGrammarWithFallback;
  // Below this grammar confidence the free-form result is used (kGrammarWithFallback).
  float fallback_below = 0.25f;
};

struct Transcript {
  std::string text;         // lower-case words, single spaces; empty when nothing was heard
  float confidence = 0.0f;  // 0..1: how well the audio fits the words (see docs/SPEECH.md)
  double start_s = 0.0;     // first and last word, from the start of the input
  double end_s = 0.0;
  bool from_grammar = false;  // false: produced by the free-form language model
};

// One decoder; not thread-safe (use one Recognizer per thread). Construction loads the model
// (0.1-0.6 s) and throws vigil::Error naming a missing model file or a word it cannot spell.
class Recognizer {
 public:
  explicit Recognizer(const SiteVocabulary& vocabulary, const RecognizerOptions& options = {});
  ~Recognizer();
  Recognizer(const Recognizer&) = delete;
  Recognizer& operator=(const Recognizer&) = delete;

  // Recognises one utterance of 16 kHz mono audio; `offset_s` is added to the times.
  Transcript recognize(std::span<const float> samples, double offset_s = 0.0);
  Transcript recognize(std::span<const float> samples, RecognitionMode mode, double offset_s);

  const std::string& grammar() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Text to speech

struct VoiceOptions {
  std::string voice = "en-us";  // espeak-ng voice, optionally with a variant: "en-us+f3"
  int rate_wpm = 175;           // words per minute, 80..450
  int volume = 100;             // percent, 0..200
  int pitch = 50;               // 0..100
  std::string data_dir;         // espeak-ng-data folder; empty: the library's default
};

// Splits text into sentences at . ! ? (and line breaks), keeping abbreviations and decimal
// numbers ("3.5", "e.g.") inside their sentence. Empty pieces are dropped.
std::vector<std::string> split_sentences(std::string_view text);

// espeak-ng is one engine per process: Synthesizers share it under a lock, each applying its own
// voice settings per call.
class Synthesizer {
 public:
  // Throws vigil::Error when the data folder or the voice is missing or a setting is out of range.
  explicit Synthesizer(const VoiceOptions& options = {});
  ~Synthesizer();
  Synthesizer(const Synthesizer&) = delete;
  Synthesizer& operator=(const Synthesizer&) = delete;

  int sample_rate() const;  // Hz (espeak-ng: 22050)

  // Called with each piece of audio as soon as it is synthesised (tens of milliseconds of speech),
  // sentence by sentence; `sentence` is the index into split_sentences(text). Return false to stop.
  using ChunkSink = std::function<bool(std::span<const float> pcm, size_t sentence)>;
  void speak(std::string_view text, const ChunkSink& sink);

  // The whole text as one mono Audio at sample_rate().
  Audio synthesize(std::string_view text);

 private:
  VoiceOptions options_;
  int sample_rate_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Live audio (ALSA)

// Captures 16-bit mono from an ALSA device at `sample_rate` (ALSA's plug layer converts).
// Throws vigil::Error naming the device when it cannot be opened (for example, none exists).
class Microphone {
 public:
  explicit Microphone(const std::string& device = "default", int sample_rate = kSpeechRate);
  ~Microphone();
  Microphone(const Microphone&) = delete;
  Microphone& operator=(const Microphone&) = delete;

  // Blocks until `out` is filled; returns the number of samples read (less only at an error).
  size_t read(std::span<float> out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Plays audio on an ALSA device; write() blocks while the device buffer is full.
class Speaker {
 public:
  Speaker(const std::string& device, int sample_rate, int channels = 1);
  ~Speaker();
  Speaker(const Speaker&) = delete;
  Speaker& operator=(const Speaker&) = delete;

  void write(std::span<const float> interleaved);
  void drain();  // waits until everything written has been played

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// Configuration

// Everything this module reads from a site configuration file.
struct SpeechConfig {
  SiteVocabulary vocabulary = default_vocabulary();
  VoiceOptions voice;
  RecognizerOptions recognizer;
};

// Reads a YAML file. Top-level keys: `zones`, `classes`, `rules` (lists of names, or of maps with
// a `name` key; a list that is present replaces the default), `pronunciations` (map word ->
// phones) and `speech` (map: voice, rate, volume, pitch, espeak_data, model_dir,
// fallback_below, mode: grammar | grammar-only | free). Other keys are left to other modules.
SpeechConfig load_speech_config(const std::string& yaml_path);

}  // namespace vigil::speech
