// The perception event: one typed record that the rules emit and the rest of Vigil (event store,
// summarizer, alerts, HTTP API) consumes. An event is emitted twice: when it starts (`end_s`
// empty) and again, with the same id, when it ends (`end_s` set). Instantaneous events (a line
// crossing) are emitted once with end_s == start_s.
//
// JSON form (one object per line in `--events-out` files), all keys always present:
//   {"id":"cam0-000003","rule":"door","type":"intrusion","zone":"entrance","camera":"cam0",
//    "track_ids":[7],"class":"person","start_s":12.4,"end_s":null,"start_unix":1.7e9,
//    "frame_index":124,"confidence":0.81,"bbox":[x,y,w,h],"snapshot":"snaps/cam0-000003.jpg",
//    "direction":"","count":0}
// Times: `start_s`/`end_s` are stream seconds (the source's timestamps), `start_unix` is the wall
// clock (seconds since 1970) of the starting frame's capture.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vision/geometry.h"

namespace vigil::vision {

enum class EventType {
  kIntrusion,     // a track entered a zone
  kLoitering,     // a track stayed in a zone for >= dwell time
  kCrowding,      // >= N tracks in a zone for >= T seconds
  kLineCrossing,  // a track crossed a line (direction in `direction`)
  kObjectLeft,    // a new object stayed still for >= T seconds
};

// "intrusion", "loitering", "crowding", "line_crossing", "object_left".
std::string_view event_type_name(EventType type);
// Inverse of event_type_name; throws vigil::Error naming `text` when it is none of them.
EventType parse_event_type(std::string_view text);

struct Event {
  std::string id;    // unique per run: "<camera>-<sequence>"
  std::string rule;  // rule name from the config
  EventType type = EventType::kIntrusion;
  std::string zone;    // zone or line name
  std::string camera;  // source name from the config ("" when unnamed)
  std::vector<int64_t> track_ids;
  std::string object_class;     // class label of the (first) track, "" when mixed
  double start_s = 0;           // stream time of the first frame the condition held
  std::optional<double> end_s;  // stream time of the last frame it held; empty while ongoing
  double start_unix = 0;        // wall clock at start, seconds since 1970
  int64_t frame_index = 0;      // frame on which this record was emitted
  float confidence = 0;         // detector confidence of the track(s), 0..1
  Box bbox;                     // pixels; for crowding the union of the members
  std::string snapshot_path;    // JPEG written when the event started, "" when none
  std::string direction;        // line crossing: "left_to_right" or "right_to_left"
  int64_t count = 0;            // crowding: tracks in zone; line crossing: running count

  bool ongoing() const { return !end_s.has_value(); }
};

// nlohmann::json conversions (found by ADL), so other modules can embed events in their JSON.
void to_json(nlohmann::json& j, const Event& event);
// Throws vigil::Error naming the key when a field is missing or has the wrong type.
void from_json(const nlohmann::json& j, Event& event);

// One compact JSON line (no trailing newline) and its inverse.
std::string event_to_json_line(const Event& event);
Event event_from_json_line(std::string_view line);

}  // namespace vigil::vision
