#include "vision/source.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "base/units.h"

namespace vigil::vision {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool has_prefix(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string redact(const std::string& uri) {
  const size_t scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const size_t host_start = scheme + 3;
  const size_t at = uri.find('@', host_start);
  const size_t slash = uri.find('/', host_start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return uri;
  return uri.substr(0, host_start) + "***@" + uri.substr(at + 1);
}

// Why a TCP connection to the URL's host fails, or "" when it connects (so the trouble is in the
// stream, not the network). Only ever connects to the host named in the URL.
std::string diagnose_tcp(const std::string& uri, double timeout_s) {
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return "";
  const std::string scheme = uri.substr(0, scheme_end);
  std::string rest = uri.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  std::string host = rest, port;
  if (!rest.empty() && rest[0] == '[') {  // [ipv6]:port
    const size_t close = rest.find(']');
    if (close == std::string::npos) return "malformed host";
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (port.empty()) {
    port = scheme == "rtsp" ? "554" : scheme == "rtsps" ? "322" : scheme == "https" ? "443" : "80";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fmt::format("host \"{}\" not found ({})", printable(host), gai_strerror(rc));
  }
  std::string reason = "no address to connect to";
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int err = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd pfd{fd, POLLOUT, 0};
        const int ready = poll(&pfd, 1, static_cast<int>(std::min(timeout_s, 3.0) * 1000));
        if (ready <= 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof(err);
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    close(fd);
    if (err == 0) {
      reason.clear();
      break;
    }
    reason = fmt::format("{}:{}: {}", host, port, std::strerror(err));
  }
  freeaddrinfo(found);
  return reason;
}

// Sleeps that interrupt() cuts short.
class Interruptible {
 public:
  // Returns false when interrupted.
  bool sleep(double seconds) {
    std::unique_lock lock(mutex_);
    return !cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return stop_; });
  }
  void interrupt() {
    std::lock_guard lock(mutex_);
    stop_ = true;
    cv_.notify_all();
  }
  bool interrupted() {
    std::lock_guard lock(mutex_);
    return stop_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
};

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  static const char* kExts[] = {".jpg",  ".jpeg", ".png", ".bmp", ".tif",
                                ".tiff", ".webp", ".ppm", ".pgm", ".pnm"};
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

// Common bookkeeping: indices, monotonic timestamps, realtime pacing.
class SourceBase : public FrameSource {
 public:
  explicit SourceBase(SourceOptions options) : options_(std::move(options)) {}
  const std::string& last_error() const override { return error_; }
  void interrupt() override { sleeper_.interrupt(); }
  const SourceCounters& counters() const override { return counters_; }

 protected:
  // Fills index/timestamp/wall of a decoded frame. `stream_ts` < 0 means "no timestamp".
  void stamp(Frame& frame, double stream_ts) {
    const double period = 1.0 / std::max(1e-3, fps());
    double ts = stream_ts;
    if (live()) ts = seconds_since(opened_at_);
    if (ts < 0 || (index_ > 0 && ts <= last_ts_)) ts = index_ == 0 ? 0.0 : last_ts_ + period;
    if (options_.realtime && !live()) {
      if (index_ == 0)
        pace_origin_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(ts));
      const auto due = pace_origin_ + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(ts));
      const double wait = std::chrono::duration<double>(due - Clock::now()).count();
      if (wait > 0) sleeper_.sleep(wait);
    }
    frame.index = index_++;
    frame.timestamp_s = ts;
    frame.wall_unix = unix_now();
    last_ts_ = ts;
    counters_.frames++;
  }

  ReadStatus failed(std::string message) {
    error_ = std::move(message);
    return ReadStatus::kFailed;
  }

  // Backoff before reconnect attempt `attempt` (0-based). False when interrupted.
  bool backoff(int attempt) {
    double delay = options_.reconnect_initial_s;
    for (int i = 0; i < attempt && delay < options_.reconnect_max_s; ++i) delay *= 2;
    delay = std::min(delay, options_.reconnect_max_s);
    spdlog::warn("source {}: reconnecting in {:.1f} s (attempt {}{})", redact(options_.uri), delay,
                 attempt + 1,
                 options_.max_reconnects < 0 ? "" : fmt::format(" of {}", options_.max_reconnects));
    return sleeper_.sleep(delay);
  }

  bool attempts_left(int attempt) const {
    return options_.max_reconnects < 0 || attempt < options_.max_reconnects;
  }

  SourceOptions options_;
  SourceCounters counters_;
  Interruptible sleeper_;
  std::string error_;
  Clock::time_point opened_at_ = Clock::now();
  Clock::time_point pace_origin_;
  int64_t index_ = 0;
  double last_ts_ = 0;
};

class VideoSource final : public SourceBase {
 public:
  VideoSource(SourceOptions options, SourceKind kind)
      : SourceBase(std::move(options)), kind_(kind) {
    const std::string shown = redact(options_.uri);
    if (kind_ == SourceKind::kFile) {
      std::error_code ec;
      if (!fs::exists(options_.uri, ec)) fail("source {}: no such file", shown);
      if (fs::is_directory(options_.uri, ec)) fail("source {}: is a folder with no images", shown);
      if (!try_open()) {
        fail("source {}: not a video FFmpeg can decode (unknown container or corrupt header)",
             shown);
      }
      // Decode the first frame now, so a file with a valid header but broken data fails here
      // with a clear message instead of looking like an empty video.
      if (!cap_.read(pending_) || pending_.empty()) {
        fail("source {}: no decodable frame (corrupt or truncated video data)", shown);
      }
      has_pending_ = true;
      expected_frames_ = static_cast<int64_t>(cap_.get(cv::CAP_PROP_FRAME_COUNT));
      return;
    }
    if (kind_ == SourceKind::kDevice) {
      const std::string dev = device_path();
      std::error_code ec;
      if (!fs::exists(dev, ec))
        fail("source {}: no such V4L2 device ({} does not exist)", shown, dev);
    }
    for (int attempt = 0;; ++attempt) {
      if (try_open()) break;
      std::string why = kind_ == SourceKind::kNetwork
                            ? diagnose_tcp(options_.uri, options_.open_timeout_s)
                            : std::string("the device did not open (busy or not a capture device)");
      if (why.empty()) why = "the server answered but no video stream could be opened";
      if (!attempts_left(attempt)) {
        fail("source {}: cannot open after {} attempt{}: {}", shown, attempt + 1,
             attempt == 0 ? "" : "s", why);
      }
      spdlog::warn("source {}: cannot open: {}", shown, why);
      if (!backoff(attempt)) fail("source {}: cannot open (interrupted): {}", shown, why);
    }
  }

