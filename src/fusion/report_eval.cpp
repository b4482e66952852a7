#include "fusion/report_eval.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>

#include "base/error.h"
#include "base/file.h"
#include "fusion/report_prompt.h"
#include "llm/engine.h"
#include "vision/event.h"

namespace vigil::fusion {
namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Index of the first occurrence of `needle` in `text` with no word character on either side.
size_t find_bounded(std::string_view text, std::string_view needle) {
  if (needle.empty()) return std::string_view::npos;
  for (size_t i = text.find(needle); i != std::string_view::npos; i = text.find(needle, i + 1)) {
    const size_t j = i + needle.size();
    const bool before_ok = i == 0 || !is_word_char(text[i - 1]);
    const bool after_ok = j == text.size() || !is_word_char(text[j]);
    if (before_ok && after_ok) return i;
  }
  return std::string_view::npos;
}

bool contains_bounded(std::string_view text, std::string_view needle) {
  return find_bounded(text, needle) != std::string_view::npos;
}

// Replaces every occurrence of each needle, longest first, with a run of '|'.
std::string mask(std::string text, std::vector<std::string> needles) {
  std::sort(needles.begin(), needles.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  needles.erase(std::unique(needles.begin(), needles.end()), needles.end());
  for (const std::string& n : needles) {
    if (n.empty()) continue;
    for (size_t i = text.find(n); i != std::string::npos; i = text.find(n, i + n.size())) {
      text.replace(i, n.size(), std::string(n.size(), '|'));
    }
  }
  return text;
}

// Maximal runs of ASCII digits.
std::vector<std::string> digit_runs(std::string_view text) {
  std::vector<std::string> runs;
  size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_digit(text[j])) ++j;
    runs.emplace_back(text.substr(i, j - i));
    i = j;
  }
  return runs;
}

// Value of a digit run; nullopt when too long to be a fact (> 18 digits).
std::optional<int64_t> run_value(const std::string& run) {
  if (run.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : run) v = v * 10 + (c - '0');
  return v;
}

const nlohmann::json& field(const nlohmann::json& object, const char* key, const char* what) {
  if (!object.is_object() || !object.contains(key)) {
    fail("report request: {} without \"{}\"", what, key);
  }
  return object[key];
}

std::string string_field(const nlohmann::json& object, const char* key, const char* what) {
  const nlohmann::json& v = field(object, key, what);
  if (!v.is_string()) fail("report request: {} \"{}\" must be a string", what, key);
  return v.get<std::string>();
}

int64_t int_field(const nlohmann::json& object, const char* key, const char* what) {
  const nlohmann::json& v = field(object, key, what);
  if (!v.is_number_integer()) fail("report request: {} \"{}\" must be an integer", what, key);
  return v.get<int64_t>();
}

}  // namespace

std::string_view fact_name(Fact fact) {
  switch (fact) {
    case Fact::kType:
      return "type";
    case Fact::kZone:
      return "zone";
    case Fact::kClass:
      return "class";
    case Fact::kCount:
      return "count";
    case Fact::kTime:
      return "time";
  }
  return "?";
}

const std::vector<std::string>& type_words(std::string_view type) {
  static const std::map<std::string, std::vector<std::string>, std::less<>> words = {
      {"intrusion", {"intrusion", "intruder", "entered", "entering"}},
      {"loitering", {"loiter", "linger"}},
      {"crowding", {"crowd", "gathered", "gathering"}},
      {"line_crossing", {"crossed", "crossing"}},
      {"object_left", {"left object", "object left", "unattended", "abandoned"}},
  };
  static const std::vector<std::string> none;
  auto it = words.find(type);
  return it == words.end() ? none : it->second;
}

