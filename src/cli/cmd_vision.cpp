// vigil detect: runs the perception pipeline (source -> motion gate -> detector -> ByteTrack ->
// zones/rules) on a file, stream, camera or image folder; writes an annotated video, MOTChallenge
// tracks and JSON-lines events, and prints throughput and per-stage latency.
// vigil mot-eval: MOTA / IDF1 / HOTA of a MOTChallenge tracks file against ground truth.
#include <fmt/format.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/videoio.hpp>
#include <string>

#include "base/error.h"
#include "base/log.h"
#include "cli/commands.h"
#include "vision/annotate.h"
#include "vision/mot.h"
#include "vision/vision.h"

namespace vigil::cli {
namespace {

using vision::Event;
using vision::FrameResult;
using vision::Pipeline;
using vision::PipelineStats;
using vision::VisionConfig;
using Clock = std::chrono::steady_clock;

struct DetectOptions {
  std::string source;
  std::string config;
  std::string out;
  std::string tracks_out;
  std::string events_out;
  std::string snapshots;
  std::string detector;
  std::string model;
  std::string codec = "auto";
  int64_t max_frames = 0;
  bool realtime = false;
  bool no_motion = false;
  bool loop = false;
  bool json = false;
};

// Opens an annotated-video writer. "auto": MPEG-4 part 2 in .mp4/.mkv/.mov (cheap: ~3 ms per
// 768x576 frame, plays in VLC/mpv/ffplay), Motion-JPEG in .avi; "h264" plays in browsers too but
// costs ~25 ms of CPU per frame.
cv::VideoWriter open_writer(const std::string& path, const std::string& codec, double fps,
                            cv::Size size) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".avi" && ext != ".mp4" && ext != ".m4v" && ext != ".mov" && ext != ".mkv") {
    fail_usage("--out {}: use .mp4, .mkv, .mov or .avi", path);
  }
  std::vector<const char*> codecs;
  if (codec == "h264") {
    codecs = {"avc1", "H264"};
  } else if (codec == "mp4v") {
    codecs = {"mp4v"};
  } else if (codec == "mjpg") {
    codecs = {"MJPG"};
  } else if (codec == "auto") {
    codecs = ext == ".avi" ? std::vector<const char*>{"MJPG", "XVID"}
                           : std::vector<const char*>{"mp4v", "avc1"};
  } else {
    fail_usage("--codec {}: expected auto, mp4v, h264 or mjpg", codec);
  }
  cv::VideoWriter writer;
  for (const char* c : codecs) {
    if (writer.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc(c[0], c[1], c[2], c[3]), fps,
                    size)) {
      spdlog::info("--out {}: writing {} at {:.1f} fps", path, c, fps);
      return writer;
    }
  }
  fail("--out {}: cannot open a video writer (no FFmpeg encoder for {})", path, ext);
}

// CPU seconds used by the whole process (all threads): with `taskset -c 0` this is what one
// core had to do, independent of other load on the machine.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::ofstream open_text(const std::string& path, const char* flag) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) fail("{} {}: cannot create the file", flag, path);
  return out;
}

