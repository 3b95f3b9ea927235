// ops::cross_entropy: numerical gradients in float64 for every reduction, ignore_index and label
// smoothing, with and without class weights; values and gradients against PyTorch's
// F.cross_entropy in float32 (including all samples ignored); and argument errors.
#include <cmath>
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

using ops::Reduction;
using testing::Inputs;
using testing::random_input;

Tensor labels(const std::vector<int64_t>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())});
}

// Uniform random class indices in [0, classes), with every `ignore_every`-th one set to -100.
Tensor random_labels(int64_t n, int64_t classes, uint64_t seed, int64_t ignore_every = 0) {
  Generator gen(seed);
  std::vector<int64_t> values(n);
  for (int64_t i = 0; i < n; ++i) {
    values[i] = ignore_every && i % ignore_every == 0 ? -100 : static_cast<int64_t>(gen.next_u64() % classes);
  }
  return labels(values);
}

struct Setting {
  Reduction reduction;
  int64_t ignore_index;
  double label_smoothing;
};

std::string describe(Setting s) {
  return "reduction " + std::to_string(static_cast<int>(s.reduction)) + ", ignore_index " +
         std::to_string(s.ignore_index) + ", label_smoothing " + std::to_string(s.label_smoothing);
}

// Standard normal logits that record their gradient.
Tensor randn_grad(Generator& gen, const Shape& shape) { return randn(shape, gen).set_requires_grad(true); }

std::function<Tensor(const std::vector<Tensor>&)> cross_entropy_with(Setting s) {
  return [s](const std::vector<Tensor>& in) {
    return ops::cross_entropy(in[0], in[1], s.reduction, s.ignore_index, s.label_smoothing);
  };
}

TEST(CrossEntropyOp, GradientsMatchNumerical) {
  // Two samples ignored under either ignore_index used below.
  const Tensor target_100 = labels({2, -100, 0, 4, -100, 1, 3});
  const Tensor target_4 = labels({2, 4, 0, 3, 4, 1, 3});
  for (const Setting s : {Setting{Reduction::mean, -100, 0.0}, Setting{Reduction::sum, -100, 0.0},
                          Setting{Reduction::none, -100, 0.0}, Setting{Reduction::mean, -100, 0.2},
                          Setting{Reduction::none, -100, 0.7}, Setting{Reduction::sum, 4, 1.0},
                          Setting{Reduction::mean, 4, 0.1}}) {
    SCOPED_TRACE(describe(s));
    const Tensor& target = s.ignore_index == 4 ? target_4 : target_100;
    EXPECT_TRUE(testing::gradcheck(cross_entropy_with(s), {random_input({7, 5}, 1), target}));
  }
  EXPECT_TRUE(testing::gradcheck(cross_entropy_with({Reduction::mean, -100, 0.0}),
                                 {random_input({1, 1}, 2), labels({0})}));
}

TEST(CrossEntropyOp, MatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(20);
  const auto run = [](Setting s) {
    return [s](const Inputs& in) {
      return ops::cross_entropy(in.at("x"), in.at("t"), s.reduction, s.ignore_index, s.label_smoothing);
    };
  };
  const testing::Tolerance tolerance{.atol = 1e-5, .rtol = 1e-5};
  // ImageNet-sized classes, mean over the samples that are not ignored.
  testing::expect_matches_torch({{"x", randn_grad(gen, {17, 1000})}, {"t", random_labels(17, 1000, 1, 4)}},
                                "F.cross_entropy(x, t)", run({Reduction::mean, -100, 0.0}), tolerance);
  testing::expect_matches_torch({{"x", randn_grad(gen, {13, 7})}, {"t", random_labels(13, 7, 2, 3)}},
                                "F.cross_entropy(x, t, reduction='mean', label_smoothing=0.15)",
                                run({Reduction::mean, -100, 0.15}), tolerance);
  testing::expect_matches_torch({{"x", randn_grad(gen, {13, 7})}, {"t", random_labels(13, 7, 3, 5)}},
                                "F.cross_entropy(x, t, reduction='sum', label_smoothing=0.3)",
                                run({Reduction::sum, -100, 0.3}), tolerance);
  // A class index used as ignore_index; per-sample losses.
  testing::expect_matches_torch({{"x", randn_grad(gen, {11, 3})}, {"t", random_labels(11, 3, 4)}},
                                "F.cross_entropy(x, t, reduction='none', ignore_index=1, label_smoothing=0.5)",
                                run({Reduction::none, 1, 0.5}), tolerance);
}

