// For each of the 13 models: the state dict's names, order, dtypes and shapes equal torchvision's
// (from tests/oracle/torchvision_models.py), so torchvision checkpoints load with no mapping.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "models/registry.h"
#include "tests/models/torchvision_fixtures.h"
#include "tests/support/torch_oracle.h"

namespace graft {
namespace {

using testing::TensorSpec;

class ModelStateDict : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelStateDict, EqualsTorchvisions) {
  GRAFT_REQUIRE_TORCH();
  const std::vector<TensorSpec> expected = testing::torchvision_spec(GetParam());
  std::vector<TensorSpec> actual;
  for (const auto& [name, t] : models::create(GetParam(), {.initialize = false})->state_dict()) {
    actual.push_back({name, dtype_name(t.dtype()), t.shape()});
  }
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) ASSERT_EQ(actual[i], expected[i]) << "at state-dict entry " << i;
}

INSTANTIATE_TEST_SUITE_P(AllModels, ModelStateDict, ::testing::ValuesIn(models::names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace graft
