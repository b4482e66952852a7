// The run's human-readable record: one self-contained HTML file (no external files or scripts:
// snapshots are embedded as base64 JPEG) with the site, the run summary, the latency table and
// a timeline of events, each with its snapshot, severity, facts and the LLM's report, followed
// by the shift summaries.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fusion/latency.h"
#include "fusion/store.h"

namespace vigil::fusion {

struct HtmlReportInput {
  std::string site;
  std::string title;    // e.g. "vigil run — data/vtest.avi"
  std::string summary;  // preformatted run summary (frames, fps, events ...)
  std::vector<StoredEvent> events;
  std::vector<StoredReport> shift_reports;
  std::vector<StageLatency> latency;
  std::string video_file;  // annotated video, linked by file name ("" when none)
};

std::string html_escape(std::string_view text);
std::string base64_encode(std::string_view bytes);
std::string render_html_report(const HtmlReportInput& input);

}  // namespace vigil::fusion
