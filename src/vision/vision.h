// vigil/vision: perception — video sources, detectors, tracking, zones and rules -> events.
//
// Typical use (what `vigil detect` and the fusion pipeline do):
//
//   VisionConfig config = load_config("configs/vtest.yaml");   // or VisionConfig{} defaults
//   config.source.uri = "rtsp://camera/stream";
//   Pipeline pipeline(config, open_source(config.source), make_detector(config.detector));
//   pipeline.start();
//   while (auto event = pipeline.events().pop()) store(*event);   // vision::Event, event.h
//   PipelineStats stats = pipeline.stats();
//
// Threads: the pipeline runs its own decode and worker threads; events() and next_result() may
// be consumed from any thread. Errors are vigil::Error with one line naming what failed.
//
// Headers, public to the rest of Vigil:
//   event.h     Event, the record shared with fusion/server, and its JSON form
//   config.h    VisionConfig and its YAML loader
//   pipeline.h  Pipeline (executor), FrameResult, PipelineStats
//   source.h    open_source(): files, RTSP/HTTP, V4L2, image folders
//   detector.h  Detector interface, HOG people detector; yolo.h: ONNX YOLOv5/v8 detector
//   tracker.h   ByteTracker (and the naive IouTracker baseline)
//   rules.h     RuleEngine: intrusion, loitering, crowding, line crossing, object left behind
//   mot.h       MOTChallenge files and MOTA / IDF1 / HOTA evaluation
//   annotate.h  drawing for annotated output video
#pragma once

#include "vision/config.h"
#include "vision/detector.h"
#include "vision/event.h"
#include "vision/pipeline.h"
#include "vision/source.h"
