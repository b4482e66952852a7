#include "vision/rules.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/error.h"

namespace vigil::vision {

std::vector<Zone> resolve_zones(const std::vector<ZoneSpec>& specs, float width, float height) {
  std::vector<Zone> zones;
  for (const ZoneSpec& s : specs) {
    Zone z{s.name, s.points, s.is_line};
    if (s.normalized) {
      for (Point& p : z.points) p = {p.x * width, p.y * height};
    }
    zones.push_back(std::move(z));
  }
  return zones;
}

namespace {

// Whether a track is in a polygon, with inertia: `inside` flips only after `inertia` frames of
// consistent disagreement.
struct Presence {
  bool inside = false;
  int streak = 0;
  double streak_start = 0;
  double entered_at = 0;
  double last_inside = 0;
};

enum class Change { kNone, kEntered, kLeft };

Change step(Presence& p, bool raw_inside, double ts, int inertia) {
  if (raw_inside) p.last_inside = ts;
  if (raw_inside == p.inside) {
    p.streak = 0;
    return Change::kNone;
  }
  if (p.streak == 0) p.streak_start = ts;
  if (++p.streak < inertia) return Change::kNone;
  p.inside = raw_inside;
  p.streak = 0;
  if (raw_inside) {
    p.entered_at = p.streak_start;
    return Change::kEntered;
  }
  return Change::kLeft;
}

struct LineState {
  int side = 0;     // committed: -1 left, +1 right, 0 not yet known
  int pending = 0;  // side being confirmed
  int streak = 0;
  double streak_start = 0;
  Point anchor;        // last position on the committed side (outside the dead band)
  Point streak_first;  // first position of the pending streak
};

struct LeftState {
  Point anchor;
  double anchor_ts = 0;
};

struct RuleState {
  RuleSpec spec;
  int zone = -1;  // index into zones, -1 = whole frame
  std::set<int> classes;
  std::map<int64_t, Presence> presence;
  std::map<int64_t, LineState> lines;
  std::map<int64_t, LeftState> left;
  std::map<int64_t, Event> ongoing;  // by track id (crowding: key 0)
  // crowding
  bool crowded = false;
  double crowded_since = 0;
  double crowded_last = 0;
  // line counts
  int64_t left_to_right = 0, right_to_left = 0;

  bool wants(int class_id) const { return classes.empty() || classes.count(class_id) > 0; }
};

}  // namespace

struct RuleEngine::State {
  std::vector<ZoneSpec> zone_specs;
  std::vector<Zone> zones;
  float width = -1, height = -1;
  std::vector<std::string> class_names;
  std::string camera;
  std::vector<RuleState> rules;
  std::map<int64_t, double> born_at;    // first timestamp each track id was seen
  std::map<int64_t, double> last_seen;  // last timestamp each track id was matched
  bool started = false;
  double stream_start = 0;
  double last_ts = 0;
  double last_wall = 0;
  int64_t last_frame = 0;
  int64_t sequence = 0;
  std::map<std::string, int> occupancy;

  std::string label(int class_id) const {
    if (class_id >= 0 && static_cast<size_t>(class_id) < class_names.size())
      return class_names[class_id];
    return std::to_string(class_id);
  }

  Event make_event(const RuleState& r, const Track& t, double start, const RuleFrame& f) {
    Event e;
    e.id = fmt::format("{}-{:06d}", camera.empty() ? "cam" : camera, ++sequence);
    e.rule = r.spec.name;
    e.type = r.spec.type;
    e.zone = r.spec.zone;
    e.camera = camera;
    e.track_ids = {t.id};
    e.object_class = label(t.class_id);
    e.start_s = start;
    e.start_unix = f.wall_unix - (f.timestamp_s - start);
    e.frame_index = f.frame_index;
    e.confidence = t.score;
    e.bbox = t.box;
    return e;
  }

  // Moves an ongoing event to `out` as ended at `end`.
  void end_event(RuleState& r, int64_t key, double end, int64_t frame_index,
                 std::vector<Event>& out) {
    auto it = r.ongoing.find(key);
    if (it == r.ongoing.end()) return;
    Event e = std::move(it->second);
    r.ongoing.erase(it);
    e.end_s = std::max(end, e.start_s);
    e.frame_index = frame_index;
    out.push_back(std::move(e));
  }

  void start_event(RuleState& r, int64_t key, Event e, std::vector<Event>& out) {
    out.push_back(e);
    r.ongoing.emplace(key, std::move(e));
  }

  bool inside(const RuleState& r, const Point& p) const {
    return r.zone < 0 || point_in_polygon(p, zones[r.zone].points);
  }

  void polygon_rule(RuleState& r, const Track& t, const RuleFrame& f, std::vector<Event>& out) {
    Presence& p = r.presence[t.id];
    const Change change =
        step(p, inside(r, t.box.bottom_center()), f.timestamp_s, r.spec.inertia_frames);
    if (change == Change::kLeft) end_event(r, t.id, p.last_inside, f.frame_index, out);
    if (!p.inside) return;
    if (r.ongoing.count(t.id)) {
      Event& e = r.ongoing[t.id];  // keep the latest look for when it ends
      e.bbox = t.box;
      e.confidence = t.score;
      return;
    }
    const bool due = r.spec.type == EventType::kIntrusion
                         ? change == Change::kEntered
                         : f.timestamp_s - p.entered_at >= r.spec.dwell_s;
    if (due) start_event(r, t.id, make_event(r, t, p.entered_at, f), out);
  }