  SourceKind kind() const override { return kind_; }
  double fps() const override {
    if (options_.fps > 0) return options_.fps;
    return stream_fps_ > 0 && stream_fps_ < 1000 ? stream_fps_ : 10.0;
  }

  ReadStatus read(Frame& frame) override {
    if (sleeper_.interrupted())
      return failed(fmt::format("source {}: interrupted", redact(options_.uri)));
    if (has_pending_) {
      has_pending_ = false;
      frame.image = std::move(pending_);
      stamp(frame, 0.0);
      return ReadStatus::kFrame;
    }
    if (live()) return read_live(frame);
    return read_file(frame);
  }

 private:
  std::string device_path() const {
    if (has_prefix(options_.uri, "v4l2:")) return "/dev/video" + options_.uri.substr(5);
    return options_.uri;
  }

  bool try_open() {
    cap_.release();
    std::vector<int> params;
    if (kind_ == SourceKind::kNetwork) {
      const int open_ms = static_cast<int>(options_.open_timeout_s * 1000);
      const int read_ms = static_cast<int>(options_.stall_timeout_s * 1000);
      params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, open_ms, cv::CAP_PROP_READ_TIMEOUT_MSEC, read_ms};
    }
    bool ok = false;
    try {
      if (kind_ == SourceKind::kDevice) {
        ok = cap_.open(device_path(), cv::CAP_V4L2);
      } else {
        ok = cap_.open(options_.uri, cv::CAP_FFMPEG, params);
      }
    } catch (const cv::Exception& e) {
      spdlog::debug("source {}: OpenCV: {}", redact(options_.uri), e.what());
      ok = false;
    }
    ok = ok && cap_.isOpened();
    if (ok) stream_fps_ = cap_.get(cv::CAP_PROP_FPS);
    return ok;
  }

