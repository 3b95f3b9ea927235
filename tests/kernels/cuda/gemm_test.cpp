// The CUDA GEMMs (hand-written FP32, TF32 and batched; cuBLAS FP32, TF32 and batched) against the
// CPU oracle kernels::cpu::gemm_reference (double accumulation), over odd and edge shapes around
// the 64/128-row and 128-column block tiles and the 8/32-deep slices, all four transpositions,
// padded, tight and misaligned layouts (leading dimension + 1 and a pointer 4 bytes past 16-byte
// alignment: the scalar paths), alpha/beta other than 1/0, and beta == 0 over a NaN-filled C.
// The padding of A and B is NaN, so a kernel that reads outside a matrix poisons its result; the
// padding of C must come back untouched.
//
// Tolerance, per element: |got - want| <= tol * (|alpha| sum_p |a_ip b_pj| + |beta c_ij|), with
// tol = 4 * max(k, 1) * eps(float) for FP32 (the classic bound for accumulating k products) and
// 2^-8 more for TF32 (each product of two operands rounded to a 10-bit mantissa is within about
// 2^-10 of the exact one). An indexing mistake misses these bounds by orders of magnitude.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/gemm.h"
#include "tests/support/gpu.h"

namespace graft::kernels {
namespace {

using graft::testing::DeviceBuffer;

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                        const float*, int64_t, float, float*, int64_t, Stream);
using BatchedFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                           int64_t, const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                           int64_t, Stream);

constexpr double kFloatEps = std::numeric_limits<float>::epsilon();
constexpr double kTf32Extra = 1.0 / 256;  // 2^-8
const float kNaN = std::numeric_limits<float>::quiet_NaN();

double tolerance(int64_t k, bool tf32) { return 4.0 * std::max<int64_t>(k, 1) * kFloatEps + (tf32 ? kTf32Extra : 0.0); }

struct Shape {
  int64_t m, n, k;
};
struct Scalars {
  float alpha, beta;
};

// How a case stores its matrices: tight (ld = row length), padded (ld rounded up to a multiple of
// 4, plus 4: the float4 and cp.async paths), or misaligned (ld = row length + 1 and every matrix
// starting one float into its buffer: the scalar paths).
enum class Layout { tight, padded, misaligned };

int64_t leading_dimension(int64_t row_length, Layout layout) {
  switch (layout) {
    case Layout::tight: return row_length;
    case Layout::padded: return (row_length + 3) / 4 * 4 + 4;
    case Layout::misaligned: return row_length + 1;
  }
  return row_length;
}

// A row-major rows x cols matrix with leading dimension ld stored `offset` floats into a buffer;
// what is outside the matrix holds `fill`.
struct Stored {
  int64_t rows = 0, cols = 0, ld = 0, offset = 0;
  std::vector<float> data;

  Stored() = default;
  Stored(int64_t rows_, int64_t cols_, int64_t ld_, int64_t offset_, float fill)
      : rows(rows_), cols(cols_), ld(ld_), offset(offset_),
        data(static_cast<size_t>(std::max<int64_t>(offset_ + rows_ * ld_, 1)), fill) {}
  float& at(int64_t r, int64_t c) { return data[offset + r * ld + c]; }
  float at(int64_t r, int64_t c) const { return data[offset + r * ld + c]; }
  const float* matrix() const { return data.data() + offset; }
  float* matrix() { return data.data() + offset; }
};

void fill_random(Stored& s, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t c = 0; c < s.cols; ++c) s.at(r, c) = dist(rng);
}

// One product with its inputs, the oracle's result and the error bound of every element.
struct Case {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1, beta = 0;
  Stored a, b, c;
  std::vector<float> want;    // m x n, dense
  std::vector<double> scale;  // m x n: |alpha| sum_p |a_ip b_pj| + |beta c_ij|
  std::string name;

