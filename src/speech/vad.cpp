// Voice activity detection: an energy detector whose threshold follows the noise.
//
// Per 10 ms frame: DC/hum is removed by a first-order high-pass (about 100 Hz), the frame energy
// is taken in dB, and compared with a noise floor estimated as the minimum of the smoothed
// energy over the last few seconds (minimum statistics: noise is always present, speech never
// lasts that long without a dip). A frame is "loud" when it is threshold_db above the floor.
// Frames are then grouped with hysteresis: an utterance needs min_speech_s of loud frames to
// start, and ends after max_pause_s without one, so word gaps and commas stay inside it while
// short clicks do not start one.
#include <algorithm>
#include <cmath>
#include <deque>

#include "base/error.h"
#include "speech/speech.h"

namespace vigil::speech {
namespace {

constexpr size_t kFrame = kSpeechRate / 100;  // 10 ms
constexpr double kFloorWindowS = 3.0;         // minimum-statistics window
constexpr double kFloorBiasDb = 1.5;          // the minimum under-reads the mean noise level
constexpr double kSmoothing = 0.6;            // energy smoothing for the floor (per frame)
constexpr double kReleaseDb = 3.0;            // inside speech the threshold drops by this much
constexpr double kHighPassPole = 0.96;        // y = x - x1 + a*y1: about 100 Hz at 16 kHz

size_t frames_for(double seconds) {
  return static_cast<size_t>(std::max(1.0, std::round(seconds * 100.0)));
}

}  // namespace

struct VoiceActivityDetector::State {
  VadOptions options;
  size_t min_speech_frames, max_pause_frames, padding_samples, max_utterance_frames;

  // High-pass filter memory.
  double x1 = 0.0, y1 = 0.0;
  // Samples of the frame being filled.
  std::vector<float> frame;
  size_t frame_index = 0;  // frames completed so far

  // Minimum statistics: (frame, smoothed dB), increasing dB from front to back.
  std::deque<std::pair<size_t, double>> minima;
  double smoothed_db = -200.0;
  bool first_frame = true;

  // Grouping.
  bool candidate = false;      // loud frames seen, not yet long enough
  bool speaking = false;       // utterance confirmed
  size_t start_frame = 0;      // first loud frame of the candidate / utterance
  size_t last_loud = 0;        // last loud frame
  size_t loud_count = 0;       // loud frames since start_frame
  size_t last_end_sample = 0;  // end of the previous utterance (segments never overlap)

  double floor_db() const { return minima.empty() ? -200.0 : minima.front().second + kFloorBiasDb; }

  Segment make_segment(size_t begin_frame, size_t end_frame) {
    Segment s;
    const size_t begin = begin_frame * kFrame;
    s.begin = begin > padding_samples ? begin - padding_samples : 0;
    s.begin = std::max(s.begin, last_end_sample);
    s.end = std::min(end_frame * kFrame + padding_samples, frame_index * kFrame);
    last_end_sample = s.end;
    return s;
  }

  void process_frame(std::vector<Segment>& out) {
    double energy = 0.0;
    for (float v : frame) {
      const double y = v - x1 + kHighPassPole * y1;
      x1 = v;
      y1 = y;
      energy += y * y;
    }
    const double db = 10.0 * std::log10(energy / kFrame + 1e-12);
    const size_t f = frame_index++;

    smoothed_db = first_frame ? db : kSmoothing * smoothed_db + (1.0 - kSmoothing) * db;
    first_frame = false;
    while (!minima.empty() && minima.back().second >= smoothed_db) minima.pop_back();
    minima.emplace_back(f, smoothed_db);
    const size_t window = frames_for(kFloorWindowS);
    while (minima.front().first + window <= f) minima.pop_front();

    const double threshold = options.threshold_db - (speaking ? kReleaseDb : 0.0);
    const bool loud = db > floor_db() + threshold && db > options.min_energy_dbfs;

    if (loud) {
      if (!candidate && !speaking) {
        candidate = true;
        start_frame = f;
        loud_count = 0;
      }
      last_loud = f;
      ++loud_count;
      if (candidate && loud_count >= min_speech_frames) {
        candidate = false;
        speaking = true;
      }
    }
    if (speaking) {
      if (f - last_loud >= max_pause_frames) {
        out.push_back(make_segment(start_frame, last_loud + 1));
        speaking = false;
      } else if (f + 1 - start_frame >= max_utterance_frames) {
        out.push_back(make_segment(start_frame, f + 1));
        speaking = false;
        if (loud) {  // the speech goes on: the next utterance starts right here
          candidate = true;
          start_frame = f + 1;
          loud_count = 0;
        }
      }
    } else if (candidate && f - last_loud >= max_pause_frames) {
      candidate = false;  // a click or a bang, not speech
    }
  }
};

VoiceActivityDetector::VoiceActivityDetector(const VadOptions& options)
    : state_(std::make_unique<State>()) {
  if (!(options.max_pause_s > options.padding_s) || options.padding_s < 0 ||
      options.min_speech_s <= 0 || options.max_utterance_s <= options.min_speech_s) {
    fail(
        "vad: inconsistent options (need 0 <= padding_s < max_pause_s, "
        "0 < min_speech_s < max_utterance_s)");
  }
  state_->options = options;
  state_->min_speech_frames = frames_for(options.min_speech_s);
  state_->max_pause_frames = frames_for(options.max_pause_s);
  state_->max_utterance_frames = frames_for(options.max_utterance_s);
  state_->padding_samples = static_cast<size_t>(options.padding_s * kSpeechRate);
  state_->frame.reserve(kFrame);
}

VoiceActivityDetector::~VoiceActivityDetector() = default;

std::vector<Segment> VoiceActivityDetector::push(std::span<const float> samples) {
  std::vector<Segment> out;
  for (float v : samples) {
    state_->frame.push_back(v);
    if (state_->frame.size() == kFrame) {
      state_->process_frame(out);
      state_->frame.clear();
    }
  }
  return out;
}

std::vector<Segment> VoiceActivityDetector::finish() {
  std::vector<Segment> out;
  State& s = *state_;
  if (s.speaking) out.push_back(s.make_segment(s.start_frame, s.last_loud + 1));
  s.speaking = false;
  s.candidate = false;
  return out;
}

bool VoiceActivityDetector::in_speech() const {
  return state_->speaking;
}

std::vector<Segment> detect_utterances(std::span<const float> samples, const VadOptions& options) {
  VoiceActivityDetector vad(options);
  std::vector<Segment> segments = vad.push(samples);
  for (const Segment& s : vad.finish()) segments.push_back(s);
  return segments;
}

}  // namespace vigil::speech