  ReadStatus read_file(Frame& frame) {
    for (;;) {
      cv::Mat image;
      bool ok = false;
      try {
        ok = cap_.read(image) && !image.empty();
      } catch (const cv::Exception& e) {
        spdlog::warn("source {}: decode error: {}", options_.uri, e.what());
      }
      if (ok) {
        const double pos_ms = cap_.get(cv::CAP_PROP_POS_MSEC);
        frame.image = std::move(image);
        stamp(frame, pos_ms > 0 ? pos_ms / 1000.0 : -1.0);
        return ReadStatus::kFrame;
      }
      // A file that stops well before its declared length was cut short (copy in progress,
      // camera recording that died): say so, then end normally.
      if (expected_frames_ > 0 && frames_this_pass() + 2 < expected_frames_) {
        spdlog::warn("source {}: ended after {} of {} frames (truncated or corrupt file)",
                     options_.uri, frames_this_pass(), expected_frames_);
      }
      if (!options_.loop) return ReadStatus::kEnd;
      if (frames_this_pass() == 0) {
        return failed(fmt::format("source {}: no frames on restart, not looping", options_.uri));
      }
      pass_start_ = index_;
      if (!try_open()) return failed(fmt::format("source {}: cannot reopen to loop", options_.uri));
    }
  }

  int64_t frames_this_pass() const { return index_ - pass_start_; }

  ReadStatus read_live(Frame& frame) {
    const std::string shown = redact(options_.uri);
    for (int attempt = 0;;) {
      cv::Mat image;
      bool ok = false;
      const auto t0 = Clock::now();
      try {
        ok = cap_.isOpened() && cap_.read(image) && !image.empty();
      } catch (const cv::Exception& e) {
        spdlog::warn("source {}: read error: {}", shown, e.what());
      }
      if (ok) {
        frame.image = std::move(image);
        stamp(frame, -1.0);
        return ReadStatus::kFrame;
      }
      const double waited = seconds_since(t0);
      const bool stalled = waited >= options_.stall_timeout_s * 0.9;
      if (stalled) {
        counters_.stalls++;
        spdlog::warn("source {}: stalled, no frame for {:.1f} s", shown, waited);
      } else {
        spdlog::warn("source {}: stream ended or broke after {} frames", shown, index_);
      }
      // Reconnect loop with exponential backoff.
      for (;; ++attempt) {
        if (!attempts_left(attempt)) {
          return failed(fmt::format("source {}: {} and {} reconnect attempt{} failed", shown,
                                    stalled ? "stalled" : "lost", attempt,
                                    attempt == 1 ? "" : "s"));
        }
        if (!backoff(attempt)) return failed(fmt::format("source {}: interrupted", shown));
        if (try_open()) {
          counters_.reconnects++;
          spdlog::info("source {}: reconnected", shown);
          ++attempt;
          break;
        }
      }
    }
  }

  SourceKind kind_;
  cv::VideoCapture cap_;
  cv::Mat pending_;
  bool has_pending_ = false;
  double stream_fps_ = 0;
  int64_t expected_frames_ = 0;
  int64_t pass_start_ = 0;
};

class ImageFolderSource final : public SourceBase {
 public:
  explicit ImageFolderSource(SourceOptions options) : SourceBase(std::move(options)) {
    scan();
    if (files_.empty())
      fail("source {}: folder has no images (jpg, png, bmp, tif, webp, pnm)", options_.uri);
  }