// Positive weights, unequal, one per class.
Tensor class_weights(int64_t classes, DType dtype = DType::f32) {
  std::vector<double> values(classes);
  for (int64_t c = 0; c < classes; ++c) values[c] = 0.25 + 0.5 * static_cast<double>(c % 4);
  return Tensor::from_vector(values, {classes}).to(dtype);
}

TEST(CrossEntropyOp, ClassWeightedGradientsMatchNumerical) {
  const Tensor target_100 = labels({2, -100, 0, 4, 4, 1, 3});
  const Tensor target_4 = labels({2, 4, 0, 3, 4, 1, 3});
  const Tensor weight = class_weights(5, DType::f64);
  for (const Setting s : {Setting{Reduction::mean, -100, 0.0}, Setting{Reduction::sum, -100, 0.3},
                          Setting{Reduction::none, -100, 0.0}, Setting{Reduction::mean, 4, 0.2}}) {
    SCOPED_TRACE(describe(s));
    const auto fn = [&](const std::vector<Tensor>& in) {
      return ops::cross_entropy(in[0], in[1], weight, s.reduction, s.ignore_index, s.label_smoothing);
    };
    EXPECT_TRUE(testing::gradcheck(fn, {random_input({7, 5}, 3), s.ignore_index == 4 ? target_4 : target_100}));
  }
}

TEST(CrossEntropyOp, ClassWeightedMatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(22);
  const auto run = [](Setting s) {
    return [s](const Inputs& in) {
      return ops::cross_entropy(in.at("x"), in.at("t"), in.at("w"), s.reduction, s.ignore_index, s.label_smoothing);
    };
  };
  const testing::Tolerance tolerance{.atol = 1e-5, .rtol = 1e-5};
  testing::expect_matches_torch(
      {{"x", randn_grad(gen, {17, 10})}, {"t", random_labels(17, 10, 5, 4)}, {"w", class_weights(10)}},
      "F.cross_entropy(x, t, weight=w)", run({Reduction::mean, -100, 0.0}), tolerance);
  testing::expect_matches_torch(
      {{"x", randn_grad(gen, {13, 7})}, {"t", random_labels(13, 7, 6, 3)}, {"w", class_weights(7)}},
      "F.cross_entropy(x, t, weight=w, label_smoothing=0.15)", run({Reduction::mean, -100, 0.15}), tolerance);
  testing::expect_matches_torch(
      {{"x", randn_grad(gen, {13, 7})}, {"t", random_labels(13, 7, 7, 5)}, {"w", class_weights(7)}},
      "F.cross_entropy(x, t, weight=w, reduction='sum', label_smoothing=0.3)", run({Reduction::sum, -100, 0.3}),
      tolerance);
  testing::expect_matches_torch(
      {{"x", randn_grad(gen, {11, 3})}, {"t", random_labels(11, 3, 8)}, {"w", class_weights(3)}},
      "F.cross_entropy(x, t, weight=w, reduction='none', ignore_index=1, label_smoothing=0.5)",
      run({Reduction::none, 1, 0.5}), tolerance);
}

TEST(CrossEntropyOp, UnitClassWeightsChangeNothing) {
  Generator gen(9);
  const Tensor x = randn({6, 4}, gen), t = labels({0, 3, -100, 2, 1, 3});
  const Tensor ones = Tensor::ones({4});
  for (const Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    EXPECT_TRUE(testing::all_close(ops::cross_entropy(x, t, ones, r, -100, 0.2),
                                   ops::cross_entropy(x, t, r, -100, 0.2), 1e-6, 1e-6, "loss"));
  }
}

