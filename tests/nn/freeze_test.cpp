// Freezing: glob matching, selectors over torchvision's ResNet and VGG names and their errors,
// gradients of a partly frozen ResNet (none for the frozen prefix, no graph recorded there, and
// the same gradients as the unfrozen model for the rest), frozen batch-norm statistics, the
// trainability summary and `graft inspect --freeze`.
#include "nn/freeze.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "core/ops/ops.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "models/registry.h"
#include "nn/nn.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"
#include "tests/support/process.h"
#include "weights/json.h"

namespace graft {
namespace {

using Names = std::vector<std::string>;

std::shared_ptr<nn::Module> uninitialized(const std::string& name) {
  return models::create(name, {.initialize = false});
}

Names parameter_names(const nn::Module& model) {
  Names names;
  for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
  return names;
}

// The model's parameter names that fully match `regex`: an oracle independent of glob_match.
Names names_matching(const nn::Module& model, const std::string& regex) {
  Names names;
  for (const std::string& name : parameter_names(model)) {
    if (std::regex_match(name, std::regex(regex))) names.push_back(name);
  }
  return names;
}

Names trainable_names(const nn::Module& model) {
  Names names;
  for (const auto& [name, p] : model.named_parameters()) {
    if (p.requires_grad()) names.push_back(name);
  }
  return names;
}

TEST(GlobMatch, WildcardsClassesAndWholeNames) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  const Case cases[] = {
      {"conv1.*", "conv1.weight", true},
      {"conv1.*", "layer1.0.conv1.weight", false},  // whole-name match: no implicit leading '*'
      {"conv1", "conv1.weight", false},             // ... and no implicit trailing one
      {"*.conv1.*", "layer1.0.conv1.weight", true},
      {"*", "fc.bias", true},
      {"*", "", true},
      {"", "", true},
      {"", "a", false},
      {"layer*", "layer4.1.bn2.bias", true},  // '*' crosses dots
      {"*.bias", "layer4.1.bn2.bias", true},
      {"*.bias", "layer4.1.bn2.weight", false},
      {"*bn*.weight", "layer2.0.bn1.weight", true},
      {"*a*b*c", "xaybzc", true},
      {"*a*b*c", "xaybzcd", false},
      {"layer[12].*", "layer1.0.conv1.weight", true},
      {"layer[12].*", "layer2.1.bn2.bias", true},
      {"layer[12].*", "layer3.0.conv1.weight", false},
      {"features.1[0-9].*", "features.14.weight", true},
      {"features.1[0-9].*", "features.1.weight", false},
      {"features.1[0-9].*", "features.21.weight", false},
      {"features.[!0].*", "features.3.weight", true},
      {"features.[!0].*", "features.0.weight", false},
      {"features.[!0-4].*", "features.4.weight", false},
      {"features.[!0-4].*", "features.7.weight", true},
      {"layer?.0.*", "layer3.0.conv2.weight", true},
      {"layer?.0.*", "layer.0.conv2.weight", false},  // '?' is exactly one character
      {"fc.?eight", "fc.weight", true},
      {"fc.weigh?", "fc.weigh", false},
      {"conv1.weight", "conv1xweight", false},  // '.' is literal
      {"[]a].x", "].x", true},                  // ']' first in a class is a member
      {"[a-c-]", "-", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(nn::glob_match(c.pattern, c.name), c.match) << "pattern '" << c.pattern << "' name '" << c.name << "'";
  }
}

TEST(GlobMatch, UnclosedClassIsAnError) {
  testing::expect_error([] { nn::glob_match("layer[12.*", "layer1.x"); }, "layer[12.*", "never closed");
}

TEST(SelectParameters, GlobsOverResNetNames) {
  const auto resnet = uninitialized("resnet18");
  EXPECT_EQ(nn::select_parameters(*resnet, "conv1.*"), Names{"conv1.weight"});
  const Names layers12 = nn::select_parameters(*resnet, "layer[12].*");
  EXPECT_EQ(layers12, names_matching(*resnet, R"(layer[12]\..*)"));
  EXPECT_EQ(layers12.size(), 2u * 12 + 3);  // 2 blocks of 6 per stage, plus layer2's downsample (3)
  EXPECT_EQ(nn::select_parameters(*resnet, "*.bias"), names_matching(*resnet, R"(.*\.bias)"));
}

TEST(SelectParameters, VggFeatureIndices) {
  const auto vgg = uninitialized("vgg16_bn");
  const Names features = nn::select_parameters(*vgg, "features.1[0-9].*");
  EXPECT_EQ(features, names_matching(*vgg, R"(features\.1[0-9]\..*)"));
  // features.10/14/17 are convolutions, features.11/15/18 their batch norms.
  EXPECT_EQ(features.size(), 12u);
  EXPECT_EQ(features.front(), "features.10.weight");
  EXPECT_EQ(nn::select_parameters(*vgg, "before:classifier"), names_matching(*vgg, R"(features\..*)"));
  EXPECT_EQ(nn::select_parameters(*vgg, "type:BatchNorm2d").size(), 2u * 13);
}

TEST(SelectParameters, BeforeChildAndByType) {
  const auto resnet = uninitialized("resnet18");
  EXPECT_EQ(nn::select_parameters(*resnet, "before:layer3"), names_matching(*resnet, R"((conv1|bn1|layer1|layer2)\..*)"));
  // No parameters live between layer4 and fc (avgpool), so before:fc is the whole backbone.
  EXPECT_EQ(nn::select_parameters(*resnet, "before:fc"), names_matching(*resnet, R"((?!fc\.).*)"));

  const Names batch_norms = nn::select_parameters(*resnet, "type:BatchNorm2d");
  EXPECT_EQ(batch_norms, names_matching(*resnet, R"((bn1|.*\.bn[12]|.*\.downsample\.1)\.(weight|bias))"));
  EXPECT_EQ(batch_norms.size(), 2u * 20);
  EXPECT_EQ(nn::select_parameters(*resnet, "type:Linear"), (Names{"fc.weight", "fc.bias"}));
  // A composite type picks its descendants' parameters.
  EXPECT_EQ(nn::select_parameters(*resnet, "type:BasicBlock"), names_matching(*resnet, R"(layer.*)"));
}

TEST(SelectParameters, ErrorsSayWhatExists) {
  const auto resnet = uninitialized("resnet18");
  const nn::Module& model = *resnet;
  testing::expect_error([&] { nn::select_parameters(model, "conv9.*"); }, "matches no parameter", "conv1.weight");
  testing::expect_error([&] { nn::select_parameters(model, "conv9.*"); }, "matches no parameter", "layer4");
  testing::expect_error([&] { nn::select_parameters(model, "layer1"); }, "matches no parameter", "'layer1.*'");
  testing::expect_error([&] { nn::select_parameters(model, "before:layer9"); }, "not a top-level child",
                        "conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4, avgpool, fc");
  testing::expect_error([&] { nn::select_parameters(model, "before:conv1"); }, "picks no parameter", "conv1");
  testing::expect_error([&] { nn::select_parameters(model, "type:BatchNorm"); }, "no module of type 'BatchNorm'",
                        "BatchNorm2d");
  testing::expect_error([&] { nn::select_parameters(model, "type:ReLU"); }, "picks no parameter", "Conv2d");
  testing::expect_error([&] { nn::select_parameters(model, ""); }, "empty selector", "conv1.*");
}

TEST(Freeze, CommaSeparatedSelectorsAndUnfreeze) {
  const auto resnet = uninitialized("resnet18");
  const Names frozen = nn::freeze(*resnet, {"conv1.*, bn1.*", "layer1.*"});
  EXPECT_EQ(frozen, names_matching(*resnet, R"((conv1|bn1|layer1)\..*)"));
  Names rest = parameter_names(*resnet);
  std::erase_if(rest, [&](const std::string& n) { return std::count(frozen.begin(), frozen.end(), n) > 0; });
  EXPECT_EQ(trainable_names(*resnet), rest);

  // A comma inside a class does not split; overlapping selectors pick each name once.
  EXPECT_EQ(nn::unfreeze(*resnet, {"layer[1,2].*,layer1.0.*"}), names_matching(*resnet, R"(layer[12]\..*)"));
  EXPECT_EQ(trainable_names(*resnet), names_matching(*resnet, R"((?!conv1\.|bn1\.).*)"));
}

TEST(Freeze, BadSelectorChangesNothing) {
  const auto resnet = uninitialized("resnet18");
  testing::expect_error([&] { nn::freeze(*resnet, {"conv1.*,layer5.*"}); }, "layer5.*", "matches no parameter");
  testing::expect_error([&] { nn::freeze(*resnet, {"conv1.*,,fc.*"}); }, "empty selector", "commas");
  testing::expect_error([&] { nn::freeze(*resnet, {}); }, "no selector", "before:NAME");
  EXPECT_EQ(trainable_names(*resnet), parameter_names(*resnet));
}

// One training step's loss on a fixed batch, backpropagated; records what enters `fc` and what
// `layer1` returns.
struct Step {
  Tensor layer1_output, fc_input;
};

Step forward_backward(nn::Module& model, const Tensor& x, const Tensor& labels) {
  Step step;
  const nn::Module* layer1 = model.child("layer1").get();
  const nn::Module* fc = model.child("fc").get();
  nn::ForwardObserver observer([&](const nn::Module& module, const Tensor& input, const Tensor& output) {
    if (&module == layer1) step.layer1_output = output;
    if (&module == fc) step.fc_input = input;
  });
  ops::cross_entropy(model(x), labels).backward();
  return step;
}

std::shared_ptr<nn::Module> seeded_resnet18() {
  Generator gen(7);
  return models::create("resnet18", {.num_classes = 5, .generator = &gen});
}

TEST(FrozenGradients, FrozenPrefixGetsNoGradientAndRecordsNoGraph) {
  Generator gen(3);
  const Tensor x = randn({2, 3, 64, 64}, gen);
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 4}, {2});

