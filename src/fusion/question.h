// Operator questions: words -> intent and slots -> SQL over the event store -> the exact facts ->
// the model phrases them (docs/REPORT_FORMAT.md, "Answer request"). Counts are never left to
// the model: an answer whose numbers disagree with the facts is replaced by a template sentence
// built from the facts.
//
//   "how many people entered zone B in the last 10 minutes?"
//     -> intent count, class person, type intrusion, zone B, window 10 min
//     -> {"class":"person","count":3,"type":"intrusion","window_min":10,"zone":"B"}
//
// Intents: count ("how many", "number of"), last_event ("when did ... last", "the latest",
// "most recent", "last event/alert/time"), what_happened (everything else: "what happened",
// "anything at the gate?"). Windows in digits or words: "last 10 minutes", "past two hours",
// "the last hour", "half an hour", "today", "this week"; none = the whole record (window_min 0).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fusion/config.h"
#include "fusion/generator.h"
#include "fusion/store.h"

namespace vigil::fusion {

// The names a question can use, from the site configuration.
struct QuestionVocabulary {
  std::vector<std::string> zones;                          // zone and line names
  std::vector<std::string> classes;                        // detector classes
  std::vector<std::pair<std::string, std::string>> rules;  // rule name -> event type name
  static QuestionVocabulary from_config(const RunConfig& config);
};

struct Question {
  std::string text;                            // as asked
  std::string intent;                          // count, what_happened, last_event
  std::string zone, object_class, type, rule;  // "" = not restricted
  int window_min = 0;                          // 0 = the whole record
  nlohmann::json slots() const;                // {"class","rule","type","window_min","zone"}
};

// Parses a question (typed, or an STT transcript with numbers in words).
Question parse_question(std::string_view text, const QuestionVocabulary& vocabulary,
                        double now_unix);

// The `result` object of the answer request, computed from the store at `now_unix`.
nlohmann::json answer_facts(const EventStore& store, const Question& question, double now_unix);

// A sentence stating exactly the facts (the fallback when the model's text does not).
std::string template_answer(std::string_view intent, const nlohmann::json& result);

// Whether `answer` states the facts: the count / total / time is there and no other number
// contradicts them. `why` (when not null) says what was wrong.
bool answer_states_facts(std::string_view intent, const nlohmann::json& result,
                         std::string_view answer, std::string* why = nullptr);

struct Answer {
  Question question;
  nlohmann::json facts;          // the result object
  std::string text;              // what is printed and spoken
  std::string source;            // "llm" or "template"
  std::string model_text;        // the model's own words ("" without a model)
  std::string rejected_because;  // why the model's text was not used
  Generation generation;
};

// Phrases `facts` with the model (when `generator` is not null), falling back to the template.
// `on_piece` sees the model's text as it streams (before the check).
Answer phrase_answer(TextGenerator* generator, const Question& question, nlohmann::json facts,
                     int max_tokens, const std::function<bool(std::string_view)>& on_piece = {});

}  // namespace vigil::fusion
