// models::create and names(): the 13 names, unknown names, num_classes, headless models,
// seeded determinism, torchvision's initialization, and the summary of ResNet-18.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "nn/nn.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

Tensor state(const nn::Module& model, const std::string& name) {
  for (const auto& [key, t] : model.state_dict()) {
    if (key == name) return t;
  }
  ADD_FAILURE() << "no state-dict entry " << name;
  return Tensor();
}

bool has_entry_starting_with(const nn::Module& model, const std::string& prefix) {
  for (const auto& [key, t] : model.state_dict()) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

Shape output_shape(nn::Module& model, const Shape& input) {
  NoGradGuard no_grad;
  model.eval();
  return model(Tensor::zeros(input)).shape();
}

double standard_deviation(const Tensor& t) {
  const std::vector<double> v = t.to_vector<double>();
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  double sum = 0;
  for (double x : v) sum += (x - mean) * (x - mean);
  return std::sqrt(sum / v.size());
}

TEST(ModelRegistry, NamesTheThirteenModels) {
  EXPECT_EQ(models::names(), (std::vector<std::string>{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                                       "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn",
                                                       "vgg16_bn", "vgg19_bn"}));
}

TEST(ModelRegistry, UnknownNameListsTheValidOnes) {
  testing::expect_error([] { models::create("resnet19"); }, "unknown model 'resnet19'",
                        "valid names: resnet18, resnet34, resnet50, resnet101, resnet152, vgg11");
  testing::expect_error([] { models::create("resnet18", {.num_classes = 0}); }, "ResNet", "num_classes");
}

TEST(ModelRegistry, NumClassesReplacesTheHead) {
  auto resnet = models::create("resnet50", {.num_classes = 10, .initialize = false});
  EXPECT_EQ(state(*resnet, "fc.weight").shape(), (Shape{10, 2048}));
  EXPECT_EQ(output_shape(*resnet, {2, 3, 64, 64}), (Shape{2, 10}));
  auto vgg = models::create("vgg11_bn", {.num_classes = 7, .initialize = false});
  EXPECT_EQ(state(*vgg, "classifier.6.weight").shape(), (Shape{7, 4096}));
  EXPECT_EQ(output_shape(*vgg, {1, 3, 32, 32}), (Shape{1, 7}));
}

TEST(ModelRegistry, HeadlessModelsReturnPooledFeatures) {
  auto resnet18 = models::create("resnet18", {.headless = true, .initialize = false});
  EXPECT_EQ(output_shape(*resnet18, {2, 3, 64, 64}), (Shape{2, 512}));
  EXPECT_FALSE(has_entry_starting_with(*resnet18, "fc."));
  auto resnet101 = models::create("resnet101", {.headless = true, .initialize = false});
  EXPECT_EQ(output_shape(*resnet101, {1, 3, 64, 48}), (Shape{1, 2048}));
  EXPECT_EQ(std::dynamic_pointer_cast<models::ResNet>(resnet101)->feature_size(), 2048);

  auto vgg = models::create("vgg13", {.headless = true, .initialize = false});
  EXPECT_EQ(output_shape(*vgg, {2, 3, 32, 40}), (Shape{2, 4096}));
  EXPECT_TRUE(has_entry_starting_with(*vgg, "classifier.3."));
  EXPECT_FALSE(has_entry_starting_with(*vgg, "classifier.6."));
  // The features after classifier.4 (the ReLU): what the full model feeds to classifier.6.
  const auto& classifier = dynamic_cast<nn::Sequential&>(*vgg->child("classifier"));
  EXPECT_EQ(classifier.size(), 5u);
  EXPECT_EQ(classifier[4]->type_name(), "ReLU");
}

TEST(ModelRegistry, TheSameGeneratorSeedGivesTheSameWeights) {
  Generator a(11), b(11), c(12);
  const nn::StateDict first = models::create("resnet18", {.generator = &a})->state_dict();
  const nn::StateDict second = models::create("resnet18", {.generator = &b})->state_dict();
  const nn::StateDict third = models::create("resnet18", {.generator = &c})->state_dict();
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(testing::all_close(first[i].second, second[i].second, 0, 0, first[i].first));
  }
  EXPECT_FALSE(testing::all_close(first[0].second, third[0].second, 0, 0, "another seed"));
}