  const auto full = seeded_resnet18();
  forward_backward(*full, x, labels);

  const auto partial = seeded_resnet18();
  const Names frozen = nn::freeze(*partial, {"conv1.*,bn1.*,layer1.*"});
  const Step step = forward_backward(*partial, x, labels);
  EXPECT_EQ(step.layer1_output.grad_fn(), nullptr);
  EXPECT_FALSE(step.layer1_output.requires_grad());
  EXPECT_NE(step.fc_input.grad_fn(), nullptr);

  const nn::NamedTensors reference = full->named_parameters();
  const nn::NamedTensors parameters = partial->named_parameters();
  ASSERT_EQ(reference.size(), parameters.size());
  for (size_t i = 0; i < parameters.size(); ++i) {
    const auto& [name, p] = parameters[i];
    if (std::count(frozen.begin(), frozen.end(), name)) {
      EXPECT_FALSE(p.grad().defined()) << name;
      continue;
    }
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(testing::all_close(p.grad(), reference[i].second.grad(), 1e-6, 1e-5, name));
  }
}

TEST(FrozenGradients, LinearProbeRecordsNothingBeforeTheHead) {
  Generator gen(4);
  const Tensor x = randn({2, 3, 64, 64}, gen);
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 3}, {2});
  const auto model = seeded_resnet18();
  nn::freeze(*model, {"before:fc"});
  EXPECT_EQ(trainable_names(*model), (Names{"fc.weight", "fc.bias"}));
  const Step step = forward_backward(*model, x, labels);
  EXPECT_EQ(step.fc_input.grad_fn(), nullptr);
  EXPECT_FALSE(step.fc_input.requires_grad());
  for (const auto& [name, p] : model->named_parameters()) EXPECT_EQ(p.grad().defined(), p.requires_grad()) << name;
}

