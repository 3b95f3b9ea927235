// nn::Module mechanics: dotted names in torch's order, modes, freezing, apply, device moves,
// registration errors, Sequential indexing.
#include <memory>
#include <string>
#include <vector>

#include "core/cuda_runtime.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "tests/nn/tiny_net.h"
#include "tests/support/compare.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

using testing::TinyNet;

template <class Named>
std::vector<std::string> names_of(const Named& named) {
  std::vector<std::string> names;
  for (const auto& [name, value] : named) names.push_back(name);
  return names;
}

TEST(Module, ParameterBufferAndModuleNamesAreDottedInTorchOrder) {
  Generator gen(1);
  TinyNet net(gen);
  // A module's own parameters come before its children's, whatever the registration order.
  EXPECT_EQ(names_of(net.named_parameters()),
            (std::vector<std::string>{"scale", "conv.weight", "bn.weight", "bn.bias", "head.2.weight", "head.2.bias"}));
  EXPECT_EQ(names_of(net.named_buffers()),
            (std::vector<std::string>{"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  EXPECT_EQ(names_of(net.named_modules()),
            (std::vector<std::string>{"", "conv", "bn", "head", "head.0", "head.1", "head.2"}));
  EXPECT_EQ(names_of(net.named_children()), (std::vector<std::string>{"conv", "bn", "head"}));
  EXPECT_EQ(net.parameters().size(), 6u);
  EXPECT_EQ(net.parameter_count(), 1 + 4 * 2 * 9 + 4 + 4 + 3 * 4 + 3);
}

TEST(Module, ParametersAreLeavesThatRequireGradAndAliasTheLayersTensors) {
  Generator gen(2);
  TinyNet net(gen);
  for (const auto& [name, p] : net.named_parameters()) {
    EXPECT_TRUE(p.requires_grad()) << name;
    EXPECT_TRUE(p.is_leaf()) << name;
  }
  const Tensor registered = net.named_parameters()[1].second;
  EXPECT_EQ(registered.raw_impl(), net.conv->weight().raw_impl());
}

TEST(Module, BatchNormBuffersHaveTorchsValuesAndDtypes) {
  nn::BatchNorm2d bn(3);
  const nn::NamedTensors buffers = bn.named_buffers();
  ASSERT_EQ(buffers.size(), 3u);
  EXPECT_EQ(buffers[0].second.to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(buffers[1].second.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  const Tensor& tracked = buffers[2].second;
  EXPECT_EQ(tracked.dtype(), DType::i64);
  EXPECT_EQ(tracked.dim(), 0);
  EXPECT_EQ(tracked.item(), 0);
  EXPECT_FALSE(tracked.requires_grad());
}

TEST(Module, TrainAndEvalReachEveryDescendant) {
  Generator gen(3);
  TinyNet net(gen);
  EXPECT_TRUE(net.is_training());
  net.eval();
  for (const auto& [name, module] : net.named_modules()) EXPECT_FALSE(module->is_training()) << name;
  net.head->train();
  EXPECT_FALSE(net.is_training());
  EXPECT_TRUE(net.head->is_training());
  EXPECT_TRUE((*net.head)[2]->is_training());
  EXPECT_FALSE(net.bn->is_training());
  net.train();
  for (const auto& [name, module] : net.named_modules()) EXPECT_TRUE(module->is_training()) << name;
}

TEST(Module, FrozenParametersGetNoGradientAndOthersDo) {
  Generator gen(4);
  TinyNet net(gen);
  net.set_requires_grad(false);
  net.head->set_requires_grad(true);
  EXPECT_EQ(net.parameter_count(true), 3 * 4 + 3);

  net((randn({2, 2, 5, 5}, gen))).backward(Tensor::ones({2, 3}));
  EXPECT_FALSE(net.conv->weight().grad().defined());
  EXPECT_FALSE(net.bn->weight().grad().defined());
  EXPECT_FALSE(net.scale.grad().defined());
  const auto linear = std::dynamic_pointer_cast<nn::Linear>((*net.head)[2]);
  ASSERT_TRUE(linear);
  EXPECT_TRUE(linear->weight().grad().defined());
  EXPECT_TRUE(linear->bias().grad().defined());
}

TEST(Module, ApplyVisitsChildrenBeforeParents) {
  Generator gen(5);
  TinyNet net(gen);
  std::vector<std::string> order;
  net.apply([&](nn::Module& module) { order.push_back(module.type_name()); });
  EXPECT_EQ(order, (std::vector<std::string>{"Conv2d", "BatchNorm2d", "AdaptiveAvgPool2d", "Flatten", "Linear",
                                             "Sequential", "TinyNet"}));
}

TEST(Module, ChildLookupNamesTheAvailableChildren) {
  Generator gen(6);
  TinyNet net(gen);
  EXPECT_EQ(net.child("bn").get(), net.bn.get());
  testing::expect_error([&] { net.child("fc"); }, "TinyNet", "conv, bn, head");
}

// Registers whatever its constructor is told to, to provoke registration errors.
class Registrar : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Registrar"; }
  void add_parameter(const std::string& name) { register_parameter(name, Tensor::zeros({1})); }
  void add_buffer(const std::string& name) { register_buffer(name, Tensor::zeros({1})); }
  void add_child(const std::string& name, std::shared_ptr<nn::Module> child) { register_module(name, child); }
};

TEST(Module, RegistrationRejectsTakenEmptyDottedNamesAndNulls) {
  Registrar module;
  module.add_parameter("weight");
  testing::expect_error([&] { module.add_parameter("weight"); }, "Registrar", "already registered");
  testing::expect_error([&] { module.add_buffer("weight"); }, "Registrar", "already registered");
  testing::expect_error([&] { module.add_child("weight", std::make_shared<nn::ReLU>()); }, "Registrar",
                        "already registered");
  testing::expect_error([&] { module.add_parameter("a.b"); }, "Registrar", "no '.'");
  testing::expect_error([&] { module.add_buffer(""); }, "Registrar", "non-empty");
  testing::expect_error([&] { module.add_child("relu", nullptr); }, "Registrar", "null");
}

TEST(Module, SequentialNamesChildrenByIndexAndChainsThem) {
  Generator gen(7);
  nn::Sequential seq({std::make_shared<nn::Linear>(3, 4, true, gen), std::make_shared<nn::ReLU>()});
  seq.push_back(std::make_shared<nn::Linear>(4, 2, true, gen));
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_EQ(names_of(seq.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(seq[1]->type_name(), "ReLU");
  testing::expect_error([&] { seq[3]; }, "Sequential", "out of range");

  const Tensor x = randn({5, 3}, gen);
  const Tensor expected = (*seq[2])((*seq[1])((*seq[0])(x)));
  EXPECT_TRUE(testing::all_close(seq(x), expected, 0, 0, "Sequential output"));
}

TEST(Module, ToTheSameDeviceKeepsEveryHandle) {
  Generator gen(8);
  TinyNet net(gen);
  const Tensor weight = net.conv->weight();
  const void* data = weight.raw_data();
  net.to(Device::cpu());
  EXPECT_EQ(net.conv->weight().raw_data(), data);
  EXPECT_EQ(weight.raw_impl(), net.conv->weight().raw_impl());
}

TEST(Module, ToCudaMovesInPlaceSoEarlierHandlesFollow) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "skipped: no CUDA device is present";
  Generator gen(9);
  TinyNet net(gen);
  const std::vector<Tensor> handles = net.parameters();  // as an optimizer would hold them
  const nn::StateDict before = net.state_dict();
  std::vector<Tensor> values;
  for (const auto& [name, t] : before) values.push_back(t.clone());

  net.to(Device::cuda());
  for (const Tensor& handle : handles) EXPECT_TRUE(handle.device().is_cuda());
  const nn::StateDict after = net.state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(after[i].second.device().is_cuda()) << after[i].first;
    EXPECT_TRUE(testing::all_close(after[i].second.to(Device::cpu()), values[i], 0, 0, after[i].first));
  }
  net.to(Device::cpu());
  EXPECT_TRUE(handles[0].device().is_cpu());
}

}  // namespace
}  // namespace graft