  Case(bool ta, bool tb, Shape s, Scalars sc, Layout layout, uint32_t seed)
      : trans_a(ta), trans_b(tb), m(s.m), n(s.n), k(s.k), alpha(sc.alpha), beta(sc.beta) {
    const int64_t offset = layout == Layout::misaligned ? 1 : 0;
    const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    a = Stored(a_rows, a_cols, leading_dimension(a_cols, layout), offset, kNaN);
    b = Stored(b_rows, b_cols, leading_dimension(b_cols, layout), offset, kNaN);
    c = Stored(m, n, leading_dimension(n, layout), offset, 0.0f);
    std::mt19937 rng(seed);
    fill_random(a, rng);
    fill_random(b, rng);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& x : c.data) x = dist(rng);  // padding included: it must come back unchanged
    if (beta == 0.0f)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c.at(i, j) = kNaN;
    name = std::string(ta ? "T" : "N") + (tb ? "T" : "N") + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
           " k=" + std::to_string(k) + " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta) +
           " lda=" + std::to_string(a.ld) + " ldb=" + std::to_string(b.ld) + " ldc=" + std::to_string(c.ld) +
           (offset ? " misaligned" : "");

    solve();
  }

  // Fills `want` with the oracle's result and `scale` with the same product over absolute values.
  void solve() {
    Stored result = c;
    cpu::gemm_reference(trans_a, trans_b, m, n, k, alpha, a.matrix(), a.ld, b.matrix(), b.ld, beta, result.matrix(),
                        result.ld);
    Stored abs_a = a, abs_b = b, abs_c = c;
    for (auto* s : {&abs_a, &abs_b, &abs_c})
      for (float& x : s->data) x = std::abs(x);
    if (beta == 0.0f)
      for (float& x : abs_c.data) x = 0.0f;
    cpu::gemm_reference(trans_a, trans_b, m, n, k, std::abs(alpha), abs_a.matrix(), abs_a.ld, abs_b.matrix(), abs_b.ld,
                        std::abs(beta), abs_c.matrix(), abs_c.ld);
    want.clear();
    scale.clear();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        want.push_back(result.at(i, j));
        scale.push_back(abs_c.at(i, j));
      }
  }

  // Runs `fn` on the GPU (default stream) and checks every element and C's untouched padding.
  void check(const char* variant, GemmFn fn, bool tf32) const {
    const DeviceBuffer<float> da(a.data), db(b.data);
    DeviceBuffer<float> dc(c.data);
    fn(trans_a, trans_b, m, n, k, alpha, da.get() + a.offset, a.ld, db.get() + b.offset, b.ld, beta,
       dc.get() + c.offset, c.ld, nullptr);
    compare(variant, dc.download(), tolerance(k, tf32));
  }

  void compare(const std::string& variant, const std::vector<float>& got_data, double tol) const {
    Stored got = c;
    got.data = got_data;
    int failures = 0;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const double error = std::abs(double(got.at(i, j)) - double(want[i * n + j]));
        const double bound = tol * scale[i * n + j] + std::numeric_limits<float>::min();
        if (!(error <= bound) && failures++ < 3)
          ADD_FAILURE() << variant << ", " << name << ", C(" << i << ", " << j << "): got " << got.at(i, j)
                        << ", want " << want[i * n + j] << " (bound " << bound << ")";
      }
    // Everything outside the m x n matrix: bit for bit what was uploaded.
    for (int64_t e = 0; e < static_cast<int64_t>(c.data.size()); ++e) {
      const int64_t inside = e - c.offset;
      const bool in_matrix = c.ld > 0 && inside >= 0 && inside / c.ld < m && inside % c.ld < n;
      if (!in_matrix && std::memcmp(&got.data[e], &c.data[e], sizeof(float)) != 0 && failures++ < 3)
        ADD_FAILURE() << variant << ", " << name << ": wrote element " << e << " of C's buffer, outside the matrix";
    }
  }
};