// A batch norm with running statistics away from their defaults, and a batch that is not
// normalized already.
struct BatchNormSetup {
  nn::BatchNorm2d bn{3};
  Tensor x;
  explicit BatchNormSetup(uint64_t seed) {
    Generator gen(seed);
    bn.running_mean().copy_(Tensor::from_vector(std::vector<float>{0.5f, -1.0f, 2.0f}, {3}));
    bn.running_var().copy_(Tensor::from_vector(std::vector<float>{0.25f, 4.0f, 1.5f}, {3}));
    bn.weight().copy_(Tensor::from_vector(std::vector<float>{1.5f, 0.5f, -1.0f}, {3}));
    x = randn({4, 3, 5, 5}, gen) * 3.0 + 1.0;
  }
};

TEST(FrozenBatchNorm, TrainingModeUsesAndKeepsRunningStatistics) {
  BatchNormSetup frozen(1);
  frozen.bn.set_requires_grad(false);
  frozen.bn.set_stats_frozen(true);
  const Tensor mean_before = frozen.bn.running_mean().clone(), var_before = frozen.bn.running_var().clone();
  frozen.bn.train();
  EXPECT_TRUE(frozen.bn.stats_frozen());  // train() does not undo it
  const Tensor y = frozen.bn(frozen.x);
  EXPECT_TRUE(frozen.bn.is_training());
  EXPECT_TRUE(testing::all_close(frozen.bn.running_mean(), mean_before, 0, 0, "running_mean"));
  EXPECT_TRUE(testing::all_close(frozen.bn.running_var(), var_before, 0, 0, "running_var"));
  EXPECT_EQ(frozen.bn.num_batches_tracked().item(), 0);

  BatchNormSetup eval(1);
  eval.bn.eval();
  EXPECT_TRUE(testing::all_close(y, eval.bn(eval.x), 0, 0, "output"));

  BatchNormSetup learning(1);  // the same layer, not frozen: batch statistics and an update
  const Tensor y_learning = learning.bn(learning.x);
  EXPECT_FALSE(testing::all_close(y_learning, y, 1e-3, 0, "output"));
  EXPECT_EQ(learning.bn.num_batches_tracked().item(), 1);
  EXPECT_FALSE(testing::all_close(learning.bn.running_mean(), mean_before, 1e-3, 0, "running_mean"));
}