TEST(ModelRegistry, ResNetInitializesAsTorchvision) {
  auto model = models::create("resnet18");
  // kaiming_normal_(mode=fan_out, relu): std = sqrt(2 / (C_out * KH * KW)).
  EXPECT_NEAR(standard_deviation(state(*model, "layer3.1.conv1.weight")), std::sqrt(2.0 / (256 * 9)), 2e-3);
  EXPECT_NEAR(standard_deviation(state(*model, "conv1.weight")), std::sqrt(2.0 / (64 * 49)), 2e-3);
  EXPECT_EQ(state(*model, "layer2.0.bn2.weight").to_vector<float>(), std::vector<float>(128, 1.0f));
  EXPECT_EQ(state(*model, "layer2.0.bn2.bias").to_vector<float>(), std::vector<float>(128, 0.0f));
  // fc keeps Linear's default, U(-1/sqrt(512), 1/sqrt(512)): std = 1 / sqrt(3 * 512).
  EXPECT_NEAR(standard_deviation(state(*model, "fc.weight")), 1.0 / std::sqrt(3.0 * 512), 1e-3);
}

TEST(ModelRegistry, VGGInitializesAsTorchvision) {
  auto model = models::create("vgg11_bn", {.num_classes = 10});
  EXPECT_NEAR(standard_deviation(state(*model, "features.4.weight")), std::sqrt(2.0 / (128 * 9)), 2e-3);
  EXPECT_EQ(state(*model, "features.4.bias").to_vector<float>(), std::vector<float>(128, 0.0f));
  EXPECT_EQ(state(*model, "features.5.weight").to_vector<float>(), std::vector<float>(128, 1.0f));
  EXPECT_NEAR(standard_deviation(state(*model, "classifier.3.weight")), 0.01, 1e-4);
  EXPECT_EQ(state(*model, "classifier.6.bias").to_vector<float>(), std::vector<float>(10, 0.0f));
}

// Batch-norm weights and running variances are 1, everything else 0.
void expect_reset_values(const nn::Module& model, const std::string& only_prefix) {
  for (const auto& [key, t] : model.state_dict()) {
    if (key.rfind(only_prefix, 0) != 0) continue;
    const bool one = key.ends_with("running_var") || (key.ends_with("weight") && t.dim() == 1);
    const std::vector<double> values = t.to_vector<double>();
    EXPECT_TRUE(std::all_of(values.begin(), values.end(), [&](double v) { return v == (one ? 1.0 : 0.0); })) << key;
  }
}

TEST(ModelRegistry, WithoutInitializationWeightsAreZeroAndBatchNormsReset) {
  expect_reset_values(*models::create("resnet34", {.initialize = false}), "");
  expect_reset_values(*models::create("vgg11_bn", {.initialize = false}), "features.");  // the classifier is 120 M values
}

TEST(ModelRegistry, ResNet18SummaryMatchesTorchvisionCounts) {
  auto model = models::create("resnet18", {.initialize = false});
  const nn::ModelSummary summary = nn::summarize(*model, {1, 3, 224, 224});
  EXPECT_EQ(summary.parameters, 11689512);  // sum(p.numel() for p in torchvision's resnet18.parameters())
  // 2 x the multiply-adds of every conv and linear, counted with forward hooks on torchvision's
  // resnet18 at 1x3x224x224 (1.814 G multiply-adds).
  EXPECT_EQ(summary.flops, 3628146688);
  EXPECT_EQ(summary.output_shape, (Shape{1, 1000}));
  EXPECT_EQ(summary.layers.front().name, "conv1");
  EXPECT_EQ(summary.layers.front().output_shape, (Shape{1, 64, 112, 112}));
  EXPECT_EQ(summary.layers.back().name, "fc");
}

}  // namespace
}  // namespace graft
