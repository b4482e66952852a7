// ZoneAliases: the report model sees corpus-style zone names, the real ones go back into its
// text, whole or streamed in arbitrary pieces.
#include "fusion/report_alias.h"

#include <gtest/gtest.h>

namespace vigil::fusion {
namespace {

vision::Event make_event(std::string zone, vision::EventType type) {
  vision::Event e;
  e.zone = std::move(zone);
  e.type = type;
  return e;
}

TEST(ZoneAliases, AreasAndLinesGetDistinctAliasesAndComeBack) {
  std::vector<vision::Event> events = {make_event("plaza", vision::EventType::kCrowding),
                                       make_event("midline", vision::EventType::kLineCrossing),
                                       make_event("plaza", vision::EventType::kLoitering),
                                       make_event("倉庫A", vision::EventType::kIntrusion)};
  const ZoneAliases a = ZoneAliases::apply(events, "Campus demo");
  EXPECT_EQ(events[0].zone, "Dock 3");
  EXPECT_EQ(events[1].zone, "Gate 4");
  EXPECT_EQ(events[2].zone, "Dock 3");  // the same zone, the same alias
  EXPECT_EQ(events[3].zone, "Yard 5");
  EXPECT_EQ(a.aliases().size(), 3u);
  EXPECT_EQ(a.restore("Crowding in Dock 3 at 10:00; 2 crossed Gate 4. Yard 5: intrusion."),
            "Crowding in plaza at 10:00; 2 crossed midline. 倉庫A: intrusion.");
}

TEST(ZoneAliases, OnlyWholeNamesAreReplaced) {
  std::vector<vision::Event> events = {make_event("lawn", vision::EventType::kIntrusion)};
  const ZoneAliases a = ZoneAliases::apply(events, "site");
  ASSERT_EQ(events[0].zone, "Dock 3");
  EXPECT_EQ(a.restore("Dock 31 and XDock 3 and Dock 3."), "Dock 31 and XDock 3 and lawn.");
  EXPECT_EQ(a.restore("Dock 3"), "lawn");
  EXPECT_EQ(a.restore("dock 3"), "dock 3");  // exact case only
}

TEST(ZoneAliases, NeverCollidesWithRealNamesOrTheSite) {
  std::vector<vision::Event> events = {make_event("Dock 3", vision::EventType::kIntrusion),
                                       make_event("north", vision::EventType::kIntrusion),
                                       make_event("south", vision::EventType::kIntrusion)};
  const ZoneAliases a = ZoneAliases::apply(events, "Yard 5 Terminal");
  EXPECT_EQ(events[0].zone, "Dock 3");   // already corpus-style: kept
  EXPECT_EQ(events[1].zone, "Aisle 7");  // Dock 3 is taken, Yard 5 is in the site name
  EXPECT_EQ(events[2].zone, "Lobby 2");
  EXPECT_EQ(a.restore("Dock 3, Aisle 7, Lobby 2"), "Dock 3, north, south");
}

TEST(ZoneAliases, RunsOutGracefully) {
  std::vector<vision::Event> events;
  for (const char* z : {"a1", "b2", "c3", "d4", "e5"}) {
    events.push_back(make_event(z, vision::EventType::kIntrusion));
  }
  const ZoneAliases a = ZoneAliases::apply(events, "site");
  EXPECT_EQ(a.aliases().size(), 4u);
  EXPECT_EQ(events[4].zone, "e5");
}

TEST(ZoneAliases, StreamedInAnyPiecesGivesTheSameText) {
  std::vector<vision::Event> events = {make_event("plaza", vision::EventType::kCrowding),
                                       make_event("midline", vision::EventType::kLineCrossing)};
  const ZoneAliases a = ZoneAliases::apply(events, "site");
  const std::string text = "Dock 3: 5 people. Gate 4 crossed twice; Dock 31 is not it. Dock 3";
  const std::string want = a.restore(text);
  EXPECT_EQ(want, "plaza: 5 people. midline crossed twice; Dock 31 is not it. plaza");
  for (size_t step = 1; step <= 7; ++step) {
    ZoneAliases::Stream s(a);
    std::string got;
    for (size_t i = 0; i < text.size(); i += step) got += s.feed(text.substr(i, step));
    got += s.flush();
    EXPECT_EQ(got, want) << "pieces of " << step;
  }
  // Text that cannot start an alias is passed on at once (speech starts without waiting).
  ZoneAliases::Stream s(a);
  EXPECT_EQ(s.feed("Crowding in "), "Crowding in ");
  EXPECT_EQ(s.feed("Do"), "");
  EXPECT_EQ(s.feed("ck 3 "), "plaza ");
}

}  // namespace
}  // namespace vigil::fusion
