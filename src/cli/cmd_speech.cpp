// vigil listen / vigil say: the speech module from the command line.
//
//   vigil listen (--wav FILE | --mic) [--config C] [--json] [--mode M] [--device D] [--seconds S]
//     splits the audio into utterances and prints one transcript per utterance: text, confidence,
//     start and end (seconds); --json prints one JSON object per line.
//   vigil say "TEXT" [-o out.wav] [--play] [--voice V] [--rate WPM] [--volume PCT] [--pitch P]
//     synthesises TEXT ("-": read stdin line by line); without -o it plays. Playback starts with
//     the first synthesised chunk, not after the whole text.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "speech/speech.h"

namespace vigil::cli {
namespace {

std::atomic<bool> g_stop_listening{false};

void on_interrupt(int /*signal*/) {
  g_stop_listening = true;
}

speech::RecognitionMode parse_mode(const std::string& mode) {
  if (mode == "grammar") return speech::RecognitionMode::kGrammarWithFallback;
  if (mode == "grammar-only") return speech::RecognitionMode::kGrammarOnly;
  if (mode == "free") return speech::RecognitionMode::kFreeForm;
  fail_usage("--mode {}: expected grammar, grammar-only or free", mode);
}

void print_transcript(const speech::Transcript& t, bool json) {
  if (t.text.empty()) return;  // noise the recogniser could not turn into words
  if (json) {
    nlohmann::json j = {{"text", t.text},
                        {"confidence", std::round(t.confidence * 1000.0) / 1000.0},
                        {"start", std::round(t.start_s * 100.0) / 100.0},
                        {"end", std::round(t.end_s * 100.0) / 100.0},
                        {"source", t.from_grammar ? "grammar" : "free-form"}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("[%7.2f - %7.2f] %.2f  %s%s\n", t.start_s, t.end_s, t.confidence, t.text.c_str(),
                t.from_grammar ? "" : "  (free-form)");
  }
  std::fflush(stdout);
}

struct ListenOptions {
  std::string wav;
  bool mic = false;
  std::string device = "default";
  std::string config;
  std::string mode;
  std::string model_dir;
  bool json = false;
  bool print_grammar = false;
  double seconds = 0.0;
};

std::vector<float> load_recording(const std::string& path) {
  const speech::Audio audio = speech::read_wav(path);
  if (audio.frames() == 0) fail("{}: the WAV file holds no samples (empty audio)", path);
  return speech::to_speech_format(audio);
}

void listen_to_file(speech::Recognizer& recognizer, const std::vector<float>& samples,
                    const ListenOptions& o) {
  const std::vector<speech::Segment> segments = speech::detect_utterances(samples);
  if (segments.empty())
    std::fprintf(stderr, "vigil listen: no speech found in %s\n", o.wav.c_str());
  for (const speech::Segment& s : segments) {
    const std::span<const float> utterance(samples.data() + s.begin, s.end - s.begin);
    print_transcript(recognizer.recognize(utterance, s.start_s()), o.json);
  }
}

void listen_to_microphone(speech::Recognizer& recognizer, speech::Microphone& microphone,
                          const ListenOptions& o) {
  const speech::VadOptions vad_options;
  speech::VoiceActivityDetector vad(vad_options);
  // Recent audio, enough to hold the longest utterance the VAD can return.
  const size_t keep =
      static_cast<size_t>((vad_options.max_utterance_s + 1.0f) * speech::kSpeechRate);
  std::vector<float> recent;
  size_t recent_start = 0;                             // absolute index of recent[0]
  std::vector<float> chunk(speech::kSpeechRate / 10);  // 100 ms
  size_t total = 0;
  const size_t limit = o.seconds > 0 ? static_cast<size_t>(o.seconds * speech::kSpeechRate) : 0;

  g_stop_listening = false;
  auto previous = std::signal(SIGINT, on_interrupt);
  auto handle = [&](const std::vector<speech::Segment>& segments) {
    for (const speech::Segment& s : segments) {
      const size_t begin = std::max(s.begin, recent_start) - recent_start;
      const size_t end = std::min(s.end - recent_start, recent.size());
      if (end <= begin) continue;
      const std::span<const float> utterance(recent.data() + begin, end - begin);
      print_transcript(recognizer.recognize(utterance, static_cast<double>(recent_start + begin) /
                                                           speech::kSpeechRate),
                       o.json);
    }
  };
  try {
    std::fprintf(stderr, "vigil listen: listening on '%s' (Ctrl-C to stop)\n", o.device.c_str());
    while (!g_stop_listening && (limit == 0 || total < limit)) {
      const size_t n = microphone.read(chunk);
      total += n;
      recent.insert(recent.end(), chunk.begin(), chunk.begin() + static_cast<long>(n));
      handle(vad.push(std::span<const float>(chunk.data(), n)));
      if (recent.size() > keep + chunk.size()) {
        const size_t drop = recent.size() - keep;
        recent.erase(recent.begin(), recent.begin() + static_cast<long>(drop));
        recent_start += drop;
      }
    }
    handle(vad.finish());
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);
}

struct SayOptions {
  std::string text;
  std::string output;
  bool play = false;
  std::string device = "default";
  std::string config;
  std::optional<std::string> voice;
  std::optional<int> rate, volume, pitch;
};

void run_say(const SayOptions& o) {
  speech::VoiceOptions voice;
  if (!o.config.empty()) voice = speech::load_speech_config(o.config).voice;
  if (o.voice) voice.voice = *o.voice;
  if (o.rate) voice.rate_wpm = *o.rate;
  if (o.volume) voice.volume = *o.volume;
  if (o.pitch) voice.pitch = *o.pitch;
  speech::Synthesizer tts(voice);
  const bool play = o.play || o.output.empty();
  std::unique_ptr<speech::Speaker> speaker;
  if (play) speaker = std::make_unique<speech::Speaker>(o.device, tts.sample_rate(), 1);
  speech::Audio recorded;
  recorded.sample_rate = tts.sample_rate();
  auto sink = [&](std::span<const float> pcm, size_t) {
    if (speaker) speaker->write(pcm);
    if (!o.output.empty()) recorded.samples.insert(recorded.samples.end(), pcm.begin(), pcm.end());
    return true;
  };
  if (o.text == "-") {
    std::string line;  // stdin: each line is spoken as soon as it is complete
    while (std::getline(std::cin, line)) tts.speak(line, sink);
  } else {
    tts.speak(o.text, sink);
  }
  if (speaker) speaker->drain();
  if (!o.output.empty()) speech::write_wav(o.output, recorded);
}

}  // namespace

void register_speech(CLI::App& app) {
  auto listen_options = std::make_shared<ListenOptions>();
  CLI::App* listen = app.add_subcommand(
      "listen", "Transcribe speech from a WAV file or the microphone, one line per utterance");
  listen->add_option("--wav", listen_options->wav, "WAV file (any rate and channel count)");
  listen->add_flag("--mic", listen_options->mic, "Listen on the ALSA capture device");
  listen->add_option("--device", listen_options->device, "ALSA device for --mic")
      ->capture_default_str();
  listen->add_option("--config", listen_options->config,
                     "Site YAML: zones, classes, rules, pronunciations, speech settings");
  listen->add_option("--mode", listen_options->mode,
                     "grammar (default; free-form fallback), grammar-only or free");
  listen->add_option("--model-dir", listen_options->model_dir, "PocketSphinx en-us model folder");
  listen->add_option("--seconds", listen_options->seconds, "With --mic: stop after this long");
  listen->add_flag("--json", listen_options->json, "One JSON object per utterance");
  listen->add_flag("--print-grammar", listen_options->print_grammar,
                   "Print the generated JSGF grammar and exit");
  listen->callback([listen_options] {
    const ListenOptions& o = *listen_options;
    speech::SpeechConfig config;
    if (!o.config.empty()) config = speech::load_speech_config(o.config);
    if (o.print_grammar) {
      std::printf("%s", speech::build_grammar(config.vocabulary).c_str());
      return;
    }
    if (o.wav.empty() == !o.mic) fail_usage("listen: give exactly one of --wav FILE or --mic");
    if (!o.mode.empty()) config.recognizer.mode = parse_mode(o.mode);
    if (!o.model_dir.empty()) config.recognizer.model_dir = o.model_dir;
    if (o.seconds < 0) fail_usage("--seconds {}: expected a positive number", o.seconds);
    // The input is opened and checked before the (slower) model is loaded.
    std::vector<float> recording;
    std::unique_ptr<speech::Microphone> microphone;
    if (o.mic) {
      microphone = std::make_unique<speech::Microphone>(o.device, speech::kSpeechRate);
    } else {
      recording = load_recording(o.wav);
    }
    speech::Recognizer recognizer(config.vocabulary, config.recognizer);
    if (microphone) {
      listen_to_microphone(recognizer, *microphone, o);
    } else {
      listen_to_file(recognizer, recording, o);
    }
  });

  auto say_options = std::make_shared<SayOptions>();
  CLI::App* say = app.add_subcommand("say", "Speak text (espeak-ng), to the speaker or a WAV file");
  say->add_option("text", say_options->text, "What to say; - reads lines from stdin")->required();
  say->add_option("-o,--output", say_options->output, "Write a 16-bit WAV file instead of playing");
  say->add_flag("--play", say_options->play, "Play (also with -o)");
  say->add_option("--device", say_options->device, "ALSA playback device")->capture_default_str();
  say->add_option("--config", say_options->config, "Site YAML (its speech: voice settings)");
  say->add_option("--voice", say_options->voice, "espeak-ng voice, e.g. en-us, en-us+f2");
  say->add_option("--rate", say_options->rate, "Words per minute (80..450)");
  say->add_option("--volume", say_options->volume, "Percent (0..200)");
  say->add_option("--pitch", say_options->pitch, "0..100");
  say->callback([say_options] { run_say(*say_options); });
}

}  // namespace vigil::cli
