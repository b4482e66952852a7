#include "vision/mot.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

#include "base/error.h"
#include "base/file.h"
#include "vision/assignment.h"

namespace vigil::vision {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

double parse_number(std::string_view field, const std::string& origin, size_t line, int column) {
  field = trim(field);
  double value = 0;
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size() || !std::isfinite(value)) {
    fail("{}:{}: column {} \"{}\" is not a number", origin, line, column, printable(field, 24));
  }
  return value;
}

// Compact index for ids: id -> 0..n-1.
struct IdIndex {
  std::unordered_map<int64_t, int> index;
  int of(int64_t id) {
    auto [it, inserted] = index.emplace(id, static_cast<int>(index.size()));
    return it->second;
  }
  int size() const { return static_cast<int>(index.size()); }
};

struct FrameData {
  std::vector<int> gt_ids, pred_ids;  // compact ids
  std::vector<Box> gt_boxes, pred_boxes;
  std::vector<double> sim;  // gt x pred IoU
};

}  // namespace

std::vector<MotRow> parse_mot(std::string_view text, const std::string& origin, bool ground_truth) {
  std::vector<MotRow> rows;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> fields;
    for (size_t start = 0;;) {
      const size_t comma = line.find(',', start);
      fields.push_back(line.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (fields.size() < 6) {
      fail(
          "{}:{}: expected at least 6 comma-separated columns (frame,id,left,top,width,height), "
          "got {}",
          origin, line_no, fields.size());
    }
    MotRow row;
    const double frame = parse_number(fields[0], origin, line_no, 1);
    const double id = parse_number(fields[1], origin, line_no, 2);
    if (frame < 0 || frame != std::floor(frame) || frame > 1e12) {
      fail("{}:{}: frame {} must be a whole number >= 0", origin, line_no, frame);
    }
    if (id != std::floor(id) || std::fabs(id) > 1e15) {
      fail("{}:{}: id {} must be a whole number", origin, line_no, id);
    }
    row.frame = static_cast<int64_t>(frame);
    row.id = static_cast<int64_t>(id);
    row.box = {static_cast<float>(parse_number(fields[2], origin, line_no, 3)),
               static_cast<float>(parse_number(fields[3], origin, line_no, 4)),
               static_cast<float>(parse_number(fields[4], origin, line_no, 5)),
               static_cast<float>(parse_number(fields[5], origin, line_no, 6))};
    if (row.box.w < 0 || row.box.h < 0) {
      fail("{}:{}: negative box size {}x{}", origin, line_no, row.box.w, row.box.h);
    }
    if (fields.size() > 6)
      row.conf = static_cast<float>(parse_number(fields[6], origin, line_no, 7));
    if (ground_truth && fields.size() > 6 && row.conf == 0) continue;
    rows.push_back(row);
  }
  return rows;
}

std::vector<MotRow> read_mot_file(const std::string& path, bool ground_truth) {
  return parse_mot(read_file(path), path, ground_truth);
}

std::string format_mot_row(const MotRow& r) {
  return fmt::format("{},{},{:.2f},{:.2f},{:.2f},{:.2f},{:.3f},-1,-1,-1", r.frame, r.id, r.box.x,
                     r.box.y, r.box.w, r.box.h, r.conf);
}

MotMetrics evaluate_mot(const std::vector<MotRow>& gt, const std::vector<MotRow>& pred,
                        float iou_threshold) {
  constexpr double kEps = 1e-9;
  MotMetrics m;
  IdIndex gt_index, pred_index;
  std::map<int64_t, FrameData> frames;
  for (const MotRow& r : gt) {
    FrameData& f = frames[r.frame];
    f.gt_ids.push_back(gt_index.of(r.id));
    f.gt_boxes.push_back(r.box);
  }
  for (const MotRow& r : pred) {
    FrameData& f = frames[r.frame];
    f.pred_ids.push_back(pred_index.of(r.id));
    f.pred_boxes.push_back(r.box);
  }
  const int num_gt = gt_index.size(), num_pred = pred_index.size();
  m.frames = static_cast<int64_t>(frames.size());
  m.gt_boxes = static_cast<int64_t>(gt.size());
  m.pred_boxes = static_cast<int64_t>(pred.size());
  m.gt_ids = num_gt;
  m.pred_ids = num_pred;
  for (auto& [frame, f] : frames) {
    f.sim.resize(f.gt_ids.size() * f.pred_ids.size());
    for (size_t g = 0; g < f.gt_ids.size(); ++g) {
      for (size_t p = 0; p < f.pred_ids.size(); ++p) {
        f.sim[g * f.pred_ids.size() + p] = iou(f.gt_boxes[g], f.pred_boxes[p]);
      }
    }
  }
  // Row-major index into a matrix with `cols` columns.
  const auto cell = [](int cols, int r, int c) { return static_cast<size_t>(r) * cols + c; };

  // ---- CLEAR ----
  {
    std::vector<int> prev_any(num_gt, -1), prev_step(num_gt, -1);
    std::vector<int64_t> gt_count(num_gt, 0), gt_matched(num_gt, 0), frag(num_gt, 0);
    double iou_sum = 0;
    for (auto& [frame, f] : frames) {
      const int ng = static_cast<int>(f.gt_ids.size()), np = static_cast<int>(f.pred_ids.size());
      for (int g : f.gt_ids) ++gt_count[g];
      std::vector<int> cur_step(num_gt, -1);
      int matched = 0;
      if (ng > 0 && np > 0) {
        std::vector<double> cost(static_cast<size_t>(ng) * np);
        for (int g = 0; g < ng; ++g) {
          for (int p = 0; p < np; ++p) {
            const double s = f.sim[cell(np, g, p)];
            double score = 0;
            if (s >= iou_threshold - kEps) {
              score = s + (prev_step[f.gt_ids[g]] == f.pred_ids[p] ? 1000.0 : 0.0);
            }
            cost[cell(np, g, p)] = -score;
          }
        }
        const std::vector<int> row_to_col = min_cost_assignment(cost, ng, np);
        for (int g = 0; g < ng; ++g) {
          const int p = row_to_col[g];
          if (p < 0 || -cost[cell(np, g, p)] <= kEps) continue;
          const int gid = f.gt_ids[g], pid = f.pred_ids[p];
          ++matched;
          iou_sum += f.sim[cell(np, g, p)];
          if (prev_any[gid] >= 0 && prev_any[gid] != pid) ++m.id_switches;
          ++gt_matched[gid];
          if (prev_step[gid] < 0) ++frag[gid];
          prev_any[gid] = pid;
          cur_step[gid] = pid;
        }
      }
      prev_step = std::move(cur_step);
      m.tp += matched;
      m.fn += ng - matched;
      m.fp += np - matched;
    }
    for (int g = 0; g < num_gt; ++g) {
      if (gt_count[g] == 0) continue;
      const double ratio = static_cast<double>(gt_matched[g]) / gt_count[g];
      if (ratio > 0.8) {
        ++m.mostly_tracked;
      } else if (ratio < 0.2) {
        ++m.mostly_lost;
      } else {
        ++m.partly_tracked;
      }
      if (frag[g] > 1) m.fragmentations += frag[g] - 1;
    }
    m.mota = static_cast<double>(m.tp - m.fp - m.id_switches) / std::max<int64_t>(1, m.tp + m.fn);
    m.motp = iou_sum / std::max<int64_t>(1, m.tp);
  }

  // ---- Identity ----
  {
    std::vector<double> count(static_cast<size_t>(num_gt) * num_pred, 0.0);
    for (auto& [frame, f] : frames) {
      const int ng = static_cast<int>(f.gt_ids.size()), np = static_cast<int>(f.pred_ids.size());
      for (int g = 0; g < ng; ++g) {
        for (int p = 0; p < np; ++p) {
          if (f.sim[cell(np, g, p)] >= iou_threshold - kEps) {
            count[cell(num_pred, f.gt_ids[g], f.pred_ids[p])] += 1;
          }
        }
      }
    }
    if (num_gt > 0 && num_pred > 0) {
      std::vector<double> cost(count.size());
      for (size_t i = 0; i < count.size(); ++i) cost[i] = -count[i];
      const std::vector<int> row_to_col = min_cost_assignment(cost, num_gt, num_pred);
      for (int g = 0; g < num_gt; ++g) {
        if (row_to_col[g] >= 0) {
          m.idtp += static_cast<int64_t>(count[cell(num_pred, g, row_to_col[g])]);
        }
      }
    }
    m.idfn = m.gt_boxes - m.idtp;
    m.idfp = m.pred_boxes - m.idtp;
    m.idf1 = 2.0 * m.idtp / std::max<int64_t>(1, m.gt_boxes + m.pred_boxes);
    m.idp = static_cast<double>(m.idtp) / std::max<int64_t>(1, m.pred_boxes);
    m.idr = static_cast<double>(m.idtp) / std::max<int64_t>(1, m.gt_boxes);
  }

  // ---- HOTA ----
  {
    constexpr int kAlphas = 19;
    std::vector<double> potential(static_cast<size_t>(num_gt) * num_pred, 0.0);
    std::vector<double> gt_id_count(num_gt, 0.0), pred_id_count(num_pred, 0.0);
    for (auto& [frame, f] : frames) {
      const int ng = static_cast<int>(f.gt_ids.size()), np = static_cast<int>(f.pred_ids.size());
      std::vector<double> row_sum(ng, 0.0), col_sum(np, 0.0);
      for (int g = 0; g < ng; ++g) {
        for (int p = 0; p < np; ++p) {
          row_sum[g] += f.sim[cell(np, g, p)];
          col_sum[p] += f.sim[cell(np, g, p)];
        }
      }
      for (int g = 0; g < ng; ++g) {
        for (int p = 0; p < np; ++p) {
          const double s = f.sim[cell(np, g, p)];
          const double denom = row_sum[g] + col_sum[p] - s;
          if (denom > kEps) potential[cell(num_pred, f.gt_ids[g], f.pred_ids[p])] += s / denom;
        }
      }
      for (int g : f.gt_ids) gt_id_count[g] += 1;
      for (int p : f.pred_ids) pred_id_count[p] += 1;
    }
    std::vector<double> alignment(potential.size(), 0.0);
    for (int g = 0; g < num_gt; ++g) {
      for (int p = 0; p < num_pred; ++p) {
        const double pm = potential[cell(num_pred, g, p)];
        const double denom = gt_id_count[g] + pred_id_count[p] - pm;
        alignment[cell(num_pred, g, p)] = denom > kEps ? pm / denom : 0.0;
      }
    }
    std::vector<double> tp(kAlphas, 0), fn(kAlphas, 0), fp(kAlphas, 0), loc(kAlphas, 0);
    std::vector<std::vector<double>> matches(kAlphas, std::vector<double>(potential.size(), 0.0));
    for (auto& [frame, f] : frames) {
      const int ng = static_cast<int>(f.gt_ids.size()), np = static_cast<int>(f.pred_ids.size());
      if (ng == 0 || np == 0) {
        for (int a = 0; a < kAlphas; ++a) {
          fn[a] += ng;
          fp[a] += np;
        }
        continue;
      }
      std::vector<double> cost(static_cast<size_t>(ng) * np);
      for (int g = 0; g < ng; ++g) {
        for (int p = 0; p < np; ++p) {
          cost[cell(np, g, p)] =
              -alignment[cell(num_pred, f.gt_ids[g], f.pred_ids[p])] * f.sim[cell(np, g, p)];
        }
      }
      const std::vector<int> row_to_col = min_cost_assignment(cost, ng, np);
      for (int a = 0; a < kAlphas; ++a) {
        const double alpha = 0.05 * (a + 1);
        int matched = 0;
        for (int g = 0; g < ng; ++g) {
          const int p = row_to_col[g];
          if (p < 0) continue;
          const double s = f.sim[cell(np, g, p)];
          if (s < alpha - kEps || s <= 0) continue;
          ++matched;
          loc[a] += s;
          matches[a][cell(num_pred, f.gt_ids[g], f.pred_ids[p])] += 1;
        }
        tp[a] += matched;
        fn[a] += ng - matched;
        fp[a] += np - matched;
      }
    }
    for (int a = 0; a < kAlphas; ++a) {
      double ass_sum = 0;
      for (int g = 0; g < num_gt; ++g) {
        for (int p = 0; p < num_pred; ++p) {
          const double mc = matches[a][cell(num_pred, g, p)];
          if (mc <= 0) continue;
          ass_sum += mc * mc / (gt_id_count[g] + pred_id_count[p] - mc);
        }
      }
      const double ass_a = ass_sum / std::max(1.0, tp[a]);
      const double det_a = tp[a] / std::max(1.0, tp[a] + fn[a] + fp[a]);
      m.assa += ass_a / kAlphas;
      m.deta += det_a / kAlphas;
      m.hota += std::sqrt(det_a * ass_a) / kAlphas;
      m.loca += (tp[a] > 0 ? loc[a] / tp[a] : 1.0) / kAlphas;
    }
  }
  return m;
}

}  // namespace vigil::vision