// Sizes in {0, 1, 7, 33, 127, 129, 255} around the tiles, plus exact tiles and the 64-row blocks.
const Shape kOddShapes[] = {{1, 1, 1},       {7, 33, 1},      {33, 7, 127},   {127, 129, 33},  {129, 127, 255},
                            {255, 1, 129},   {1, 255, 7},     {129, 129, 129}, {255, 255, 255}, {64, 200, 70},
                            {128, 128, 8},   {64, 128, 32},   {200, 300, 17},  {33, 255, 0},    {0, 7, 33},
                            {7, 0, 33}};
const Scalars kScalars[] = {{1.0f, 0.0f}, {1.5f, -0.5f}, {-0.75f, 1.0f}, {0.5f, 0.0f}};
const Layout kLayouts[] = {Layout::tight, Layout::padded, Layout::misaligned};

// Every odd shape in every transposition; layouts and scalars rotate so that each shape meets
// several of both.
const std::vector<Case>& odd_cases() {
  static const std::vector<Case> cases = [] {
    std::vector<Case> all;
    uint32_t seed = 1;
    int index = 0;
    for (const Shape& s : kOddShapes)
      for (int t = 0; t < 4; ++t, ++index)
        all.emplace_back(t & 1, t & 2, s, kScalars[index % 4], kLayouts[(index + index / 4) % 3], seed++);
    return all;
  }();
  return cases;
}

TEST(CudaGemm, OwnFp32MatchesReferenceOnOddShapes) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : odd_cases()) c.check("cuda::gemm", cuda::gemm, false);
}

TEST(CudaGemm, OwnTf32MatchesReferenceOnOddShapes) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : odd_cases()) c.check("cuda::gemm_tf32", cuda::gemm_tf32, true);
}

TEST(CudaGemm, VendorFp32MatchesReferenceOnOddShapes) {
  GRAFT_REQUIRE_GPU();
  // The FP32 bound also proves cuBLAS did not round to TF32 behind our back.
  for (const Case& c : odd_cases()) c.check("vendor::gemm", vendor::gemm, false);
}

TEST(CudaGemm, VendorTf32MatchesReferenceOnOddShapes) {
  GRAFT_REQUIRE_GPU();
  for (const Case& c : odd_cases()) c.check("vendor::gemm_tf32", vendor::gemm_tf32, true);
}

// TF32 keeps 10 mantissa bits and rounds to nearest with ties away from zero (cvt.rna): 1 + 2^-12
// becomes 1, and 1 + 2^-11 (a tie) becomes 1 + 2^-10, where truncation or ties-to-even would give 1.
TEST(CudaGemm, OwnTf32RoundsInputsToNearestTiesAway) {
  GRAFT_REQUIRE_GPU();
  const std::vector<float> a = {1.0f + std::ldexp(1.0f, -12), 1.0f + std::ldexp(1.0f, -11)};  // 2 x 1
  const std::vector<float> b = {1.0f};                                                          // 1 x 1
  const DeviceBuffer<float> da(a), db(b);
  DeviceBuffer<float> dc(std::vector<float>(2, kNaN));
  cuda::gemm_tf32(false, false, 2, 1, 1, 1.0f, da.get(), 1, db.get(), 1, 0.0f, dc.get(), 1, nullptr);
  EXPECT_EQ(dc.download(), (std::vector<float>{1.0f, 1.0f + std::ldexp(1.0f, -10)}));
  cuda::gemm(false, false, 2, 1, 1, 1.0f, da.get(), 1, db.get(), 1, 0.0f, dc.get(), 1, nullptr);
  EXPECT_EQ(dc.download(), a) << "the FP32 kernel must not round";
}

// A batch of products; stride 0 shares one A or one B across the batch.
struct BatchedCase {
  bool trans_a, trans_b;
  Shape shape;
  Scalars scalars;
  Layout layout;
  int64_t batch;
  bool share_a, share_b;
};

