// The threaded loader: every sample once per epoch, a shuffle that is a function of (seed, epoch),
// identical batches whatever the number of workers, batches in order, drop_last, errors that name
// the file (or skipped and counted), and shutdown mid-epoch without hanging.
#include "data/loader.h"

#include <stb/stb_image_write.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <thread>

#include "core/cuda_runtime.h"
#include "core/error.h"
#include "data/image_folder.h"
#include "data/tensor_dataset.h"
#include "tests/data/image_oracle.h"
#include "tests/support/errors.h"

namespace graft::data {
namespace {

// Sample i: a [1, 2, 2] image holding i and three draws from the sample's generator (so the
// augmentation stream is visible in the batch), label i % 3. Samples listed in `bad` raise an Error
// naming "file-i"; `delay` slows every sample (microseconds, varying with i to reorder completions).
class SyntheticDataset : public Dataset {
 public:
  explicit SyntheticDataset(int64_t size, std::set<int64_t> bad = {}, int64_t delay = 0)
      : size_(size), bad_(std::move(bad)), delay_(delay) {}

  int64_t size() const override { return size_; }
  Sample get(int64_t index, Generator& rng) const override {
    check_index(index, "SyntheticDataset::get");
    if (delay_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_ * (1 + index % 7)));
    GRAFT_CHECK(!bad_.count(index), "cannot decode 'file-", index, "': broken");
    const std::vector<float> values = {static_cast<float>(index), static_cast<float>(rng.next_double()),
                                       static_cast<float>(rng.next_double()), static_cast<float>(rng.next_double())};
    return {Tensor::from_vector(values, {1, 2, 2}), index % 3};
  }
  int64_t label(int64_t index) const override { return index % 3; }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string describe(int64_t index) const override { return "file-" + std::to_string(index); }

 private:
  int64_t size_;
  std::set<int64_t> bad_;
  int64_t delay_;
  std::vector<std::string> classes_{"a", "b", "c"};
};

LoaderOptions options_with(int64_t batch_size, int64_t workers, uint64_t seed = 1) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  options.seed = seed;
  return options;
}

std::vector<Batch> epoch_batches(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> epoch_order(Loader& loader, int64_t epoch) {
  std::vector<int64_t> order;
  for (const Batch& batch : epoch_batches(loader, epoch)) {
    order.insert(order.end(), batch.indices.begin(), batch.indices.end());
  }
  return order;
}

TEST(Loader, EveryIndexOncePerEpochInASeededOrder) {
  auto dataset = std::make_shared<SyntheticDataset>(103);
  Loader loader(dataset, options_with(10, 2));
  EXPECT_EQ(loader.batches_per_epoch(), 11);
  const std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 11u);
  EXPECT_EQ(batches.back().indices.size(), 3u);
  EXPECT_EQ(batches.back().images.shape(), (Shape{3, 1, 2, 2}));
  std::vector<int64_t> order;
  for (const Batch& batch : batches) {
    EXPECT_EQ(batch.labels.dtype(), DType::i64);
    for (size_t i = 0; i < batch.indices.size(); ++i) {
      // Each batch row belongs to the index reported for it.
      EXPECT_EQ(batch.images.select(0, static_cast<int64_t>(i)).contiguous().data<float>()[0],
                static_cast<float>(batch.indices[i]));
      EXPECT_EQ(batch.labels.data<int64_t>()[i], batch.indices[i] % 3);
    }
    order.insert(order.end(), batch.indices.begin(), batch.indices.end());
  }
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 103; ++i) ASSERT_EQ(sorted[i], i);
  std::vector<int64_t> identity(103);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(order, identity);

  // Another epoch, another order; the same (seed, epoch) in a fresh loader, the same order.
  const std::vector<int64_t> epoch1 = epoch_order(loader, 1);
  EXPECT_NE(epoch1, order);
  Loader resumed(dataset, options_with(10, 3));
  EXPECT_EQ(epoch_order(resumed, 1), epoch1);
  EXPECT_EQ(epoch_order(resumed, 0), order);
  Loader other_seed(dataset, options_with(10, 2, /*seed=*/2));
  EXPECT_NE(epoch_order(other_seed, 0), order);

  LoaderOptions in_order = options_with(10, 2);
  in_order.shuffle = false;
  Loader sequential(dataset, in_order);
  EXPECT_EQ(epoch_order(sequential, 5), identity);
}

