// Frame sources: files, folders, network streams and what happens when they break — missing or
// corrupt files, a refused RTSP connection, a truncated file, an image folder emptied while
// reading, and an HTTP stream that stops sending (stall) and then disappears (reconnect fails).
#include "vision/source.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <thread>

#include "base/error.h"
#include "vision_test_util.h"

namespace vigil::vision {
namespace {

using testing::TempDir;

std::string error_of(const SourceOptions& o) {
  try {
    open_source(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

SourceOptions quick(const std::string& uri) {
  SourceOptions o;
  o.uri = uri;
  o.max_reconnects = 1;
  o.reconnect_initial_s = 0.05;
  o.reconnect_max_s = 0.1;
  o.open_timeout_s = 2;
  o.stall_timeout_s = 1;
  return o;
}

// A port on 127.0.0.1 that nothing listens on (bound, then released).
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Writes `n` frames of a moving square to a folder as PNGs.
void write_frames(const TempDir& dir, int n, cv::Size size = {64, 48}) {
  for (int i = 0; i < n; ++i) {
    cv::Mat m(size, CV_8UC3, cv::Scalar(40, 40, 40));
    cv::rectangle(m, cv::Rect(2 * i % size.width, 10, 8, 8), cv::Scalar(255, 255, 255), cv::FILLED);
    cv::imwrite(dir.file(cv::format("frame_%04d.png", i)), m);
  }
}

TEST(Source, Classifies) {
  EXPECT_EQ(classify_source("rtsp://cam/stream"), SourceKind::kNetwork);
  EXPECT_EQ(classify_source("http://127.0.0.1:8080/video"), SourceKind::kNetwork);
  EXPECT_EQ(classify_source("/dev/video0"), SourceKind::kDevice);
  EXPECT_EQ(classify_source("v4l2:2"), SourceKind::kDevice);
  EXPECT_EQ(classify_source("/tmp"), SourceKind::kImageFolder);
  EXPECT_EQ(classify_source("clip.mp4"), SourceKind::kFile);
}

TEST(Source, MissingAndBrokenFilesAreClearErrors) {
  TempDir dir("src-broken");
  EXPECT_NE(error_of(quick(dir.file("nope.mp4"))).find("no such file"), std::string::npos);
  {
    std::ofstream junk(dir.file("junk.mp4"), std::ios::binary);
    for (int i = 0; i < 100000; ++i) junk.put(static_cast<char>((i * 7919) & 0xff));
  }
  const std::string broken = error_of(quick(dir.file("junk.mp4")));
  EXPECT_NE(broken.find("junk.mp4"), std::string::npos) << broken;
  EXPECT_TRUE(broken.find("not a video FFmpeg can decode") != std::string::npos ||
              broken.find("no decodable frame") != std::string::npos)
      << broken;
  { std::ofstream empty(dir.file("empty.avi")); }
  EXPECT_FALSE(error_of(quick(dir.file("empty.avi"))).empty());
  EXPECT_NE(error_of(quick("/dev/video97")).find("no such V4L2 device"), std::string::npos);
  EXPECT_NE(error_of(quick("")).find("no source"), std::string::npos);
}

TEST(Source, UnreachableRtspIsAClearErrorAfterRetries) {
  const std::string url = "rtsp://127.0.0.1:" + std::to_string(closed_port()) + "/stream";
  const std::string error = error_of(quick(url));
  EXPECT_NE(error.find(url), std::string::npos) << error;
  EXPECT_NE(error.find("after 2 attempts"), std::string::npos) << error;
  EXPECT_NE(error.find("Connection refused"), std::string::npos) << error;
}

TEST(Source, CredentialsNeverAppearInErrors) {
  const std::string url = "rtsp://admin:secret@127.0.0.1:" + std::to_string(closed_port()) + "/s";
  SourceOptions o = quick(url);
  o.max_reconnects = 0;
  const std::string error = error_of(o);
  EXPECT_EQ(error.find("secret"), std::string::npos) << error;
  EXPECT_NE(error.find("***@127.0.0.1"), std::string::npos) << error;
}

TEST(Source, SampleVideoTimestampsAndSize) {
  VIGIL_NEED_SAMPLE_VIDEO(video);
  auto source = open_source(quick(video));
  EXPECT_EQ(source->kind(), SourceKind::kFile);
  EXPECT_FALSE(source->live());
  EXPECT_DOUBLE_EQ(source->fps(), 10.0);
  Frame f;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(source->read(f), ReadStatus::kFrame);
    EXPECT_EQ(f.index, i);
    EXPECT_NEAR(f.timestamp_s, i * 0.1, 1e-6);
    EXPECT_EQ(f.image.size(), cv::Size(768, 576));
    EXPECT_GT(f.wall_unix, 1.6e9);
  }
}

TEST(Source, TruncatedFileEndsEarlyWithoutCrashing) {
  VIGIL_NEED_SAMPLE_VIDEO(video);
  TempDir dir("src-trunc");
  {
    std::ifstream in(video, std::ios::binary);
    std::string head(1500000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(dir.file("cut.avi"), std::ios::binary).write(head.data(), in.gcount());
  }
  auto source = open_source(quick(dir.file("cut.avi")));
  Frame f;
  int frames = 0;
  ReadStatus status;
  while ((status = source->read(f)) == ReadStatus::kFrame) ++frames;
  EXPECT_EQ(status, ReadStatus::kEnd);
  EXPECT_GT(frames, 10);
  EXPECT_LT(frames, 795);
}

TEST(Source, ImageFolderPlaysInOrderSkipsBadImagesAndLoops) {
  TempDir dir("src-folder");
  write_frames(dir, 5);
  { std::ofstream(dir.file("frame_0002b.png")) << "not a png"; }
  SourceOptions o = quick(dir.path().string());
  o.fps = 5;
  o.loop = true;
  auto source = open_source(o);
  EXPECT_EQ(source->kind(), SourceKind::kImageFolder);
  Frame f;
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(source->read(f), ReadStatus::kFrame);
    EXPECT_EQ(f.index, i);
    EXPECT_NEAR(f.timestamp_s, i * 0.2, 1e-9);
  }
  EXPECT_GE(source->counters().bad_frames.load(), 1u);
  TempDir empty("src-empty");
  EXPECT_NE(error_of(quick(empty.path().string())).find("no images"), std::string::npos);
}

TEST(Source, ImageFolderEmptiedWhileReadingFailsCleanly) {
  TempDir dir("src-vanish");
  write_frames(dir, 10);
  auto source = open_source(quick(dir.path().string()));
  Frame f;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(source->read(f), ReadStatus::kFrame);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    std::filesystem::remove(entry.path());
  }
  EXPECT_EQ(source->read(f), ReadStatus::kFailed);
  EXPECT_NE(source->last_error().find("vanished"), std::string::npos) << source->last_error();
}

// Serves a small MJPEG AVI over HTTP/1.0 on 127.0.0.1, then keeps the connection open without
// sending more (a camera that hangs), then stops listening (a camera that is gone).
class StallingHttpServer {
 public:
  explicit StallingHttpServer(std::string body) : body_(std::move(body)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 4);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve_one(); });
  }
  ~StallingHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cam.avi"; }
  bool served() const { return served_; }