void print_stats(const PipelineStats& s, double output_ms, uint64_t output_frames,
                 const std::map<std::string, int>& event_types, double stream_fps, double cpu_s) {
  std::printf(
      "frames: %llu decoded, %llu processed, %llu detected (%llu on moving regions), "
      "%llu gated, %llu dropped\n",
      static_cast<unsigned long long>(s.decoded), static_cast<unsigned long long>(s.processed),
      static_cast<unsigned long long>(s.detected),
      static_cast<unsigned long long>(s.detected_regions), static_cast<unsigned long long>(s.gated),
      static_cast<unsigned long long>(s.dropped_frames + s.dropped_results));
  std::printf("throughput: %.1f frames/s over %.1f s (stream %.1f fps: %.2fx real time)\n", s.fps,
              s.elapsed_s, stream_fps, stream_fps > 0 ? s.fps / stream_fps : 0.0);
  std::printf("cpu: %.1f s for the whole process = %.1f frames per CPU-second\n", cpu_s,
              cpu_s > 0 ? static_cast<double>(s.processed) / cpu_s : 0.0);
  std::string types;
  for (const auto& [type, n] : event_types)
    types += fmt::format("{}{} {}", types.empty() ? "" : ", ", n, type);
  std::printf("tracks: %llu   detections: %llu   events: %llu records%s%s%s\n",
              static_cast<unsigned long long>(s.tracks),
              static_cast<unsigned long long>(s.detections),
              static_cast<unsigned long long>(s.events), types.empty() ? "" : " (", types.c_str(),
              types.empty() ? "" : " started)");
  if (s.reconnects || s.stalls || s.bad_frames) {
    std::printf("source: %llu reconnects, %llu stalls, %llu unreadable frames\n",
                static_cast<unsigned long long>(s.reconnects),
                static_cast<unsigned long long>(s.stalls),
                static_cast<unsigned long long>(s.bad_frames));
  }
  std::printf("%-8s %8s %8s %8s %8s %8s\n", "stage", "frames", "mean ms", "p50 ms", "p95 ms",
              "max ms");
  for (const auto& st : s.stages) {
    std::printf("%-8s %8llu %8.2f %8.2f %8.2f %8.2f\n", st.stage.c_str(),
                static_cast<unsigned long long>(st.count), st.mean_ms, st.p50_ms, st.p95_ms,
                st.max_ms);
  }
  if (output_frames > 0) {
    std::printf("%-8s %8llu %8.2f   (annotate + encode + files, consumer thread)\n", "output",
                static_cast<unsigned long long>(output_frames), output_ms / output_frames);
  }
}

nlohmann::json stats_json(const PipelineStats& s, double output_ms, uint64_t output_frames,
                          const std::map<std::string, int>& event_types, double cpu_s) {
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& st : s.stages) {
    stages[st.stage] = {{"frames", st.count},
                        {"mean_ms", st.mean_ms},
                        {"p50_ms", st.p50_ms},
                        {"p95_ms", st.p95_ms},
                        {"max_ms", st.max_ms}};
  }
  if (output_frames > 0)
    stages["output"] = {{"frames", output_frames}, {"mean_ms", output_ms / output_frames}};
  return {{"decoded", s.decoded},
          {"processed", s.processed},
          {"detected", s.detected},
          {"detected_regions", s.detected_regions},
          {"gated", s.gated},
          {"dropped_frames", s.dropped_frames},
          {"dropped_results", s.dropped_results},
          {"dropped_events", s.dropped_events},
          {"detections", s.detections},
          {"tracks", s.tracks},
          {"events", s.events},
          {"events_started", event_types},
          {"reconnects", s.reconnects},
          {"stalls", s.stalls},
          {"bad_frames", s.bad_frames},
          {"elapsed_s", s.elapsed_s},
          {"fps", s.fps},
          {"cpu_s", cpu_s},
          {"stages", stages}};
}

