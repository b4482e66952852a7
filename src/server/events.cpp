#include "server/events.h"

#include <algorithm>

namespace vigil::server {

int EventSource::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  const int handle = next_handle_++;
  listeners_.emplace(handle, std::move(listener));
  return handle;
}

void EventSource::unsubscribe(int handle) {
  std::lock_guard lock(mutex_);
  listeners_.erase(handle);
}

size_t EventSource::subscribers() const {
  std::lock_guard lock(mutex_);
  return listeners_.size();
}

void EventSource::publish(const EventNotice& notice) {
  // Listeners only queue (they must not block), so calling them under the lock is fine and keeps
  // unsubscribe() from racing with a call in progress.
  std::lock_guard lock(mutex_);
  for (auto& [handle, listener] : listeners_) listener(notice);
}

namespace {

std::string string_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double number_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

}  // namespace

bool event_matches(const nlohmann::json& event, const EventFilter& filter) {
  const double start = number_field(event, "start_unix");
  if (filter.since_unix > 0 && start < filter.since_unix) return false;
  if (filter.until_unix > 0 && start > filter.until_unix) return false;
  if (!filter.zone.empty() && string_field(event, "zone") != filter.zone) return false;
  if (!filter.rule.empty() && string_field(event, "rule") != filter.rule) return false;
  if (!filter.type.empty() && string_field(event, "type") != filter.type) return false;
  if (!filter.object_class.empty() && string_field(event, "class") != filter.object_class) {
    return false;
  }
  return true;
}

MemoryEventSource::MemoryEventSource(std::string snapshot_root)
    : snapshot_root_(std::move(snapshot_root)) {}

void MemoryEventSource::put_event(nlohmann::json event, std::string snapshot_file) {
  const std::string id = string_field(event, "id");
  event["has_snapshot"] = !snapshot_file.empty();
  if (!event.contains("report")) event["report"] = "";
  if (!event.contains("report_status")) event["report_status"] = "pending";
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(events_.begin(), events_.end(),
                           [&](const nlohmann::json& e) { return e.value("id", "") == id; });
    if (it != events_.end()) {
      // An end record: keep what the store would keep (report fields).
      for (const char* key : {"report", "report_id", "report_status"}) {
        if (it->contains(key)) event[key] = (*it)[key];
      }
      *it = event;
    } else {
      events_.push_back(event);
    }
    if (!snapshot_file.empty()) snapshots_[id] = std::move(snapshot_file);
  }
  publish({"event", event});
}

int64_t MemoryEventSource::put_report(nlohmann::json report) {
  std::vector<nlohmann::json> updated;
  int64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = static_cast<int64_t>(reports_.size()) + 1;
    report["id"] = id;
    reports_.push_back(report);
    for (const auto& eid : report.value("event_ids", std::vector<std::string>{})) {
      for (auto& e : events_) {
        if (e.value("id", "") != eid) continue;
        e["report"] = report.value("text", "");
        e["report_id"] = id;
        e["report_status"] = "reported";
        updated.push_back(e);
      }
    }
  }
  publish({"report", report});
  for (auto& e : updated) publish({"event", std::move(e)});
  return id;
}

void MemoryEventSource::put_report_piece(uint64_t seq, const std::string& text) {
  publish({"report_piece", {{"seq", seq}, {"text", text}}});
}

EventPage MemoryEventSource::list(const EventFilter& filter) const {
  std::lock_guard lock(mutex_);
  std::vector<const nlohmann::json*> hits;
  for (const auto& e : events_) {
    if (event_matches(e, filter)) hits.push_back(&e);
  }
  std::stable_sort(hits.begin(), hits.end(), [](const auto* a, const auto* b) {
    return number_field(*a, "start_unix") > number_field(*b, "start_unix");
  });
  EventPage page;
  page.total = static_cast<int64_t>(hits.size());
  const auto begin = static_cast<size_t>(std::clamp<int64_t>(filter.offset, 0, page.total));
  const auto end = static_cast<size_t>(
      std::clamp<int64_t>(filter.offset + std::max<int64_t>(filter.limit, 0), 0, page.total));
  for (size_t i = begin; i < end; ++i) page.events.push_back(*hits[i]);
  return page;
}

std::optional<nlohmann::json> MemoryEventSource::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  for (const auto& e : events_) {
    if (e.value("id", "") == id) return e;
  }
  return std::nullopt;
}

std::string MemoryEventSource::snapshot_file(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = snapshots_.find(id);
  return it == snapshots_.end() ? std::string() : it->second;
}

std::map<std::string, int64_t> MemoryEventSource::zone_counts() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, int64_t> counts;
  for (const auto& e : events_) ++counts[string_field(e, "zone")];
  return counts;
}

}  // namespace vigil::server
