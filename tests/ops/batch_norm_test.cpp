// ops::batch_norm: numerical gradients in float64 (training and eval, with and without the affine
// transform, 2-D, 3-D and 4-D inputs); forward, gradients and the updated running statistics
// against PyTorch in float32; gradients skipped for frozen inputs; argument errors.
#include <functional>
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
using testing::random_input;

// Positive running variances around 1 (float64 unless stated).
Tensor positive_variance(int64_t channels, uint64_t seed, DType dtype = DType::f64) {
  Generator gen(seed);
  return (rand({channels}, gen, dtype) + 0.5).detach();
}

TEST(BatchNormOp, TrainingGradientsMatchNumerical) {
  const auto affine = [](const std::vector<Tensor>& in) {
    return ops::batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true);
  };
  for (const Shape& x : {Shape{5, 3}, Shape{4, 3, 5}, Shape{3, 4, 3, 2}}) {
    SCOPED_TRACE("x " + shape_str(x));
    const int64_t c = x[1];
    EXPECT_TRUE(testing::gradcheck(affine, {random_input(x, 1), random_input({c}, 2), random_input({c}, 3)}));
  }
  // No affine transform; running stats are updated on every call and must not disturb the output.
  const Tensor running_mean = Tensor::zeros({3}, DType::f64), running_var = Tensor::ones({3}, DType::f64);
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return ops::batch_norm(in[0], running_mean, running_var, Tensor(), Tensor(), true, 0.3);
      },
      {random_input({2, 3, 3, 3}, 4)}));
  // Only a weight; a batch of one with several spatial values per channel is allowed.
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& in) {
        return ops::batch_norm(in[0], Tensor(), Tensor(), in[1], Tensor(), true);
      },
      {random_input({1, 2, 3, 3}, 5), random_input({2}, 6)}));
}

TEST(BatchNormOp, EvalGradientsMatchNumerical) {
  const Tensor running_mean = random_input({3}, 10, false), running_var = positive_variance(3, 11);
  const auto affine = [&](const std::vector<Tensor>& in) {
    return ops::batch_norm(in[0], running_mean, running_var, in[1], in[2], false);
  };
  EXPECT_TRUE(testing::gradcheck(
      affine, {random_input({3, 3, 2, 5}, 12), random_input({3}, 13), random_input({3}, 14)}));
  EXPECT_TRUE(
      testing::gradcheck(affine, {random_input({4, 3}, 15), random_input({3}, 16), random_input({3}, 17)}));
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return ops::batch_norm(in[0], running_mean, running_var, Tensor(), Tensor(), false);
      },
      {random_input({2, 3, 7}, 18)}));
}

// One setting compared with F.batch_norm.
struct BnCase {
  Shape x;
  bool training = true;
  bool affine = true;
  bool running_stats = true;
  double momentum = 0.1;
  double eps = 1e-5;
};

// Compares several settings in one torch call: the output is their flattened results
// concatenated. Running stats are inputs, so torch reports their updated values too.
void expect_matches_torch(const std::vector<BnCase>& cases, uint64_t seed) {
  Generator gen(seed);
  Inputs inputs;
  std::string expression = "torch.cat([";
  for (size_t i = 0; i < cases.size(); ++i) {
    const BnCase& c = cases[i];
    const std::string id = std::to_string(i);
    const int64_t channels = c.x[1];
    // A per-tensor offset and scale make the statistics non-trivial.
    inputs["x" + id] = (randn(c.x, gen) * 3.0 + 1.5).detach().set_requires_grad(true);
    std::string args = "x" + id + ", ";
    if (c.running_stats) {
      inputs["rm" + id] = randn({channels}, gen);
      inputs["rv" + id] = positive_variance(channels, seed + 1 + i, DType::f32);
      args += "rm" + id + ", rv" + id + ", ";
    } else {
      args += "None, None, ";
    }
    if (c.affine) {
      inputs["w" + id] = randn({channels}, gen).set_requires_grad(true);
      inputs["b" + id] = randn({channels}, gen).set_requires_grad(true);
      args += "w" + id + ", b" + id + ", ";
    } else {
      args += "None, None, ";
    }
    expression += "F.batch_norm(" + args + "training=" + (c.training ? "True" : "False") +
                  ", momentum=" + std::to_string(c.momentum) + ", eps=" + std::to_string(c.eps) +
                  ").flatten(),";
  }
  expression += "])";
  SCOPED_TRACE(expression);
  testing::expect_matches_torch(
      inputs, expression,
      [&](const Inputs& in) {
        const auto input = [&](const std::string& name) { return in.count(name) ? in.at(name) : Tensor(); };
        std::vector<Tensor> outputs;
        for (size_t i = 0; i < cases.size(); ++i) {
          const BnCase& c = cases[i];
          const std::string id = std::to_string(i);
          outputs.push_back(ops::batch_norm(input("x" + id), input("rm" + id), input("rv" + id),
                                            input("w" + id), input("b" + id), c.training, c.momentum, c.eps)
                                .flatten());
        }
        return ops::cat(outputs);
      },
      {.atol = 1e-5, .rtol = 1e-5});
}