std::string class_plural(std::string_view noun) {
  std::string n(noun);
  auto ends_with = [&](std::string_view suffix) {
    return n.size() >= suffix.size() &&
           n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (n == "person") return "people";
  if (ends_with(" person")) return n.substr(0, n.size() - 6) + "people";
  if (ends_with("s") || ends_with("x") || ends_with("ch") || ends_with("sh")) return n + "es";
  if (n.size() >= 2 && n.back() == 'y' &&
      std::string_view("aeiou").find(n[n.size() - 2]) == std::string_view::npos) {
    return n.substr(0, n.size() - 1) + "ies";
  }
  return n + "s";
}

ReportVocabulary ReportVocabulary::load(const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  ReportVocabulary v;
  for (const char* key : {"zones", "classes"}) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_array()) {
      fail("{}: key \"{}\": expected an array of strings", path, key);
    }
    auto& out = std::string_view(key) == "zones" ? v.zones : v.classes;
    for (const auto& name : j[key]) {
      if (!name.is_string()) fail("{}: key \"{}\": expected an array of strings", path, key);
      out.push_back(name.get<std::string>());
    }
  }
  return v;
}

int ReportCheck::facts_checked() const {
  int n = 0;
  for (const auto& e : events) {
    for (const auto& f : e.facts) n += f.has_value() ? 1 : 0;
  }
  return n;
}

int ReportCheck::facts_found() const {
  int n = 0;
  for (const auto& e : events) {
    for (const auto& f : e.facts) n += f.value_or(false) ? 1 : 0;
  }
  return n;
}

ReportChecker::ReportChecker(ReportVocabulary vocabulary) {
  auto add = [&](const std::string& form, const std::string& label) {
    Entry entry{ascii_lower(form), label};
    if (entry.text.empty()) return;
    size_t k = 0;
    while (k < entry.text.size() && is_word_char(entry.text[k])) ++k;
    if (k == 0) {
      other_.push_back(std::move(entry));
    } else {
      by_first_word_[entry.text.substr(0, k)].push_back(std::move(entry));
    }
  };
  for (const std::string& zone : vocabulary.zones) add(zone, "zone:" + zone);
  for (const std::string& cls : vocabulary.classes) {
    add(cls, "class:" + cls);
    add(class_plural(cls), "class:" + cls);
  }
}