TEST(CrossEntropyOp, EverySampleIgnoredMatchesTorch) {
  GRAFT_REQUIRE_TORCH();
  Generator gen(21);
  // The mean over no samples is NaN in PyTorch; the gradient is still zero.
  testing::expect_matches_torch(
      {{"x", randn({3, 4}, gen).set_requires_grad(true)}, {"t", labels({-100, -100, -100})}},
      "F.cross_entropy(x, t, label_smoothing=0.1)",
      [](const Inputs& in) { return ops::cross_entropy(in.at("x"), in.at("t"), Reduction::mean, -100, 0.1); });
}

TEST(CrossEntropyOp, KnownValue) {
  // Two classes with equal logits: each sample's loss is log(2).
  const Tensor x = Tensor::zeros({3, 2}, DType::f64);
  EXPECT_NEAR(ops::cross_entropy(x, labels({0, 1, -100})).item(), std::log(2.0), 1e-15);
  EXPECT_NEAR(ops::cross_entropy(x, labels({0, 1, -100}), Reduction::sum).item(), 2 * std::log(2.0), 1e-15);
  EXPECT_EQ(ops::cross_entropy(x, labels({0, 1, -100}), Reduction::none).to_vector<double>(),
            (std::vector<double>{std::log(2.0), std::log(2.0), 0.0}));
}

TEST(CrossEntropyOp, NonContiguousLogits) {
  Generator gen(8);
  const Tensor x = randn({5, 4}, gen), t = labels({0, 3, 1, 2, 0});
  const Tensor x_t = x.t().contiguous().t();  // same values, transposed strides
  ASSERT_FALSE(x_t.is_contiguous());
  EXPECT_TRUE(testing::all_close(ops::cross_entropy(x_t, t), ops::cross_entropy(x, t), 0, 0, "loss"));
}

void expect_error(const std::function<void()>& fn, const std::string& fragment) {
  testing::expect_error(fn, "cross_entropy", fragment);
}

TEST(CrossEntropyOp, RejectsBadArguments) {
  const Tensor x = Tensor::zeros({3, 4});
  const Tensor t = labels({0, 3, -100});
  expect_error([&] { ops::cross_entropy(x, t.to(DType::f32)); }, "float32");
  expect_error([&] { ops::cross_entropy(x, t.to(DType::f64)); }, "int64");
  expect_error([&] { ops::cross_entropy(x, labels({0, 1})); }, "[3]");
  expect_error([&] { ops::cross_entropy(x, t.reshape({3, 1})); }, "[3, 1]");
  // The offending value and its position, above and below the valid range.
  expect_error([&] { ops::cross_entropy(x, labels({0, 4, 1})); }, "target[1] = 4");
  expect_error([&] { ops::cross_entropy(x, labels({0, 1, -1})); }, "target[2] = -1");
  expect_error([&] { ops::cross_entropy(x, labels({0, -100, 1}), Reduction::mean, 7); }, "target[1] = -100");
  expect_error([&] { ops::cross_entropy(Tensor::zeros({4}), labels({0})); }, "2-D");
  expect_error([&] { ops::cross_entropy(Tensor::zeros({3, 4, 2}), t); }, "2-D");
  expect_error([&] { ops::cross_entropy(x.to(DType::i64), t); }, "logits");
  expect_error([&] { ops::cross_entropy(x, t, Reduction::mean, -100, -0.1); }, "label_smoothing");
  expect_error([&] { ops::cross_entropy(x, t, Reduction::mean, -100, 1.5); }, "label_smoothing");
  expect_error([&] { ops::cross_entropy(x, Tensor()); }, "target");
  expect_error([&] { ops::cross_entropy(x, t, Tensor::ones({3})); }, "one weight per class");
  expect_error([&] { ops::cross_entropy(x, t, Tensor::ones({4}, DType::f64)); }, "'weight' has dtype float64");
  expect_error([&] { ops::cross_entropy(x, t, Tensor()); }, "'weight' is undefined");
  expect_error([&] { ops::cross_entropy(x, labels({0, 9, 1}), Tensor::ones({4})); }, "target[1] = 9");
  EXPECT_EQ(ops::cross_entropy(x, t, Reduction::none).shape(), (Shape{3}));
}

}  // namespace
}  // namespace graft
