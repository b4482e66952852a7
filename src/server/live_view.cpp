#include "server/live_view.h"

#include <opencv2/imgcodecs.hpp>
#include <vector>

namespace vigil::server {

LiveView::LiveView(double max_fps, int jpeg_quality)
    : max_fps_(max_fps), jpeg_quality_(jpeg_quality) {}

void LiveView::count_frame() {
  // Called with mutex_ held.
  ++frames_;
  ++window_frames_;
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - window_start_).count();
  if (s >= 1.0) {
    last_fps_ = static_cast<double>(window_frames_) / s;
    window_frames_ = 0;
    window_start_ = now;
  }
}

double LiveView::fps() const {
  std::lock_guard lock(mutex_);
  const double s = std::chrono::duration<double>(Clock::now() - window_start_).count();
  if (s > 2.0) return 0.0;  // nothing pushed lately
  return last_fps_;
}

void LiveView::push_frame(const cv::Mat& bgr) {
  {
    std::lock_guard lock(mutex_);
    count_frame();
    if (viewers_.load() == 0 || bgr.empty()) return;
    const auto now = Clock::now();
    if (max_fps_ > 0 &&
        std::chrono::duration<double>(now - last_encode_).count() < 1.0 / max_fps_) {
      return;
    }
    last_encode_ = now;
  }
  std::vector<uchar> buffer;
  cv::imencode(".jpg", bgr, buffer, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality_});
  auto jpeg = std::make_shared<const std::string>(buffer.begin(), buffer.end());
  {
    std::lock_guard lock(mutex_);
    jpeg_ = std::move(jpeg);
    ++seq_;
  }
  cv_.notify_all();
}

void LiveView::push_jpeg(std::string jpeg) {
  {
    std::lock_guard lock(mutex_);
    count_frame();
    jpeg_ = std::make_shared<const std::string>(std::move(jpeg));
    ++seq_;
  }
  cv_.notify_all();
}

bool LiveView::wait_frame(uint64_t* seq, std::shared_ptr<const std::string>* jpeg,
                          std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool ready = cv_.wait_for(lock, timeout, [&] { return closed_ || (jpeg_ && seq_ > *seq); });
  if (!ready || closed_) return false;
  *seq = seq_;
  *jpeg = jpeg_;
  return true;
}

void LiveView::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

}  // namespace vigil::server
