#include "fusion/report_html.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/units.h"

namespace vigil::fusion {

namespace {

// The snapshot as a data: URI; "" when the file is missing or unreasonably large (> 4 MB).
std::string embed_jpeg(const std::string& path) {
  if (path.empty()) return "";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0 || size > (4u << 20)) return "";
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return "";
  return "data:image/jpeg;base64," + base64_encode(bytes.str());
}

const char* kStyle = R"css(
body{font-family:system-ui,sans-serif;margin:2em;background:#fafafa;color:#222}
h1{margin-bottom:0}.muted{color:#777}pre{background:#fff;border:1px solid #ddd;padding:1em}
table.lat{border-collapse:collapse}table.lat td,table.lat th{border:1px solid #ccc;padding:4px 10px;text-align:right}
.ev{display:flex;gap:1em;background:#fff;border:1px solid #ddd;border-left:6px solid #999;margin:1em 0;padding:1em}
.ev.critical{border-left-color:#c0392b}.ev.warning{border-left-color:#e67e22}.ev.info{border-left-color:#2980b9}
.ev img{width:320px;height:auto;border:1px solid #ccc}.report{font-size:1.1em;margin:.5em 0}
.facts{font-family:monospace;font-size:.85em;color:#555}.tag{font-size:.8em;padding:1px 6px;border-radius:3px;background:#eee}
)css";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string render_html_report(const HtmlReportInput& in) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" +
                  html_escape(in.title) + "</title><style>" + kStyle + "</style></head><body>\n";
  h +=
      "<h1>" + html_escape(in.site) + "</h1><p class=\"muted\">" + html_escape(in.title) + "</p>\n";
  if (!in.summary.empty()) h += "<pre>" + html_escape(in.summary) + "</pre>\n";
  if (!in.video_file.empty()) {
    h += "<p>Annotated video: <a href=\"" + html_escape(in.video_file) + "\">" +
         html_escape(in.video_file) + "</a></p>\n";
  }
  if (!in.latency.empty()) {
    h += "<h2>Latency</h2><table class=\"lat\"><tr><th>from the event to</th><th>events</th>"
         "<th>p50 ms</th><th>p95 ms</th><th>max ms</th></tr>\n";
    for (const auto& s : in.latency) {
      h += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</td></tr>\n",
          html_escape(s.stage), s.count, s.p50_ms, s.p95_ms, s.max_ms);
    }
    h += "</table>\n";
  }
  h += fmt::format("<h2>Timeline ({} events)</h2>\n", in.events.size());
  for (const StoredEvent& e : in.events) {
    const vision::Event& v = e.event;
    const std::string sev(severity_name(e.severity));
    h += "<div class=\"ev " + sev + "\">";
    const std::string img = embed_jpeg(v.snapshot_path);
    if (!img.empty()) {
      h += "<img alt=\"snapshot\" src=\"" + img + "\">";
    } else {
      h += "<div class=\"muted\" style=\"width:320px\">no snapshot</div>";
    }
    h += "<div><div><b>" + html_escape(format_local_time(v.start_unix, "%Y-%m-%d %H:%M:%S")) +
         "</b> <span class=\"tag\">" + html_escape(sev) + "</span> <span class=\"tag\">" +
         html_escape(std::string(vision::event_type_name(v.type))) + "</span> " +
         html_escape(v.rule) + " &middot; " + html_escape(v.zone) + "</div>";
    if (!e.report.empty()) {
      h += "<div class=\"report\">" + html_escape(e.report) + "</div>";
    } else {
      h += fmt::format("<div class=\"report muted\">(no report: {})</div>",
                       report_status_name(e.report_status));
    }
    std::string duration = v.end_s ? fmt::format("{:.1f} s", *v.end_s - v.start_s) : "ongoing";
    h += fmt::format(
        "<div class=\"facts\">{} &middot; class {} &middot; count {} &middot; "
        "tracks {} &middot; stream {:.1f} s &middot; {}{}</div>",
        html_escape(e.id), html_escape(v.object_class.empty() ? "-" : v.object_class), v.count,
        v.track_ids.size(), v.start_s, duration,
        v.direction.empty() ? "" : " &middot; " + html_escape(v.direction));
    h += "</div></div>\n";
  }
  if (!in.shift_reports.empty()) {
    h += "<h2>Shift summaries</h2>\n";
    for (const auto& r : in.shift_reports) {
      h += "<div class=\"ev info\"><div><b>" +
           html_escape(format_local_time(r.created_unix, "%Y-%m-%d %H:%M:%S")) +
           "</b><div class=\"report\">" + html_escape(r.text) + "</div></div></div>\n";
    }
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace vigil::fusion
