#include "fusion/question.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "base/error.h"
#include "fusion/report_eval.h"
#include "fusion/report_prompt.h"
#include "speech/speech.h"

namespace vigil::fusion {

namespace {

// Lower case, anything but letters, digits and ':' becomes a space, single spaces, padded with
// one space each side (so " word " finds whole words).
std::string normalize(std::string_view text) {
  std::string out = " ";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    char n = std::isalnum(u) || c == ':' || u >= 0x80 ? static_cast<char>(std::tolower(u)) : ' ';
    if (n == ' ' && out.back() == ' ') continue;
    out += n;
  }
  if (out.back() != ' ') out += ' ';
  return out;
}

std::vector<std::string> words_of(const std::string& normalized) {
  std::vector<std::string> words;
  std::istringstream in(normalized);
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

std::string join(const std::vector<std::string>& words) {
  std::string out = " ";
  for (const auto& w : words) out += w + " ";
  return out;
}

// (fmt rather than `" " + s`: GCC 12 warns falsely on the latter, -Wrestrict.)
bool has(const std::string& text, std::string_view phrase) {
  return text.find(fmt::format(" {} ", phrase)) != std::string::npos;
}
bool has_prefix_word(const std::string& text, std::string_view prefix) {
  return text.find(fmt::format(" {}", prefix)) != std::string::npos;
}

// Number words to digits: "twenty five" -> "25", "a hundred" -> "100".
std::string numbers_to_digits(const std::string& normalized) {
  static const std::map<std::string, int> units = {
      {"zero", 0},     {"one", 1},      {"two", 2},        {"three", 3},     {"four", 4},
      {"five", 5},     {"six", 6},      {"seven", 7},      {"eight", 8},     {"nine", 9},
      {"ten", 10},     {"eleven", 11},  {"twelve", 12},    {"thirteen", 13}, {"fourteen", 14},
      {"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17}, {"eighteen", 18}, {"nineteen", 19}};
  static const std::map<std::string, int> tens = {{"twenty", 20}, {"thirty", 30}, {"forty", 40},
                                                  {"fifty", 50},  {"sixty", 60},  {"seventy", 70},
                                                  {"eighty", 80}, {"ninety", 90}};
  std::vector<std::string> in = words_of(normalized), out;
  for (size_t i = 0; i < in.size();) {
    int value = -1;
    size_t j = i;
    auto unit = units.find(in[j]);
    auto ten = tens.find(in[j]);
    if (ten != tens.end()) {
      value = ten->second;
      ++j;
      if (j < in.size()) {
        auto u = units.find(in[j]);
        if (u != units.end() && u->second > 0 && u->second < 10) {
          value += u->second;
          ++j;
        }
      }
    } else if (unit != units.end()) {
      value = unit->second;
      ++j;
    }
    if (value >= 0 && j < in.size() && in[j] == "hundred") {
      value *= 100;
      ++j;
    }
    if (value < 0 && (in[i] == "a" || in[i] == "one") && i + 1 < in.size() &&
        in[i + 1] == "hundred") {
      value = 100;
      j = i + 2;
    }
    if (value >= 0) {
      out.push_back(std::to_string(value));
      i = j;
    } else {
      out.push_back(in[i]);
      ++i;
    }
  }
  return join(out);
}

// Minutes per unit word, or 0.
int unit_minutes(const std::string& w) {
  static const std::map<std::string, int> units = {
      {"minute", 1}, {"minutes", 1}, {"min", 1},      {"mins", 1},
      {"hour", 60},  {"hours", 60},  {"hr", 60},      {"hrs", 60},
      {"day", 1440}, {"days", 1440}, {"week", 10080}, {"weeks", 10080}};
  auto it = units.find(w);
  return it == units.end() ? 0 : it->second;
}

int parse_window(const std::string& text, double now_unix) {
  const std::vector<std::string> w = words_of(text);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == "half" && i + 2 < w.size() && (w[i + 1] == "an" || w[i + 1] == "a") &&
        w[i + 2] == "hour") {
      return 30;
    }
    const bool lead = w[i] == "last" || w[i] == "past" || w[i] == "previous" || w[i] == "recent";
    if (!lead) continue;
    // "last 10 minutes", "past 2 hours", "last hour", "past few hours", "last an hour"
    size_t j = i + 1;
    int n = 1;
    if (j < w.size() && (w[j] == "a" || w[j] == "an")) ++j;
    if (j < w.size() && w[j] == "few") {
      n = 3;
      ++j;
    } else if (j < w.size() && !w[j].empty() && std::all_of(w[j].begin(), w[j].end(), ::isdigit) &&
               w[j].size() < 7) {
      n = std::stoi(w[j]);
      ++j;
    }
    if (j < w.size() && unit_minutes(w[j]) > 0) return n * unit_minutes(w[j]);
  }
  // "10 minutes ago" / "within 10 minutes"
  for (size_t i = 0; i + 1 < w.size(); ++i) {
    if (!w[i].empty() && std::all_of(w[i].begin(), w[i].end(), ::isdigit) && w[i].size() < 7 &&
        unit_minutes(w[i + 1]) > 0 &&
        ((i + 2 < w.size() && w[i + 2] == "ago") || (i > 0 && w[i - 1] == "within"))) {
      return std::stoi(w[i]) * unit_minutes(w[i + 1]);
    }
  }
  if (has(text, "today") || has(text, "this morning") || has(text, "tonight")) {
    const time_t t = static_cast<time_t>(now_unix);
    struct tm local {};
    localtime_r(&t, &local);
    return std::max(1, local.tm_hour * 60 + local.tm_min + 1);
  }
  if (has(text, "this week")) return 7 * 1440;
  if (has(text, "last night")) return 24 * 60;
  return 0;
}

// Spellings by which a name can be said: "Front_Door" -> "front door"; "gate 2" -> also
// "gate two" (STT transcripts) converted back to digits like the question.
std::vector<std::string> aliases(const std::string& name) {
  std::set<std::string> out;
  const std::string plain = normalize(name);
  out.insert(plain);
  out.insert(numbers_to_digits(normalize(speech::spoken_form(name))));
  out.insert(numbers_to_digits(plain));
  std::vector<std::string> list(out.begin(), out.end());
  list.erase(
      std::remove_if(list.begin(), list.end(), [](const std::string& a) { return a.size() <= 2; }),
      list.end());
  return list;
}

// The longest name whose alias occurs as whole words; single-letter names ("B") only after
// "zone"/"area".
std::string find_name(const std::string& text, const std::vector<std::string>& names) {
  std::string best;
  size_t best_len = 0;
  for (const auto& name : names) {
    for (const auto& alias : aliases(name)) {
      const std::string bare = alias.substr(1, alias.size() - 2);
      const bool short_name = bare.size() <= 1;
      bool found = false;
      if (short_name) {
        found = has(text, "zone " + bare) || has(text, "area " + bare);
      } else {
        found = text.find(alias) != std::string::npos;
      }
      if (found && bare.size() > best_len) {
        best = name;
        best_len = bare.size();
      }
    }
  }
  return best;
}

std::string find_type(const std::string& text) {
  struct Cue {
    const char* type;
    std::vector<const char*> words;  // prefixes of words
  };
  static const std::vector<Cue> cues = {
      {"object_left",
       {"left behind", "unattended", "abandoned", "left object", "object left", "objects left",
        "left bag", "bag left"}},
      {"loitering", {"loiter", "linger", "hanging around", "hung around", "hang around"}},
      {"crowding", {"crowd", "gather", "group"}},
      {"line_crossing", {"cross", "passed the line", "went past", "passed by"}},
      {"intrusion",
       {"enter", "intrusion", "intruder", "went into", "came into", "got into", "trespass",
        "walked into", "break in", "broke in"}},
  };
  for (const auto& cue : cues) {
    for (const char* w : cue.words) {
      if (has_prefix_word(text, w)) return cue.type;
    }
  }
  return "";
}

std::string find_class(const std::string& text, const std::vector<std::string>& classes) {
  std::string best;
  for (const auto& c : classes) {
    std::vector<std::string> forms = {c, class_plural(c), c + "s"};
    if (c == "person") {
      for (const char* w : {"persons", "anyone", "anybody", "someone", "somebody", "pedestrian",
                            "pedestrians", "visitors", "visitor", "intruders", "intruder"}) {
        forms.push_back(w);
      }
    }
    for (const auto& f : forms) {
      if (text.find(normalize(f)) != std::string::npos && f.size() > best.size()) best = c;
    }
  }
  return best;
}

std::string find_intent(const std::string& text) {
  if (has(text, "how many") || has(text, "how much") || has(text, "number of") ||
      has(text, "count") || has(text, "how often")) {
    return "count";
  }
  if (has(text, "latest") || has(text, "most recent") || has(text, "when did") ||
      has(text, "when was") || has(text, "last event") || has(text, "last alert") ||
      has(text, "last time") || has(text, "last one") || has(text, "last thing") ||
      has(text, "last seen")) {
    return "last_event";
  }
  return "what_happened";
}

std::vector<std::string> digit_runs(std::string_view text) {
  std::vector<std::string> runs;
  std::string cur;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      cur += c;
    } else if (!cur.empty()) {
      runs.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) runs.push_back(cur);
  return runs;
}

bool contains_digits(std::string_view text, int64_t value) {
  const std::string v = std::to_string(value);
  for (const auto& r : digit_runs(text)) {
    if (r == v) return true;
  }
  return false;
}

// Numbers the answer may legitimately contain: every integer anywhere in the facts, the parts
// of their times, and digits inside zone / class / rule names.
void allowed_numbers(const nlohmann::json& j, std::set<std::string>& out) {
  if (j.is_number_integer()) {
    out.insert(std::to_string(j.get<int64_t>()));
  } else if (j.is_string()) {
    for (const auto& r : digit_runs(j.get<std::string>())) {
      out.insert(r);
      out.insert(std::to_string(std::stoll(r.substr(0, 18))));
    }
  } else if (j.is_object() || j.is_array()) {
    for (const auto& item : j) allowed_numbers(item, out);
  }
}

bool says_none(const std::string& lowered) {
  return has(lowered, "no") || has(lowered, "none") || has(lowered, "nothing") ||
         has(lowered, "zero") || has(lowered, "0") || has(lowered, "not");
}

std::string type_label(const std::string& type) {
  if (type.empty()) return "";
  std::string label = type;
  std::replace(label.begin(), label.end(), '_', ' ');
  return label;
}

std::string window_phrase(int64_t window_min) {
  if (window_min <= 0) return "on record";
  if (window_min % 1440 == 0) {
    const int64_t d = window_min / 1440;
    return d == 1 ? "in the last day" : fmt::format("in the last {} days", d);
  }
  if (window_min % 60 == 0) {
    const int64_t h = window_min / 60;
    return h == 1 ? "in the last hour" : fmt::format("in the last {} hours", h);
  }
  return window_min == 1 ? "in the last minute" : fmt::format("in the last {} minutes", window_min);
}

std::string describe_event(const nlohmann::json& f) {
  const std::string cls = f.value("class", "object");
  const int64_t count = f.value("count", int64_t{1});
  if (f.value("type", "") == "line_crossing") {
    // The count of a crossing is the line's running count in its direction.
    std::string dir = type_label(f.value("direction", ""));
    return fmt::format("a {} crossed {} at {}{}{} ({} so far)", cls, f.value("zone", ""),
                       f.value("time", ""), dir.empty() ? "" : ", ", dir, count);
  }
  std::string s =
      fmt::format("{} in {} at {} ({} {})", type_label(f.value("type", "")), f.value("zone", ""),
                  f.value("time", ""), count, count == 1 ? cls : class_plural(cls));
  if (f.contains("direction") && f["direction"].is_string() &&
      !f["direction"].get<std::string>().empty()) {
    s += ", " + type_label(f["direction"].get<std::string>());
  }
  return s;
}

}  // namespace

