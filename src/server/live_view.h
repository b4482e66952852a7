// The live annotated view behind GET /api/stream.mjpg: the pipeline pushes frames, viewers wait
// for the newest one. Latest wins: a slow viewer skips frames, it never holds up the pipeline.
// Frames are JPEG-encoded only while someone watches, and at most `max_fps` times a second, so
// an unwatched view costs one atomic load per frame.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <string>

namespace vigil::server {

class LiveView {
 public:
  explicit LiveView(double max_fps = 10, int jpeg_quality = 75);

  // Any thread. `bgr` is copied only when it will be encoded.
  void push_frame(const cv::Mat& bgr);
  // An already encoded frame (any thread).
  void push_jpeg(std::string jpeg);

  // Waits up to `timeout` for a frame newer than `*seq` (0 = any); on success stores it and its
  // number. False on timeout or after close().
  bool wait_frame(uint64_t* seq, std::shared_ptr<const std::string>* jpeg,
                  std::chrono::milliseconds timeout);
  // Wakes every viewer for good (server shutdown).
  void close();

  bool has_frames() const { return frames_.load() > 0; }
  uint64_t frames() const { return frames_.load(); }  // frames pushed (encoded or not)
  double fps() const;                                 // frames pushed per second, last ~2 s

  // Viewers register while they stream (RAII), so the encoder knows whether to work.
  class Viewer {
   public:
    explicit Viewer(LiveView& view) : view_(view) { ++view_.viewers_; }
    ~Viewer() { --view_.viewers_; }
    Viewer(const Viewer&) = delete;
    Viewer& operator=(const Viewer&) = delete;

   private:
    LiveView& view_;
  };
  int viewers() const { return viewers_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  void count_frame();

  const double max_fps_;
  const int jpeg_quality_;
  std::atomic<int> viewers_{0};
  std::atomic<uint64_t> frames_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<const std::string> jpeg_;
  uint64_t seq_ = 0;
  bool closed_ = false;
  Clock::time_point last_encode_{};
  // fps: frames counted in the current and previous ~1 s windows
  Clock::time_point window_start_ = Clock::now();
  uint64_t window_frames_ = 0;
  double last_fps_ = 0;
};

}  // namespace vigil::server
