// In-memory datasets: TensorDataset (checked inputs, fresh copies, transforms), SubsetDataset and
// indices_with_labels, on synthetic tensors and on Fashion-MNIST when Debian's copy is installed.
#include "data/tensor_dataset.h"

#include <filesystem>

#include "data/idx.h"
#include "gtest/gtest.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

Tensor numbered_images(int64_t n) {
  Tensor images = Tensor::zeros({n, 1, 2, 2});
  for (int64_t i = 0; i < n; ++i) images.select(0, i).fill_(static_cast<double>(i));
  return images;
}

TEST(TensorDataset, SamplesAreCopiesWithLabels) {
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{2, 0, 1, 2}, {4});
  const TensorDataset dataset(numbered_images(4), labels, {});
  EXPECT_EQ(dataset.size(), 4);
  EXPECT_EQ(dataset.classes(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(dataset.label(3), 2);
  Generator rng(0);
  Sample sample = dataset.get(2, rng);
  EXPECT_EQ(sample.image.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(sample.label, 1);
  sample.image.fill_(-1.0);  // a copy: the dataset keeps its values
  EXPECT_EQ(dataset.get(2, rng).image.to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
  EXPECT_EQ(dataset.describe(1), "sample 1");
}

TEST(TensorDataset, TransformSeesTheGenerator) {
  const TensorDataset dataset(numbered_images(3), Tensor::from_vector(std::vector<int64_t>{0, 0, 0}, {3}), {"x"},
                              [](const Tensor& image, Generator& rng) {
                                Tensor out = image.clone();
                                out.fill_(rng.next_double());
                                return out;
                              });
  Generator a(5), b(5);
  EXPECT_EQ(dataset.get(0, a).image.to_vector<float>(), dataset.get(1, b).image.to_vector<float>());
}

TEST(TensorDataset, Errors) {
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1}, {2});
  testing::expect_error([&] { TensorDataset(Tensor::zeros({2, 4}), labels, {}); }, "TensorDataset", "[N, C, H, W]");
  testing::expect_error([&] { TensorDataset(numbered_images(3), labels, {}); }, "TensorDataset", "N = 3");
  testing::expect_error([&] { TensorDataset(numbered_images(2), labels, {"only"}); }, "TensorDataset",
                        "label 1 of sample 1");
  const TensorDataset dataset(numbered_images(2), labels, {});
  Generator rng(0);
  testing::expect_error([&] { dataset.get(2, rng); }, "TensorDataset::get", "out of range");
}

TEST(SubsetDataset, RenumbersAndFilters) {
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0}, {5});
  auto base = std::make_shared<TensorDataset>(numbered_images(5), labels, std::vector<std::string>{"a", "b", "c"});
  const std::vector<int64_t> picked = indices_with_labels(*base, {1, 2});
  EXPECT_EQ(picked, (std::vector<int64_t>{1, 2, 3}));
  const SubsetDataset subset(base, picked);
  EXPECT_EQ(subset.size(), 3);
  EXPECT_EQ(subset.label(2), 1);
  EXPECT_EQ(subset.classes(), base->classes());
  EXPECT_EQ(subset.describe(0), "sample 1");
  Generator rng(0);
  EXPECT_EQ(subset.get(2, rng).image.to_vector<float>()[0], 3.0f);
  testing::expect_error([&] { SubsetDataset(base, {5}); }, "SubsetDataset", "index 5");
}

TEST(TensorDataset, FashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "skipped: Debian's dataset-fashion-mnist is not installed (" << dir << ")";
  }
  const TensorDataset dataset(read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", 200),
                              read_idx_labels(dir + "/t10k-labels-idx1-ubyte.gz", 200), {});
  EXPECT_EQ(dataset.size(), 200);
  EXPECT_EQ(dataset.classes().size(), 10u);
  Generator rng(0);
  EXPECT_EQ(dataset.get(0, rng).image.shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(indices_with_labels(dataset, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}).size(), 200u);
}

}  // namespace
}  // namespace graft::data
