// CPU GEMM against naive oracles: gemm_reference, every float micro-kernel this CPU runs (portable,
// AVX2, AVX-512) on 1 and 2 threads, and the double path, over odd and edge shapes, all transpose
// combinations, general alpha/beta and padded leading dimensions; plus bit-identical results
// across thread counts and repeated calls.
//
// Tolerance, per element: |got - want| <= 4 * k * eps * (sum_p |alpha a_ip b_pj| + |beta c_ij|),
// with eps of the type under test (float or double) and `want` computed in long double. The bound
// is the classic worst case for accumulating k products; any indexing or packing mistake misses
// it by orders of magnitude.
#include "kernels/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/gemm_kernels.h"
#include "kernels/cpu/parallel.h"
#include "tests/kernels/cpu_isa_testing.h"

namespace graft::kernels::cpu {
namespace {

using gemm_detail::SgemmIsa;

struct Shape {
  int64_t m, n, k;
};

// Edge shapes around the 6 x 16 and 8 x 32 tiles, the 256-deep blocks, the 144- and 192-row and the
// 4080- and 4096-column blocks.
const Shape kShapes[] = {{1, 1, 1},    {7, 13, 5},   {17, 33, 129}, {255, 257, 300}, {1, 40, 37},
                         {45, 1, 19},  {6, 16, 256}, {12, 32, 513}, {8, 32, 256},    {9, 31, 257},
                         {15, 47, 2},  {150, 20, 7}, {200, 33, 9},  {3, 4100, 3},    {3, 5, 0},
                         {0, 4, 3}};

struct Scalars {
  double alpha, beta;
};
const Scalars kScalars[] = {{1.0, 0.0}, {1.0, 1.0}, {-0.5, 2.0}, {1.5, -0.25}, {0.0, 0.5}};

// One test case: operands stored with padded leading dimensions, C's starting values (NaN when
// beta == 0, to prove C is not read) and, when `with_oracle`, the exact result and the error bound
// of every element.
template <class T>
struct Case {
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> a, b, c;
  std::vector<long double> want, bound;
  std::string name;

  Case(bool ta, bool tb, Shape s, Scalars sc, int64_t pad, uint32_t seed, bool with_oracle = true)
      : trans_a(ta), trans_b(tb), m(s.m), n(s.n), k(s.k), alpha(T(sc.alpha)), beta(T(sc.beta)) {
    lda = (ta ? m : k) + pad;
    ldb = (tb ? k : n) + pad;
    ldc = n + pad;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    auto random_matrix = [&](int64_t rows, int64_t ld) {
      std::vector<T> v(static_cast<size_t>(std::max<int64_t>(rows * ld, 1)));
      for (T& x : v) x = T(dist(rng));
      return v;
    };
    a = random_matrix(ta ? k : m, lda);
    b = random_matrix(tb ? n : k, ldb);
    c = random_matrix(m, ldc);
    if (beta == T(0))
      for (int64_t i = 0; i < m; ++i)
        std::fill_n(c.begin() + i * ldc, n, std::numeric_limits<T>::quiet_NaN());

    name = std::string(ta ? "T" : "N") + (tb ? "T" : "N") + " m=" + std::to_string(m) +
           " n=" + std::to_string(n) + " k=" + std::to_string(k) +
           " alpha=" + std::to_string(sc.alpha) + " beta=" + std::to_string(sc.beta) +
           " pad=" + std::to_string(pad);
    if (!with_oracle) return;

    const long double tol = 4.0L * std::max<int64_t>(k, 1) * std::numeric_limits<T>::epsilon();
    want.resize(m * n);
    bound.resize(m * n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        long double sum = 0, magnitude = 0;
        for (int64_t p = 0; p < k; ++p) {
          const long double product = (long double)a_at(i, p) * b_at(p, j);
          sum += product;
          magnitude += std::abs(product);
        }
        const long double old_c = beta == T(0) ? 0 : (long double)beta * c[i * ldc + j];
        want[i * n + j] = alpha * sum + old_c;
        bound[i * n + j] =
            tol * (std::abs(alpha) * magnitude + std::abs(old_c)) + std::numeric_limits<T>::min();
      }
  }

  T a_at(int64_t i, int64_t p) const { return trans_a ? a[p * lda + i] : a[i * lda + p]; }
  T b_at(int64_t p, int64_t j) const { return trans_b ? b[j * ldb + p] : b[p * ldb + j]; }

  // Runs `gemm_fn` on a copy of C and checks every element and the untouched row padding.
  template <class GemmFn>
  void check(const std::string& variant, GemmFn gemm_fn) const {
    std::vector<T> got = c;
    gemm_fn(trans_a, trans_b, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc);
    int failures = 0;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const long double error = std::abs(got[i * ldc + j] - want[i * n + j]);
        if (!(error <= bound[i * n + j]) && failures++ < 3)
          ADD_FAILURE() << variant << ", " << name << ", C(" << i << ", " << j << "): got "
                        << got[i * ldc + j] << ", want " << (double)want[i * n + j];
      }
      for (int64_t j = n; j < ldc; ++j)
        if (!std::equal_to<>()(got[i * ldc + j], c[i * ldc + j]) && failures++ < 3)
          ADD_FAILURE() << variant << ", " << name << ": wrote the padding of row " << i;
    }
  }
};

