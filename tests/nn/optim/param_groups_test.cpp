// make_param_groups: the head/backbone split, the no-decay split (biases and batch-norm weights),
// frozen parameters left out, and its errors.
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/optim/param_groups.h"
#include "tests/nn/tiny_net.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

using testing::expect_error;
using testing::TinyNet;

// "name lr wd: param, param" per group.
std::vector<std::string> describe(const std::vector<nn::ParamGroup>& groups) {
  std::vector<std::string> out;
  for (const nn::ParamGroup& group : groups) {
    std::string line = concat(group.name, " ", group.lr, " ", group.weight_decay, ":");
    for (const auto& [name, param] : group.params) line += " " + name;
    out.push_back(line);
  }
  return out;
}

TEST(ParamGroups, OneBackboneGroupByDefault) {
  Generator gen(1);
  TinyNet net(gen);  // scale, conv.weight, bn.weight, bn.bias, head.2.weight, head.2.bias
  EXPECT_EQ(describe(nn::make_param_groups(net, {.lr = 0.1, .head_lr = {}, .head_prefixes = {}, .weight_decay = 1e-4})),
            (std::vector<std::string>{"backbone 0.1 0.0001: scale conv.weight bn.weight bn.bias head.2.weight head.2.bias"}));
}

TEST(ParamGroups, HeadGetsItsOwnLr) {
  Generator gen(2);
  TinyNet net(gen);
  const auto groups = nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"head."}});
  EXPECT_EQ(describe(groups), (std::vector<std::string>{"backbone 0.01 0: scale conv.weight bn.weight bn.bias",
                                                        "head 0.1 0: head.2.weight head.2.bias"}));
  EXPECT_EQ(groups[1].params[0].second.raw_impl(), net.named_parameters()[4].second.raw_impl());  // the model's own tensor
}

TEST(ParamGroups, BiasesAndBatchNormWeightsAreNotDecayed) {
  Generator gen(3);
  TinyNet net(gen);
  EXPECT_EQ(describe(nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"head.2."},
                                                 .weight_decay = 0.05, .no_decay_bn_and_bias = true})),
            (std::vector<std::string>{"backbone 0.01 0.05: scale conv.weight", "no_decay 0.01 0: bn.weight bn.bias",
                                      "head 0.1 0.05: head.2.weight", "head_no_decay 0.1 0: head.2.bias"}));
  EXPECT_EQ(describe(nn::make_param_groups(net, {.lr = 0.01, .head_lr = {}, .head_prefixes = {}, .weight_decay = 0.05, .no_decay_bn_and_bias = true})),
            (std::vector<std::string>{"backbone 0.01 0.05: scale conv.weight head.2.weight",
                                      "no_decay 0.01 0: bn.weight bn.bias head.2.bias"}));
}

TEST(ParamGroups, FrozenParametersGetNoGroup) {
  Generator gen(4);
  TinyNet net(gen);
  net.conv->set_requires_grad(false);
  net.bn->set_requires_grad(false);
  EXPECT_EQ(describe(nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"head."}})),
            (std::vector<std::string>{"backbone 0.01 0: scale", "head 0.1 0: head.2.weight head.2.bias"}));
  net.scale.set_requires_grad(false);  // a linear probe: only the head trains
  EXPECT_EQ(describe(nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"head."}})),
            (std::vector<std::string>{"head 0.1 0: head.2.weight head.2.bias"}));
}

TEST(ParamGroups, BadOptionsAreRefused) {
  Generator gen(5);
  TinyNet net(gen);
  expect_error([&] { nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {}}); }, "make_param_groups",
               "head_lr is set but no head prefix is given");
  expect_error([&] { nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"fc."}}); },
               "make_param_groups", "no trainable parameter starts with a head prefix (\"fc.\"); trainable "
               "parameters are named like scale, conv.weight");
  expect_error([&] { nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {""}}); },
               "make_param_groups", "an empty head prefix");
  expect_error([&] { nn::make_param_groups(net, {.lr = -0.01, .head_lr = {}, .head_prefixes = {}}); }, "make_param_groups", "lr is -0.01");
  expect_error([&] { nn::make_param_groups(net, {.lr = 0.01, .head_lr = -1.0, .head_prefixes = {"head."}}); },
               "make_param_groups", "head_lr is -1");
  expect_error([&] { nn::make_param_groups(net, {.lr = 0.01, .head_lr = {}, .head_prefixes = {}, .weight_decay = -1}); }, "make_param_groups", "weight_decay is -1");
  net.set_requires_grad(false);
  expect_error([&] { nn::make_param_groups(net, {}); }, "make_param_groups",
               "no parameter of the TinyNet model is trainable (all 6 are frozen)");
}

TEST(ParamGroups, GroupsFeedAnOptimizer) {
  Generator gen(6);
  TinyNet net(gen);
  nn::Sgd sgd(nn::make_param_groups(net, {.lr = 0.01, .head_lr = 0.1, .head_prefixes = {"head."}}), {.momentum = 0.9});
  EXPECT_EQ(sgd.groups()[1].initial_lr, 0.1);
  const Tensor x = randn({2, 2, 5, 5}, gen);
  const std::vector<float> before = net.head->named_parameters()[0].second.to_vector<float>();
  ops::sum(net(x)).backward();
  sgd.step();
  EXPECT_NE(net.head->named_parameters()[0].second.to_vector<float>(), before);
}

}  // namespace
}  // namespace graft