  void line_rule(RuleState& r, const Track& t, const RuleFrame& f, std::vector<Event>& out) {
    const Zone& line = zones[r.zone];
    const Point pos = t.box.bottom_center();
    const float d = signed_distance(pos, line.points[0], line.points[1]);
    LineState& s = r.lines[t.id];
    if (std::fabs(d) <= r.spec.hysteresis_px) return;  // dead band: no opinion
    const int side = d < 0 ? -1 : 1;
    if (s.side == 0) {
      s.side = side;
      s.anchor = pos;
      return;
    }
    if (side == s.side) {
      s.anchor = pos;
      s.streak = 0;
      return;
    }
    if (s.streak == 0 || s.pending != side) {
      s.pending = side;
      s.streak = 0;
      s.streak_start = f.timestamp_s;
      s.streak_first = pos;
    }
    if (++s.streak < r.spec.inertia_frames) return;
    // Side change confirmed. It is a crossing only if the path passed through the segment, not
    // around one of its ends.
    const bool through =
        segments_intersect(s.anchor, s.streak_first, line.points[0], line.points[1]);
    const int from = s.side;
    s.side = side;
    s.anchor = pos;
    s.streak = 0;
    if (!through) return;
    const bool l2r = from < 0;
    const int64_t count = l2r ? ++r.left_to_right : ++r.right_to_left;
    const char* direction = l2r ? "left_to_right" : "right_to_left";
    if (r.spec.direction != "any" && r.spec.direction != direction) return;
    Event e = make_event(r, t, s.streak_start, f);
    e.end_s = e.start_s;
    e.direction = direction;
    e.count = count;
    out.push_back(std::move(e));
  }

  void left_rule(RuleState& r, const Track& t, const RuleFrame& f, std::vector<Event>& out) {
    const auto born = born_at.find(t.id);
    if (born == born_at.end() || born->second < stream_start + r.spec.background_s) return;
    const Point pos = t.box.bottom_center();
    auto [it, fresh] = r.left.try_emplace(t.id);
    LeftState& s = it->second;
    if (fresh) {
      s.anchor = pos;
      s.anchor_ts = f.timestamp_s;
    }
    const bool moved = std::hypot(pos.x - s.anchor.x, pos.y - s.anchor.y) > r.spec.max_motion_px;
    if (moved || !inside(r, pos)) {
      end_event(r, t.id, f.timestamp_s, f.frame_index, out);
      s.anchor = pos;
      s.anchor_ts = f.timestamp_s;
      return;
    }
    if (!r.ongoing.count(t.id) && f.timestamp_s - s.anchor_ts >= r.spec.stationary_s) {
      start_event(r, t.id, make_event(r, t, s.anchor_ts, f), out);
    }
  }

  void crowd_rule(RuleState& r, const RuleFrame& f, std::vector<Event>& out) {
    // Members: every wanted track whose (inertia-filtered) presence is inside, including lost
    // ones, which are most likely still there behind someone.
    std::vector<const Track*> members;
    for (const Track& t : f.tracks) {
      if (!r.wants(t.class_id)) continue;
      auto p = r.presence.find(t.id);
      if (p != r.presence.end() && p->second.inside) members.push_back(&t);
    }
    const int64_t count = static_cast<int64_t>(members.size());
    if (count < r.spec.min_count) {
      if (r.crowded) end_event(r, 0, r.crowded_last, f.frame_index, out);
      r.crowded = false;
      return;
    }
    if (!r.crowded) {
      r.crowded = true;
      r.crowded_since = f.timestamp_s;
    }
    r.crowded_last = f.timestamp_s;
    auto it = r.ongoing.find(0);
    const bool starting = it == r.ongoing.end();
    if (starting && f.timestamp_s - r.crowded_since < r.spec.min_duration_s) return;
    Event fresh;
    if (starting) {
      fresh = make_event(r, *members[0], r.crowded_since, f);
      fresh.track_ids.clear();
      fresh.count = 0;
    }
    // The event carries everyone who took part and the peak count.
    Event& e = starting ? fresh : it->second;
    float score_sum = 0;
    Box box = members[0]->box;
    for (const Track* t : members) {
      if (std::find(e.track_ids.begin(), e.track_ids.end(), t->id) == e.track_ids.end()) {
        e.track_ids.push_back(t->id);
      }
      if (label(t->class_id) != e.object_class) e.object_class.clear();
      score_sum += t->score;
      box = union_box(box, t->box);
    }
    if (count >= e.count) {
      e.count = count;
      e.bbox = box;
      e.confidence = score_sum / static_cast<float>(count);
    }
    if (starting) start_event(r, 0, std::move(fresh), out);
  }
};

RuleEngine::RuleEngine(std::vector<RuleSpec> rules, std::vector<ZoneSpec> zones,
                       std::vector<std::string> class_names, std::string camera)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.zone_specs = std::move(zones);
  s.class_names = std::move(class_names);
  s.camera = std::move(camera);
  for (RuleSpec& spec : rules) {
    RuleState r;
    for (size_t i = 0; i < s.zone_specs.size(); ++i) {
      if (s.zone_specs[i].name == spec.zone) r.zone = static_cast<int>(i);
    }
    if (r.zone < 0 && !(spec.zone.empty() && spec.type == EventType::kObjectLeft)) {
      fail("rule \"{}\": zone \"{}\" is not defined", printable(spec.name), printable(spec.zone));
    }
    if (r.zone >= 0 && s.zone_specs[r.zone].is_line != (spec.type == EventType::kLineCrossing)) {
      fail("rule \"{}\": zone \"{}\" is the wrong kind for a {} rule", printable(spec.name),
           printable(spec.zone), event_type_name(spec.type));
    }
    for (const std::string& name : spec.classes) {
      auto it = std::find(s.class_names.begin(), s.class_names.end(), name);
      if (it == s.class_names.end()) {
        std::string known;
        for (size_t i = 0; i < s.class_names.size() && i < 12; ++i) {
          known += (i ? ", " : "") + s.class_names[i];
        }
        fail("rule \"{}\": class \"{}\" is not one the detector reports ({}{})",
             printable(spec.name), printable(name), known,
             s.class_names.size() > 12 ? ", ..." : "");
      }
      r.classes.insert(static_cast<int>(it - s.class_names.begin()));
    }
    r.spec = std::move(spec);
    s.rules.push_back(std::move(r));
  }
}

