// Fact check of generated event reports (docs/REPORT_FORMAT.md, "Output") and the held-out
// evaluation behind `vigil eval-reports`. training/factcheck.py implements the same rules in
// Python for the training corpus; keep the two in step.
//
// Rules (on ASCII-lowercased text; a "bounded" match has no ASCII letter or digit on either side):
//   1. The input places (zones, site) are masked out of the report, longest first.
//   2. type: a word of type_words(type) occurs in that text (substring). Then the rule names are
//      masked too.
//   3. zone: the zone occurs bounded in the report (an empty zone has no zone fact).
//   4. class: the class or its plural occurs bounded in the masked text.
//   5. time: "HH:MM" of the event occurs bounded in the report (so HH:MM:SS counts).
//   6. Input classes (and plurals) and times are masked as well; count: a digit run of what is
//      left equals the count.
//   7. Hallucinations in what is left: a vocabulary zone or class (or plural) occurring bounded,
//      or a digit run that is none of the input counts and durations.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil {
class Engine;
}

namespace vigil::fusion {

enum class Fact { kType, kZone, kClass, kCount, kTime };
inline constexpr std::array<Fact, 5> kAllFacts = {Fact::kType, Fact::kZone, Fact::kClass,
                                                  Fact::kCount, Fact::kTime};
std::string_view fact_name(Fact fact);  // "type", "zone", "class", "count", "time"

// Words that state an event type ("intrusion" -> intrusion, intruder, entered, entering).
const std::vector<std::string>& type_words(std::string_view type);
// English plural of a class label: person -> people, bus -> buses, battery -> batteries.
std::string class_plural(std::string_view noun);

// Names the model could invent: zones and classes of the corpus (vocab.json next to the
// held-out set: {"zones": [...], "classes": [...]}).
struct ReportVocabulary {
  std::vector<std::string> zones;
  std::vector<std::string> classes;
  static ReportVocabulary load(const std::string& path);  // throws vigil::Error naming the file
};

struct EventFactCheck {
  std::string type;
  // Per Fact: true found, false missed, nullopt not applicable (empty zone).
  std::array<std::optional<bool>, 5> facts;
  std::optional<bool> operator[](Fact f) const { return facts[static_cast<size_t>(f)]; }
};

struct ReportCheck {
  std::vector<EventFactCheck> events;
  std::vector<std::string> hallucinations;  // "zone:Dock 4", "class:dog", "number:7"
  int facts_checked() const;
  int facts_found() const;
};

class ReportChecker {
 public:
  explicit ReportChecker(ReportVocabulary vocabulary);
  // `request`: a report request {"events":[EVENT_FACTS...],"site":...}. Throws vigil::Error
  // when it lacks a field the check needs.
  ReportCheck check(std::string_view report, const nlohmann::json& request) const;

 private:
  struct Entry {
    std::string text;  // lowercased
    std::string label;
  };
  std::vector<std::string> found_in_vocabulary(std::string_view text) const;

  std::unordered_map<std::string, std::vector<Entry>> by_first_word_;
  std::vector<Entry> other_;  // entries not starting with a letter or digit
};

// One held-out item: the events (vision::Event JSON) and site, the prompt Python built, and the
// reference report.
struct HeldoutItem {
  nlohmann::json events;
  std::string site;
  std::string tz;  // the time zone the prompt was built in ("" = unknown)
  std::string prompt;
  std::string reference;
};
// Reads up to `limit` items (0 = all) from a held-out JSONL file; throws naming file and line.
std::vector<HeldoutItem> load_heldout(const std::string& path, size_t limit);

struct EvalGroup {
  int items = 0;
  int facts_checked = 0;
  int facts_found = 0;
  int hallucinated_reports = 0;
  std::array<int, 5> checked_by_fact{};
  std::array<int, 5> found_by_fact{};
  double recall() const { return facts_checked ? double(facts_found) / facts_checked : 0; }
  double hallucination_rate() const { return items ? double(hallucinated_reports) / items : 0; }
};

struct EvalItemResult {
  std::string group;  // event type, or "burst"
  std::string report;
  ReportCheck check;
  int generated_tokens = 0;
  std::string stop_reason;
};

struct EvalResult {
  EvalGroup total;
  std::map<std::string, EvalGroup> groups;  // by event type / "burst"
  std::vector<EvalItemResult> items;
  int prompt_mismatches = 0;  // C++ prompt != the prompt stored by Python (contract drift)
  double seconds = 0;
  // Metrics as JSON; with_items adds "reports": every report with its missed facts
  // ("<event index>:<fact>") and hallucinations.
  nlohmann::json to_json(bool with_items) const;
  std::string to_text() const;
};

// Adds one checked report to `result`.
void add_result(EvalResult& result, EvalItemResult item);

// Generates a report for each item with `engine` (greedy, stops at <|end|>) and checks it.
// `on_item(index, item)` is called after each item (progress).
EvalResult evaluate_reports(Engine& engine, const std::vector<HeldoutItem>& items,
                            const ReportChecker& checker, int max_tokens,
                            const std::function<void(size_t, const EvalItemResult&)>& on_item = {});

}  // namespace vigil::fusion