TEST(Loader, SameBatchesWithAnyNumberOfWorkers) {
  // Uneven delays make the workers finish out of order.
  auto dataset = std::make_shared<SyntheticDataset>(57, std::set<int64_t>{}, 50);
  std::vector<std::vector<float>> reference;
  for (int64_t workers : {0, 1, 3}) {
    for (int64_t prefetch : {1, 3}) {
      LoaderOptions options = options_with(4, workers, 11);
      options.prefetch = prefetch;
      Loader loader(dataset, options);
      std::vector<std::vector<float>> seen;
      for (int64_t epoch : {0, 1}) {
        for (const Batch& batch : epoch_batches(loader, epoch)) {
          seen.push_back(batch.images.to_vector<float>());
          const auto labels = batch.labels.to_vector<float>();
          seen.back().insert(seen.back().end(), labels.begin(), labels.end());
        }
      }
      if (reference.empty()) {
        reference = seen;
      } else {
        EXPECT_EQ(seen, reference) << workers << " workers, prefetch " << prefetch;
      }
    }
  }
}

TEST(Loader, DropLast) {
  auto dataset = std::make_shared<SyntheticDataset>(103);
  LoaderOptions options = options_with(10, 2);
  options.drop_last = true;
  Loader loader(dataset, options);
  EXPECT_EQ(loader.batches_per_epoch(), 10);
  const std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 10u);
  for (const Batch& batch : batches) EXPECT_EQ(batch.indices.size(), 10u);
  options.batch_size = 200;
  EXPECT_EQ(Loader(dataset, options).batches_per_epoch(), 0);
}

TEST(Loader, ErrorsNameTheSampleOrAreSkippedAndCounted) {
  auto dataset = std::make_shared<SyntheticDataset>(40, std::set<int64_t>{5, 17});
  for (int64_t workers : {0, 2}) {
    LoaderOptions options = options_with(8, workers);
    options.shuffle = false;
    Loader raising(dataset, options);
    raising.start_epoch(0);
    testing::expect_error([&] { raising.next(); }, "file-5", "broken");  // batch 0 holds samples 0..7
    EXPECT_EQ(raising.next()->indices.front(), 8);                       // the loader goes on
    testing::expect_error([&] { raising.next(); }, "file-17", "broken");
    EXPECT_EQ(raising.next()->indices.front(), 24);

    options.bad_images = BadImagePolicy::skip;
    Loader skipping(dataset, options);
    ::testing::internal::CaptureStderr();
    std::vector<int64_t> seen;
    for (int64_t epoch : {0, 1}) {
      seen = epoch_order(skipping, epoch);
      EXPECT_EQ(seen.size(), 38u);
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 5), 0);
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 17), 0);
    }
    const std::string warnings = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(skipping.skipped_images(), 4);  // two files, two epochs
    // One warning per file over the loader's life.
    EXPECT_EQ(std::count(warnings.begin(), warnings.end(), '\n'), 2) << warnings;
    EXPECT_NE(warnings.find("skipping file-5"), std::string::npos) << warnings;
  }
}

// A real JPEG cut short inside an image folder: the loader's error names it; with skip, it is
// counted and the other images arrive.
TEST(Loader, TruncatedJpegIsNamedOrSkipped) {
  const std::string dir = testing::scratch_dir();
  std::vector<uint8_t> jpeg;
  const std::vector<std::string> photos = testing::shared_photos();
  if (!photos.empty()) {
    std::ifstream in(photos.front(), std::ios::binary);
    jpeg.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {  // without the shared photos, a JPEG that stb_image_write encodes
    std::vector<uint8_t> pixels(64 * 48 * 3);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
    stbi_write_jpg_to_func(
        [](void* context, void* data, int size) {
          auto* out = static_cast<std::vector<uint8_t>*>(context);
          out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
        },
        &jpeg, 64, 48, 3, pixels.data(), 90);
  }
  std::filesystem::create_directories(dir + "/photos/a");
  std::filesystem::create_directories(dir + "/photos/b");
  for (const char* name : {"a/1.jpg", "a/2.jpg", "b/3.jpg"}) {
    std::ofstream(dir + "/photos/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size()));
  }
  const std::string truncated = dir + "/photos/b/4.jpg";
  std::ofstream(truncated, std::ios::binary)
      .write(reinterpret_cast<const char*>(jpeg.data()), static_cast<std::streamsize>(jpeg.size() / 2));

  auto dataset = std::make_shared<ImageFileDataset>(list_image_folder(dir + "/photos"),
                                                    make_eval_transform(Preprocess::imagenet, 32, 40));
  LoaderOptions options = options_with(4, 2);
  Loader raising(dataset, options);
  raising.start_epoch(0);
  testing::expect_error([&] { raising.next(); }, truncated, "truncated or corrupt JPEG");

  options.bad_images = BadImagePolicy::skip;
  Loader skipping(dataset, options);
  ::testing::internal::CaptureStderr();
  const std::vector<Batch> batches = epoch_batches(skipping, 0);
  const std::string warnings = ::testing::internal::GetCapturedStderr();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].images.shape(), (Shape{3, 3, 32, 32}));
  EXPECT_EQ(skipping.skipped_images(), 1);
  EXPECT_NE(warnings.find(truncated), std::string::npos) << warnings;
}