TEST(FrozenBatchNorm, GradientsStillReachTheInputAndTrainableAffine) {
  BatchNormSetup setup(2);
  setup.bn.set_stats_frozen(true);
  const Tensor x = setup.x.detach().set_requires_grad(true);
  ops::sum(setup.bn(x) * setup.x).backward();
  // y = w * (x - mean) / sqrt(var + eps) + b with constant statistics.
  const Tensor invstd = Tensor::from_vector(std::vector<float>{1 / std::sqrt(0.25f + 1e-5f), 1 / std::sqrt(4.0f + 1e-5f),
                                                               1 / std::sqrt(1.5f + 1e-5f)},
                                            {1, 3, 1, 1});
  const Tensor w = setup.bn.weight().detach().reshape({1, 3, 1, 1});
  EXPECT_TRUE(testing::all_close(x.grad(), setup.x * w * invstd, 1e-5, 1e-5, "dx"));
  EXPECT_TRUE(setup.bn.weight().grad().defined());
  EXPECT_TRUE(setup.bn.bias().grad().defined());
}

TEST(FrozenBatchNorm, FreezeBnStatsPicksLayersWithFrozenAffine) {
  const auto model = seeded_resnet18();
  nn::freeze(*model, {"conv1.*,bn1.*,layer1.*"});
  EXPECT_EQ(nn::freeze_bn_stats(*model), 5);  // bn1 and layer1's four
  const auto bn_at = [&](const std::string& name) {
    for (const auto& [module_name, module] : model->named_modules()) {
      if (module_name == name) return dynamic_cast<nn::BatchNorm2d*>(module);
    }
    return static_cast<nn::BatchNorm2d*>(nullptr);
  };
  nn::BatchNorm2d* frozen = bn_at("layer1.1.bn2");
  nn::BatchNorm2d* learning = bn_at("layer2.0.bn1");
  ASSERT_TRUE(frozen && learning);
  EXPECT_TRUE(frozen->stats_frozen());
  EXPECT_FALSE(learning->stats_frozen());

  model->eval();
  model->train();  // as a training loop does each epoch
  EXPECT_TRUE(frozen->stats_frozen());
  Generator gen(5);
  const Tensor frozen_mean = frozen->running_mean().clone();
  const Tensor learning_mean = learning->running_mean().clone();
  (*model)(randn({2, 3, 64, 64}, gen));
  EXPECT_TRUE(testing::all_close(frozen->running_mean(), frozen_mean, 0, 0, "frozen running_mean"));
  EXPECT_EQ(frozen->num_batches_tracked().item(), 0);
  EXPECT_FALSE(testing::all_close(learning->running_mean(), learning_mean, 1e-4, 0, "learning running_mean"));
  EXPECT_EQ(learning->num_batches_tracked().item(), 1);
}

TEST(FrozenBatchNorm, FreezeBatchNormAndLayersWithoutStatistics) {
  nn::BatchNorm2d bn(4);
  nn::freeze_batch_norm(bn);
  EXPECT_TRUE(bn.stats_frozen());
  EXPECT_EQ(bn.parameter_count(true), 0);

  nn::BatchNorm2d untracked(4, {.track_running_stats = false});
  testing::expect_error([&] { untracked.set_stats_frozen(true); }, "BatchNorm2d", "track_running_stats=false");
  nn::Sequential layers(std::vector<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::BatchNorm2d>(4, nn::BatchNorm2dOptions{.track_running_stats = false}),
      std::make_shared<nn::BatchNorm2d>(4, nn::BatchNorm2dOptions{.affine = false}),
      std::make_shared<nn::BatchNorm2d>(4)});
  layers.set_requires_grad(false);
  layers.child("2")->set_requires_grad(true);
  // The untracked layer is skipped, the one without affine parameters counts, the last trains.
  EXPECT_EQ(nn::freeze_bn_stats(layers), 1);
}