void check_batched(const char* variant, BatchedFn fn, const BatchedCase& bc, uint32_t seed) {
  // One Case per batch entry supplies the layouts, the oracle and the bounds; the entries are then
  // packed into one buffer per operand at the batch strides (a shared operand is entry 0's).
  std::vector<Case> entries;
  for (int64_t e = 0; e < bc.batch; ++e)
    entries.emplace_back(bc.trans_a, bc.trans_b, bc.shape, bc.scalars, bc.layout, seed + uint32_t(e));
  for (Case& entry : entries) {
    if (bc.share_a) entry.a = entries[0].a;
    if (bc.share_b) entry.b = entries[0].b;
    if (bc.share_a || bc.share_b) entry.solve();
  }
  const Case& first = entries[0];
  // Each entry's whole buffer (offset, matrix, padding) is one stride; the misaligned layout adds
  // one float so that the strides are odd too.
  const int64_t extra = bc.layout == Layout::misaligned ? 1 : 0;
  const int64_t stride_a = bc.share_a ? 0 : int64_t(first.a.data.size()) + extra;
  const int64_t stride_b = bc.share_b ? 0 : int64_t(first.b.data.size()) + extra;
  const int64_t stride_c = int64_t(first.c.data.size()) + extra;
  auto pack = [&](auto member, int64_t stride) {
    const int64_t count = stride == 0 ? 1 : bc.batch;
    std::vector<float> packed(std::max<int64_t>((count - 1) * stride + int64_t((entries[0].*member).data.size()), 1), kNaN);
    for (int64_t e = 0; e < count; ++e) {
      const auto& data = (entries[e].*member).data;
      std::copy(data.begin(), data.end(), packed.begin() + e * stride);
    }
    return packed;
  };
  const DeviceBuffer<float> da(pack(&Case::a, stride_a)), db(pack(&Case::b, stride_b));
  DeviceBuffer<float> dc(pack(&Case::c, stride_c));
  fn(bc.trans_a, bc.trans_b, first.m, first.n, first.k, first.alpha, da.get() + first.a.offset, first.a.ld, stride_a,
     db.get() + first.b.offset, first.b.ld, stride_b, first.beta, dc.get() + first.c.offset, first.c.ld, stride_c,
     bc.batch, nullptr);
  const std::vector<float> got = dc.download();
  for (int64_t e = 0; e < bc.batch; ++e) {
    const auto begin = got.begin() + e * stride_c;
    entries[e].compare(std::string(variant) + " entry " + std::to_string(e),
                       std::vector<float>(begin, begin + int64_t(first.c.data.size())), tolerance(first.k, false));
  }
}

const BatchedCase kBatchedCases[] = {
    {false, false, {33, 129, 7}, {1.0f, 0.0f}, Layout::padded, 3, false, false},
    {true, false, {129, 7, 33}, {1.5f, -0.5f}, Layout::misaligned, 4, false, false},
    {false, true, {64, 127, 255}, {-0.75f, 1.0f}, Layout::tight, 2, true, false},   // shared A
    {true, true, {127, 33, 129}, {0.5f, 0.0f}, Layout::padded, 3, false, true},     // shared B
    {false, false, {255, 1, 1}, {1.0f, 2.0f}, Layout::misaligned, 5, false, true},  // shared B
    {false, false, {7, 7, 0}, {1.0f, 0.5f}, Layout::tight, 2, false, false},        // k == 0
};

TEST(CudaGemm, OwnBatchedMatchesReference) {
  GRAFT_REQUIRE_GPU();
  uint32_t seed = 100;
  for (const BatchedCase& bc : kBatchedCases) check_batched("cuda::gemm_batched", cuda::gemm_batched, bc, seed += 10);
}

TEST(CudaGemm, VendorBatchedMatchesReference) {
  GRAFT_REQUIRE_GPU();
  uint32_t seed = 100;
  for (const BatchedCase& bc : kBatchedCases) check_batched("vendor::gemm_batched", vendor::gemm_batched, bc, seed += 10);
}

