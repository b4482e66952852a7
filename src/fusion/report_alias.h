// Zone names the report model is shown in place of the site's own (delexicalisation).
//
// The bundled model is small and its tokenizer was trained on the corpus's English names; a
// zone called "plaza", "Halle Nord" or "倉庫A" may be split into pieces it never learned to
// copy, and the report then names a zone that does not exist (the summarizer's check catches it
// and falls back to the template). So the summarizer shows the model short names it copies
// reliably — "Dock 3" for an area, "Gate 4" for a counting line — and puts the real names back
// into the text, also while it streams, before anyone (speech, dashboard, store) sees it. The
// names are code's job; the phrasing is the model's.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "vision/event.h"

namespace vigil::fusion {

class ZoneAliases {
 public:
  // Rewrites the zone names of `events` in place to aliases (distinct names get distinct
  // aliases; an alias never equals a real name of the request or appears in `site`). Names
  // already of the alias form are kept. More distinct zones than aliases: the rest keep their
  // names.
  static ZoneAliases apply(std::vector<vision::Event>& events, std::string_view site);

  bool empty() const { return real_of_.empty(); }
  const std::map<std::string, std::string>& aliases() const { return real_of_; }  // alias->real

  // Text with every alias (whole word, exact case) replaced by its real name.
  std::string restore(std::string_view text) const;

  // The same for text arriving in pieces: feed() returns what can be passed on now (text that
  // cannot be the start of an alias), flush() the rest at the end.
  class Stream {
   public:
    explicit Stream(const ZoneAliases& aliases) : aliases_(aliases) {}
    std::string feed(std::string_view piece);
    std::string flush();

   private:
    std::string drain(bool at_end);
    const ZoneAliases& aliases_;
    std::string pending_;
    char last_ = ' ';  // the last character passed on (word boundary on the left)
  };

 private:
  std::map<std::string, std::string> real_of_;  // alias -> real name
};

}  // namespace vigil::fusion