void run_detect(const DetectOptions& o) {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  VisionConfig config = o.config.empty() ? VisionConfig{} : vision::load_config(o.config);
  if (!o.source.empty()) config.source.uri = o.source;
  if (config.source.uri.empty())
    fail_usage("detect: --source is required (or source.uri in --config)");
  if (o.realtime) config.source.realtime = true;
  if (o.loop) config.source.loop = true;
  if (o.no_motion) config.motion.enabled = false;
  if (!o.detector.empty()) {
    if (o.detector != "hog" && o.detector != "onnx")
      fail_usage("--detector {}: expected hog or onnx", o.detector);
    config.detector.type = o.detector;
  }
  if (!o.model.empty()) {
    config.detector.type = "onnx";
    config.detector.onnx.model = o.model;
  }
  if (!o.snapshots.empty()) config.pipeline.snapshot_dir = o.snapshots;
  vision::validate_config(config, o.config.empty() ? "defaults" : o.config);

  std::unique_ptr<vision::FrameSource> source = vision::open_source(config.source);
  const double stream_fps = source->fps();
  const std::string kind = vision::source_kind_name(source->kind());
  std::unique_ptr<vision::Detector> detector = vision::make_detector(config.detector);
  const std::string described = detector->describe();
  Pipeline pipeline(config, std::move(source), std::move(detector));

  std::ofstream tracks_file, events_file;
  if (!o.tracks_out.empty()) tracks_file = open_text(o.tracks_out, "--tracks-out");
  if (!o.events_out.empty()) events_file = open_text(o.events_out, "--events-out");
  cv::VideoWriter writer;
  std::map<std::string, int> started_types;
  auto drain_events = [&] {
    while (auto e = pipeline.events().try_pop()) {
      if (e->ongoing() || e->end_s == e->start_s)
        started_types[std::string(vision::event_type_name(e->type))]++;
      if (events_file.is_open())
        events_file << vision::event_to_json_line(*e) << '\n' << std::flush;
    }
  };

  if (!o.json) {
    std::fprintf(stderr, "detect: %s (%s, %.1f fps), detector %s\n",
                 vision::redact_uri(config.source.uri).c_str(), kind.c_str(), stream_fps,
                 described.c_str());
  }
  const double cpu_start = process_cpu_seconds();
  pipeline.start();
  double output_ms = 0;
  uint64_t output_frames = 0;
  while (auto result = pipeline.next_result()) {
    const auto t0 = Clock::now();
    if (!o.out.empty()) {
      if (!writer.isOpened()) {
        writer = open_writer(o.out, o.codec, stream_fps, result->frame.image.size());
      }
      vision::annotate(result->frame.image, *result, pipeline.class_names());
      writer.write(result->frame.image);
    }
    if (tracks_file.is_open()) {
      const cv::Size size = result->frame.image.size();
      for (const vision::Track& t : vision::reported_tracks(
               result->tracks, config.tracker.coast_frames, static_cast<float>(size.width),
               static_cast<float>(size.height))) {
        tracks_file << vision::format_mot_row({result->frame.index + 1, t.id, t.box, t.score})
                    << '\n';
      }
    }
    drain_events();
    output_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ++output_frames;
    if (o.max_frames > 0 && static_cast<int64_t>(output_frames) >= o.max_frames) break;
  }
  pipeline.stop();
  drain_events();
  writer.release();
  const PipelineStats stats = pipeline.stats();
  const double cpu_s = process_cpu_seconds() - cpu_start;
  if (o.json) {
    std::printf("%s\n",
                stats_json(stats, output_ms, output_frames, started_types, cpu_s).dump(2).c_str());
  } else {
    print_stats(stats, output_ms, output_frames, started_types, stream_fps, cpu_s);
    if (!o.out.empty()) std::printf("annotated video: %s\n", o.out.c_str());
    if (!o.tracks_out.empty()) std::printf("tracks: %s\n", o.tracks_out.c_str());
    if (!o.events_out.empty()) std::printf("events: %s\n", o.events_out.c_str());
  }
  if (!pipeline.error().empty()) fail("{}", pipeline.error());
}