 private:
  void serve_one() {
    const int fd = accept(listen_fd_, nullptr, nullptr);
    // One client only: afterwards the camera is gone (reconnects are refused).
    close(listen_fd_);
    listen_fd_ = -1;
    if (fd < 0) return;
    char request[4096];
    (void)!recv(fd, request, sizeof request, 0);
    const std::string header = "HTTP/1.0 200 OK\r\nContent-Type: video/x-msvideo\r\n\r\n";
    (void)!send(fd, header.data(), header.size(), MSG_NOSIGNAL);
    (void)!send(fd, body_.data(), body_.size(), MSG_NOSIGNAL);
    served_ = true;
    while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));  // hang
    close(fd);
  }

  std::string body_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false}, served_{false};
};

TEST(Source, StalledHttpStreamIsDetectedThenReconnectFailsCleanly) {
  TempDir dir("src-http");
  {
    cv::VideoWriter w(dir.file("cam.avi"), cv::CAP_FFMPEG,
                      cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, cv::Size(160, 120));
    ASSERT_TRUE(w.isOpened());
    for (int i = 0; i < 30; ++i) {
      cv::Mat m(120, 160, CV_8UC3, cv::Scalar(i * 8, 60, 60));
      w.write(m);
    }
  }
  std::ifstream in(dir.file("cam.avi"), std::ios::binary);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  StallingHttpServer server(body);
  SourceOptions o = quick(server.url());
  auto source = open_source(o);
  EXPECT_TRUE(source->live());
  Frame f;
  int frames = 0;
  ReadStatus status;
  while ((status = source->read(f)) == ReadStatus::kFrame) ++frames;
  EXPECT_EQ(status, ReadStatus::kFailed);
  EXPECT_GT(frames, 0);
  EXPECT_GE(source->counters().stalls.load(), 1u);
  EXPECT_EQ(source->counters().reconnects.load(), 0u);
  EXPECT_NE(source->last_error().find("stalled"), std::string::npos) << source->last_error();
  EXPECT_NE(source->last_error().find("reconnect"), std::string::npos) << source->last_error();
}

}  // namespace
}  // namespace vigil::vision
