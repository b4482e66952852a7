#include "fusion/report_alias.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace vigil::fusion {

namespace {

// Corpus-style names (training/corpus.py ZONE_BASES / LINE_BASES with a number): the model
// copies them reliably.
constexpr std::array<std::string_view, 4> kAreaAliases = {"Dock 3", "Yard 5", "Aisle 7", "Lobby 2"};
constexpr std::array<std::string_view, 4> kLineAliases = {"Gate 4", "Door 6", "Fence 8", "Ramp 2"};

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

ZoneAliases ZoneAliases::apply(std::vector<vision::Event>& events, std::string_view site) {
  ZoneAliases result;
  std::vector<std::string> real_lower;
  for (const auto& e : events) real_lower.push_back(lower(e.zone));
  const std::string site_lower = lower(site);
  auto usable = [&](std::string_view alias) {
    const std::string a = lower(alias);
    if (std::find(real_lower.begin(), real_lower.end(), a) != real_lower.end()) return false;
    if (site_lower.find(a) != std::string::npos) return false;
    return result.real_of_.count(std::string(alias)) == 0;
  };
  auto is_alias_form = [](std::string_view name) {
    for (auto a : kAreaAliases) {
      if (a == name) return true;
    }
    for (auto a : kLineAliases) {
      if (a == name) return true;
    }
    return false;
  };
  std::map<std::string, std::string> alias_of;  // real -> alias
  for (auto& e : events) {
    if (e.zone.empty() || is_alias_form(e.zone)) continue;
    auto it = alias_of.find(e.zone);
    if (it == alias_of.end()) {
      const bool line = e.type == vision::EventType::kLineCrossing;
      std::string chosen;
      for (auto a : line ? kLineAliases : kAreaAliases) {
        if (usable(a)) {
          chosen = a;
          break;
        }
      }
      if (chosen.empty()) continue;  // out of aliases: keep the real name
      it = alias_of.emplace(e.zone, chosen).first;
      result.real_of_[chosen] = e.zone;
    }
    e.zone = it->second;
  }
  return result;
}

std::string ZoneAliases::restore(std::string_view text) const {
  Stream s(*this);
  std::string out = s.feed(text);
  out += s.flush();
  return out;
}

std::string ZoneAliases::Stream::feed(std::string_view piece) {
  pending_.append(piece);
  return drain(false);
}

std::string ZoneAliases::Stream::flush() {
  return drain(true);
}

std::string ZoneAliases::Stream::drain(bool at_end) {
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    const char before = i == 0 ? last_ : pending_[i - 1];
    bool wait = false;  // an alias may start here: more text decides
    bool replaced = false;
    if (!is_word_char(before)) {
      for (const auto& [alias, real] : aliases_.real_of_) {
        const size_t have = pending_.size() - i;
        const size_t n = std::min(alias.size(), have);
        if (pending_.compare(i, n, alias, 0, n) != 0) continue;
        if (n < alias.size()) {  // a prefix so far
          if (!at_end) wait = true;
          continue;
        }
        const size_t after = i + alias.size();
        if (after == pending_.size() && !at_end) {  // the next character decides
          wait = true;
          continue;
        }
        if (after < pending_.size() && is_word_char(pending_[after])) continue;  // "Dock 31"
        out += real;
        i = after;
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (wait) break;
    out += pending_[i++];
  }
  if (!out.empty()) last_ = out.back();
  pending_.erase(0, i);
  return out;
}

}  // namespace vigil::fusion