QuestionVocabulary QuestionVocabulary::from_config(const RunConfig& config) {
  QuestionVocabulary v;
  for (const auto& z : config.vision.zones) v.zones.push_back(z.name);
  v.classes = config.class_names();
  for (const auto& r : config.vision.rules) {
    v.rules.emplace_back(r.name, std::string(vision::event_type_name(r.type)));
  }
  return v;
}

nlohmann::json Question::slots() const {
  return {{"class", object_class},
          {"rule", rule},
          {"type", type},
          {"window_min", window_min},
          {"zone", zone}};
}

Question parse_question(std::string_view text, const QuestionVocabulary& vocabulary,
                        double now_unix) {
  Question q;
  q.text = std::string(text);
  const std::string t = numbers_to_digits(normalize(text));
  q.intent = find_intent(t);
  q.window_min = parse_window(t, now_unix);
  q.zone = find_name(t, vocabulary.zones);
  std::vector<std::string> rule_names;
  for (const auto& [name, type] : vocabulary.rules) rule_names.push_back(name);
  q.rule = find_name(t, rule_names);
  if (!q.rule.empty()) {
    for (const auto& [name, type] : vocabulary.rules) {
      if (name == q.rule) q.type = type;
    }
  } else {
    q.type = find_type(t);
  }
  q.object_class = find_class(t, vocabulary.classes);
  return q;
}