// Every transpose combination x shape x alpha/beta, alternating tight and padded leading dims.
template <class T>
std::vector<Case<T>> all_cases() {
  std::vector<Case<T>> cases;
  uint32_t seed = 0;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true})
      for (const Shape& s : kShapes)
        for (const Scalars& sc : kScalars) {
          ++seed;
          cases.emplace_back(ta, tb, s, sc, seed % 2 == 0 ? 0 : 3, seed);
        }
  return cases;
}

// Restores the configured thread count when a test is done.
class GemmTest : public ::testing::Test {
 protected:
  void TearDown() override { set_num_threads(saved_threads_); }
  int saved_threads_ = num_threads();
};

TEST_F(GemmTest, FloatKernelsMatchExactProduct) {
  const std::vector<SgemmIsa> isas = testing::runnable_isas<float>();
  for (const Case<float>& c : all_cases<float>()) {
    c.check("gemm_reference", gemm_reference);
    for (const SgemmIsa isa : isas)
      for (const int threads : {1, 2}) {
        set_num_threads(threads);
        c.check(testing::isa_label(isa) + ", " + std::to_string(threads) + " threads",
                [isa](auto... args) { gemm_detail::sgemm(isa, args...); });
      }
  }
}

TEST_F(GemmTest, DoubleMatchesExactProduct) {
  for (const Case<double>& c : all_cases<double>())
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      c.check(std::to_string(threads) + " threads", [](auto... args) { gemm(args...); });
    }
}

// The same call on 1, 2 and 3 threads, and repeated, gives the same bits with each kernel: every C
// element is computed by the same sequence of operations whichever thread owns its tile.
template <class T>
void expect_bit_identical_across_threads() {
  for (const SgemmIsa isa : testing::runnable_isas<T>()) {
    const testing::ActiveIsa active(isa);
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const Shape s : {Shape{255, 257, 300}, Shape{97, 1000, 513}, Shape{1000, 31, 64}}) {
          const Case<T> c(ta, tb, s, {0.75, -1.5}, 1, 7, /*with_oracle=*/false);
          auto run = [&](int threads) {
            set_num_threads(threads);
            std::vector<T> out = c.c;
            gemm(ta, tb, s.m, s.n, s.k, c.alpha, c.a.data(), c.lda, c.b.data(), c.ldb, c.beta,
                 out.data(), c.ldc);
            return out;
          };
          const std::string label = testing::isa_label(isa) + ", " + c.name;
          const std::vector<T> one = run(1);
          EXPECT_EQ(one, run(2)) << label;
          EXPECT_EQ(one, run(2)) << "repeated call, " << label;
          EXPECT_EQ(one, run(3)) << label;
        }
  }
}

TEST_F(GemmTest, FloatIsBitIdenticalAcrossThreadCounts) {
  expect_bit_identical_across_threads<float>();
}

TEST_F(GemmTest, DoubleIsBitIdenticalAcrossThreadCounts) {
  expect_bit_identical_across_threads<double>();
}

TEST_F(GemmTest, KernelNamesParseAndUnknownOnesListTheChoices) {
  for (const SgemmIsa isa : {SgemmIsa::portable, SgemmIsa::avx2, SgemmIsa::avx512}) {
    const char* name = gemm_detail::sgemm_isa_name(isa);
    if (gemm_detail::supported(isa)) {
      EXPECT_EQ(gemm_detail::parse_sgemm_isa(name), isa) << name;
      continue;
    }
    try {
      gemm_detail::parse_sgemm_isa(name);
      ADD_FAILURE() << name << " parsed on a CPU that cannot run it";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("this CPU cannot run the " + std::string(name)), std::string::npos)
          << e.what();
    }
  }
  try {
    gemm_detail::parse_sgemm_isa("AVX512");
    ADD_FAILURE() << "AVX512 (upper case) parsed";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("GRAFT_CPU_ISA='AVX512': unknown GEMM kernel; use portable, avx2 or avx512"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(GemmTest, TheActiveKernelIsTheOneGemmReports) {
  const std::string fastest = gemm_detail::sgemm_isa_name(gemm_detail::best_sgemm_isa());
  for (const SgemmIsa isa : testing::runnable_isas<float>()) {
    const testing::ActiveIsa active(isa);
    EXPECT_STREQ(sgemm_isa(), gemm_detail::sgemm_isa_name(isa));
  }
  if (std::getenv("GRAFT_CPU_ISA") == nullptr) {
    EXPECT_EQ(sgemm_isa(), fastest);
  }
}

}  // namespace
}  // namespace graft::kernels::cpu
