// MOTChallenge files and tracking metrics. A row is `frame,id,left,top,width,height,conf,x,y,z`
// (frames 1-based; trailing columns optional). Metrics follow the TrackEval definitions:
//   CLEAR:    MOTA = 1 - (FN + FP + IDSW) / GT, MOTP = mean IoU of matches (IoU >= 0.5),
//             with a bonus for keeping the previous frame's pairing before new matches are made;
//   Identity: IDF1 = 2 IDTP / (GT + PRED) over the best one-to-one gt id <-> predicted id map;
//   HOTA:     sqrt(DetA * AssA) averaged over IoU thresholds 0.05, 0.10, ... 0.95.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vision/geometry.h"

namespace vigil::vision {

struct MotRow {
  int64_t frame = 0;
  int64_t id = 0;
  Box box;
  float conf = 1;
};

// Parses MOTChallenge text. For ground truth (`ground_truth` true), rows whose conf column is 0
// ("do not consider" in MOT16/17) are dropped. Throws vigil::Error naming origin:line and the
// column on malformed rows.
std::vector<MotRow> parse_mot(std::string_view text, const std::string& origin, bool ground_truth);
std::vector<MotRow> read_mot_file(const std::string& path, bool ground_truth);

// One row "frame,id,left,top,width,height,conf,-1,-1,-1" (no newline).
std::string format_mot_row(const MotRow& row);

struct MotMetrics {
  int64_t frames = 0;
  int64_t gt_boxes = 0, pred_boxes = 0;
  int64_t gt_ids = 0, pred_ids = 0;
  // CLEAR
  int64_t tp = 0, fp = 0, fn = 0, id_switches = 0, fragmentations = 0;
  int64_t mostly_tracked = 0, partly_tracked = 0, mostly_lost = 0;
  double mota = 0, motp = 0;
  // Identity
  int64_t idtp = 0, idfp = 0, idfn = 0;
  double idf1 = 0, idp = 0, idr = 0;
  // HOTA (averaged over the 19 thresholds)
  double hota = 0, deta = 0, assa = 0, loca = 0;
};

// Evaluates `pred` against `gt`. `iou_threshold` is the CLEAR and Identity match threshold.
MotMetrics evaluate_mot(const std::vector<MotRow>& gt, const std::vector<MotRow>& pred,
                        float iou_threshold = 0.5f);

}  // namespace vigil::vision
