// Parity with torchvision on the same random weights (fixtures from
// tests/oracle/torchvision_models.py): every model's eval-mode logits, and one training step of
// ResNet-18 (logits, loss, every parameter's gradient, every buffer afterwards).
#include <algorithm>
#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/ops/ops.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "tests/models/torchvision_fixtures.h"
#include "tests/support/compare.h"
#include "tests/support/torch_oracle.h"
#include "weights/safetensors.h"

namespace graft {
namespace {

// A model with the fixture's weights, loaded strictly (VGG checkpoints are float16): every
// tensor is overwritten, so random initialization is skipped.
std::shared_ptr<nn::Module> load_fixture_model(const std::string& dir, const std::string& name) {
  auto model = models::create(name, {.initialize = false});
  model->load_state_dict(safetensors::read(dir + "/" + name + ".weights.safetensors").tensors);
  return model;
}

class ModelForwardParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelForwardParity, EvalLogitsMatchTorchvision) {
  GRAFT_REQUIRE_TORCH();
  const std::string dir = testing::parity_fixtures_dir();
  auto model = load_fixture_model(dir, GetParam());
  model->eval();
  const safetensors::File io = safetensors::read(dir + "/" + GetParam() + ".io.safetensors");
  NoGradGuard no_grad;
  const Tensor logits = (*model)(io.at("input"));
  // 1e-3 of the largest logit: float32 sums in another order, through up to 152 layers.
  EXPECT_TRUE(testing::all_close(logits, io.at("logits"), 0, 1e-3, GetParam() + " logits"));
}

INSTANTIATE_TEST_SUITE_P(AllModels, ModelForwardParity, ::testing::ValuesIn(models::names()),
                         [](const auto& info) { return info.param; });

TEST(ResNetTrainingParity, OneStepMatchesTorchvision) {
  GRAFT_REQUIRE_TORCH();
  const std::string dir = testing::parity_fixtures_dir();
  auto model = load_fixture_model(dir, "resnet18");
  const safetensors::File step = safetensors::read(dir + "/resnet18.train.safetensors");
  model->train();
  const Tensor logits = (*model)(step.at("input"));
  const Tensor loss = ops::cross_entropy(logits, step.at("target"));
  loss.backward();

  EXPECT_TRUE(testing::all_close(logits, step.at("logits"), 0, 1e-4, "logits"));
  EXPECT_TRUE(testing::all_close(loss, step.at("loss"), 0, 1e-5, "loss"));
  for (const auto& [name, p] : model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(testing::all_close(p.grad(), step.at("grad:" + name), 0, 1e-3, "gradient of " + name));
  }
  for (const auto& [name, b] : model->named_buffers()) {
    EXPECT_TRUE(testing::all_close(b, step.at("after:" + name), 0, 1e-5, name + " after the step"));
  }
}

}  // namespace
}  // namespace graft