std::vector<std::string> ReportChecker::found_in_vocabulary(std::string_view text) const {
  std::vector<std::string> found;
  auto note = [&](const std::string& label) {
    if (std::find(found.begin(), found.end(), label) == found.end()) found.push_back(label);
  };
  size_t i = 0;
  while (i < text.size()) {
    if (!is_word_char(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && is_word_char(text[j])) ++j;
    auto it = by_first_word_.find(std::string(text.substr(i, j - i)));
    if (it != by_first_word_.end()) {
      for (const Entry& e : it->second) {
        const size_t end = i + e.text.size();
        if (text.substr(i).starts_with(e.text) &&
            (end == text.size() || !is_word_char(text[end]))) {
          note(e.label);
        }
      }
    }
    i = j;
  }
  for (const Entry& e : other_) {
    if (contains_bounded(text, e.text)) note(e.label);
  }
  return found;
}

ReportCheck ReportChecker::check(std::string_view report, const nlohmann::json& request) const {
  const nlohmann::json& events = field(request, "events", "the request");
  if (!events.is_array()) fail("report request: \"events\" must be an array");
  struct Facts {
    std::string type, zone, rule, cls, time;
    int64_t count = 0;
    std::optional<int64_t> duration;
  };
  std::vector<Facts> facts;
  for (const auto& e : events) {
    Facts f;
    f.type = string_field(e, "type", "an event");
    f.zone = ascii_lower(string_field(e, "zone", "an event"));
    f.rule = ascii_lower(string_field(e, "rule", "an event"));
    f.cls = ascii_lower(string_field(e, "class", "an event"));
    f.time = string_field(e, "time", "an event");
    if (f.time.size() < 5)
      fail("report request: event time \"{}\" is not HH:MM:SS", printable(f.time));
    f.count = int_field(e, "count", "an event");
    const nlohmann::json& d = field(e, "duration_s", "an event");
    if (!d.is_null()) f.duration = int_field(e, "duration_s", "an event");
    facts.push_back(std::move(f));
  }
  const std::string site =
      request.contains("site") ? ascii_lower(string_field(request, "site", "the request")) : "";

  const std::string text = ascii_lower(report);
  std::vector<std::string> places{site};
  std::vector<std::string> rules;
  std::vector<std::string> classes_and_times;
  for (const Facts& f : facts) {
    places.push_back(f.zone);
    rules.push_back(f.rule);
    classes_and_times.push_back(f.cls);
    classes_and_times.push_back(class_plural(f.cls));
    classes_and_times.push_back(f.time);
    classes_and_times.push_back(f.time.substr(0, 5));
  }
  const std::string masked_places = mask(text, places);
  const std::string masked = mask(masked_places, rules);
  const std::string rest = mask(masked, classes_and_times);
  std::set<int64_t> rest_numbers;
  for (const std::string& run : digit_runs(rest)) {
    if (auto v = run_value(run)) rest_numbers.insert(*v);
  }

  ReportCheck out;
  std::set<int64_t> allowed;
  for (const Facts& f : facts) {
    EventFactCheck c;
    c.type = f.type;
    auto set = [&](Fact k, std::optional<bool> v) { c.facts[static_cast<size_t>(k)] = v; };
    bool type_ok = false;
    for (const std::string& w : type_words(f.type)) {
      type_ok = type_ok || masked_places.find(w) != std::string::npos;
    }
    set(Fact::kType, type_ok);
    set(Fact::kZone,
        f.zone.empty() ? std::nullopt : std::optional<bool>(contains_bounded(text, f.zone)));
    set(Fact::kClass,
        contains_bounded(masked, f.cls) || contains_bounded(masked, class_plural(f.cls)));
    set(Fact::kTime, contains_bounded(text, std::string_view(f.time).substr(0, 5)));
    set(Fact::kCount, rest_numbers.count(f.count) > 0);
    out.events.push_back(std::move(c));
    allowed.insert(f.count);
    if (f.duration) allowed.insert(*f.duration);
  }
  out.hallucinations = found_in_vocabulary(rest);
  for (const std::string& run : digit_runs(rest)) {
    const auto v = run_value(run);
    if (!v || !allowed.count(*v)) out.hallucinations.push_back("number:" + run);
  }
  return out;
}

std::vector<HeldoutItem> load_heldout(const std::string& path, size_t limit) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the held-out set", path);
  std::vector<HeldoutItem> items;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line) && (limit == 0 || items.size() < limit)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: invalid JSON: {}", path, line_no, e.what());
    }
    if (!j.is_object() || !j.contains("events") || !j["events"].is_array() || j["events"].empty() ||
        !j.contains("site") || !j["site"].is_string()) {
      fail("{}:{}: expected {{\"events\": [...], \"site\": ...}}", path, line_no);
    }
    HeldoutItem item;
    item.events = j["events"];
    item.site = j["site"].get<std::string>();
    if (j.contains("tz") && j["tz"].is_string()) item.tz = j["tz"].get<std::string>();
    if (j.contains("prompt") && j["prompt"].is_string())
      item.prompt = j["prompt"].get<std::string>();
    if (j.contains("reference") && j["reference"].is_string()) {
      item.reference = j["reference"].get<std::string>();
    }
    items.push_back(std::move(item));
  }
  return items;
}

void add_result(EvalResult& result, EvalItemResult item) {
  for (EvalGroup* g : {&result.total, &result.groups[item.group]}) {
    ++g->items;
    g->facts_checked += item.check.facts_checked();
    g->facts_found += item.check.facts_found();
    if (!item.check.hallucinations.empty()) ++g->hallucinated_reports;
    for (const EventFactCheck& e : item.check.events) {
      for (size_t k = 0; k < e.facts.size(); ++k) {
        if (!e.facts[k]) continue;
        ++g->checked_by_fact[k];
        if (*e.facts[k]) ++g->found_by_fact[k];
      }
    }
  }
  result.items.push_back(std::move(item));
}