TEST(TrainabilitySummary, CountsPerTopLevelChild) {
  const auto resnet = uninitialized("resnet18");
  nn::freeze(*resnet, {"before:layer3", "layer3.0.*"});
  nn::freeze_bn_stats(*resnet);
  const std::string summary = nn::trainability_summary(*resnet);
  const int64_t trainable = resnet->parameter_count(true), total = resnet->parameter_count();
  const auto grouped = [](int64_t v) {
    std::string digits = std::to_string(v), out;
    for (size_t i = 0; i < digits.size(); ++i) out += (i && (digits.size() - i) % 3 == 0 ? "," : "") + digits.substr(i, 1);
    return out;
  };
  EXPECT_NE(summary.find(grouped(trainable) + " trainable, " + grouped(total - trainable) + " frozen of " +
                         grouped(total) + " parameters"),
            std::string::npos)
      << summary;
  EXPECT_TRUE(std::regex_search(summary, std::regex(R"(\n  layer1 +0 trainable +[0-9,]+ frozen +frozen\n)"))) << summary;
  EXPECT_TRUE(std::regex_search(summary, std::regex(R"(\n  layer3 +[0-9,]+ trainable +[0-9,]+ frozen +partly frozen\n)")))
      << summary;
  EXPECT_TRUE(std::regex_search(summary, std::regex(R"(\n  fc +513,000 trainable +0 frozen +trainable\n)"))) << summary;
  EXPECT_EQ(summary.find("relu"), std::string::npos) << summary;  // children without parameters are left out
  EXPECT_NE(summary.find("batch norm statistics: 13 of 20 layers frozen"), std::string::npos) << summary;
}

TEST(InspectCommand, FreezePreviewInJsonAndText) {
  std::string output;
  ASSERT_EQ(testing::run_command(std::string(GRAFT_BINARY) +
                                     " inspect resnet18 --input-size 32 --freeze 'before:layer4' --freeze-bn-stats --json",
                                 &output),
            0)
      << output;
  const json::Value report = json::parse(output);
  const json::Object& top = report.object("report");
  const auto model = uninitialized("resnet18");
  nn::freeze(*model, {"before:layer4"});
  EXPECT_EQ(top.at("trainable_parameters").integer("trainable"), model->parameter_count(true));
  EXPECT_EQ(top.at("frozen_parameters").integer("frozen"), model->parameter_count() - model->parameter_count(true));
  EXPECT_EQ(top.at("bn_stats_frozen").integer("bn"), 1 + 4 + 5 + 5);
  const json::Array& parameters = top.at("named_parameters").array("named_parameters");
  ASSERT_EQ(parameters.size(), model->named_parameters().size());
  for (const json::Value& p : parameters) {
    const std::string name = p.object("p").at("name").string("name");
    const bool trainable = std::get<bool>(p.object("p").at("trainable").data);
    EXPECT_EQ(trainable, name.rfind("layer4.", 0) == 0 || name.rfind("fc.", 0) == 0) << name;
  }

  output.clear();
  ASSERT_EQ(testing::run_command(std::string(GRAFT_BINARY) + " inspect resnet18 --input-size 32 --freeze 'layer[123].*' "
                                 "--parameters", &output),
            0)
      << output;
  EXPECT_NE(output.find("layer1.0.conv1"), std::string::npos) << output;  // the layer table
  EXPECT_TRUE(std::regex_search(output, std::regex(R"(\n  layer2 +0 trainable +[0-9,]+ frozen +frozen\n)"))) << output;
  EXPECT_TRUE(std::regex_search(output, std::regex(R"(\n  layer2\.0\.conv1\.weight +\[128, 64, 3, 3\] +frozen\n)"))) << output;
  EXPECT_TRUE(std::regex_search(output, std::regex(R"(\n  conv1\.weight +\[64, 3, 7, 7\] +trains\n)"))) << output;

  output.clear();
  EXPECT_NE(testing::run_command(std::string(GRAFT_BINARY) + " inspect resnet18 --freeze 'layer9.*'", &output), 0);
  EXPECT_NE(output.find("matches no parameter"), std::string::npos) << output;
}

}  // namespace
}  // namespace graft
