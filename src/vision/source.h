// Frame sources: video files, network streams (RTSP/HTTP via FFmpeg), V4L2 cameras and folders
// of images, behind one pull interface. Live sources (network, V4L2) reconnect with exponential
// backoff when the stream fails or stalls; files and folders end, or loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "vision/config.h"

namespace vigil::vision {

struct Frame {
  cv::Mat image;           // BGR, 8-bit
  int64_t index = 0;       // 0-based count of frames delivered by this source
  double timestamp_s = 0;  // stream time: container timestamps, else index / fps, else wall
  double wall_unix = 0;    // wall clock when the frame was read, seconds since 1970
};

enum class SourceKind { kFile, kNetwork, kDevice, kImageFolder };

// "file", "network", "device", "image_folder".
const char* source_kind_name(SourceKind kind);

// Classifies a source string without touching it (rtsp://, /dev/video0, v4l2:0, a folder...).
SourceKind classify_source(const std::string& uri);

enum class ReadStatus {
  kFrame,   // `frame` holds the next frame
  kEnd,     // a finite source is exhausted (normal end)
  kFailed,  // gave up: see last_error()
};

// Health counters, readable from any thread.
struct SourceCounters {
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> reconnects{0};  // successful reopenings after a failure
  std::atomic<uint64_t> stalls{0};      // reads that timed out or stopped yielding frames
  std::atomic<uint64_t> bad_frames{0};  // unreadable images skipped in a folder
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;

  // Blocks until the next frame, the end, or failure (after the reconnect budget is spent).
  virtual ReadStatus read(Frame& frame) = 0;
  // One-line reason for kFailed, naming the source.
  virtual const std::string& last_error() const = 0;
  virtual SourceKind kind() const = 0;
  // Frames per second as the stream declares it (or the configured fallback).
  virtual double fps() const = 0;
  // Makes a blocked read() (waiting in backoff) return kFailed soon. Thread-safe.
  virtual void interrupt() = 0;
  virtual const SourceCounters& counters() const = 0;

  bool live() const { return kind() == SourceKind::kNetwork || kind() == SourceKind::kDevice; }
};

// `uri` with any "user:password@" replaced by "***@", for logs and errors.
std::string redact_uri(const std::string& uri);

// Opens `options.uri`. Throws vigil::Error with a one-line reason when it cannot be opened at
// all: a missing or undecodable file, an empty folder, a refused connection (after the reconnect
// budget for live sources).
std::unique_ptr<FrameSource> open_source(const SourceOptions& options);

}  // namespace vigil::vision