TEST(Loader, StopsMidEpochWithoutHanging) {
  // 2 ms to 14 ms a sample: a whole epoch would take tens of seconds.
  auto dataset = std::make_shared<SyntheticDataset>(2000, std::set<int64_t>{}, 2000);
  const auto start = std::chrono::steady_clock::now();
  {
    LoaderOptions options = options_with(8, 4);
    options.prefetch = 4;
    Loader loader(dataset, options);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    // Abandon epoch 0 for epoch 1: the new epoch starts from its first batch.
    loader.start_epoch(1);
    const auto batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    Loader fresh(std::make_shared<SyntheticDataset>(2000), options_with(8, 0));
    fresh.start_epoch(1);
    EXPECT_EQ(batch->indices, fresh.next()->indices);
  }  // destroyed with workers busy and batches queued
  { Loader never_started(dataset, options_with(8, 4)); }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
}

TEST(Loader, Errors) {
  auto dataset = std::make_shared<SyntheticDataset>(10);
  testing::expect_error([&] { Loader(nullptr, {}); }, "Loader", "no dataset");
  testing::expect_error([&] { Loader(std::make_shared<SyntheticDataset>(0), {}); }, "Loader", "empty");
  testing::expect_error([&] { Loader(dataset, options_with(0, 1)); }, "Loader", "batch_size");
  testing::expect_error([&] { Loader(dataset, options_with(4, -1)); }, "Loader", "workers");
  LoaderOptions no_prefetch = options_with(4, 1);
  no_prefetch.prefetch = 0;
  testing::expect_error([&] { Loader(dataset, no_prefetch); }, "Loader", "prefetch");
  for (int64_t workers : {0, 2}) {
    Loader loader(dataset, options_with(4, workers));
    testing::expect_error([&] { loader.next(); }, "Loader::next", "start_epoch");
    testing::expect_error([&] { loader.start_epoch(-1); }, "Loader::start_epoch", "non-negative");
  }
}

TEST(Loader, PinnedMemoryNeedsAGpu) {
  LoaderOptions options = options_with(4, 1);
  options.pin_memory = true;
  auto dataset = std::make_shared<SyntheticDataset>(10);
  if (!cuda::built_with_cuda() || cuda::device_count() == 0) {
    testing::expect_error([&] { Loader(dataset, options); }, "pin_memory",
                          cuda::built_with_cuda() ? "CUDA GPU" : "build with CUDA");
    return;
  }
  Loader pinned(dataset, options);
  Loader plain(dataset, options_with(4, 1));
  const std::vector<Batch> a = epoch_batches(pinned, 0), b = epoch_batches(plain, 0);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].images.device().is_cpu());
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>());
    EXPECT_EQ(a[i].labels.to_vector<int64_t>(), b[i].labels.to_vector<int64_t>());
  }
}

// Images of different sizes cannot share a batch: the error names both samples.
class MixedSizes : public SyntheticDataset {
 public:
  MixedSizes() : SyntheticDataset(4) {}
  Sample get(int64_t index, Generator&) const override { return {Tensor::zeros({3, 2 + index % 2, 2}), 0}; }
};

TEST(Loader, MixedImageSizesAreAnError) {
  LoaderOptions options = options_with(4, 0);
  options.shuffle = false;
  Loader loader(std::make_shared<MixedSizes>(), options);
  loader.start_epoch(0);
  testing::expect_error([&] { loader.next(); }, "file-1", "every image of a batch needs the same size");
}

TEST(Loader, BatchesTensorDatasets) {
  Tensor images = Tensor::zeros({6, 1, 3, 3});
  for (int64_t i = 0; i < 6; ++i) images.select(0, i).fill_(static_cast<double>(i));
  const Tensor labels = Tensor::from_vector(std::vector<int64_t>{0, 1, 0, 1, 0, 1}, {6});
  auto dataset = std::make_shared<TensorDataset>(
      images, labels, std::vector<std::string>{"even", "odd"},
      [](const Tensor& image, Generator& rng) { return random_horizontal_flip(image, rng, 0.5); });
  LoaderOptions options = options_with(4, 2);
  options.shuffle = false;
  Loader loader(dataset, options);
  const std::vector<Batch> batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].images.shape(), (Shape{2, 1, 3, 3}));
  EXPECT_EQ(batches[1].images.to_vector<float>()[9], 5.0f);
  EXPECT_EQ(batches[1].labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace graft::data