nlohmann::json answer_facts(const EventStore& store, const Question& q, double now_unix) {
  EventQuery query;
  if (q.window_min > 0) query.since_unix = now_unix - q.window_min * 60.0;
  query.until_unix = now_unix;
  query.zone = q.zone;
  query.object_class = q.object_class;
  query.type = q.type;
  query.rule = q.rule;
  if (q.intent == "count") {
    return {{"class", q.object_class},
            {"count", store.count(query)},
            {"type", q.type},
            {"window_min", q.window_min},
            {"zone", q.zone}};
  }
  if (q.intent == "last_event") {
    query.since_unix = 0;  // the last one ever (within the other filters)
    query.limit = 1;
    query.newest_first = true;
    const auto events = store.events(query);
    return {{"event", events.empty() ? nlohmann::json(nullptr) : event_facts(events[0].event)},
            {"zone", q.zone}};
  }
  const int64_t total = store.count(query);
  query.limit = 5;
  query.newest_first = true;
  auto latest = store.events(query);
  std::reverse(latest.begin(), latest.end());  // chronological
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : latest) list.push_back(event_facts(e.event));
  return {{"events", list}, {"total", total}, {"window_min", q.window_min}, {"zone", q.zone}};
}

std::string template_answer(std::string_view intent, const nlohmann::json& r) {
  if (intent == "count") {
    const int64_t n = r.value("count", int64_t{0});
    const std::string type = type_label(r.value("type", ""));
    const std::string cls = r.value("class", "");
    std::string what =
        type.empty() ? (n == 1 ? "event" : "events") : type + (n == 1 ? " event" : " events");
    if (!cls.empty()) what += " involving " + class_plural(cls);
    const std::string zone = r.value("zone", "");
    return fmt::format("{} {}{} {}.", n, what, zone.empty() ? "" : " in " + zone,
                       window_phrase(r.value("window_min", int64_t{0})));
  }
  if (intent == "last_event") {
    const std::string zone = r.value("zone", "");
    const auto& e = r.contains("event") ? r["event"] : nlohmann::json(nullptr);
    if (e.is_null()) {
      return fmt::format("No events{} are on record.", zone.empty() ? "" : " in " + zone);
    }
    return fmt::format("The last event{} was {}.", zone.empty() ? "" : " in " + zone,
                       describe_event(e));
  }
  const int64_t total = r.value("total", int64_t{0});
  const std::string zone = r.value("zone", "");
  std::string s = fmt::format("{} {}{} {}.", total, total == 1 ? "event" : "events",
                              zone.empty() ? "" : " in " + zone,
                              window_phrase(r.value("window_min", int64_t{0})));
  if (r.contains("events") && !r["events"].empty()) {
    s += r["events"].size() < static_cast<size_t>(total) ? " The latest: " : " ";
    bool first = true;
    for (const auto& e : r["events"]) {
      std::string d = describe_event(e);
      if (first) d[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(d[0])));
      s += (first ? "" : "; ") + d;
      first = false;
    }
    s += ".";
  }
  return s;
}

