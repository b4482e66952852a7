// The speech part of the site configuration (YAML). Kept here until the project-wide
// configuration exists; the keys are documented in speech.h and docs/SPEECH.md.
#include <yaml-cpp/yaml.h>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

// "file.yaml:12: key" — where a bad value is, for the error message.
std::string where(const std::string& path, const YAML::Node& node, std::string_view key) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) return fmt::format("{}:{}: {}", path, mark.line + 1, key);
  return fmt::format("{}: {}", path, key);
}

std::vector<std::string> name_list(const std::string& path, const YAML::Node& node,
                                   std::string_view key) {
  if (!node.IsSequence()) fail("{}: expected a list of names", where(path, node, key));
  std::vector<std::string> names;
  for (const YAML::Node& item : node) {
    if (item.IsScalar()) {
      names.push_back(item.as<std::string>());
    } else if (item.IsMap() && item["name"] && item["name"].IsScalar()) {
      names.push_back(item["name"].as<std::string>());
    } else {
      fail("{}: expected a name or a map with a `name` key", where(path, item, key));
    }
    if (spoken_form(names.back()).empty()) {
      fail("{}: '{}' has no speakable letters or digits", where(path, item, key), names.back());
    }
  }
  return names;
}

template <typename T>
T scalar(const std::string& path, const YAML::Node& node, std::string_view key,
         std::string_view expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail("{}: expected {}", where(path, node, key), expected);
  }
}

}  // namespace

SpeechConfig load_speech_config(const std::string& yaml_path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(yaml_path);
  } catch (const YAML::BadFile&) {
    fail("{}: cannot read the configuration file", yaml_path);
  } catch (const YAML::Exception& e) {
    fail("{}:{}: YAML syntax error: {}", yaml_path, e.mark.line + 1, e.msg);
  }
  SpeechConfig config;
  if (root.IsNull()) return config;  // an empty file: all defaults
  if (!root.IsMap()) fail("{}: expected a map of settings at the top level", yaml_path);

  SiteVocabulary& v = config.vocabulary;
  if (root["zones"]) v.zones = name_list(yaml_path, root["zones"], "zones");
  if (root["classes"]) v.classes = name_list(yaml_path, root["classes"], "classes");
  if (root["rules"]) v.rules = name_list(yaml_path, root["rules"], "rules");
  if (const YAML::Node p = root["pronunciations"]) {
    if (!p.IsMap())
      fail("{}: expected a map word -> phones", where(yaml_path, p, "pronunciations"));
    for (const auto& entry : p) {
      const std::string word =
          spoken_form(scalar<std::string>(yaml_path, entry.first, "pronunciations", "a word"));
      v.pronunciations[word] = scalar<std::string>(yaml_path, entry.second, word, "a phone string");
    }
  }

  if (const YAML::Node s = root["speech"]) {
    if (!s.IsMap()) fail("{}: expected a map", where(yaml_path, s, "speech"));
    if (s["voice"])
      config.voice.voice =
          scalar<std::string>(yaml_path, s["voice"], "speech.voice", "a voice name");
    if (s["rate"])
      config.voice.rate_wpm = scalar<int>(yaml_path, s["rate"], "speech.rate", "words per minute");
    if (s["volume"])
      config.voice.volume =
          scalar<int>(yaml_path, s["volume"], "speech.volume", "a percentage 0..200");
    if (s["pitch"])
      config.voice.pitch = scalar<int>(yaml_path, s["pitch"], "speech.pitch", "0..100");
    if (s["espeak_data"]) {
      config.voice.data_dir =
          scalar<std::string>(yaml_path, s["espeak_data"], "speech.espeak_data", "a folder");
    }
    if (s["model_dir"]) {
      config.recognizer.model_dir =
          scalar<std::string>(yaml_path, s["model_dir"], "speech.model_dir", "a folder");
    }
    if (s["fallback_below"]) {
      config.recognizer.fallback_below =
          scalar<float>(yaml_path, s["fallback_below"], "speech.fallback_below", "a number 0..1");
    }
    if (s["mode"]) {
      const auto mode = scalar<std::string>(yaml_path, s["mode"], "speech.mode", "a mode name");
      if (mode == "grammar") {
        config.recognizer.mode = RecognitionMode::kGrammarWithFallback;
      } else if (mode == "grammar-only") {
        config.recognizer.mode = RecognitionMode::kGrammarOnly;
      } else if (mode == "free") {
        config.recognizer.mode = RecognitionMode::kFreeForm;
      } else {
        fail("{}: '{}', expected grammar, grammar-only or free",
             where(yaml_path, s["mode"], "speech.mode"), mode);
      }
    }
  }
  return config;
}

}  // namespace vigil::speech
