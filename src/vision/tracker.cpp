#include "vision/tracker.h"

#include <algorithm>

#include "vision/assignment.h"
#include "vision/kalman.h"

namespace vigil::vision {

namespace {

enum class Phase { kTracked, kLost, kRemoved };

struct Tracklet {
  BoxKalman kalman;
  int64_t id = 0;  // 0 until confirmed
  Phase phase = Phase::kTracked;
  bool confirmed = false;
  int hits = 0;
  float score = 0;
  int class_id = 0;
  int64_t first_frame = 0;
  int64_t last_frame = 0;

  Tracklet(const Detection& d, int64_t frame)
      : kalman(d.box),
        hits(1),
        score(d.score),
        class_id(d.class_id),
        first_frame(frame),
        last_frame(frame) {}
};

using Pool = std::vector<Tracklet*>;

// Cost 1 - IoU (optionally 1 - IoU * score); pairs of different classes cost 2 ("never").
std::vector<double> iou_cost(const Pool& tracks, const std::vector<const Detection*>& dets,
                             bool class_aware, bool fuse_score) {
  std::vector<double> cost(tracks.size() * dets.size());
  for (size_t t = 0; t < tracks.size(); ++t) {
    const Box tb = tracks[t]->kalman.box();
    for (size_t d = 0; d < dets.size(); ++d) {
      double c = 2.0;
      if (!class_aware || tracks[t]->class_id == dets[d]->class_id) {
        double sim = iou(tb, dets[d]->box);
        if (fuse_score) sim *= dets[d]->score;
        c = 1.0 - sim;
      }
      cost[t * dets.size() + d] = c;
    }
  }
  return cost;
}

}  // namespace

struct ByteTracker::State {
  TrackerOptions options;
  std::vector<std::unique_ptr<Tracklet>> tracklets;  // everything not removed
  int64_t frame = 0;
  int64_t next_id = 1;

  void confirm(Tracklet& t) {
    if (!t.confirmed && t.hits >= options.min_hits) {
      t.confirmed = true;
      t.id = next_id++;
    }
  }

  void apply(Tracklet& t, const Detection& d) {
    t.kalman.update(d.box);
    t.score = d.score;
    t.last_frame = frame;
    t.phase = Phase::kTracked;
    ++t.hits;
    confirm(t);
  }