TEST(BatchNormOp, TrainingMatchesTorchIncludingRunningStats) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch(
      {
          {.x = {4, 3, 5, 6}},
          {.x = {7, 5}, .momentum = 0.3},
          {.x = {3, 4, 9}, .affine = false, .eps = 1e-3},
          {.x = {1, 2, 3, 5}, .running_stats = false},  // a batch of one image; no running stats
          {.x = {2, 3}, .momentum = 1.0},               // the smallest batch; running = batch stats
          {.x = {8, 16, 14, 14}},                       // enough channels to split over threads
      },
      20);
}

TEST(BatchNormOp, EvalMatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  expect_matches_torch(
      {
          {.x = {4, 3, 5, 6}, .training = false},
          {.x = {1, 6}, .training = false, .affine = false},
          {.x = {2, 5, 7}, .training = false, .eps = 1e-3},
          {.x = {8, 16, 14, 14}, .training = false},
      },
      30);
}

TEST(BatchNormOp, RunningStatsFollowTheMomentumRule) {
  // Channel values {1, 2, 3, 6}: mean 3, unbiased variance 14 / 3.
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 6}, {4, 1});
  Tensor running_mean = Tensor::full({1}, 1.0, DType::f64), running_var = Tensor::full({1}, 2.0, DType::f64);
  ops::batch_norm(x, running_mean, running_var, Tensor(), Tensor(), true, 0.25);
  EXPECT_DOUBLE_EQ(running_mean.item(), 0.75 * 1.0 + 0.25 * 3.0);
  EXPECT_DOUBLE_EQ(running_var.item(), 0.75 * 2.0 + 0.25 * 14.0 / 3.0);
  // Eval mode leaves them alone.
  ops::batch_norm(x, running_mean, running_var, Tensor(), Tensor(), false);
  EXPECT_DOUBLE_EQ(running_mean.item(), 0.75 * 1.0 + 0.25 * 3.0);
}

// Gradients of batch_norm with x, weight and bias all requiring grad: the reference for the tests
// where only some do.
std::vector<Tensor> all_gradients(const Tensor& x, const Tensor& rm, const Tensor& rv, const Tensor& w,
                                  const Tensor& b, bool training, const Tensor& dy) {
  Tensor xr = x.clone().set_requires_grad(true), wr = w.clone().set_requires_grad(true);
  Tensor br = b.clone().set_requires_grad(true);
  ops::batch_norm(xr, rm.clone(), rv.clone(), wr, br, training).backward(dy);
  return {xr.grad(), wr.grad(), br.grad()};
}

TEST(BatchNormOp, FrozenInputsGetNoGradient) {
  Generator gen(40);
  const Tensor x = randn({3, 4, 2, 3}, gen), w = randn({4}, gen), b = randn({4}, gen),
               dy = randn({3, 4, 2, 3}, gen);
  const Tensor rm = randn({4}, gen), rv = positive_variance(4, 41, DType::f32);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    const std::vector<Tensor> expected = all_gradients(x, rm, rv, w, b, training, dy);
    // A frozen layer in a network that is trained below it: only x needs a gradient.
    Tensor xg = x.clone().set_requires_grad(true);
    ops::batch_norm(xg, rm.clone(), rv.clone(), w, b, training).backward(dy);
    EXPECT_TRUE(testing::all_close(xg.grad(), expected[0], 0, 0, "dx"));
    EXPECT_FALSE(w.grad().defined());
    EXPECT_FALSE(b.grad().defined());
    // Only the affine parameters train (the first layer of a network, or a linear probe on BN).
    Tensor wg = w.clone().set_requires_grad(true), bg = b.clone().set_requires_grad(true);
    ops::batch_norm(x, rm.clone(), rv.clone(), wg, bg, training).backward(dy);
    EXPECT_FALSE(x.grad().defined());
    EXPECT_TRUE(testing::all_close(wg.grad(), expected[1], 0, 0, "dweight"));
    EXPECT_TRUE(testing::all_close(bg.grad(), expected[2], 0, 0, "dbias"));
  }
}