// gridDim.z is at most 65535: a longer batch goes to several launches.
TEST(CudaGemm, BatchedSplitsBatchesBeyondTheGridLimit) {
  GRAFT_REQUIRE_GPU();
  const int64_t batch = 70000, m = 2, n = 3, k = 2;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(batch * m * k), b(k * n), want(batch * m * n);
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);
  for (int64_t e = 0; e < batch; ++e)
    cpu::gemm_reference(false, false, m, n, k, 1.0f, a.data() + e * m * k, k, b.data(), n, 0.0f, want.data() + e * m * n, n);
  for (BatchedFn fn : {BatchedFn(cuda::gemm_batched), BatchedFn(vendor::gemm_batched)}) {
    const DeviceBuffer<float> da(a), db(b);
    DeviceBuffer<float> dc(std::vector<float>(want.size(), kNaN));
    fn(false, false, m, n, k, 1.0f, da.get(), k, m * k, db.get(), n, 0, 0.0f, dc.get(), n, m * n, batch, nullptr);
    const std::vector<float> got = dc.download();
    int failures = 0;
    for (size_t i = 0; i < got.size(); ++i)
      if (!(std::abs(got[i] - want[i]) <= 1e-6f) && failures++ < 3)
        ADD_FAILURE() << (fn == BatchedFn(cuda::gemm_batched) ? "cuda" : "vendor") << ": element " << i << " (entry "
                      << i / (m * n) << "): got " << got[i] << ", want " << want[i];
  }
}

// Empty products launch nothing and accept null pointers; k == 0 or alpha == 0 give C = beta * C
// without reading A and B (here null, or full of NaN).
TEST(CudaGemm, EmptyProductsAndZeroAlphaOnlyScaleC) {
  GRAFT_REQUIRE_GPU();
  const GemmFn plain[] = {cuda::gemm, cuda::gemm_tf32, vendor::gemm, vendor::gemm_tf32};
  for (GemmFn fn : plain) {
    fn(false, false, 0, 5, 3, 1.0f, nullptr, 3, nullptr, 5, 0.0f, nullptr, 5, nullptr);
    fn(true, true, 4, 0, 3, 1.0f, nullptr, 4, nullptr, 3, 0.0f, nullptr, 1, nullptr);
  }
  for (BatchedFn fn : {BatchedFn(cuda::gemm_batched), BatchedFn(vendor::gemm_batched)})
    fn(false, false, 3, 3, 3, 1.0f, nullptr, 3, 9, nullptr, 3, 9, 0.0f, nullptr, 3, 9, 0, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);

  const int64_t m = 5, n = 6, k = 4;
  const std::vector<float> c(m * n, 2.0f), nan_c(m * n, kNaN), nan_ab(m * k + k * n, kNaN);
  const DeviceBuffer<float> poisoned(nan_ab);
  for (GemmFn fn : plain) {
    DeviceBuffer<float> dc(c);
    fn(false, false, m, n, 0, 1.0f, nullptr, 1, nullptr, n, 0.5f, dc.get(), n, nullptr);  // k == 0
    EXPECT_EQ(dc.download(), std::vector<float>(m * n, 1.0f));
    fn(false, false, m, n, k, 0.0f, poisoned.get(), k, poisoned.get() + m * k, n, -1.0f, dc.get(), n, nullptr);
    EXPECT_EQ(dc.download(), std::vector<float>(m * n, -1.0f));
    DeviceBuffer<float> dnan(nan_c);
    fn(false, false, m, n, k, 0.0f, poisoned.get(), k, poisoned.get() + m * k, n, 0.0f, dnan.get(), n, nullptr);
    EXPECT_EQ(dnan.download(), std::vector<float>(m * n, 0.0f));
  }
}

