// Linear assignment (the Hungarian method in its shortest-augmenting-path form, as in
// Jonker-Volgenant): which detection goes with which track, at minimum total cost.
#pragma once

#include <utility>
#include <vector>

namespace vigil::vision {

struct Assignment {
  std::vector<std::pair<int, int>> matches;  // (row, col), rows ascending
  std::vector<int> unmatched_rows;
  std::vector<int> unmatched_cols;
};

// Minimum-cost assignment of a rows x cols cost matrix (row-major). A row or column may also
// stay unmatched at cost `cost_limit` / 2 (so a pair is matched only when its cost is at most
// `cost_limit`, never above), which is what lapjv(extend_cost=True, cost_limit) does in ByteTrack.
// Costs must be finite; use any value above `cost_limit` for "never".
Assignment solve_assignment(const std::vector<double>& cost, int rows, int cols, double cost_limit);

// Plain rectangular minimum-cost assignment with every row matched when rows <= cols (every
// column when cols < rows). Returns, for each row, its column or -1.
std::vector<int> min_cost_assignment(const std::vector<double>& cost, int rows, int cols);

}  // namespace vigil::vision