TEST(BatchNormOp, EvalBackwardUsesTheStatisticsOfTheForwardPass) {
  Generator gen(45);
  const Tensor dy = randn({2, 3, 4}, gen);
  Tensor running_mean = randn({3}, gen), running_var = positive_variance(3, 46, DType::f32);
  Tensor x = randn({2, 3, 4}, gen).set_requires_grad(true), w = randn({3}, gen).set_requires_grad(true);
  const std::vector<Tensor> expected =
      all_gradients(x.detach(), running_mean, running_var, w.detach(), Tensor::zeros({3}), false, dy);
  Tensor y = ops::batch_norm(x, running_mean, running_var, w, Tensor(), false);
  // A training-mode call updates the buffers before this backward runs.
  ops::batch_norm(randn({5, 3, 4}, gen), running_mean, running_var, Tensor(), Tensor(), true, 0.9);
  y.backward(dy);
  EXPECT_TRUE(testing::all_close(x.grad(), expected[0], 0, 0, "dx"));
  EXPECT_TRUE(testing::all_close(w.grad(), expected[1], 0, 0, "dweight"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "batch_norm", fragment);
}

TEST(BatchNormOp, RejectsBadArguments) {
  const Tensor x = Tensor::ones({2, 3, 4, 4}), stat = Tensor::ones({3});
  expect_error([&] { ops::batch_norm(Tensor::ones({5}), stat, stat, stat, stat, true); }, "[N, C]");
  expect_error([&] { ops::batch_norm(x, Tensor::ones({4}), stat, stat, stat, false); }, "running_mean");
  expect_error([&] { ops::batch_norm(x, stat, Tensor::ones({3, 1}), stat, stat, false); }, "running_var");
  expect_error([&] { ops::batch_norm(x, stat, stat, Tensor::ones({2}), stat, false); }, "weight");
  expect_error([&] { ops::batch_norm(x, stat, stat, stat, Tensor::ones({6}), false); }, "bias");
  expect_error([&] { ops::batch_norm(x, stat, stat, stat.to(DType::f64), stat, false); }, "float64");
  expect_error([&] { ops::batch_norm(x.to(DType::i64), stat, stat, stat, stat, false); }, "int64");
  expect_error([&] { ops::batch_norm(x, Tensor(), stat, stat, stat, false); },
               "running_mean and running_var");
  expect_error([&] { ops::batch_norm(x, stat, Tensor(), stat, stat, false); },
               "running_mean and running_var");
  expect_error([&] { ops::batch_norm(x, stat, stat, stat, stat, true, 1.5); }, "momentum");
  expect_error([&] { ops::batch_norm(x, stat, stat, stat, stat, true, 0.1, -1e-5); }, "eps");
  // One value per channel cannot be normalized with batch statistics.
  expect_error(
      [&] {
        ops::batch_norm(Tensor::ones({1, 3}), stat, stat, stat, stat, true);
      },
      "more than 1 value");
  expect_error(
      [&] {
        ops::batch_norm(Tensor::ones({1, 3, 1, 1}), stat, stat, stat, stat, true);
      },
      "more than 1 value");
  // Running stats are written in place, so they must be contiguous.
  const Tensor strided = Tensor::ones({6}).slice(0, 0, 6, 2);
  expect_error([&] { ops::batch_norm(x, strided, stat, stat, stat, true); }, "contiguous");
  // ... but eval mode with one value per channel is fine.
  EXPECT_EQ(ops::batch_norm(Tensor::ones({1, 3}), stat, stat, stat, stat, false).shape(), (Shape{1, 3}));
}

}  // namespace
}  // namespace graft
