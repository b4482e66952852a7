// Zones and rules: turns confirmed tracks into events. A track's position is its box's
// bottom-centre (where it stands). Every state change must persist for the rule's
// `inertia_frames` before it counts, so a box flickering across a zone border or jittering on a
// line does not produce bursts of events. Lost (occluded) tracks keep their last state; removed
// tracks end their events.
//
// Rules (config.h RuleSpec):
//   intrusion      starts when a track is inside the zone, ends when it leaves
//   loitering      starts when a track has been inside for dwell_s, ends when it leaves
//   crowding       starts when >= min_count tracks have been inside for min_duration_s, ends
//                  when fewer remain
//   line_crossing  one event per crossing of the line segment in the chosen direction
//                  (left/right as seen on screen when facing from the first point to the second)
//   object_left    starts when a track born after background_s has stayed within
//                  max_motion_px for stationary_s; ends when it moves or disappears
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vision/config.h"
#include "vision/event.h"
#include "vision/tracker.h"

namespace vigil::vision {

// A zone in pixels of a particular frame size.
struct Zone {
  std::string name;
  std::vector<Point> points;
  bool is_line = false;
};

// Scales normalized zones to `width` x `height`; pixel zones pass through.
std::vector<Zone> resolve_zones(const std::vector<ZoneSpec>& specs, float width, float height);

struct RuleFrame {
  int64_t frame_index = 0;
  double timestamp_s = 0;
  double wall_unix = 0;
  float width = 0;  // frame size, for normalized zones
  float height = 0;
  std::vector<Track> tracks;     // confirmed tracks; `lost` ones keep their last state
  std::vector<int64_t> removed;  // ids gone for good
};

class RuleEngine {
 public:
  // `class_names` maps Track::class_id to labels (for class filters and events). Throws
  // vigil::Error when a rule filters on a class the detector does not have.
  RuleEngine(std::vector<RuleSpec> rules, std::vector<ZoneSpec> zones,
             std::vector<std::string> class_names, std::string camera);
  ~RuleEngine();

  // Evaluates one frame; returns the events that started or ended on it, in rule order.
  std::vector<Event> update(const RuleFrame& frame);
  // Ends every ongoing event (end of stream) at the last seen timestamp.
  std::vector<Event> finish();

  struct LineCount {
    std::string rule, line;
    int64_t left_to_right = 0, right_to_left = 0;
  };
  // Live figures for overlays: tracks inside each polygon zone now, crossings per line rule.
  std::map<std::string, int> zone_occupancy() const;
  std::vector<LineCount> line_counts() const;
  // Zones in pixels of the last frame (empty before the first update).
  const std::vector<Zone>& zones() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace vigil::vision
