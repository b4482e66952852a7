#include "synthetic_scene.h"

#include <algorithm>
#include <cmath>

#include "vision/tracker.h"

namespace vigil::vision::testing {

namespace {

// Small portable RNG (SplitMix64), so scenes are identical under every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    const double u1 = std::max(1e-12, uniform()), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  bool chance(double p) { return uniform() < p; }
  int poisson(double mean) {
    int k = 0;
    for (double p = std::exp(-mean), s = p, u = uniform(); u > s; ++k) {
      p *= mean / (k + 1);
      s += p;
    }
    return k;
  }

 private:
  uint64_t state_;
};

// One walker: piecewise-constant velocity of its bottom-centre point.
struct Walker {
  int start = 0;        // first frame (0-based)
  int end = 0;          // one past the last frame
  double x = 0, y = 0;  // bottom-centre at `start`
  struct Leg {
    int frames;
    double vx, vy;
  };
  std::vector<Leg> legs;

  // Bottom-centre at frame f (start <= f < end).
  void position(int f, double& px, double& py) const {
    px = x;
    py = y;
    int t = f - start;
    for (const Leg& leg : legs) {
      const int n = std::min(t, leg.frames);
      px += leg.vx * n;
      py += leg.vy * n;
      t -= n;
      if (t <= 0) break;
    }
  }
};

// Perspective: people lower on screen are nearer and bigger.
Box box_at(double bx, double by, int height) {
  const double h = 60.0 + 120.0 * std::clamp(by / height, 0.0, 1.0);
  const double w = 0.4 * h;
  return {static_cast<float>(bx - w / 2), static_cast<float>(by - h), static_cast<float>(w),
          static_cast<float>(h)};
}

float inside_fraction(const Box& b, int width, int height) {
  const Box c = clip_box(b, static_cast<float>(width), static_cast<float>(height));
  return b.area() > 0 ? c.area() / b.area() : 0.0f;
}

// Fraction of `b` not covered by any of `front` (sampled on a 10x20 grid).
float visible_fraction(const Box& b, const std::vector<Box>& front) {
  int visible = 0;
  constexpr int kNx = 10, kNy = 20;
  for (int i = 0; i < kNx; ++i) {
    for (int j = 0; j < kNy; ++j) {
      const float px = b.x + (i + 0.5f) * b.w / kNx, py = b.y + (j + 0.5f) * b.h / kNy;
      const bool covered = std::any_of(front.begin(), front.end(), [&](const Box& f) {
        return px >= f.x && px <= f.right() && py >= f.y && py <= f.bottom();
      });
      visible += covered ? 0 : 1;
    }
  }
  return static_cast<float>(visible) / (kNx * kNy);
}

}  // namespace

