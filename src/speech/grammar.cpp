// The site vocabulary and the JSGF grammar built from it.
//
// The grammar lists the question forms an operator uses, with the site's names slotted in. It is
// deliberately generous with optional words ("show [me] [the] alerts") so that natural variants
// still match, but every path is a sentence the rest of the system can act on.
#include <algorithm>
#include <cctype>
#include <set>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

const char* const kOnes[] = {"zero",    "one",     "two",       "three",    "four",
                             "five",    "six",     "seven",     "eight",    "nine",
                             "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                             "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
const char* const kTens[] = {"",      "",      "twenty",  "thirty", "forty",
                             "fifty", "sixty", "seventy", "eighty", "ninety"};

std::string number_words(std::string_view digits) {
  if (digits.size() <= 2) {
    const int n = std::stoi(std::string(digits));
    if (n < 20) return kOnes[n];
    std::string out = kTens[n / 10];
    if (n % 10) out += std::string(" ") + kOnes[n % 10];
    return out;
  }
  std::string out;  // longer numbers are read digit by digit ("gate 101": one zero one)
  for (char c : digits) {
    if (!out.empty()) out += ' ';
    out += kOnes[c - '0'];
  }
  return out;
}

// English plural of the last word of a (possibly multi-word) class name.
std::string plural(const std::string& name) {
  const size_t space = name.rfind(' ');
  const std::string head = space == std::string::npos ? "" : name.substr(0, space + 1);
  const std::string word = space == std::string::npos ? name : name.substr(space + 1);
  static const std::pair<const char*, const char*> kIrregular[] = {
      {"person", "people"}, {"man", "men"},     {"woman", "women"},      {"child", "children"},
      {"mouse", "mice"},    {"sheep", "sheep"}, {"deer", "deer"},        {"fish", "fish"},
      {"knife", "knives"},  {"skis", "skis"},   {"scissors", "scissors"}};
  for (const auto& [one, many] : kIrregular) {
    if (word == one) return head + many;
  }
  auto ends_with = [&word](std::string_view s) {
    return word.size() >= s.size() && word.compare(word.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with("s") || ends_with("x") || ends_with("z") || ends_with("ch") || ends_with("sh")) {
    return head + word + "es";
  }
  if (word.size() > 1 && ends_with("y") &&
      std::string_view("aeiou").find(word[word.size() - 2]) == std::string_view::npos) {
    return head + word.substr(0, word.size() - 1) + "ies";
  }
  return head + word + "s";
}

// "<a> | <b> | ..." of the spoken forms, without duplicates; empty names are skipped.
std::string alternatives(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  std::string out;
  for (const std::string& name : names) {
    if (name.empty() || !seen.insert(name).second) continue;
    if (!out.empty()) out += " | ";
    out += name;
  }
  return out;
}

std::vector<std::string> spoken_all(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) out.push_back(spoken_form(n));
  return out;
}

}  // namespace

std::string spoken_form(std::string_view name) {
  std::string out;
  auto separate = [&out] {
    if (!out.empty() && out.back() != ' ') out += ' ';
  };
  size_t i = 0;
  while (i < name.size()) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (std::isdigit(c)) {
      size_t j = i;
      while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
      separate();
      out += number_words(name.substr(i, j - i));
      out += ' ';
      i = j;
      continue;
    }
    if (std::isalpha(c) || c >= 0x80) {  // UTF-8 letters are kept for the spelling fallback
      out += static_cast<char>(std::tolower(c));
    } else if (c == '\'' && !out.empty() && out.back() != ' ') {
      out += '\'';  // o'clock, driver's
    } else {
      separate();
    }
    ++i;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\'')) out.pop_back();
  return out;
}

SiteVocabulary default_vocabulary() {
  SiteVocabulary v;
  v.zones = {"front door", "back yard",   "driveway",    "garage",
             "side gate",  "parking lot", "loading dock"};
  v.classes = {"person", "car", "truck", "dog", "cat", "bicycle", "package"};
  v.rules = {"loitering", "intrusion", "line crossing"};
  return v;
}

std::string build_grammar(const SiteVocabulary& vocabulary) {
  const std::vector<std::string> zones = spoken_all(vocabulary.zones);
  const std::vector<std::string> classes = spoken_all(vocabulary.classes);
  const std::vector<std::string> rules = spoken_all(vocabulary.rules);
  if (alternatives(zones).empty()) fail("speech vocabulary: no zone names (expected at least one)");
  if (alternatives(classes).empty()) {
    fail("speech vocabulary: no object classes (expected at least one)");
  }
  std::vector<std::string> plurals;
  for (const std::string& c : classes) {
    if (!c.empty()) plurals.push_back(plural(c));
  }

  std::string g;
  g += "#JSGF V1.0;\n\ngrammar vigil;\n\n";
  g += "<zone> = " + alternatives(zones) + ";\n";
  g += "<thing> = " + alternatives(classes) + ";\n";
  g += "<things> = " + alternatives(plurals) + ";\n";
  const bool have_rules = !alternatives(rules).empty();
  if (have_rules) g += "<rule_name> = " + alternatives(rules) + ";\n";
  g += R"(
<digit> = one | two | three | four | five | six | seven | eight | nine;
<count> = two | three | four | five | six | seven | eight | nine | ten | eleven | twelve
        | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen
        | (twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety) [<digit>];
<number> = zero | one | <count>;
<unit> = minute | hour | day | week;
<units> = minutes | hours | days;
<amount> = a (minute | day | week) | an hour | <count> <units> | [a] (few | couple of) <units>;
<hour> = one | two | three | four | five | six | seven | eight | nine | ten | eleven | twelve;
<window> = (last | past) (<unit> | <count> <units> | [a] (few | couple of) <units>);
<span> = today | yesterday | tonight | last night | this (morning | afternoon | evening | week)
       | (in | during | over) the <window> | since (<hour> [o'clock] | noon | midnight | yesterday)
       | right now;
<place> = (in | at | on | near | around | by) [the] <zone>;
<where> = [<place>] [<span>];
<someone> = anyone | anybody | someone | somebody;
<events> = alerts | events | detections;
<ack> = acknowledge | dismiss | clear | close;
)";
  g += "<kind> = <things> | <events>";
  if (have_rules) g += " | <rule_name> alerts";
  g += ";\n";
  g += R"(
public <command> = how many <kind> (are | were | have there been) [there] <where>
  | how many <kind> <where>
  | (is | was) there (a | an | any) <thing> <where>
  | (is | was) there <someone> <where>
  | (are | were) there any <kind> <where>
  | (did | has) <someone> (come | been) <where>
  | what (happened | changed) <where>
  | what (is | was) (happening | going on) <where>
  | when was the last (<thing> | alert | event) [<place>]
  | when did <someone> last (come [<place>] | visit [the] <zone>)
  | (show | list | tell) [me] [the] [last | latest | recent | new] <kind> <where>
  | show [me] [the] <zone>
  | describe [the] <zone>
  | who (is | was) <where>
  | summarize [<span> | the <window>]
  | give me a summary [of] [<span> | the <window>]
  | <ack> [alert] [number] <number>
  | <ack> all [the] [alerts]
  | <ack> [the] (last | latest) alert
  | (mute | silence | pause) [all] [the] alerts [for <amount>]
  | (resume | restart) [all] [the] alerts
  | (yes | no | cancel | stop | okay | repeat that | say that again | thank you | never mind);
)";
  return g;
}

}  // namespace vigil::speech