EvalResult evaluate_reports(Engine& engine, const std::vector<HeldoutItem>& items,
                            const ReportChecker& checker, int max_tokens,
                            const std::function<void(size_t, const EvalItemResult&)>& on_item) {
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult result;
  for (size_t i = 0; i < items.size(); ++i) {
    const HeldoutItem& item = items[i];
    std::vector<vision::Event> events;
    for (const auto& e : item.events) {
      try {
        events.push_back(e.get<vision::Event>());
      } catch (const nlohmann::json::exception& ex) {
        fail("held-out item {}: bad event: {}", i + 1, ex.what());
      }
    }
    const std::string prompt = report_prompt(events, item.site);
    if (!item.prompt.empty() && prompt != item.prompt) ++result.prompt_mismatches;
    nlohmann::json request = nlohmann::json::parse(report_request_json(events, item.site));

    GenerateRequest req;
    req.prompt = prompt;
    req.max_tokens = max_tokens;
    req.sampling.temperature = 0;  // greedy
    req.add_bos = false;
    req.parse_special = true;
    req.stop = {std::string(kEndToken)};
    GenerateResult gen = engine.generate(req);

    EvalItemResult r;
    r.group = events.size() > 1 ? "burst" : std::string(vision::event_type_name(events[0].type));
    r.report = gen.text;
    r.check = checker.check(gen.text, request);
    r.generated_tokens = gen.stats.n_generated;
    r.stop_reason = gen.stop_reason;
    if (on_item) on_item(i, r);
    add_result(result, std::move(r));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

namespace {

nlohmann::json group_json(const EvalGroup& g) {
  nlohmann::json by_fact = nlohmann::json::object();
  for (Fact f : kAllFacts) {
    const auto k = static_cast<size_t>(f);
    by_fact[std::string(fact_name(f))] = {
        {"checked", g.checked_by_fact[k]},
        {"found", g.found_by_fact[k]},
        {"recall", g.checked_by_fact[k] ? double(g.found_by_fact[k]) / g.checked_by_fact[k] : 0.0}};
  }
  return {{"items", g.items},
          {"facts_checked", g.facts_checked},
          {"facts_found", g.facts_found},
          {"fact_recall", g.recall()},
          {"hallucinated_reports", g.hallucinated_reports},
          {"hallucination_rate", g.hallucination_rate()},
          {"by_fact", by_fact}};
}

}  // namespace

nlohmann::json EvalResult::to_json(bool with_items) const {
  nlohmann::json j = group_json(total);
  j["prompt_mismatches"] = prompt_mismatches;
  j["seconds"] = seconds;
  nlohmann::json g = nlohmann::json::object();
  for (const auto& [name, group] : groups) g[name] = group_json(group);
  j["groups"] = g;
  if (with_items) {
    nlohmann::json list = nlohmann::json::array();
    for (const EvalItemResult& item : items) {
      nlohmann::json missed = nlohmann::json::array();
      for (size_t e = 0; e < item.check.events.size(); ++e) {
        for (Fact f : kAllFacts) {
          const auto v = item.check.events[e][f];
          if (v && !*v) missed.push_back(fmt::format("{}:{}", e, fact_name(f)));
        }
      }
      list.push_back({{"group", item.group},
                      {"report", item.report},
                      {"missed", missed},
                      {"hallucinations", item.check.hallucinations},
                      {"tokens", item.generated_tokens},
                      {"stop", item.stop_reason}});
    }
    j["reports"] = list;
  }
  return j;
}

std::string EvalResult::to_text() const {
  std::string out =
      fmt::format("{:<14} {:>6} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}\n", "group", "items",
                  "recall", "halluc.", "type", "zone", "class", "count", "time");
  auto row = [&](const std::string& name, const EvalGroup& g) {
    out += fmt::format("{:<14} {:>6} {:>8.2f}% {:>8.2f}%", name, g.items, 100 * g.recall(),
                       100 * g.hallucination_rate());
    for (Fact f : kAllFacts) {
      const auto k = static_cast<size_t>(f);
      if (g.checked_by_fact[k] == 0) {
        out += fmt::format(" {:>8}", "-");
      } else {
        out += fmt::format(" {:>7.1f}%", 100.0 * g.found_by_fact[k] / g.checked_by_fact[k]);
      }
    }
    out += "\n";
  };
  for (const auto& [name, group] : groups) row(name, group);
  row("all", total);
  out += fmt::format(
      "fact recall {:.2f}% ({} of {} facts), hallucination rate {:.2f}% ({} of {} "
      "reports), {:.1f} s",
      100 * total.recall(), total.facts_found, total.facts_checked,
      100 * total.hallucination_rate(), total.hallucinated_reports, total.items, seconds);
  if (prompt_mismatches > 0) {
    out += fmt::format(
        "\nWARNING: {} prompts differ from the ones stored in the set (contract "
        "drift between src/fusion/report_prompt.cpp and training/contract.py, or "
        "another TZ)",
        prompt_mismatches);
  }
  return out;
}

}  // namespace vigil::fusion
