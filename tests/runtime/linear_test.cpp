// The matrix products of the forward pass (llm/runtime/linear.h): decode hands rows out in chunks
// to whichever thread is free, which must not change a single bit of the result.
#include "llm/runtime/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "llm/quant/blocks.h"
#include "llm/quant/reference.h"

namespace vigil {
namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  Tensor t;
};

// rows x cols of Q8_0, quantized from random values.
Matrix random_q8_0(const char* name, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Matrix m;
  m.t.name = name;
  m.t.type = GgmlType::Q8_0;
  m.t.cols = cols;
  m.t.rows = rows;
  m.bytes.resize(m.t.bytes());
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = dist(rng);
    quant::quantize_row_q8_0(
        row.data(), reinterpret_cast<quant::BlockQ8_0*>(m.bytes.data() + r * m.t.row_bytes()),
        cols);
  }
  m.t.data = m.bytes.data();
  return m;
}

TEST(Linear, DecodeGivesIdenticalResultsOnAnyThreadCount) {
  std::mt19937 rng(7);
  constexpr int64_t kCols = 4096;
  // 700 rows of 4352 bytes span 3 decode chunks (about 1 MiB each); 37 rows make one short one.
  Matrix a = random_q8_0("a", 700, kCols, rng), b = random_q8_0("b", 37, kCols, rng);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(kCols);
  for (float& v : x) v = dist(rng);

  std::vector<float> ya1, yb1;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<uint8_t> scratch;
    std::vector<float> ya(700, NAN), yb(37, NAN);
    const LinearOut outs[] = {{&a.t, ya.data()}, {&b.t, yb.data()}};
    linear_group(outs, x.data(), 1, pool, scratch, false);
    if (threads == 1) {
      ya1 = ya;
      yb1 = yb;
      // Against the f32 reference mode: the same products up to activation quantization (rows
      // are sums of 4096 unit-variance products, about 64 in size; a wrong row is off by that).
      std::vector<float> ya_exact(700), yb_exact(37);
      const LinearOut exact[] = {{&a.t, ya_exact.data()}, {&b.t, yb_exact.data()}};
      linear_group(exact, x.data(), 1, pool, scratch, true);
      for (size_t r = 0; r < ya.size(); ++r) ASSERT_NEAR(ya[r], ya_exact[r], 2.0) << "row " << r;
      for (size_t r = 0; r < yb.size(); ++r) ASSERT_NEAR(yb[r], yb_exact[r], 2.0) << "row " << r;
      continue;
    }
    for (size_t r = 0; r < ya.size(); ++r)
      ASSERT_EQ(ya[r], ya1[r]) << threads << " threads, row " << r;
    for (size_t r = 0; r < yb.size(); ++r)
      ASSERT_EQ(yb[r], yb1[r]) << threads << " threads, row " << r;
  }
}

}  // namespace
}  // namespace vigil
