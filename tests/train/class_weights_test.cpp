// train::parse_class_weights: scikit-learn's balanced formula on uneven classes, explicit weights,
// and the errors for every malformed value.
#include "train/class_weights.h"

#include <vector>

#include "gtest/gtest.h"
#include "tests/support/errors.h"

namespace graft {
namespace {

using train::parse_class_weights;

TEST(ClassWeights, BalancedGivesEveryClassTheSameTotal) {
  // 6 images of class 0, 3 of class 1, 1 of class 2: weights 10 / (3 * count).
  const std::vector<int64_t> labels = {0, 0, 1, 0, 2, 1, 0, 0, 1, 0};
  const std::vector<double> weights = parse_class_weights("balanced", labels, 3);
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_DOUBLE_EQ(weights[0], 10.0 / 18.0);
  EXPECT_DOUBLE_EQ(weights[1], 10.0 / 9.0);
  EXPECT_DOUBLE_EQ(weights[2], 10.0 / 3.0);
  // Each class's images then weigh 10 / 3 in all.
  EXPECT_DOUBLE_EQ(6 * weights[0], 3 * weights[1]);
  EXPECT_DOUBLE_EQ(3 * weights[1], 1 * weights[2]);
}

TEST(ClassWeights, ExplicitWeightsInClassOrder) {
  EXPECT_EQ(parse_class_weights("1,2.5,0", {0, 1}, 3), (std::vector<double>{1, 2.5, 0}));
  EXPECT_EQ(parse_class_weights("3e-1,4", {}, 2), (std::vector<double>{0.3, 4}));
}

TEST(ClassWeights, BadValuesSayWhatIsExpected) {
  const auto expect_error = [](const std::string& spec, int64_t classes, const std::string& fragment) {
    testing::expect_error([&] { parse_class_weights(spec, {0, 1, 1}, classes); }, "--class-weights", fragment);
  };
  expect_error("1,2", 3, "gives 2 weights but the data has 3 classes");
  expect_error("1,2,3,4", 3, "gives 4 weights");
  expect_error("1,-2", 2, "'-2' is not a non-negative number");
  expect_error("1,,2", 3, "'' is not a non-negative number");
  expect_error("1,2x", 2, "'2x' is not a non-negative number");
  expect_error("inf,1", 2, "'inf' is not a non-negative number");
  expect_error("0,0", 2, "every weight is 0");
  expect_error("Balanced", 2, "'Balanced' is not a non-negative number");
  expect_error("balanced", 3, "class 2 has no training images");
}

TEST(ClassWeights, TheLossTensorNeedsOneWeightPerClass) {
  EXPECT_FALSE(train::class_weight_tensor({}, 3, Device::cpu(), "the training loss").defined());
  const Tensor weights = train::class_weight_tensor({1, 2, 0.5}, 3, Device::cpu(), "the training loss");
  EXPECT_EQ(weights.to_vector<float>(), (std::vector<float>{1, 2, 0.5}));
  testing::expect_error([] { train::class_weight_tensor({1, 2}, 3, Device::cpu(), "the training loss"); },
                        "the training loss", "has 2 class weights but the data has 3 classes");
}

}  // namespace
}  // namespace graft