RuleEngine::~RuleEngine() = default;

std::vector<Event> RuleEngine::update(const RuleFrame& f) {
  State& s = *state_;
  if (f.width != s.width || f.height != s.height) {
    s.zones = resolve_zones(s.zone_specs, f.width, f.height);
    s.width = f.width;
    s.height = f.height;
  }
  if (!s.started) {
    s.started = true;
    s.stream_start = f.timestamp_s;
  }
  s.last_ts = f.timestamp_s;
  s.last_wall = f.wall_unix;
  s.last_frame = f.frame_index;
  for (const Track& t : f.tracks) s.born_at.try_emplace(t.id, f.timestamp_s);

  for (const Track& t : f.tracks) {
    if (!t.lost) s.last_seen[t.id] = f.timestamp_s;
  }

  std::vector<Event> out;
  for (RuleState& r : s.rules) {
    for (const Track& t : f.tracks) {
      if (t.lost || !r.wants(t.class_id)) continue;
      switch (r.spec.type) {
        case EventType::kIntrusion:
        case EventType::kLoitering:
          s.polygon_rule(r, t, f, out);
          break;
        case EventType::kCrowding:  // presence only; crowd_rule() below makes the events
          step(r.presence[t.id], s.inside(r, t.box.bottom_center()), f.timestamp_s,
               r.spec.inertia_frames);
          break;
        case EventType::kLineCrossing:
          s.line_rule(r, t, f, out);
          break;
        case EventType::kObjectLeft:
          s.left_rule(r, t, f, out);
          break;
      }
    }
    for (int64_t id : f.removed) {
      const auto p = r.presence.find(id);
      const auto seen = s.last_seen.find(id);
      const double end = p != r.presence.end()       ? p->second.last_inside
                         : seen != s.last_seen.end() ? seen->second
                                                     : f.timestamp_s;
      s.end_event(r, id, end, f.frame_index, out);
      r.presence.erase(id);
      r.lines.erase(id);
      r.left.erase(id);
    }
    if (r.spec.type == EventType::kCrowding) s.crowd_rule(r, f, out);
  }
  for (int64_t id : f.removed) {
    s.born_at.erase(id);
    s.last_seen.erase(id);
  }

  s.occupancy.clear();
  for (const Zone& z : s.zones) {
    if (z.is_line) continue;
    int n = 0;
    for (const Track& t : f.tracks) {
      if (!t.lost && point_in_polygon(t.box.bottom_center(), z.points)) ++n;
    }
    s.occupancy[z.name] = n;
  }
  return out;
}

std::vector<Event> RuleEngine::finish() {
  State& s = *state_;
  std::vector<Event> out;
  for (RuleState& r : s.rules) {
    std::vector<int64_t> keys;
    for (const auto& [key, e] : r.ongoing) keys.push_back(key);
    for (int64_t key : keys) s.end_event(r, key, s.last_ts, s.last_frame, out);
  }
  return out;
}

std::map<std::string, int> RuleEngine::zone_occupancy() const {
  return state_->occupancy;
}

std::vector<RuleEngine::LineCount> RuleEngine::line_counts() const {
  std::vector<LineCount> counts;
  for (const RuleState& r : state_->rules) {
    if (r.spec.type != EventType::kLineCrossing) continue;
    counts.push_back({r.spec.name, r.spec.zone, r.left_to_right, r.right_to_left});
  }
  return counts;
}

const std::vector<Zone>& RuleEngine::zones() const {
  return state_->zones;
}

}  // namespace vigil::vision
