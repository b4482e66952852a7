// Drawing for the annotated output video: zones (translucent) and lines with their crossing
// counts, track boxes coloured by id with "#id class score", lost tracks dashed, the motion
// regions the detector looked at, and a status line (frame, time, tracks, zone occupancy).
#pragma once

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "vision/pipeline.h"

namespace vigil::vision {

// Draws onto `canvas` (the result's frame image, or a copy of it).
void annotate(cv::Mat& canvas, const FrameResult& result,
              const std::vector<std::string>& class_names, bool show_regions = true);

}  // namespace vigil::vision
