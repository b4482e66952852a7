// vigil ask: an operator question answered from the event store. The question (typed, or a WAV
// recognised with the site grammar) becomes an intent and slots; SQL gives the exact facts; the
// model phrases them, and the printed answer always carries the facts (a template sentence
// replaces model text that omits or contradicts them). See src/fusion/question.h.
#include <chrono>
#include <cstdio>
#include <memory>

#include "base/error.h"
#include "cli/commands.h"
#include "fusion/config.h"
#include "fusion/generator.h"
#include "fusion/question.h"
#include "fusion/run.h"
#include "fusion/store.h"
#include "speech/speech.h"

namespace vigil::cli {

std::string default_site_config();  // cmd_run.cpp

namespace {

// The longest utterance of a recording, recognised with the site's grammar.
std::string transcribe(const std::string& wav, const fusion::RunConfig& config) {
  const speech::Audio audio = speech::read_wav(wav);
  const std::vector<float> samples = speech::to_speech_format(audio);
  std::vector<speech::Segment> segments = speech::detect_utterances(samples);
  speech::Segment best{0, samples.size()};
  size_t best_len = 0;
  for (const auto& s : segments) {
    if (s.end - s.begin > best_len) {
      best = s;
      best_len = s.end - s.begin;
    }
  }
  speech::SiteVocabulary vocabulary = config.speech.vocabulary;
  for (const auto& c : config.class_names()) {
    if (std::find(vocabulary.classes.begin(), vocabulary.classes.end(), c) ==
        vocabulary.classes.end()) {
      vocabulary.classes.push_back(c);
    }
  }
  speech::Recognizer recognizer(vocabulary, config.speech.recognizer);
  const speech::Transcript t = recognizer.recognize(
      std::span<const float>(samples).subspan(best.begin, best.end - best.begin), best.start_s());
  if (t.text.empty()) fail("{}: no speech recognised", wav);
  return t.text;
}

}  // namespace

void register_ask(CLI::App& app) {
  auto* cmd = app.add_subcommand("ask", "Answer a question from the event store (text or --wav)");
  struct Opts {
    std::string question;
    std::string config;
    std::string db;
    std::string wav;
    std::string output;
    std::string model;
    std::string device = "default";
    bool play = false;
    bool json = false;
    bool no_llm = false;
    double now = 0;
    int max_tokens = 64;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("question", o->question,
                  "The question, e.g. \"how many people entered the "
                  "lawn in the last 10 minutes?\"");
  cmd->add_option("--config", o->config,
                  "Site configuration (zones, classes, rules; default "
                  "configs/demo.yaml)");
  cmd->add_option("--db", o->db, "Event store (default: the demo run's, out/run/vigil.db)");
  cmd->add_option("--wav", o->wav, "Ask with a recording instead (grammar STT)");
  cmd->add_option("-o,--output", o->output, "Write the spoken answer to this WAV file");
  cmd->add_flag("--play", o->play, "Speak the answer (ALSA)");
  cmd->add_option("--device", o->device, "ALSA device for --play");
  cmd->add_option("-m,--model", o->model,
                  "GGUF model that phrases the answer (default: the "
                  "bundled model, else the shared test model)");
  cmd->add_flag("--no-llm", o->no_llm, "Answer with the template sentence only");
  cmd->add_flag("--json", o->json,
                "Print {\"intent\",\"slots\",\"facts\",\"answer\",\"source\"} instead of text");
  cmd->add_option("--now", o->now, "Answer as of this time (seconds since 1970; default now)");
  cmd->add_option("-n,--max-tokens", o->max_tokens, "Answer length limit in tokens");
  cmd->callback([o] {
    if (o->question.empty() == o->wav.empty()) {
      fail_usage("ask: give either a question or --wav FILE");
    }
    const std::string config_path = o->config.empty() ? default_site_config() : o->config;
    const fusion::RunConfig config = fusion::load_run_config(config_path);
    fusion::EventStore::Options so;
    so.path = o->db.empty() ? fusion::store_path(config, "out/run") : o->db;
    so.create = false;
    so.synchronous_full = false;
    fusion::EventStore store(so);

    std::string text = o->question;
    if (!o->wav.empty()) text = transcribe(o->wav, config);
    const double now =
        o->now > 0
            ? o->now
            : std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    const fusion::Question q =
        fusion::parse_question(text, fusion::QuestionVocabulary::from_config(config), now);
    nlohmann::json facts = fusion::answer_facts(store, q, now);
    std::unique_ptr<fusion::EngineGenerator> generator;
    if (!o->no_llm) {
      const std::string model = !o->model.empty()           ? o->model
                                : !config.llm.model.empty() ? config.llm.model
                                                            : fusion::default_model_path();
      generator = std::make_unique<fusion::EngineGenerator>(model, config.llm.threads, 1024);
    }
    const fusion::Answer a = fusion::phrase_answer(generator.get(), q, facts, o->max_tokens);

    if (o->json) {
      nlohmann::json j = {{"question", text}, {"intent", q.intent}, {"slots", q.slots()},
                          {"facts", a.facts}, {"answer", a.text},   {"source", a.source}};
      if (!a.model_text.empty() || !o->no_llm) j["model_text"] = a.model_text;
      if (!a.rejected_because.empty()) j["rejected_because"] = a.rejected_because;
      std::printf("%s\n", j.dump().c_str());
    } else {
      if (!o->wav.empty()) std::printf("heard: %s\n", text.c_str());
      std::printf("%s\n", a.text.c_str());
      if (a.source == "template" && !o->no_llm) {
        std::fprintf(stderr, "(the model's answer was not used: %s)\n", a.rejected_because.c_str());
      }
    }
    if (!o->output.empty() || o->play) {
      speech::Synthesizer tts(config.speech.voice);
      const speech::Audio audio = tts.synthesize(a.text);
      if (!o->output.empty()) speech::write_wav(o->output, audio);
      if (o->play) {
        speech::Speaker speaker(o->device, audio.sample_rate, 1);
        speaker.write(audio.samples);
        speaker.drain();
      }
    }
  });
}

}  // namespace vigil::cli