// Runs `fn` on a device copy of `a`, `b` and returns C (m x n, ld n).
std::vector<float> run_on_gpu(GemmFn fn, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                              const DeviceBuffer<float>& a, const DeviceBuffer<float>& b, float beta,
                              const std::vector<float>& c, cudaStream_t stream = nullptr) {
  DeviceBuffer<float> dc(c);
  // A pageable cudaMemcpy may return before its DMA lands; a non-blocking stream does not wait for it.
  if (stream != nullptr) {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  fn(ta, tb, m, n, k, alpha, a.get(), ta ? m : k, b.get(), tb ? k : n, beta, dc.get(), n, stream);
  if (stream != nullptr) {
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  return dc.download();
}

// Large products: the hand-written kernels against cuBLAS element by element (bound from cuBLAS's
// product of absolute values), and against the double-precision oracle on the first and last rows
// and columns and 1000 random elements.
TEST(CudaGemm, LargeProductsMatchVendorAndSampledReference) {
  GRAFT_REQUIRE_GPU();
  struct Large {
    bool ta, tb;
    Shape shape;
  };
  for (const Large& l : {Large{false, false, {1024, 1024, 1024}}, Large{true, false, {4096, 64, 3000}},
                         Large{false, true, {333, 1000, 517}}}) {
    const int64_t m = l.shape.m, n = l.shape.n, k = l.shape.k;
    std::mt19937 rng(uint32_t(m + n + k));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(m * k), b(k * n), c(m * n);
    for (auto* v : {&a, &b, &c})
      for (float& x : *v) x = dist(rng);
    std::vector<float> abs_a = a, abs_b = b, abs_c = c;
    for (auto* v : {&abs_a, &abs_b, &abs_c})
      for (float& x : *v) x = std::abs(x);
    const float alpha = 0.75f, beta = -0.5f;
    const DeviceBuffer<float> da(a), db(b), dabs_a(abs_a), dabs_b(abs_b);
    const std::vector<float> scale =
        run_on_gpu(vendor::gemm, l.ta, l.tb, m, n, k, std::abs(alpha), dabs_a, dabs_b, std::abs(beta), abs_c);

    std::vector<std::pair<int64_t, int64_t>> samples;
    for (int64_t i = 0; i < m; ++i) samples.push_back({i, 0}), samples.push_back({i, n - 1});
    for (int64_t j = 0; j < n; ++j) samples.push_back({0, j}), samples.push_back({m - 1, j});
    std::uniform_int_distribution<int64_t> row(0, m - 1), col(0, n - 1);
    for (int s = 0; s < 1000; ++s) samples.push_back({row(rng), col(rng)});
    auto exact = [&](int64_t i, int64_t j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p)
        sum += double(l.ta ? a[p * m + i] : a[i * k + p]) * double(l.tb ? b[j * k + p] : b[p * n + j]);
      return double(alpha) * sum + double(beta) * c[i * n + j];
    };

    const std::string shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                              (l.ta ? " A^T" : "") + (l.tb ? " B^T" : "");
    for (bool tf32 : {false, true}) {
      const std::vector<float> own = run_on_gpu(tf32 ? cuda::gemm_tf32 : cuda::gemm, l.ta, l.tb, m, n, k, alpha, da, db, beta, c);
      const std::vector<float> theirs = run_on_gpu(tf32 ? vendor::gemm_tf32 : vendor::gemm, l.ta, l.tb, m, n, k, alpha, da, db, beta, c);
      const double tol = tolerance(k, tf32);
      int failures = 0;
      for (int64_t e = 0; e < m * n; ++e)
        if (!(std::abs(double(own[e]) - theirs[e]) <= 2 * tol * scale[e]) && failures++ < 3)
          ADD_FAILURE() << shape << (tf32 ? " TF32" : " FP32") << ": own and cuBLAS differ at (" << e / n << ", "
                        << e % n << "): " << own[e] << " vs " << theirs[e];
      for (auto [i, j] : samples)
        if (!(std::abs(own[i * n + j] - exact(i, j)) <= tol * scale[i * n + j]) && failures++ < 6)
          ADD_FAILURE() << shape << (tf32 ? " TF32" : " FP32") << ": C(" << i << ", " << j << ") = " << own[i * n + j]
                        << ", exact " << exact(i, j);
    }
  }
}

// Both implementations honour the stream they are given (work issued on a created stream, then
// synchronized on that stream alone).
TEST(CudaGemm, RunOnTheGivenStream) {
  GRAFT_REQUIRE_GPU();
  const int64_t m = 300, n = 200, k = 100;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(m * k), b(k * n), want(m * n);
  for (auto* v : {&a, &b})
    for (float& x : *v) x = dist(rng);
  cpu::gemm_reference(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, want.data(), n);
  const DeviceBuffer<float> da(a), db(b);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  for (GemmFn fn : {GemmFn(cuda::gemm), GemmFn(cuda::gemm_tf32), GemmFn(vendor::gemm), GemmFn(vendor::gemm_tf32)}) {
    const bool tf32 = fn == GemmFn(cuda::gemm_tf32) || fn == GemmFn(vendor::gemm_tf32);
    const std::vector<float> got = run_on_gpu(fn, false, false, m, n, k, 1.0f, da, db, 0.0f, std::vector<float>(m * n, kNaN), stream);
    for (int64_t e = 0; e < m * n; ++e)
      ASSERT_NEAR(got[e], want[e], tolerance(k, tf32) * k) << "element " << e << (tf32 ? " (TF32)" : "");
  }
  cudaStreamDestroy(stream);
}

// Bad arguments raise std::invalid_argument naming the function and the argument, before any CUDA
// call (so this runs without a GPU).
TEST(CudaGemm, RejectsInvalidArgumentsWithClearMessages) {
  auto expect_invalid = [](auto call, const std::string& needle) {
    try {
      call();
      ADD_FAILURE() << "no exception; expected one mentioning '" << needle << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  float x = 0;
  for (GemmFn fn : {GemmFn(cuda::gemm), GemmFn(cuda::gemm_tf32), GemmFn(vendor::gemm), GemmFn(vendor::gemm_tf32)}) {
    expect_invalid([&] { fn(false, false, -1, 2, 2, 1.0f, &x, 2, &x, 2, 0.0f, &x, 2, nullptr); }, "non-negative");
    expect_invalid([&] { fn(false, false, 2, 2, 5, 1.0f, &x, 4, &x, 2, 0.0f, &x, 2, nullptr); }, "lda = 4");
    expect_invalid([&] { fn(true, false, 3, 2, 5, 1.0f, &x, 2, &x, 2, 0.0f, &x, 2, nullptr); }, "trans_a");
    expect_invalid([&] { fn(false, true, 2, 2, 5, 1.0f, &x, 5, &x, 4, 0.0f, &x, 2, nullptr); }, "ldb = 4");
    expect_invalid([&] { fn(false, false, 2, 3, 2, 1.0f, &x, 2, &x, 3, 0.0f, &x, 2, nullptr); }, "ldc = 2");
    expect_invalid([&] { fn(false, false, 2, 2, 2, 1.0f, &x, 2, &x, 2, 0.0f, nullptr, 2, nullptr); }, "C is null");
    expect_invalid([&] { fn(false, false, 2, 2, 2, 1.0f, nullptr, 2, &x, 2, 0.0f, &x, 2, nullptr); }, "A is null");
  }
  for (BatchedFn fn : {BatchedFn(cuda::gemm_batched), BatchedFn(vendor::gemm_batched)}) {
    expect_invalid([&] { fn(false, false, 2, 2, 2, 1.0f, &x, 2, 4, &x, 2, 4, 0.0f, &x, 2, 4, -1, nullptr); }, "batch = -1");
    expect_invalid([&] { fn(false, false, 2, 2, 2, 1.0f, &x, 2, -4, &x, 2, 4, 0.0f, &x, 2, 4, 2, nullptr); }, "stride_a = -4");
    expect_invalid([&] { fn(false, false, 2, 2, 2, 1.0f, &x, 2, 4, &x, 2, 4, 0.0f, &x, 2, 3, 2, nullptr); }, "overlap");
  }
}

}  // namespace
}  // namespace graft::kernels
