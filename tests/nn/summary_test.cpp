// nn::summarize: one row per leaf call with shapes, parameters, FLOPs and trainability; the
// model's modes, running statistics and gradients are left as they were.
#include <string>

#include "core/rng.h"
#include "gtest/gtest.h"
#include "nn/nn.h"
#include "tests/nn/tiny_net.h"
#include "tests/support/compare.h"

namespace graft {
namespace {

using testing::TinyNet;

TEST(Summary, ListsEachLeafCallWithShapesParametersAndFlops) {
  Generator gen(1);
  TinyNet net(gen);
  net.conv->set_requires_grad(false);
  const nn::ModelSummary summary = nn::summarize(net, {2, 2, 5, 5});

  ASSERT_EQ(summary.layers.size(), 5u);
  const nn::LayerSummary& conv = summary.layers[0];
  EXPECT_EQ(conv.name, "conv");
  EXPECT_EQ(conv.type, "Conv2d");
  EXPECT_EQ(conv.output_shape, (Shape{2, 4, 5, 5}));
  EXPECT_EQ(conv.parameters, 4 * 2 * 9);
  EXPECT_EQ(conv.flops, 2 * (2 * 4 * 5 * 5) * (2 * 9));
  EXPECT_FALSE(conv.trainable);

  EXPECT_EQ(summary.layers[1].name, "bn");
  EXPECT_EQ(summary.layers[1].parameters, 8);
  EXPECT_TRUE(summary.layers[1].trainable);
  EXPECT_EQ(summary.layers[1].flops, 0);
  EXPECT_EQ(summary.layers[2].name, "head.0");
  EXPECT_EQ(summary.layers[2].output_shape, (Shape{2, 4, 1, 1}));
  EXPECT_EQ(summary.layers[3].type, "Flatten");
  EXPECT_EQ(summary.layers[3].output_shape, (Shape{2, 4}));
  EXPECT_EQ(summary.layers[4].name, "head.2");
  EXPECT_EQ(summary.layers[4].flops, 2 * 2 * 3 * 4);

  EXPECT_EQ(summary.input_shape, (Shape{2, 2, 5, 5}));
  EXPECT_EQ(summary.output_shape, (Shape{2, 3}));
  EXPECT_EQ(summary.parameters, net.parameter_count());
  EXPECT_EQ(summary.trainable_parameters, net.parameter_count() - 4 * 2 * 9);
  EXPECT_EQ(summary.flops, conv.flops + summary.layers[4].flops);

  const std::string table = summary.table();
  EXPECT_NE(table.find("head.2"), std::string::npos) << table;
  EXPECT_NE(table.find("[2, 4, 5, 5]"), std::string::npos) << table;
  EXPECT_NE(table.find("(" + std::to_string(summary.trainable_parameters) + " trainable)"), std::string::npos) << table;
}

TEST(Summary, LeavesModesRunningStatsAndGradientsUntouched) {
  Generator gen(2);
  TinyNet net(gen);
  net.head->eval();  // a mixed state to restore
  const Tensor running_mean = net.bn->running_mean().clone();
  nn::summarize(net, {3, 2, 6, 6});
  EXPECT_TRUE(net.is_training());
  EXPECT_TRUE(net.bn->is_training());
  EXPECT_FALSE(net.head->is_training());
  EXPECT_FALSE((*net.head)[2]->is_training());
  EXPECT_EQ(net.bn->num_batches_tracked().item(), 0);
  EXPECT_TRUE(testing::all_close(net.bn->running_mean(), running_mean, 0, 0, "running_mean"));
  EXPECT_FALSE(net.conv->weight().grad().defined());
}

TEST(Summary, ALayerCalledTwiceHasTwoRows) {
  Generator gen(3);
  auto relu = std::make_shared<nn::ReLU>();
  nn::Sequential seq({relu, std::make_shared<nn::Linear>(4, 6, true, gen), relu});
  const nn::ModelSummary summary = nn::summarize(seq, {1, 4});
  ASSERT_EQ(summary.layers.size(), 3u);
  EXPECT_EQ(summary.layers[2].output_shape, (Shape{1, 6}));
  // A shared module has one name: the first under which it was registered.
  EXPECT_EQ(summary.layers[0].name, summary.layers[2].name);
}

}  // namespace
}  // namespace graft