void run_mot_eval(const std::string& gt_path, const std::string& pred_path, float iou, bool json) {
  const auto gt = vision::read_mot_file(gt_path, /*ground_truth=*/true);
  const auto pred = vision::read_mot_file(pred_path, /*ground_truth=*/false);
  const vision::MotMetrics m = vision::evaluate_mot(gt, pred, iou);
  if (json) {
    const nlohmann::json j = {{"MOTA", m.mota},
                              {"MOTP", m.motp},
                              {"IDF1", m.idf1},
                              {"IDP", m.idp},
                              {"IDR", m.idr},
                              {"HOTA", m.hota},
                              {"DetA", m.deta},
                              {"AssA", m.assa},
                              {"LocA", m.loca},
                              {"TP", m.tp},
                              {"FP", m.fp},
                              {"FN", m.fn},
                              {"IDSW", m.id_switches},
                              {"Frag", m.fragmentations},
                              {"MT", m.mostly_tracked},
                              {"PT", m.partly_tracked},
                              {"ML", m.mostly_lost},
                              {"IDTP", m.idtp},
                              {"IDFP", m.idfp},
                              {"IDFN", m.idfn},
                              {"frames", m.frames},
                              {"gt_boxes", m.gt_boxes},
                              {"pred_boxes", m.pred_boxes},
                              {"gt_ids", m.gt_ids},
                              {"pred_ids", m.pred_ids}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("frames %lld, gt %lld boxes / %lld ids, pred %lld boxes / %lld ids (IoU >= %.2f)\n",
              static_cast<long long>(m.frames), static_cast<long long>(m.gt_boxes),
              static_cast<long long>(m.gt_ids), static_cast<long long>(m.pred_boxes),
              static_cast<long long>(m.pred_ids), iou);
  std::printf("MOTA  %6.2f%%   MOTP %6.2f%%   TP %lld  FP %lld  FN %lld  IDSW %lld  Frag %lld\n",
              100 * m.mota, 100 * m.motp, static_cast<long long>(m.tp),
              static_cast<long long>(m.fp), static_cast<long long>(m.fn),
              static_cast<long long>(m.id_switches), static_cast<long long>(m.fragmentations));
  std::printf("IDF1  %6.2f%%   IDP  %6.2f%%   IDR  %6.2f%%   MT %lld  PT %lld  ML %lld\n",
              100 * m.idf1, 100 * m.idp, 100 * m.idr, static_cast<long long>(m.mostly_tracked),
              static_cast<long long>(m.partly_tracked), static_cast<long long>(m.mostly_lost));
  std::printf("HOTA  %6.2f%%   DetA %6.2f%%   AssA %6.2f%%   LocA %6.2f%%\n", 100 * m.hota,
              100 * m.deta, 100 * m.assa, 100 * m.loca);
}

}  // namespace

void register_vision(CLI::App& app) {
  {
    auto o = std::make_shared<DetectOptions>();
    auto* cmd = app.add_subcommand(
        "detect", "Detect, track and apply zone rules on a video file, stream, camera or folder");
    cmd->add_option("-s,--source", o->source,
                    "Video file, rtsp:// or http:// URL, /dev/videoN, or a folder of images");
    cmd->add_option("-c,--config", o->config, "YAML with source/detector/tracker/zones/rules");
    cmd->add_option("-o,--out", o->out, "Annotated video to write (.mp4, .mkv, .avi)");
    cmd->add_option("--codec", o->codec, "Annotated video codec: auto, mp4v, h264, mjpg");
    cmd->add_option("--tracks-out", o->tracks_out, "MOTChallenge tracks file to write");
    cmd->add_option("--events-out", o->events_out, "JSON-lines events file to write");
    cmd->add_option("--snapshots", o->snapshots, "Folder for a JPEG per event");
    cmd->add_option("--detector", o->detector, "hog or onnx (overrides the config)");
    cmd->add_option("--model", o->model, "ONNX YOLO model (implies --detector onnx)");
    cmd->add_option("-n,--max-frames", o->max_frames, "Stop after this many frames (0 = all)")
        ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    cmd->add_flag("--realtime", o->realtime, "Pace a file to its timestamps, like a camera");
    cmd->add_flag("--loop", o->loop, "Start a file or folder over at its end");
    cmd->add_flag("--no-motion", o->no_motion, "Detect on every whole frame (no motion gate)");
    cmd->add_flag("--json", o->json, "Print the statistics as JSON");
    cmd->callback([o] { run_detect(*o); });
  }
  {
    auto gt = std::make_shared<std::string>();
    auto pred = std::make_shared<std::string>();
    auto iou = std::make_shared<float>(0.5f);
    auto json = std::make_shared<bool>(false);
    auto* cmd =
        app.add_subcommand("mot-eval", "MOTA, IDF1 and HOTA of tracks against ground truth");
    cmd->add_option("--gt", *gt, "Ground truth, MOTChallenge format")->required();
    cmd->add_option("--pred", *pred, "Tracker output, MOTChallenge format")->required();
    cmd->add_option("--iou", *iou, "Match threshold for MOTA and IDF1")
        ->check(CLI::Range(0.01f, 1.0f));
    cmd->add_flag("--json", *json, "Print JSON");
    cmd->callback([=] { run_mot_eval(*gt, *pred, *iou, *json); });
  }
}

}  // namespace vigil::cli