bool answer_states_facts(std::string_view intent, const nlohmann::json& r, std::string_view answer,
                         std::string* why) {
  auto reject = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  const std::string lowered = normalize(answer);
  if (answer.find_first_not_of(" \t\r\n") == std::string_view::npos) return reject("empty answer");
  std::set<std::string> allowed;
  allowed_numbers(r, allowed);
  for (const auto& run : digit_runs(answer)) {
    const std::string stripped = std::to_string(std::stoll(run.substr(0, 18)));
    if (!allowed.count(run) && !allowed.count(stripped)) {
      return reject(fmt::format("the number {} is not in the facts", run));
    }
  }
  if (intent == "count") {
    const int64_t n = r.value("count", int64_t{0});
    if (!contains_digits(answer, n) && !(n == 0 && says_none(lowered))) {
      return reject(fmt::format("the count {} is missing", n));
    }
    return true;
  }
  if (intent == "last_event") {
    const auto& e = r.contains("event") ? r["event"] : nlohmann::json(nullptr);
    if (e.is_null()) return says_none(lowered) ? true : reject("it does not say there is none");
    const std::string time = e.value("time", "");
    if (time.size() >= 5 && answer.find(time.substr(0, 5)) == std::string_view::npos) {
      return reject(fmt::format("the time {} is missing", time));
    }
    return true;
  }
  const int64_t total = r.value("total", int64_t{0});
  if (!contains_digits(answer, total) && !(total == 0 && says_none(lowered))) {
    return reject(fmt::format("the total {} is missing", total));
  }
  return true;
}

Answer phrase_answer(TextGenerator* generator, const Question& question, nlohmann::json facts,
                     int max_tokens, const std::function<bool(std::string_view)>& on_piece) {
  Answer a;
  a.question = question;
  a.facts = std::move(facts);
  if (generator != nullptr) {
    const std::string prompt = answer_prompt(question.text, question.intent, a.facts);
    a.generation = generator->generate(prompt, max_tokens, on_piece);
    a.model_text = a.generation.text;
    // Trim surrounding whitespace.
    const size_t b = a.model_text.find_first_not_of(" \t\r\n");
    const size_t e = a.model_text.find_last_not_of(" \t\r\n");
    a.model_text = b == std::string::npos ? "" : a.model_text.substr(b, e - b + 1);
    std::string why;
    if (answer_states_facts(question.intent, a.facts, a.model_text, &why)) {
      a.text = a.model_text;
      a.source = "llm";
      return a;
    }
    a.rejected_because = why;
  } else {
    a.rejected_because = "no model";
  }
  a.text = template_answer(question.intent, a.facts);
  a.source = "template";
  return a;
}

}  // namespace vigil::fusion
