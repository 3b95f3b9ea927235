// ops::dropout: the mask is fixed by the generator's seed, the mean is preserved, kept values are
// scaled by 1 / (1 - p), eval mode and p = 0 are the identity, p = 1 gives zeros; numerical
// gradients with the mask fixed by re-seeding; forward and gradient against PyTorch given the
// same mask; argument errors.
#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "tests/support/compare.h"
#include "tests/support/gradcheck.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::Inputs;

TEST(DropoutOp, SameSeedGivesSameMask) {
  const Tensor x = Tensor::ones({8, 33});
  Generator a(7), b(7), c(8);
  const Tensor ya = ops::dropout(x, 0.5, true, a);
  EXPECT_TRUE(testing::all_close(ops::dropout(x, 0.5, true, b), ya, 0, 0, "same seed"));
  EXPECT_FALSE(testing::all_close(ops::dropout(x, 0.5, true, c), ya, 0, 0, "other seed"));
  // The generator advances: a second call draws a new mask.
  EXPECT_FALSE(testing::all_close(ops::dropout(x, 0.5, true, a), ya, 0, 0, "next draw"));
}

TEST(DropoutOp, MaskIsBernoulliOfKeepProbability) {
  // Element i is kept when the i-th draw is below 1 - p: the same sequence as bernoulli(1 - p).
  const double p = 0.3;
  Generator a(11), b(11);
  const Tensor y = ops::dropout(Tensor::ones({5, 9}, DType::f64), p, true, a);
  const Tensor keep = bernoulli({5, 9}, 1.0 - p, b, DType::f64);
  EXPECT_TRUE(testing::all_close(y, keep / (1.0 - p), 0, 0, "mask"));
}

TEST(DropoutOp, PreservesTheMeanAndDropsAboutP) {
  const int64_t n = 200000;
  const double p = 0.3;
  Generator gen(3);
  const std::vector<double> y = ops::dropout(Tensor::ones({n}, DType::f64), p, true, gen).to_vector<double>();
  double sum = 0;
  int64_t zeros = 0;
  for (double v : y) {
    sum += v;
    if (v == 0.0) {
      ++zeros;
    } else {
      EXPECT_DOUBLE_EQ(v, 1.0 / (1.0 - p));
    }
  }
  // Each element has mean 1 and variance p / (1 - p): the sample mean's standard deviation is
  // about 0.0015 here, and the dropped fraction's about 0.001. Both bounds are > 5 sigma.
  EXPECT_NEAR(sum / n, 1.0, 0.008);
  EXPECT_NEAR(static_cast<double>(zeros) / n, p, 0.006);
}

TEST(DropoutOp, EvalModeAndZeroProbabilityAreTheIdentity) {
  Generator gen(4);
  const Tensor x = randn({3, 4}, gen);
  const Generator::State before = gen.state();
  EXPECT_TRUE(ops::dropout(x, 0.5, false, gen).same_storage(x));
  EXPECT_TRUE(ops::dropout(x, 0.0, true, gen).same_storage(x));
  EXPECT_EQ(gen.state().s, before.s) << "the identity cases draw no random numbers";
}

TEST(DropoutOp, ProbabilityOneGivesZerosAndZeroGradient) {
  Generator gen(5);
  Tensor x = randn({4, 6}, gen).set_requires_grad(true);
  Tensor y = ops::dropout(x, 1.0, true, gen);
  EXPECT_TRUE(testing::all_close(y, Tensor::zeros({4, 6}), 0, 0, "output"));
  y.backward(Tensor::ones({4, 6}));
  EXPECT_TRUE(testing::all_close(x.grad(), Tensor::zeros({4, 6}), 0, 0, "dx"));
}

TEST(DropoutOp, GradientUsesTheForwardMask) {
  Generator gen(6);
  Tensor x = (rand({5, 7}, gen) + 1.0).detach().set_requires_grad(true);  // no zeros in x
  Tensor y = ops::dropout(x, 0.4, true, gen);
  y.backward(Tensor::ones({5, 7}));
  const std::vector<float> out = y.to_vector<float>(), grad = x.grad().to_vector<float>();
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_FLOAT_EQ(grad[i], out[i] == 0.0f ? 0.0f : 1.0f / 0.6f) << "element " << i;
  }
}

TEST(DropoutOp, GradientsMatchNumerical) {
  Generator gen;
  for (double p : {0.2, 0.5, 0.9}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    // Re-seeding before each call fixes the mask across gradcheck's evaluations.
    const auto dropout = [&](const std::vector<Tensor>& in) {
      gen.manual_seed(42);
      return ops::dropout(in[0], p, true, gen);
    };
    EXPECT_TRUE(testing::gradcheck(dropout, {testing::random_input({3, 5, 7}, 1)}));
  }
}

TEST(DropoutOp, MatchesTorchGivenTheSameMask) {
  GRAFT_REQUIRE_TORCH();
  // torch draws its own random numbers, so it gets graft's mask as an input and applies the
  // dropout formula to it.
  const Shape shape{6, 5, 9};
  Generator gen(50), mask_gen(51);
  const Tensor mask = bernoulli(shape, 0.75, mask_gen);
  testing::expect_matches_torch({{"x", randn(shape, gen).set_requires_grad(true)}, {"mask", mask}},
                                "x * mask / 0.75",
                                [](const Inputs& in) {
                                  Generator same(51);
                                  return ops::dropout(in.at("x"), 0.25, true, same);
                                },
                                {.atol = 1e-6, .rtol = 1e-6});
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "dropout", fragment);
}

TEST(DropoutOp, RejectsBadArguments) {
  const Tensor x = Tensor::ones({3});
  expect_error([&] { ops::dropout(x, -0.1, true); }, "[0, 1]");
  expect_error([&] { ops::dropout(x, 1.5, true); }, "[0, 1]");
  expect_error([&] { ops::dropout(x, std::numeric_limits<double>::quiet_NaN(), true); }, "[0, 1]");
  expect_error([&] { ops::dropout(x, 1.5, false); }, "[0, 1]");
  expect_error([&] { ops::dropout(Tensor::ones({3}, DType::i64), 0.5, true); }, "int64");
}

}  // namespace
}  // namespace graft
