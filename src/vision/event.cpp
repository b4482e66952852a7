#include "vision/event.h"

#include <array>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace vigil::vision {

namespace {

constexpr std::array<std::pair<EventType, std::string_view>, 5> kTypeNames{{
    {EventType::kIntrusion, "intrusion"},
    {EventType::kLoitering, "loitering"},
    {EventType::kCrowding, "crowding"},
    {EventType::kLineCrossing, "line_crossing"},
    {EventType::kObjectLeft, "object_left"},
}};

template <typename T>
T get_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) fail("event JSON: missing key \"{}\"", key);
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail("event JSON: key \"{}\" has the wrong type ({})", key, e.what());
  }
}

}  // namespace

std::string_view event_type_name(EventType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "unknown";
}

EventType parse_event_type(std::string_view text) {
  for (const auto& [t, name] : kTypeNames) {
    if (name == text) return t;
  }
  fail("event type \"{}\": expected intrusion, loitering, crowding, line_crossing or object_left",
       printable(text));
}

void to_json(nlohmann::json& j, const Event& e) {
  j = nlohmann::json{
      {"id", e.id},
      {"rule", e.rule},
      {"type", std::string(event_type_name(e.type))},
      {"zone", e.zone},
      {"camera", e.camera},
      {"track_ids", e.track_ids},
      {"class", e.object_class},
      {"start_s", e.start_s},
      {"end_s", e.end_s ? nlohmann::json(*e.end_s) : nlohmann::json(nullptr)},
      {"start_unix", e.start_unix},
      {"frame_index", e.frame_index},
      {"confidence", e.confidence},
      {"bbox", {e.bbox.x, e.bbox.y, e.bbox.w, e.bbox.h}},
      {"snapshot", e.snapshot_path},
      {"direction", e.direction},
      {"count", e.count},
  };
}

void from_json(const nlohmann::json& j, Event& e) {
  if (!j.is_object()) fail("event JSON: expected an object, got {}", j.type_name());
  e.id = get_field<std::string>(j, "id");
  e.rule = get_field<std::string>(j, "rule");
  e.type = parse_event_type(get_field<std::string>(j, "type"));
  e.zone = get_field<std::string>(j, "zone");
  e.camera = get_field<std::string>(j, "camera");
  e.track_ids = get_field<std::vector<int64_t>>(j, "track_ids");
  e.object_class = get_field<std::string>(j, "class");
  e.start_s = get_field<double>(j, "start_s");
  auto end = j.find("end_s");
  if (end == j.end()) fail("event JSON: missing key \"end_s\"");
  if (end->is_null()) {
    e.end_s.reset();
  } else if (end->is_number()) {
    e.end_s = end->get<double>();
  } else {
    fail("event JSON: key \"end_s\" must be a number or null");
  }
  e.start_unix = get_field<double>(j, "start_unix");
  e.frame_index = get_field<int64_t>(j, "frame_index");
  e.confidence = get_field<float>(j, "confidence");
  const auto box = get_field<std::vector<float>>(j, "bbox");
  if (box.size() != 4) fail("event JSON: key \"bbox\" must hold 4 numbers, has {}", box.size());
  e.bbox = {box[0], box[1], box[2], box[3]};
  e.snapshot_path = get_field<std::string>(j, "snapshot");
  e.direction = get_field<std::string>(j, "direction");
  e.count = get_field<int64_t>(j, "count");
}

std::string event_to_json_line(const Event& event) {
  return nlohmann::json(event).dump();
}

Event event_from_json_line(std::string_view line) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    fail("event JSON: not valid JSON ({})", e.what());
  }
  return j.get<Event>();
}

}  // namespace vigil::vision