SyntheticScene make_scene(const SceneOptions& o) {
  Rng rng(o.seed);
  // Everyone enters through a frame border and walks until out of view (or the scene ends),
  // as in a street scene; nobody pops in or out in the middle of the frame.
  std::vector<Walker> walkers;
  for (int p = 0; p < o.crossing_pairs; ++p) {
    // Two walkers from opposite sides meet at (mx, my) at frame tm.
    const int tm = static_cast<int>(rng.uniform(60, o.frames - 80));
    const double mx = rng.uniform(300, o.width - 300);
    const double my = rng.uniform(250, o.height - 30);
    for (int side = 0; side < 2; ++side) {
      Walker w;
      const double speed = rng.uniform(2.0, 5.0);
      const double vx = side == 0 ? speed : -speed;
      const double vy = rng.uniform(-0.3, 0.3);
      const double dy = side == 0 ? 0.0 : rng.uniform(8, 25);  // the second walks a bit nearer
      const double entry_x = side == 0 ? -30.0 : o.width + 30.0;
      const int travel = static_cast<int>(std::fabs(mx - entry_x) / speed);
      w.start = tm - travel;
      w.x = entry_x;
      w.y = my + dy - vy * travel;
      if (w.start < 0) {  // already in view when the scene starts
        w.x -= vx * w.start;
        w.y -= vy * w.start;
        w.start = 0;
      }
      w.end = o.frames;
      w.legs.push_back({o.frames, vx, vy});
      walkers.push_back(w);
    }
  }
  for (int e = 0; e < o.extra_objects; ++e) {
    Walker w;
    const bool from_left = rng.chance(0.5);
    const double dir = from_left ? 1.0 : -1.0;
    w.start = static_cast<int>(rng.uniform(0, o.frames - 150));
    w.end = o.frames;
    w.x = from_left ? -30.0 : o.width + 30.0;
    w.y = rng.uniform(250, o.height - 60);
    switch (e % 3) {
      case 0:  // diagonal walker
        w.legs.push_back({o.frames, dir * rng.uniform(2.5, 4.0), rng.uniform(-1.2, 1.2)});
        break;
      case 1:  // stop and go: walks in, stands for 40 frames, walks on
        w.legs.push_back({static_cast<int>(rng.uniform(60, 120)), dir * 3.0, 0.5});
        w.legs.push_back({40, 0.0, 0.0});
        w.legs.push_back({o.frames, dir * 3.0, -0.5});
        break;
      default:  // fast mover
        w.legs.push_back({o.frames, dir * 8.0, rng.uniform(-0.5, 0.5)});
        break;
    }
    walkers.push_back(w);
  }

  SyntheticScene scene;
  scene.objects = static_cast<int>(walkers.size());
  scene.width = o.width;
  scene.height = o.height;
  scene.detections.resize(o.frames);
  for (int f = 0; f < o.frames; ++f) {
    struct Present {
      int id;
      Box box;
    };
    std::vector<Present> present;
    for (size_t i = 0; i < walkers.size(); ++i) {
      const Walker& w = walkers[i];
      if (f < w.start || f >= w.end) continue;
      double bx, by;
      w.position(f, bx, by);
      const Box b = box_at(bx, by, o.height);
      if (inside_fraction(b, o.width, o.height) < 0.6f) continue;
      present.push_back({static_cast<int>(i) + 1, b});
    }
    std::vector<Detection>& dets = scene.detections[f];
    for (const Present& p : present) {
      std::vector<Box> front;
      for (const Present& q : present) {
        if (q.id != p.id && q.box.bottom() > p.box.bottom()) front.push_back(q.box);
      }
      const float visible = visible_fraction(p.box, front);
      if (visible < 0.4f) ++scene.hidden_frames;
      const Box gt = clip_box(p.box, static_cast<float>(o.width), static_cast<float>(o.height));
      if (o.clean) {
        scene.ground_truth.push_back({f + 1, p.id, gt, 1.0f});
        dets.push_back({gt, 0.9f, 0});
        continue;
      }
      if (visible < 0.4f) continue;
      scene.ground_truth.push_back({f + 1, p.id, gt, 1.0f});
      float score = 0;
      if (visible < 0.75f) {
        if (!rng.chance(0.9)) continue;
        score = static_cast<float>(rng.uniform(0.25, 0.55));
      } else if (rng.chance(o.miss_rate)) {
        continue;
      } else if (rng.chance(o.weak_rate)) {
        score = static_cast<float>(rng.uniform(0.25, 0.55));
      } else {
        score = static_cast<float>(rng.uniform(0.65, 0.95));
      }
      Box d = gt;
      if (o.jitter > 0) {
        d.x += static_cast<float>(rng.normal() * o.jitter * gt.w);
        d.y += static_cast<float>(rng.normal() * o.jitter * gt.h);
        d.w *= static_cast<float>(1.0 + rng.normal() * o.jitter);
        d.h *= static_cast<float>(1.0 + rng.normal() * o.jitter);
      }
      dets.push_back({d, score, 0});
    }
    for (int k = o.clean ? 0 : rng.poisson(o.fp_rate); k > 0; --k) {
      const double h = rng.uniform(60, 180), w = 0.4 * h;
      const Box b{static_cast<float>(rng.uniform(0, o.width - w)),
                  static_cast<float>(rng.uniform(0, o.height - h)), static_cast<float>(w),
                  static_cast<float>(h)};
      dets.push_back({b, static_cast<float>(rng.uniform(0.3, 0.85)), 0});
    }
  }
  return scene;
}

std::vector<MotRow> run_tracker(MultiTracker& tracker, const SyntheticScene& scene,
                                int coast_frames) {
  std::vector<MotRow> rows;
  for (size_t f = 0; f < scene.detections.size(); ++f) {
    const TrackerOutput out = tracker.update(scene.detections[f]);
    for (const Track& t : reported_tracks(out.tracks, coast_frames, static_cast<float>(scene.width),
                                          static_cast<float>(scene.height))) {
      rows.push_back({static_cast<int64_t>(f) + 1, t.id, t.box, t.score});
    }
  }
  return rows;
}

}  // namespace vigil::vision::testing