  SourceKind kind() const override { return SourceKind::kImageFolder; }
  double fps() const override { return options_.fps > 0 ? options_.fps : 10.0; }

  ReadStatus read(Frame& frame) override {
    int attempt = 0;
    while (!sleeper_.interrupted()) {
      if (next_ >= files_.size()) {
        if (!vanished_.empty()) {
          // The camera "vanished": the file due next was removed under us. Rescan with backoff
          // (a writer may be rotating files) before giving up.
          if (!attempts_left(attempt)) {
            return failed(fmt::format(
                "source {}: images vanished while reading ({} gone after {} frames, folder now "
                "has {} images)",
                options_.uri, vanished_.filename().string(), index_, count_images()));
          }
          if (!backoff(attempt++)) break;
          scan_after(vanished_);
          continue;
        }
        if (!options_.loop) return ReadStatus::kEnd;
        next_ = 0;
        scan();
        if (files_.empty()) {
          return failed(fmt::format("source {}: folder is empty, nothing to loop", options_.uri));
        }
      }
      const fs::path path = files_[next_];
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        vanished_ = path;
        scan_after(path);
        continue;
      }
      cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
      ++next_;
      if (image.empty()) {
        counters_.bad_frames++;
        spdlog::warn("source {}: skipping unreadable image {}", options_.uri,
                     path.filename().string());
        continue;
      }
      if (size_.width > 0 && image.size() != size_) {
        counters_.bad_frames++;
        spdlog::warn("source {}: skipping {}: {}x{} differs from the first image's {}x{}",
                     options_.uri, path.filename().string(), image.cols, image.rows, size_.width,
                     size_.height);
        continue;
      }
      size_ = image.size();
      vanished_.clear();
      frame.image = std::move(image);
      stamp(frame, static_cast<double>(index_) / fps());
      return ReadStatus::kFrame;
    }
    return failed(fmt::format("source {}: interrupted", options_.uri));
  }

 private:
  void scan() {
    files_.clear();
    std::error_code ec;
    for (fs::directory_iterator it(options_.uri, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && is_image_name(it->path())) files_.push_back(it->path());
    }
    std::sort(files_.begin(), files_.end());
  }

  // Rescans and continues with the first file that sorts after `last`.
  void scan_after(const fs::path& last) {
    scan();
    next_ =
        static_cast<size_t>(std::upper_bound(files_.begin(), files_.end(), last) - files_.begin());
  }

  size_t count_images() {
    scan();
    return files_.size();
  }

  std::vector<fs::path> files_;
  size_t next_ = 0;
  fs::path vanished_;  // the file that disappeared, while waiting for the folder to recover
  cv::Size size_;
};

}  // namespace

const char* source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kFile:
      return "file";
    case SourceKind::kNetwork:
      return "network";
    case SourceKind::kDevice:
      return "device";
    case SourceKind::kImageFolder:
      return "image_folder";
  }
  return "unknown";
}

std::string redact_uri(const std::string& uri) {
  return redact(uri);
}

SourceKind classify_source(const std::string& uri) {
  for (const char* scheme :
       {"rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://"}) {
    if (has_prefix(uri, scheme)) return SourceKind::kNetwork;
  }
  if (has_prefix(uri, "/dev/video") || has_prefix(uri, "v4l2:")) return SourceKind::kDevice;
  std::error_code ec;
  if (fs::is_directory(uri, ec)) return SourceKind::kImageFolder;
  return SourceKind::kFile;
}

std::unique_ptr<FrameSource> open_source(const SourceOptions& options) {
  if (options.uri.empty()) fail("source: no source given (a file, URL, /dev/videoN or folder)");
  const SourceKind kind = classify_source(options.uri);
  if (kind == SourceKind::kImageFolder) return std::make_unique<ImageFolderSource>(options);
  return std::make_unique<VideoSource>(options, kind);
}

}  // namespace vigil::vision