  // Matches `pool` with `dets` under `min_iou`; applies matches; returns unmatched tracks and
  // leaves the unmatched detections in `dets`.
  Pool associate(const Pool& pool, std::vector<const Detection*>& dets, float min_iou, bool fuse) {
    const std::vector<double> cost = iou_cost(pool, dets, options.class_aware, fuse);
    const Assignment a = solve_assignment(cost, static_cast<int>(pool.size()),
                                          static_cast<int>(dets.size()), 1.0 - min_iou);
    for (const auto& [t, d] : a.matches) apply(*pool[t], *dets[d]);
    Pool unmatched;
    for (int t : a.unmatched_rows) unmatched.push_back(pool[t]);
    std::vector<const Detection*> rest;
    for (int d : a.unmatched_cols) rest.push_back(dets[d]);
    dets = std::move(rest);
    return unmatched;
  }
};

ByteTracker::ByteTracker(const TrackerOptions& options) : state_(std::make_unique<State>()) {
  state_->options = options;
}

ByteTracker::~ByteTracker() = default;

std::vector<Box> ByteTracker::live_boxes() const {
  std::vector<Box> boxes;
  for (const auto& t : state_->tracklets) boxes.push_back(t->kalman.box());
  return boxes;
}

TrackerOutput ByteTracker::update(const std::vector<Detection>& detections) {
  State& s = *state_;
  const TrackerOptions& o = s.options;
  ++s.frame;

  std::vector<const Detection*> high, low;
  for (const Detection& d : detections) {
    if (d.score >= o.high_threshold) {
      high.push_back(&d);
    } else if (d.score >= o.low_threshold) {
      low.push_back(&d);
    }
  }

  Pool pool, unconfirmed;
  for (auto& t : s.tracklets) {
    t->kalman.predict(/*freeze_size=*/t->phase == Phase::kLost);
    (t->confirmed ? pool : unconfirmed).push_back(t.get());
  }

  // Stage 1: confident detections against every confirmed track (tracked or lost).
  const Pool left = s.associate(pool, high, o.match_iou, o.fuse_score);
  // Stage 2: weak detections against the tracks that were being tracked (not the lost ones,
  // whose prediction is too uncertain for a weak detection to confirm).
  Pool second;
  for (Tracklet* t : left) {
    if (t->phase == Phase::kTracked || o.low_revives_lost) second.push_back(t);
  }
  const Pool missed = s.associate(second, low, o.low_match_iou, /*fuse=*/false);
  for (Tracklet* t : missed) t->phase = Phase::kLost;
  // Stage 3: tentative tracks only continue with confident detections; otherwise they die.
  const Pool stillborn = s.associate(unconfirmed, high, o.unconfirmed_match_iou, o.fuse_score);
  for (Tracklet* t : stillborn) t->phase = Phase::kRemoved;
  // Birth.
  for (const Detection* d : high) {
    if (d->score < o.new_track_threshold) continue;
    auto t = std::make_unique<Tracklet>(*d, s.frame);
    s.confirm(*t);
    s.tracklets.push_back(std::move(t));
  }
  // Loss.
  for (auto& t : s.tracklets) {
    if (t->phase == Phase::kLost && s.frame - t->last_frame > o.max_lost_frames) {
      t->phase = Phase::kRemoved;
    }
  }
  TrackerOutput out;
  std::vector<std::unique_ptr<Tracklet>> kept;
  for (auto& t : s.tracklets) {
    if (t->phase == Phase::kRemoved) {
      if (t->confirmed) out.removed.push_back(t->id);
      continue;
    }
    kept.push_back(std::move(t));
  }
  s.tracklets = std::move(kept);
  for (int pass = 0; pass < 2; ++pass) {
    const bool want_lost = pass == 1;
    for (const auto& t : s.tracklets) {
      if (!t->confirmed || (t->phase == Phase::kLost) != want_lost) continue;
      out.tracks.push_back({t->id, t->kalman.box(), t->score, t->class_id, want_lost,
                            static_cast<int>(s.frame - t->last_frame), t->first_frame,
                            t->last_frame});
    }
  }
  return out;
}

std::vector<Track> reported_tracks(const std::vector<Track>& tracks, int coast_frames,
                                   float frame_width, float frame_height) {
  std::vector<Track> out;
  for (const Track& t : tracks) {
    if (!t.lost) {
      out.push_back(t);
      continue;
    }
    if (t.missed > coast_frames) continue;
    const Box& b = t.box;
    if (b.x <= 0 || b.y <= 0 || b.right() >= frame_width || b.bottom() >= frame_height) continue;
    const bool hidden = std::any_of(tracks.begin(), tracks.end(), [&](const Track& other) {
      if (other.lost) return false;
      const Box overlap =
          clip_box(Box{b.x - other.box.x, b.y - other.box.y, b.w, b.h}, other.box.w, other.box.h);
      return overlap.area() >= 0.5f * b.area();
    });
    if (!hidden) out.push_back(t);
  }
  return out;
}

IouTracker::IouTracker(const IouTrackerOptions& options) : options_(options) {}

TrackerOutput IouTracker::update(const std::vector<Detection>& detections) {
  ++frame_;
  std::vector<const Detection*> dets;
  for (const Detection& d : detections) {
    if (d.score >= options_.min_score) dets.push_back(&d);
  }
  // Greedy: best IoU pair first.
  struct Pair {
    float overlap;
    size_t entry, det;
  };
  std::vector<Pair> pairs;
  for (size_t e = 0; e < entries_.size(); ++e) {
    for (size_t d = 0; d < dets.size(); ++d) {
      if (entries_[e].track.class_id != dets[d]->class_id) continue;
      const float o = iou(entries_[e].track.box, dets[d]->box);
      if (o >= options_.min_iou) pairs.push_back({o, e, d});
    }
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const Pair& a, const Pair& b) { return a.overlap > b.overlap; });
  std::vector<char> entry_used(entries_.size(), 0), det_used(dets.size(), 0);
  for (const Pair& p : pairs) {
    if (entry_used[p.entry] || det_used[p.det]) continue;
    entry_used[p.entry] = det_used[p.det] = 1;
    Entry& e = entries_[p.entry];
    e.track.box = dets[p.det]->box;
    e.track.score = dets[p.det]->score;
    e.track.last_frame = frame_;
    e.track.lost = false;
    e.track.missed = 0;
    e.missed = 0;
  }
  TrackerOutput out;
  std::vector<Entry> kept;
  for (size_t e = 0; e < entries_.size(); ++e) {
    if (!entry_used[e]) {
      entries_[e].track.lost = true;
      entries_[e].track.missed = entries_[e].missed + 1;
      if (++entries_[e].missed > options_.max_missed) {
        out.removed.push_back(entries_[e].track.id);
        continue;
      }
    }
    kept.push_back(entries_[e]);
  }
  for (size_t d = 0; d < dets.size(); ++d) {
    if (det_used[d]) continue;
    Entry e;
    e.track = {next_id_++, dets[d]->box, dets[d]->score, dets[d]->class_id, false,
               0,          frame_,       frame_};
    kept.push_back(e);
  }
  entries_ = std::move(kept);
  for (const Entry& e : entries_) {
    if (!e.track.lost) out.tracks.push_back(e.track);
  }
  return out;
}

}  // namespace vigil::vision
