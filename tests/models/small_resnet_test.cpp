// The small CIFAR-style ResNets: registry names (kept apart from the 13 torchvision ones), the
// state dict's names, order, dtypes and shapes against a PyTorch definition of the same network
// (tests/oracle/small_resnet.py), eval-mode logits and one training step (logits, loss, every
// parameter's gradient, every buffer afterwards) on the same random weights, headless features,
// and the errors for bad depths, channel counts and inputs.
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "models/small_resnet.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"
#include "tests/support/process.h"
#include "tests/support/torch_oracle.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

struct Variant {
  std::string name;
  int depth;
  int64_t in_channels;
};

std::string variant_label(const Variant& v) { return v.name + "_in" + std::to_string(v.in_channels); }

// Runs the oracle script for `v` into a folder of this test's own and returns the folder.
std::string write_torch_fixtures(const Variant& v) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string leaf = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : leaf) c = c == '/' ? '_' : c;
  const std::string dir = std::string(GRAFT_ORACLE_DIR) + "/" + leaf;
  std::string log;
  const std::string command = testing::oracle_python() + " " + GRAFT_SOURCE_DIR + "/tests/oracle/small_resnet.py " +
                              std::to_string(v.depth) + " " + std::to_string(v.in_channels) + " '" + dir + "'";
  GRAFT_CHECK(testing::run_command(command, &log) == 0, "small_resnet.py failed: ", log);
  return dir;
}

class SmallResNetParity : public ::testing::TestWithParam<Variant> {};

// One run of the script serves all three checks: it takes a few seconds, mostly importing torch.
TEST_P(SmallResNetParity, StateDictEvalAndTrainingStepMatchTorch) {
  GRAFT_REQUIRE_TORCH();
  const Variant v = GetParam();
  const std::string dir = write_torch_fixtures(v);
  const safetensors::File reference = safetensors::read(dir + "/weights.safetensors");
  auto model = models::create(v.name, {.num_classes = 5, .in_channels = v.in_channels, .initialize = false});
  const nn::StateDict state = model->state_dict();
  ASSERT_EQ(state.size(), reference.tensors.size());
  for (size_t i = 0; i < state.size(); ++i) {
    ASSERT_EQ(state[i].first, reference.tensors[i].first) << "at state-dict entry " << i;
    EXPECT_EQ(state[i].second.shape(), reference.tensors[i].second.shape()) << state[i].first;
    EXPECT_EQ(state[i].second.dtype(), reference.tensors[i].second.dtype()) << state[i].first;
  }
  model->load_state_dict(reference.tensors);

  model->eval();
  const safetensors::File eval = safetensors::read(dir + "/eval.safetensors");
  {
    NoGradGuard no_grad;
    EXPECT_TRUE(testing::all_close((*model)(eval.at("input")), eval.at("logits"), 0, 1e-4, "eval logits"));
  }

  model->train();
  const safetensors::File step = safetensors::read(dir + "/train.safetensors");
  const Tensor logits = (*model)(step.at("input"));
  const Tensor loss = ops::cross_entropy(logits, step.at("target"));
  loss.backward();
  EXPECT_TRUE(testing::all_close(logits, step.at("logits"), 0, 1e-4, "training-mode logits"));
  EXPECT_TRUE(testing::all_close(loss, step.at("loss"), 0, 1e-5, "loss"));
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(testing::all_close(p.grad(), step.at("grad:" + name), 0, 1e-3, "gradient of " + name));
  }
  for (const auto& [name, b] : model->named_buffers()) {
    EXPECT_TRUE(testing::all_close(b, step.at("after:" + name), 0, 1e-5, name + " after the step"));
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, SmallResNetParity,
                         ::testing::Values(Variant{"resnet8", 8, 1}, Variant{"resnet20", 20, 3}),
                         [](const auto& info) { return variant_label(info.param); });

TEST(SmallResNet, RegisteredApartFromTheTorchvisionModels) {
  EXPECT_EQ(models::small_names(), (std::vector<std::string>{"resnet8", "resnet20"}));
  EXPECT_EQ(models::names().size(), 13u);
  std::vector<std::string> all = models::names();
  all.insert(all.end(), {"resnet8", "resnet20"});
  EXPECT_EQ(models::all_names(), all);
  testing::expect_error([] { models::create("resnet9"); }, "unknown model 'resnet9'", "vgg19_bn, resnet8, resnet20");
}

TEST(SmallResNet, DepthsAndShapes) {
  auto resnet8 = models::create("resnet8", {.num_classes = 5, .in_channels = 1});
  // The stem, two per block, and the 1x1 shortcuts at the start of stages 2 and 3.
  int64_t convs = 0;
  for (const auto& [name, module] : resnet8->named_modules()) convs += module->type_name() == "Conv2d";
  EXPECT_EQ(convs, 1 + 3 * 2 + 2);
  NoGradGuard no_grad;
  resnet8->eval();
  EXPECT_EQ((*resnet8)(Tensor::zeros({2, 1, 28, 28})).shape(), (Shape{2, 5}));

  auto resnet20 = std::make_shared<models::SmallResNet>(20, models::ModelOptions{.num_classes = 10});
  EXPECT_EQ(resnet20->parameter_count(), 272474);  // He et al.: "0.27M" (with option-B shortcuts)
  resnet20->eval();
  EXPECT_EQ((*resnet20)(Tensor::zeros({1, 3, 32, 32})).shape(), (Shape{1, 10}));
}

TEST(SmallResNet, HeadlessReturnsThe64PooledFeatures) {
  auto model = models::create("resnet8", {.headless = true, .in_channels = 1});
  for (const auto& [name, t] : model->state_dict()) EXPECT_NE(name.rfind("fc.", 0), 0u) << name;
  EXPECT_EQ(std::dynamic_pointer_cast<models::SmallResNet>(model)->feature_size(), 64);
  NoGradGuard no_grad;
  model->eval();
  EXPECT_EQ((*model)(Tensor::zeros({3, 1, 28, 28})).shape(), (Shape{3, 64}));
}

TEST(SmallResNet, TheSameSeedGivesTheSameWeights) {
  Generator a(5), b(5);
  const nn::StateDict first = models::create("resnet8", {.generator = &a})->state_dict();
  const nn::StateDict second = models::create("resnet8", {.generator = &b})->state_dict();
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(testing::all_close(first[i].second, second[i].second, 0, 0, first[i].first));
  }
}

TEST(SmallResNet, BadOptionsAndInputsAreClearErrors) {
  testing::expect_error([] { models::SmallResNet(9, {}); }, "SmallResNet", "6n + 2");
  testing::expect_error([] { models::create("resnet8", {.num_classes = 0}); }, "SmallResNet", "num_classes");
  testing::expect_error([] { models::create("resnet8", {.in_channels = 0}); }, "SmallResNet", "in_channels");
  testing::expect_error([] { models::create("resnet18", {.in_channels = 1}); }, "resnet18", "in_channels must be 3");
  testing::expect_error([] { models::create("vgg11_bn", {.in_channels = 4}); }, "vgg11_bn", "in_channels must be 3");
  auto model = models::create("resnet8", {.in_channels = 1});
  testing::expect_error([&] { (*model)(Tensor::zeros({1, 3, 28, 28})); }, "SmallResNet", "in_channels");
}

}  // namespace
}  // namespace graft
