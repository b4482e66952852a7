#include "vision/assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vigil::vision {

namespace {

// Shortest augmenting path Hungarian for n <= m (1-based potentials; column 0 is the virtual
// start). O(n^2 m). Returns the column for each row.
std::vector<int> hungarian_rows_le_cols(const std::vector<double>& a, int n, int m) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);
  std::vector<double> minv(m + 1);
  std::vector<char> used(m + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = p[j0];
      double delta = kInf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double cur = a[static_cast<size_t>(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> row_to_col(n, -1);
  for (int j = 1; j <= m; ++j) {
    if (p[j] != 0) row_to_col[p[j] - 1] = j - 1;
  }
  return row_to_col;
}

}  // namespace

std::vector<int> min_cost_assignment(const std::vector<double>& cost, int rows, int cols) {
  if (rows <= 0 || cols <= 0) return std::vector<int>(rows > 0 ? rows : 0, -1);
  if (rows <= cols) return hungarian_rows_le_cols(cost, rows, cols);
  std::vector<double> t(cost.size());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c)
      t[static_cast<size_t>(c) * rows + r] = cost[static_cast<size_t>(r) * cols + c];
  }
  const std::vector<int> col_to_row = hungarian_rows_le_cols(t, cols, rows);
  std::vector<int> row_to_col(rows, -1);
  for (int c = 0; c < cols; ++c) {
    if (col_to_row[c] >= 0) row_to_col[col_to_row[c]] = c;
  }
  return row_to_col;
}

Assignment solve_assignment(const std::vector<double>& cost, int rows, int cols,
                            double cost_limit) {
  Assignment result;
  if (rows == 0 || cols == 0) {
    for (int r = 0; r < rows; ++r) result.unmatched_rows.push_back(r);
    for (int c = 0; c < cols; ++c) result.unmatched_cols.push_back(c);
    return result;
  }
  // Extended square matrix: real rows x real cols = cost; real rows x dummy cols and dummy rows
  // x real cols = cost_limit / 2 (staying unmatched); dummy x dummy = 0. Costs above the limit
  // are clamped just above it: such a pair can never beat leaving both sides unmatched.
  const int n = rows + cols;
  const double above = cost_limit + 1.0;
  std::vector<double> ext(static_cast<size_t>(n) * n, cost_limit / 2);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const double v = cost[static_cast<size_t>(r) * cols + c];
      ext[static_cast<size_t>(r) * n + c] = (v > cost_limit || std::isnan(v)) ? above : v;
    }
  }
  for (int r = rows; r < n; ++r) {
    for (int c = cols; c < n; ++c) ext[static_cast<size_t>(r) * n + c] = 0;
  }
  const std::vector<int> row_to_col = hungarian_rows_le_cols(ext, n, n);
  std::vector<char> col_used(cols, 0);
  for (int r = 0; r < rows; ++r) {
    const int c = row_to_col[r];
    if (c >= 0 && c < cols && cost[static_cast<size_t>(r) * cols + c] <= cost_limit) {
      result.matches.emplace_back(r, c);
      col_used[c] = 1;
    } else {
      result.unmatched_rows.push_back(r);
    }
  }
  for (int c = 0; c < cols; ++c) {
    if (!col_used[c]) result.unmatched_cols.push_back(c);
  }
  return result;
}

}  // namespace vigil::vision
