// train::find_lr on a linear classifier of a problem with noisy labels: the rates grow exponentially over
// the range, the loss first falls and then diverges (the run stops there), the suggestion lies
// where the loss fell, the model and the learning rates come back unchanged, and bad ranges are
// clear errors.
#include "train/lr_finder.h"

#include <cmath>
#include <functional>
#include <memory>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "data/tensor_dataset.h"
#include "gtest/gtest.h"
#include "nn/flatten.h"
#include "nn/linear.h"
#include "nn/optim/optimizer.h"
#include "nn/sequential.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

// 256 images of 1x4x4: class c's images are noise with pixel c raised, but one label in four is
// another class's, so that no weights bring the loss to 0 and large rates make it blow up.
std::shared_ptr<data::TensorDataset> noisy_data() {
  Generator gen(3);
  const int64_t n = 256;
  Tensor images = ops::mul(randn({n, 1, 4, 4}, gen), Tensor::full({1}, 0.3));
  std::vector<int64_t> labels(n);
  float* pixels = images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    pixels[i * 16 + i % 4] += 2.0f;
    labels[i] = i % 4 == 0 ? (i / 4) % 4 : i % 4;
  }
  return std::make_shared<data::TensorDataset>(images, Tensor::from_vector(labels, {n}),
                                               std::vector<std::string>{"a", "b", "c", "d"});
}

struct Problem {
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<nn::Sgd> optimizer;
  std::unique_ptr<data::Loader> loader;
};

Problem make_problem() {
  Generator gen(5);
  Problem s;
  s.model = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(16, 4, true, gen)});
  s.optimizer = std::make_unique<nn::Sgd>(
      std::vector<nn::ParamGroup>{{.name = "all", .params = s.model->named_parameters(), .lr = 0.1}},
      nn::SgdOptions{.momentum = 0.9});
  s.loader = std::make_unique<data::Loader>(noisy_data(), data::LoaderOptions{.batch_size = 16, .workers = 0});
  return s;
}

TEST(LrFinder, RatesGrowExponentiallyTheLossDivergesAndTheSuggestionIsWhereItFell) {
  Problem s = make_problem();
  const nn::StateDict before = s.model->state_dict();
  std::vector<Tensor> initial;
  for (const auto& [name, tensor] : before) initial.push_back(tensor.clone());
  train::LrFinderOptions options;
  options.start_lr = 1e-4;
  options.end_lr = 1e4;
  options.steps = 120;  // several epochs of 16 batches
  const train::LrFinderResult result = train::find_lr(*s.model, *s.optimizer, *s.loader, options);

  ASSERT_GE(result.points.size(), 20u);
  EXPECT_TRUE(result.diverged) << "a rate of 1e4 must blow the loss up";
  EXPECT_LT(result.points.size(), 120u);
  for (size_t i = 0; i < result.points.size(); ++i) {
    EXPECT_NEAR(std::log(result.points[i].lr), std::log(1e-4) + std::log(1e8) * double(i) / 119.0, 1e-9) << i;
  }
  // The loss fell well below its start before it diverged, and the suggestion is a rate from that part.
  double lowest = INFINITY;
  for (const auto& p : result.points) lowest = std::min(lowest, p.smoothed);
  EXPECT_LT(lowest, 0.65 * result.points.front().loss);
  EXPECT_GT(result.suggested_lr, 1e-4);
  EXPECT_LT(result.suggested_lr, result.points.back().lr);

  // The model and the rates are as they were.
  size_t i = 0;
  for (const auto& [name, tensor] : s.model->state_dict()) {
    EXPECT_TRUE(testing::all_close(tensor, initial[i++], 0, 0, name));
  }
  EXPECT_EQ(s.optimizer->groups().front().lr, 0.1);
}

TEST(LrFinder, EveryGroupGetsItsRateBack) {
  Problem s = make_problem();
  auto params = s.model->named_parameters();
  nn::Sgd optimizer({{.name = "weight", .params = {params[0]}, .lr = 0.01}, {.name = "bias", .params = {params[1]}, .lr = 0.1}});
  train::LrFinderOptions options;
  options.start_lr = 1e-3;
  options.end_lr = 1e-1;
  options.steps = 10;
  const train::LrFinderResult result = train::find_lr(*s.model, optimizer, *s.loader, options);
  EXPECT_EQ(result.points.size(), 10u);
  EXPECT_FALSE(result.diverged);
  EXPECT_NEAR(result.points.back().lr, 1e-1, 1e-12);
  EXPECT_EQ(optimizer.groups()[0].lr, 0.01);
  EXPECT_EQ(optimizer.groups()[1].lr, 0.1);
}

TEST(LrFinder, BadRangesAreClearErrors) {
  Problem s = make_problem();
  const auto expect_error = [&](const std::function<void(train::LrFinderOptions&)>& change, const std::string& fragment) {
    train::LrFinderOptions options;
    change(options);
    testing::expect_error([&] { train::find_lr(*s.model, *s.optimizer, *s.loader, options); }, "lr finder", fragment);
  };
  expect_error([](auto& o) { o.start_lr = 1, o.end_lr = 0.1; }, "0 < start < end");
  expect_error([](auto& o) { o.start_lr = 0; }, "0 < start < end");
  expect_error([](auto& o) { o.steps = 1; }, "at least 2 steps");
  expect_error([](auto& o) { o.diverge_factor = 1; }, "divergence factor");
  expect_error([](auto& o) { o.smoothing = 1; }, "smoothing");
}

}  // namespace
}  // namespace graft
